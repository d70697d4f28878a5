"""The engine wired to the database: constant queries, one evaluation per tune and day."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

import decision
from decision import fmt
from decision.fmt import FIGURE_DIGITS
from tracker import selectors, services
from tracker.models import Evaluation, FineTune, PolicyVersion, TunePrice, UsageRecord
from tracker.services import jobs

from .factories import (
    CatalogModelFactory,
    ChangeLogEntryFactory,
    FineTuneFactory,
    ModelPriceFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db
AS_OF = date(2025, 9, 30)


def portfolio(size: int) -> list[FineTune]:
    base = CatalogModelFactory()
    alternative = CatalogModelFactory()
    ModelPriceFactory(model=base, input_usd_per_mtok=Decimal("0.15"), output_usd_per_mtok=1)
    ModelPriceFactory(model=alternative, input_usd_per_mtok=Decimal("2.5"), output_usd_per_mtok=10)
    team = TeamFactory()
    tunes = FineTuneFactory.create_batch(size, team=team, base_model=base, alternative=alternative)
    TunePrice.objects.bulk_create(
        TunePrice(
            tune=t,
            effective_from=date(2025, 1, 1),
            input_usd_per_mtok=Decimal("0.3"),
            output_usd_per_mtok=Decimal("1.2"),
        )
        for t in tunes
    )
    for t in tunes:
        daily_usage(t, range(120))
    return tunes


def daily_usage(tune: FineTune, days_back: range) -> None:
    """A gateway row on each day ``days_back`` days before AS_OF."""
    UsageRecord.objects.bulk_create(
        UsageRecord(
            tune=tune,
            day=AS_OF - timedelta(days=d),
            source="gateway",
            queries=20_000,
            input_tokens=20_000 * 800,
            output_tokens=20_000 * 150,
        )
        for d in days_back
    )


def assert_same_figures(got: dict, expected: dict) -> None:
    """Figures equal, floats to 1e-9 relative (a span's cost is price × summed tokens)."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == (
            pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
        ), key


def queries_to_evaluate(as_of=AS_OF) -> int:
    with CaptureQueriesContext(connection) as captured:
        services.evaluate_portfolio(as_of=as_of)
    return len(captured.captured_queries)


def test_query_count_does_not_grow_with_the_portfolio():
    # The policy and its stored version are created once; not part of what is measured.
    services.evaluation.policy_version(selectors.engine_policy(selectors.current_policy()))
    portfolio(10)
    ten = queries_to_evaluate()
    Evaluation.objects.all().delete()
    portfolio(90)
    assert FineTune.objects.count() == 100
    hundred = queries_to_evaluate()
    assert hundred == ten


def test_evaluating_twice_leaves_one_evaluation_per_tune():
    tunes = portfolio(5)
    first = services.evaluate_portfolio(as_of=AS_OF)
    second = services.evaluate_portfolio(as_of=AS_OF)
    assert Evaluation.objects.count() == len(tunes)
    assert [e.pk for e in first.evaluations] == [e.pk for e in second.evaluations]
    assert {e.verdict for e in second.evaluations} == {"KEEP"}


def test_evaluation_records_figures_policy_and_engine_version():
    (_tune,) = portfolio(1)
    (evaluation,) = services.evaluate_portfolio(as_of=AS_OF).evaluations
    # 20,000 queries a day over the 90-day lookback.
    assert evaluation.figures["monthly_queries"] == pytest.approx(20_000 * 30.4375)
    alternative = (800 + 1000) * 2.5e-6 + 150 * 10e-6
    serving = 800 * 0.3e-6 + 150 * 1.2e-6
    expected = 20_000 * 30.4375 * (alternative - serving) - 500
    assert float(evaluation.monthly_net_saving) == pytest.approx(expected, abs=0.01)
    assert evaluation.policy.values["lookback_days"] == 90
    assert evaluation.engine_version
    assert evaluation.findings and all("message" in f for f in evaluation.findings)


def test_retired_tunes_are_not_evaluated():
    tunes = portfolio(3)
    services.retire_tune(tune=tunes[0], on=AS_OF)
    services.evaluate_portfolio(as_of=AS_OF)
    assert not Evaluation.objects.filter(tune=tunes[0]).exists()
    assert Evaluation.objects.count() == 2


def test_reevaluate_command_prints_verdicts_with_reasons():
    portfolio(2)
    out = StringIO()
    call_command("reevaluate", as_of=AS_OF, stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert f"Verdicts as of {AS_OF}" in text
    assert text.count("KEEP") == 2
    assert Evaluation.objects.filter(as_of=AS_OF).count() == 2


def test_reevaluate_one_tune_by_slug():
    tunes = portfolio(3)
    call_command(
        "reevaluate", as_of=AS_OF, tune=tunes[1].slug, stdout=StringIO(), stderr=StringIO()
    )
    assert list(Evaluation.objects.values_list("tune_id", flat=True)) == [tunes[1].pk]


def test_admin_shows_the_verdict_badge_and_findings(staff_client):
    (tune,) = portfolio(1)
    services.evaluate_portfolio(as_of=AS_OF)
    listing = staff_client.get(reverse("admin:tracker_finetune_changelist"))
    assert b">Keep</span>" in listing.content
    page = staff_client.get(reverse("admin:tracker_finetune_change", args=[tune.pk]))
    evaluation = Evaluation.objects.get(tune=tune)
    assert evaluation.findings[0]["message"].encode() in page.content.replace(b"&#x27;", b"'")


@pytest.mark.slow
class EvaluatingAgainReplaces(HypothesisTestCase):
    """Property: however a day is evaluated — whole portfolio, single tunes, overlapping chunks,
    repeated — each tune ends with exactly one evaluation for it, the same as one clean run.

    Slow (up to a hundred evaluations): the quick loop keeps the plain re-evaluation tests."""

    @classmethod
    def setUpTestData(cls):
        cls.ids = [t.pk for t in portfolio(6)]

    @hypothesis_settings(max_examples=25, deadline=None)
    @given(
        calls=st.lists(st.none() | st.sets(st.integers(0, 5), min_size=1), min_size=1, max_size=4),
        days_back=st.integers(0, 40),
    )
    def test_one_evaluation_per_tune_and_day(self, calls, days_back):
        as_of = AS_OF - timedelta(days=days_back)
        evaluated: set[int] = set()
        for subset in calls:
            ids = None if subset is None else [self.ids[i] for i in subset]
            services.evaluate_portfolio(as_of=as_of, tune_ids=ids)
            evaluated |= set(self.ids if ids is None else ids)
        rows = list(Evaluation.objects.values_list("tune_id", "as_of", "verdict"))
        assert sorted(tune for tune, _, _ in rows) == sorted(evaluated)
        assert {day for _, day, _ in rows} == {as_of}
        once = {e.tune_id: e.verdict for e in services.evaluate_portfolio(as_of=as_of).evaluations}
        assert {tune: verdict for tune, _, verdict in rows} == {
            tune: once[tune] for tune in evaluated
        }


def test_the_policy_is_stored_once_and_a_change_makes_a_new_version():
    portfolio(3)
    services.evaluate_portfolio(as_of=AS_OF)
    services.evaluate_portfolio(as_of=AS_OF - timedelta(days=1))
    assert PolicyVersion.objects.count() == 1
    assert Evaluation.objects.values("policy").distinct().count() == 1
    policy = selectors.current_policy()
    policy.lookback_days = 60
    policy.save()
    services.evaluate_portfolio(as_of=AS_OF)
    assert PolicyVersion.objects.count() == 2
    today = Evaluation.objects.filter(as_of=AS_OF).select_related("policy")
    assert {e.policy.values["lookback_days"] for e in today} == {60}
    earlier = Evaluation.objects.get(as_of=AS_OF - timedelta(days=1), tune=today[0].tune)
    assert earlier.policy.values["lookback_days"] == 90


def test_stored_figures_are_compact_and_read_back_as_written():
    portfolio(2)
    run = services.evaluate_portfolio(as_of=AS_OF)
    for written in run.evaluations:
        stored = Evaluation.objects.get(pk=written.pk)
        assert stored.figures == written.figures and stored.findings == written.findings
        assert None not in stored.figures.values()
        # No float noise: rounded as stored (FIGURE_DIGITS significant digits, or cents).
        for value in stored.figures.values():
            if isinstance(value, float):
                assert value == fmt.stored(value)
                assert value == float(f"{value:.{FIGURE_DIGITS}g}") or abs(value) >= 100_000


def test_stored_findings_read_back_in_the_engines_own_words():
    tunes = portfolio(3)
    FineTune.objects.filter(pk=tunes[0].pk).update(target_score=None)  # a data gap
    FineTune.objects.filter(pk=tunes[1].pk).update(status="proposed")  # the four questions
    services.evaluate_portfolio(as_of=AS_OF)
    policy = selectors.engine_policy(selectors.current_policy())
    engine = {
        r.tune_id: r
        for r in decision.evaluate(selectors.portfolio_inputs(AS_OF, policy), policy, AS_OF)
    }
    for evaluation in Evaluation.objects.filter(as_of=AS_OF).select_related("policy"):
        result = engine[evaluation.tune_id]
        assert evaluation.reason == result.reason
        assert [
            (f["code"], f["source"], f["severity"], f["message"], f["decisive"])
            for f in evaluation.findings
        ] == [
            (f.code, str(f.source), str(f.severity), f.message, f.decisive) for f in result.findings
        ]
    assert "No target score" in Evaluation.objects.get(tune=tunes[0]).findings[0]["message"]


def test_usage_is_read_from_each_tunes_own_window_with_every_source():
    long_ago, recently = portfolio(2)
    FineTune.objects.filter(pk=long_ago.pk).update(last_trained_on=AS_OF - timedelta(days=100))
    FineTune.objects.filter(pk=recently.pk).update(last_trained_on=AS_OF - timedelta(days=10))
    UsageRecord.objects.bulk_create(
        UsageRecord(
            tune=t,
            day=AS_OF - timedelta(days=d),
            source="export",
            queries=5,
            input_tokens=7,
            output_tokens=11,
        )
        for t in (long_ago, recently)
        for d in range(120)
    )
    policy = selectors.engine_policy(selectors.current_policy())
    usage = selectors.portfolio_inputs(AS_OF, policy).usage
    daily = usage.groupby(["tune_id", "day"], as_index=False).sum()  # as the engine does
    days = daily.groupby("tune_id")["day"].agg(["min", "max", "count"])
    window = max(policy.lookback_days, 90)  # the volume trend's 30 + 60 days
    assert days.loc[long_ago.pk, "count"] == 101  # back to its last training
    assert days.loc[recently.pk, "count"] == window + 1  # back to the windows only
    assert days["max"].eq(pd.Timestamp(AS_OF)).all()
    assert len(usage) == 2 * len(daily)  # both sources of every day
    assert daily["queries"].eq(20_005).all()
    assert daily["output_tokens"].eq(20_000 * 150 + 11).all()
    assert str(usage["day"].dtype) == "datetime64[ns]"


def test_a_chunk_looks_only_at_its_own_tunes():
    tunes = portfolio(6)
    ids = [t.pk for t in tunes]
    services.evaluate_portfolio(as_of=AS_OF, tune_ids=ids[:2])
    assert selectors.tunes_due_for_evaluation(AS_OF, ids[1:4]) == ids[2:4]
    assert selectors.tunes_due_for_evaluation(AS_OF) == ids[2:]
    with CaptureQueriesContext(connection) as small:
        assert jobs.evaluate_tunes(tune_ids=ids[2:4], as_of=AS_OF, only_due=True) == 2
    portfolio(40)
    with CaptureQueriesContext(connection) as large:
        assert jobs.evaluate_tunes(tune_ids=ids[4:6], as_of=AS_OF, only_due=True) == 2
    assert len(large.captured_queries) == len(small.captured_queries)
    assert (
        jobs.evaluate_tunes(tune_ids=ids[:6], as_of=AS_OF, only_due=True) == 0
    )  # all done: nothing again


def test_tunes_trained_on_different_days_each_keep_about_a_span_a_month():
    """A tune's spans start on its own training and price days, never on another tune's: a
    portfolio trained on a dozen different days still reads about a span a month per tune,
    with the figures of the day-by-day read (on SQLite both are the day-by-day read)."""
    tunes = portfolio(12)
    for i, t in enumerate(tunes):
        trained = AS_OF - timedelta(days=300 + 7 * i)
        FineTune.objects.filter(pk=t.pk).update(last_trained_on=trained, deployed_on=trained)
        TunePrice.objects.filter(tune=t).update(effective_from=trained)
        daily_usage(t, range(120, 300 + 7 * i + 1))
    policy = selectors.engine_policy(selectors.current_policy())
    spans = selectors.evaluation_inputs(AS_OF, policy)
    days = selectors.portfolio_inputs(AS_OF, policy)
    if connection.vendor == "postgresql":
        per_tune = spans.usage_spans.groupby("tune_id").size()
        # At most 13 months, the windows' four starts and the training day: 18 (with every
        # tune's training days, 27).
        assert per_tune.max() <= 18, per_tune.to_dict()
    expected = {r.tune_id: r.as_dict() for r in decision.evaluate(days, policy, AS_OF)}
    got = {
        r.tune_id: r.as_dict()
        for r in decision.evaluate(spans, policy, AS_OF, selectors.usage_days)
    }
    assert got.keys() == expected.keys()
    for tune_id, result in expected.items():
        assert got[tune_id]["verdict"] == result["verdict"]
        assert_same_figures(got[tune_id]["figures"], result["figures"])


def test_an_evaluation_as_of_a_day_before_a_retraining_reads_from_the_training_before():
    """As of a day before the tune's logged retraining, its last training is its deployment:
    both reads start there, not at the rule windows (90 days back), and give the same figures
    (on SQLite both are the day-by-day read)."""
    (tune,) = portfolio(1)
    deployed = AS_OF - timedelta(days=115)
    FineTune.objects.filter(pk=tune.pk).update(
        deployed_on=deployed, last_trained_on=AS_OF - timedelta(days=10), upfront_cost=300
    )
    ChangeLogEntryFactory(tune=tune, day=AS_OF - timedelta(days=10), kind="retraining", cost=50)
    as_of = AS_OF - timedelta(days=20)  # the windows reach back to AS_OF - 110
    policy = selectors.engine_policy(selectors.current_policy())
    spans = selectors.evaluation_inputs(as_of, policy)
    days = selectors.portfolio_inputs(as_of, policy)
    assert days.usage["day"].min() == pd.Timestamp(deployed)
    if connection.vendor == "postgresql":
        assert spans.usage_spans["day"].min() == pd.Timestamp(deployed)
    (expected,) = decision.evaluate(days, policy, as_of)
    (got,) = decision.evaluate(spans, policy, as_of, selectors.usage_days)
    assert expected.figures["last_trained_on"] == deployed.isoformat()
    assert_same_figures(got.figures, expected.figures)


def test_the_evaluation_reads_spans_and_gets_the_figures_of_days():
    """On PostgreSQL the evaluation sums usage into spans on the server and reads single days
    only where the engine asks; its results are those of the day-by-day read."""
    tunes = portfolio(3)
    young, priced_late, billed = tunes
    FineTune.objects.filter(pk__in=[t.pk for t in tunes]).update(
        last_trained_on=AS_OF - timedelta(days=400), upfront_cost=300
    )
    FineTune.objects.filter(pk=young.pk).update(
        last_trained_on=AS_OF - timedelta(days=30), deployed_on=AS_OF - timedelta(days=30)
    )
    UsageRecord.objects.filter(tune=young, day__lt=AS_OF - timedelta(days=20)).update(queries=0)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            tune=t,
            day=AS_OF - timedelta(days=d),
            source="billing",
            queries=1_000 + d,
            input_tokens=800_000,
            output_tokens=150_000,
            cost_usd=Decimal("0.1234") if t == billed else None,
            estimated=d % 3 == 0,
        )
        for t in tunes
        for d in range(0, 400, 2)
    )
    ModelPriceFactory(
        model=billed.alternative,
        effective_from=AS_OF - timedelta(days=200),
        input_usd_per_mtok=Decimal("1.25"),
        output_usd_per_mtok=5,
    )
    TunePrice.objects.filter(tune=priced_late).update(effective_from=AS_OF - timedelta(days=50))
    policy = selectors.engine_policy(selectors.current_policy())
    spans = selectors.evaluation_inputs(AS_OF, policy)
    days = selectors.portfolio_inputs(AS_OF, policy)
    asked = []

    def read_days(needed):
        asked.append(needed)
        return selectors.usage_days(needed)

    expected = {r.tune_id: r.as_dict() for r in decision.evaluate(days, policy, AS_OF)}
    got = {r.tune_id: r.as_dict() for r in decision.evaluate(spans, policy, AS_OF, read_days)}
    if connection.vendor == "postgresql":
        assert len(spans.usage_spans) < len(days.usage) / 2
        assert 0 < len(asked[0]) < len(spans.usage_spans) / 2  # the days around break-even
    assert got.keys() == expected.keys()
    for tune_id, result in expected.items():
        assert got[tune_id]["verdict"] == result["verdict"]
        assert [f["code"] for f in got[tune_id]["findings"]] == [
            f["code"] for f in result["findings"]
        ]
        assert_same_figures(got[tune_id]["figures"], result["figures"])


def test_spans_are_cut_at_each_start_from_the_first_day_and_end_on_the_as_of_day():
    """The span read's spans: one from each tune's first day, one from each of its starts after
    that, each to the day before the next; none past the as-of day, however late a start."""
    from tracker.selectors.portfolio import _spans_between

    first = pd.Timestamp("2025-01-01")
    as_of = pd.Timestamp("2025-01-31")
    starts = pd.DataFrame(
        {
            "tune_id": [1, 1, 1, 2],
            "day": pd.to_datetime(["2024-12-01", "2025-01-11", "2025-02-05", "2025-01-20"]),
        }
    )
    first_days = pd.Series([first, pd.NaT], index=[1, 2], dtype="datetime64[ns]")
    spans = _spans_between(first_days, as_of, starts)
    assert spans.astype({"day": str, "last_day": str}).values.tolist() == [
        [1, "2025-01-01", "2025-01-10"],
        [1, "2025-01-11", "2025-01-31"],
    ]
