"""Usage given as spans (sums over stretches of days, as the database hands them over) yields the
figures and verdicts of the same usage given day by day, once the days the engine asks for
(``days_needed``) are given instead of their spans."""

import math
import random

import numpy as np
import pandas as pd
import pytest
from decision_builders import (
    AS_OF,
    FRONTIER,
    POLICY,
    SMALL,
    SUCCESSOR,
    day,
    default_prices,
    portfolio,
    price,
    tune,
    usage,
)
from hypothesis import given
from hypothesis import strategies as st
from test_decision_properties import SETTINGS, portfolios

from decision import Portfolio, days_needed, evaluate, span_starts
from decision.inputs import SPAN_COLUMNS


def spans_of(rows: pd.DataFrame, starts: pd.DataFrame) -> pd.DataFrame:
    """Rows summed per tune and span between its consecutive ``starts`` (``tune_id``, ``day``),
    as the evaluation's read does on the server (one aggregate per span of each tune's days)."""
    rows = rows.assign(
        day=pd.to_datetime(rows["day"]).astype("datetime64[ns]"),
        tune_id=rows["tune_id"].astype("int64"),
    )
    for name in ("billed_cost", "billed_input_tokens", "billed_output_tokens", "estimated_queries"):
        if name not in rows:
            rows[name] = np.nan if name == "billed_cost" else 0.0
    bounds = pd.DataFrame(
        {
            "tune_id": starts["tune_id"].astype("int64"),
            "bucket": starts["day"].astype("datetime64[ns]"),
        }
    ).sort_values("bucket")
    rows = pd.merge_asof(
        rows.sort_values("day"), bounds, left_on="day", right_on="bucket", by="tune_id"
    )
    billed = rows["billed_cost"].notna()
    rows = rows.assign(
        bucket=rows["bucket"].fillna(pd.Timestamp.min),  # the days before a tune's first start
        billed_input_tokens=rows["billed_input_tokens"].fillna(0.0).where(billed, 0.0),
        billed_output_tokens=rows["billed_output_tokens"].fillna(0.0).where(billed, 0.0),
        used=rows["day"].where(rows["queries"] > 0),
        priced=rows["day"].where(
            rows[["queries", "input_tokens", "output_tokens"]].gt(0).any(axis=1)
        ),
    )
    grouped = rows.groupby(["tune_id", "bucket"])
    out = grouped.agg(
        day=("day", "min"),
        last_day=("day", "max"),
        queries=("queries", "sum"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        billed_input_tokens=("billed_input_tokens", "sum"),
        billed_output_tokens=("billed_output_tokens", "sum"),
        estimated_queries=("estimated_queries", "sum"),
        used_from=("used", "min"),
        used_until=("used", "max"),
        priced_from=("priced", "min"),
        priced_until=("priced", "max"),
    )
    out["billed_cost"] = grouped["billed_cost"].sum(min_count=1)
    return out.reset_index()[list(SPAN_COLUMNS)]


class Spans:
    """``p`` with its usage read as the evaluation reads it: spans, and the days asked for."""

    def __init__(self, p: Portfolio, as_of=AS_OF, policy=POLICY):
        self.rows = p.usage[pd.to_datetime(p.usage["day"]) <= as_of]
        spans = spans_of(self.rows, span_starts(p, policy, as_of))
        self.portfolio = Portfolio(**{**vars(p), "usage": self.rows.iloc[:0], "usage_spans": spans})
        self.asked = pd.DataFrame(columns=["tune_id", "day", "last_day"])
        # What the engine asks for is exactly what it needs: with those days, nothing more.
        needed = days_needed(self.portfolio, policy, as_of)
        read = pd.MultiIndex.from_frame(needed[["tune_id", "day"]])
        kept = spans[~pd.MultiIndex.from_frame(spans[["tune_id", "day"]]).isin(read)]
        given = Portfolio(**{**vars(p), "usage": self.days(needed), "usage_spans": kept})
        assert days_needed(given, policy, as_of).empty

    def days(self, needed: pd.DataFrame) -> pd.DataFrame:
        self.asked = needed
        rows = self.rows.assign(day=pd.to_datetime(self.rows["day"]))
        asked = needed.merge(rows, on="tune_id")
        asked = asked[(asked["day_y"] >= asked["day_x"]) & (asked["day_y"] <= asked["last_day"])]
        return asked.drop(columns=["day_x", "last_day"]).rename(columns={"day_y": "day"})


def assert_same(a, b, where="result"):
    """Equal, floats to 1e-9 relative (a span's cost is price × summed tokens, a day's sum of
    prices × tokens: the same number up to the last bits)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=2e-6), (where, a, b)
    else:
        assert a == b, (where, a, b)


def assert_same_results(daily: Portfolio, spans: Spans, as_of=AS_OF):
    expected = [r.as_dict() for r in evaluate(daily, POLICY, as_of)]
    got = [r.as_dict() for r in evaluate(spans.portfolio, POLICY, as_of, spans.days)]
    assert [r["verdict"] for r in got] == [r["verdict"] for r in expected]
    # Messages print figures, so they are compared through the figures, not as text.
    for result in (*expected, *got):
        result.pop("reason")
        for finding in result["findings"]:
            finding.pop("message")
    assert_same(got, expected)


def with_sources(p: Portfolio, rnd: random.Random) -> Portfolio:
    """A second source on some days, some of them billing a cost or estimating the volume."""
    rows = p.usage.copy()
    extra = rows.sample(frac=0.3, random_state=rnd.randrange(1000)).copy()
    extra["queries"] = extra["queries"] * 0.5
    extra["input_tokens"] = extra["input_tokens"] * 0.5
    extra["output_tokens"] = extra["output_tokens"] * 0.5
    extra["billed_cost"] = [rnd.choice([np.nan, 1.5, 40.0]) for _ in range(len(extra))]
    billed = extra["billed_cost"].notna()  # the tokens a cost was billed for, as stored
    extra["billed_input_tokens"] = extra["input_tokens"].where(billed, 0.0)
    extra["billed_output_tokens"] = extra["output_tokens"].where(billed, 0.0)
    extra["estimated_queries"] = [rnd.choice([0.0, 1.0]) * q for q in extra["queries"]]
    return Portfolio(**{**vars(p), "usage": pd.concat([rows, extra], ignore_index=True)})


def with_own_models_and_prices(p: Portfolio, rnd: random.Random) -> Portfolio:
    """Each tune on base and alternative models of its own (or none), some with serving prices
    of their own that change on days of their own: no tune's prices are another's."""
    tunes = p.tunes.copy()
    models = [FRONTIER, SMALL, SUCCESSOR]
    tunes["base_model_id"] = [rnd.choice(models) for _ in tunes.index]
    tunes["alternative_model_id"] = [rnd.choice([*models, None]) for _ in tunes.index]
    prices = [
        price(int(t), rnd.randrange(-500, 1), rnd.uniform(0.1, 5), rnd.uniform(0.1, 10), "tune_id")
        for t in tunes.index
        for _ in range(rnd.randrange(3))
    ]
    return Portfolio(**{**vars(p), "tunes": tunes, "tune_prices": pd.DataFrame(prices)})


@SETTINGS
@given(p=portfolios(complete_prices=False), rnd=st.randoms(use_true_random=False))
def test_spans_give_the_results_of_days(p, rnd):
    p = with_own_models_and_prices(with_sources(p, rnd), rnd)
    assert_same_results(p, Spans(p))


def dip_after_breaking_even() -> Portfolio:
    """About $203 a day net of the fixed cost: the $10,000 is first recovered after 50 days, then
    20 days without usage take the running total back below it, and usage recovers it again."""
    rows = usage(1, start=-200, end=-150, queries=20_000) + usage(1, -129, 0, queries=20_000)
    return portfolio(
        [tune(1, last_trained_on=day(-200), upfront_cost=10_000, monthly_fixed_cost=1_000)],
        rows,
    )


def test_a_dip_after_breaking_even_is_read_day_by_day():
    p = dip_after_breaking_even()
    rows = p.usage
    spans = Spans(p)
    assert_same_results(p, spans)
    asked_days = (spans.asked["last_day"] - spans.asked["day"]).dt.days + 1
    assert 0 < asked_days.sum() < len(rows) / 2  # some days were asked for, most were not
    (result,) = evaluate(spans.portfolio, POLICY, AS_OF, spans.days)
    assert day(-129) < pd.Timestamp(result.figures["break_even_on"]) < day(-100)


def test_days_given_beside_spans_count_with_the_days_read_around_break_even():
    # A second source's days, given as days, on and after the first day of the span the
    # break-even day needs read: they are summed with that span's days, not dropped with it.
    p = dip_after_breaking_even()
    spans = Spans(p)
    needed = days_needed(spans.portfolio, POLICY, AS_OF)
    assert not needed.empty
    extra = pd.DataFrame(
        [
            {
                "tune_id": 1,
                "day": first + pd.Timedelta(days=k),
                "queries": 30_000.0,
                "input_tokens": 3e7,
                "output_tokens": 3e6,
            }
            for first in needed["day"]
            for k in (0, 1)
        ]
    )
    both = Portfolio(**{**vars(spans.portfolio), "usage": extra})
    daily = Portfolio(**{**vars(p), "usage": pd.concat([p.usage, extra], ignore_index=True)})
    expected = [r.as_dict() for r in evaluate(daily, POLICY, AS_OF)]
    got = [r.as_dict() for r in evaluate(both, POLICY, AS_OF, spans.days)]
    assert got[0]["figures"]["break_even_on"] == expected[0]["figures"]["break_even_on"]
    for result in (*expected, *got):
        result.pop("reason")
        for finding in result["findings"]:
            finding.pop("message")
    assert_same(got, expected)


def test_a_price_gap_is_counted_in_days():
    p = portfolio(
        [tune(1, last_trained_on=day(-300))],
        usage(1, start=-300, end=0),
        model_prices=[price(1, -250, 10.0, 30.0), price(2, -1000, 1.0, 2.0)],
    )
    spans = Spans(p)
    assert_same_results(p, spans)
    (result,) = evaluate(spans.portfolio, POLICY, AS_OF, spans.days)
    assert result.finding("missing_prices").figures["alternative_missing_days"] == 50


def test_spans_without_a_reader_for_their_days_are_refused():
    rows = usage(1, start=-200, end=0, queries=20_000)
    spans = Spans(portfolio([tune(1, last_trained_on=day(-200))], rows))
    with pytest.raises(ValueError, match="single days"):
        evaluate(spans.portfolio, POLICY, AS_OF)


def test_a_young_tune_window_starts_on_its_first_day():
    rows = [{**r, "queries": 0.0} for r in usage(1, start=-40, end=-21)] + usage(1, -20, 0)
    p = portfolio([tune(1, last_trained_on=day(-40), deployed_on=day(-40))], rows)
    spans = Spans(p)
    assert_same_results(p, spans)
    (result,) = evaluate(spans.portfolio, POLICY, AS_OF, spans.days)
    assert result.figures["lookback_start"] == day(-20).date().isoformat()


def test_a_tune_spans_start_on_its_own_trainings_and_prices_only():
    # Tune 1's own serving price changes on day -100; tune 2, trained on day -200, serves at its
    # base model's price, which changes on day -50. Neither day cuts the other tune's spans.
    p = portfolio(
        [
            tune(1, last_trained_on=day(-300), deployed_on=day(-300)),
            tune(2, last_trained_on=day(-200), deployed_on=day(-200), base_model_id=SUCCESSOR),
        ],
        usage(1, start=-300, end=0) + usage(2, start=-200, end=0),
        model_prices=[*default_prices(), price(SUCCESSOR, -50, 0.5, 1.5)],
        tune_prices=[
            price(1, -300, 0.9, 1.8, key_name="tune_id"),
            price(1, -100, 0.6, 1.2, key_name="tune_id"),
        ],
    )
    starts = span_starts(p, POLICY, AS_OF)
    own = {t: set(starts.loc[starts["tune_id"] == t, "day"]) for t in (1, 2)}
    assert {day(-300), day(-100)} <= own[1]
    assert {day(-200), day(-50)} <= own[2]
    assert not {day(-200), day(-50)} & own[1]
    assert not {day(-300), day(-100)} & own[2]
    assert_same_results(p, Spans(p))
