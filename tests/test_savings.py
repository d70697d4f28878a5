"""The stored realised savings: the engine's months, written by the refresh, read by the
overview; a second refresh changes nothing, and a backfill never moves them back."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from typing import cast

import pandas as pd
import pytest
from django.core.management import call_command

import decision
from decision import DAYS_PER_MONTH
from tracker import selectors, services
from tracker.models import FineTune, TuneMonthSaving, TunePrice, UsageRecord
from tracker.selectors import pages
from tracker.services.savings import refresh_savings

from .pages.demo import engine_monthly_savings
from .test_evaluation_service import AS_OF, portfolio

pytestmark = pytest.mark.django_db


def stored() -> dict[tuple[int, date], float]:
    return {
        (tune_id, month): saving
        for tune_id, month, saving in TuneMonthSaving.objects.values_list(
            "tune_id", "month", "net_saving"
        )
    }


def engine_months(tune: FineTune, as_of: date) -> dict[tuple[int, date], float]:
    """The engine's priced days summed per month from the deployment, less the fixed cost of
    each day deployed."""
    assert tune.deployed_on is not None
    policy = selectors.engine_policy(selectors.current_policy())
    inputs = selectors.portfolio_inputs(as_of, policy, [tune.pk], usage_since=tune.deployed_on)
    daily = decision.daily_savings(inputs, as_of)
    daily = daily[daily["day"] >= pd.Timestamp(tune.deployed_on)]
    variable = daily.groupby(daily["day"].dt.to_period("M"))["net_saving"].sum()
    days = pd.date_range(tune.deployed_on, as_of, freq="D")
    deployed = pd.Series(1, index=days).groupby(days.to_period("M")).sum()
    per_day = float(tune.monthly_fixed_cost) / DAYS_PER_MONTH
    return {
        (tune.pk, cast(pd.Period, month).start_time.date()): (
            float(variable.get(month, 0.0)) - n * per_day
        )
        for month, n in deployed.items()
    }


def test_the_stored_months_are_the_engines():
    tunes = portfolio(3)
    FineTune.objects.filter(pk=tunes[2].pk).update(deployed_on=date(2025, 6, 15))
    tunes[2].refresh_from_db()
    # A serving price that changes mid-month, and a second source on some days: on PostgreSQL
    # the usage arrives summed into spans, which must split there and still add up per month.
    TunePrice.objects.create(
        tune=tunes[1],
        effective_from=date(2025, 7, 17),
        input_usd_per_mtok=Decimal("0.2"),
        output_usd_per_mtok=Decimal("0.9"),
    )
    UsageRecord.objects.bulk_create(
        UsageRecord(
            tune=tunes[1],
            day=date(2025, 7, 10) + timedelta(days=d),
            source="batch",
            queries=1_000 * d,
            input_tokens=900_000 * d,
            output_tokens=100_000 * d,
        )
        for d in range(14)
    )
    result = refresh_savings(as_of=AS_OF)
    expected = {k: v for t in tunes for k, v in engine_months(t, AS_OF).items()}
    assert result.tunes == 3 and result.rows == len(expected)
    assert stored().keys() == expected.keys()
    for key, saving in stored().items():
        assert saving == pytest.approx(expected[key], abs=1e-6), key
    # Independently of the engine: 20,000 queries a day at the prices of ``portfolio``.
    per_query = (800 + 1000) * 2.5e-6 + 150 * 10e-6 - (800 * 0.3e-6 + 150 * 1.2e-6)
    september = 30 * (20_000 * per_query - 500 / DAYS_PER_MONTH)
    assert stored()[(tunes[0].pk, date(2025, 9, 1))] == pytest.approx(september)
    assert stored()[(tunes[0].pk, date(2025, 1, 1))] == pytest.approx(-31 * 500 / DAYS_PER_MONTH)
    assert min(month for tune_id, month in stored() if tune_id == tunes[2].pk) == date(2025, 6, 1)


def test_a_second_refresh_changes_nothing_and_a_retired_tune_loses_its_rows(settings):
    settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE = 2  # two chunks, a transaction each
    tunes = portfolio(3)
    refresh_savings(as_of=AS_OF)
    first = stored()
    refresh_savings(as_of=AS_OF)
    assert stored() == first
    assert set(TuneMonthSaving.objects.values_list("as_of", flat=True)) == {AS_OF}

    FineTune.objects.filter(pk=tunes[0].pk).update(status=FineTune.Status.RETIRED)
    # Read through the tune's status, the overview leaves it out before the next refresh...
    overview = pages.overview(None, AS_OF)
    assert overview["realised_to_date"] == pytest.approx(
        sum(v for (tune_id, _), v in first.items() if tune_id != tunes[0].pk)
    )
    # ...which removes its rows.
    refresh_savings(as_of=AS_OF)
    assert stored() == {k: v for k, v in first.items() if k[0] != tunes[0].pk}


def test_the_overview_reads_the_stored_months_and_says_when_they_were_computed():
    portfolio(2)
    before = pages.overview(None, AS_OF)
    assert before["savings_computed_at"] is None and before["realised_to_date"] == 0
    assert before["chart"]["series"] == []
    refresh_savings(as_of=AS_OF)
    page = pages.overview(None, AS_OF)
    engine = engine_monthly_savings(AS_OF)
    assert page["realised_to_date"] == pytest.approx(engine["net_saving"].sum())
    september = engine[engine["month"] == pd.Period("2025-09", freq="M")]
    assert page["realised_this_month"] == pytest.approx(september["net_saving"].sum())
    assert page["savings_as_of"] == AS_OF and page["savings_computed_at"] is not None
    assert [s["data"][-1] for s in page["chart"]["series"]] == [
        round(v, 2) for v in september.sort_values("tune_id")["net_saving"]
    ]


def test_the_command_stores_the_savings_and_a_backfill_leaves_them():
    portfolio(2)
    out = StringIO()
    call_command("refresh_savings", as_of=AS_OF, stdout=out, stderr=StringIO())
    assert f"Realised savings as of {AS_OF}" in out.getvalue()
    first = stored()
    assert first and set(TuneMonthSaving.objects.values_list("as_of", flat=True)) == {AS_OF}

    out = StringIO()
    call_command("refresh_savings", as_of=AS_OF - timedelta(days=40), stdout=out, stderr=StringIO())
    assert "Realised savings left as they are" in out.getvalue()
    assert stored() == first


def test_the_refresh_takes_the_same_queries_for_more_tunes():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.evaluation.policy_version(selectors.engine_policy(selectors.current_policy()))
    portfolio(2)
    with CaptureQueriesContext(connection) as small:
        refresh_savings(as_of=AS_OF)
    portfolio(6)  # (SQLite writes a few hundred rows per INSERT: kept below that)
    with CaptureQueriesContext(connection) as large:
        refresh_savings(as_of=AS_OF)
    assert len(large.captured_queries) == len(small.captured_queries)
