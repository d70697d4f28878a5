"""Where usage came from: estimated volume, and billed cost against tokens × catalog price. The
usage columns behind these are optional: a portfolio without them evaluates as before."""

import pandas as pd
import pytest
from decision_builders import one, portfolio, tune, usage

# Default tune: 1,000 queries a day of 1,000 in + 100 out tokens at $1 / $2 per 1M = $1.20 a day.
COMPUTED_PER_DAY = 1.2


def with_sources(rows: list[dict], **columns) -> object:
    p = portfolio([tune()])
    frame = pd.DataFrame(rows)
    for name, value in columns.items():
        frame[name] = value
    p.usage = frame
    return p


@pytest.mark.parametrize(("billed_ratio", "flagged"), [(1.10, True), (0.90, True), (1.04, False)])
def test_billed_cost_against_catalog_price(billed_ratio, flagged):
    rows = usage()
    p = with_sources(
        rows,
        billed_cost=COMPUTED_PER_DAY * billed_ratio,
        billed_input_tokens=[r["input_tokens"] for r in rows],
        billed_output_tokens=[r["output_tokens"] for r in rows],
    )
    finding = one(p).finding("billed_differs_from_computed")
    assert (finding is not None) is flagged
    if flagged:
        days = 90
        assert finding.figures["computed_cost"] == pytest.approx(days * COMPUTED_PER_DAY)
        assert finding.figures["billed_cost"] == pytest.approx(
            days * COMPUTED_PER_DAY * billed_ratio
        )
        assert "catalog price may be stale" in finding.message
        assert "$108" in finding.message


def test_only_billed_rows_are_compared():
    # Half the day's tokens came from a source that reports cost: compare those only.
    rows = usage()
    p = with_sources(
        rows,
        billed_cost=COMPUTED_PER_DAY / 2,
        billed_input_tokens=[r["input_tokens"] / 2 for r in rows],
        billed_output_tokens=[r["output_tokens"] / 2 for r in rows],
    )
    assert one(p).finding("billed_differs_from_computed") is None


def test_estimated_volume_is_said():
    rows = usage()
    p = with_sources(rows, estimated_queries=[r["queries"] / 4 for r in rows])
    finding = one(p).finding("volume_estimated")
    assert finding is not None and finding.message.startswith("Volume is estimated: 25%")


def test_without_the_optional_columns_nothing_changes():
    result = one(portfolio([tune()], usage()))
    assert result.finding("volume_estimated") is None
    assert result.finding("billed_differs_from_computed") is None
