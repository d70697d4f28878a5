"""Flags are state, not noise: they open and resolve across a sequence of nightly evaluations
(frozen clock), follow only a tune's latest evaluation, and are never open twice at once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from tests.jobs import portfolio
from tracker import tasks
from tracker.models import Evaluation, FineTune, Flag, UsageRecord
from tracker.services import evaluate_portfolio, jobs

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 2)


def night(day: date, capture) -> int:
    """The nightly task with the clock frozen at 02:00 UTC on ``day``; its fan-out runs eagerly
    once the (test) transaction would commit."""
    with (
        time_machine.travel(datetime.combine(day, time(2, 0), tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        return tasks.reevaluate_portfolio.delay().get()


def reevaluate_now(day: date, tune: FineTune, capture) -> None:
    """The admin's "re-evaluate now" later the same day: replaces the day's evaluation."""
    with (
        time_machine.travel(datetime.combine(day, time(15, 0), tzinfo=UTC), tick=False),
        capture(execute=True),
    ):
        jobs.enqueue_evaluation([tune.pk])


def verdict(tune: FineTune, day: date) -> str:
    return Evaluation.objects.get(tune=tune, as_of=day).verdict


def flags(tune: FineTune) -> list[tuple[str, date, date | None]]:
    return list(tune.flags.order_by("pk").values_list("kind", "opened_on", "resolved_on"))


def assert_flags_follow_latest_verdicts() -> None:
    """Never two open flags for a tune; an open flag always matches the tune's latest verdict."""
    open_flags = Flag.objects.filter(resolved_on__isnull=True)
    per_tune = Counter(open_flags.values_list("tune_id", flat=True))
    assert all(n == 1 for n in per_tune.values()), per_tune
    for flag in open_flags:
        latest = Evaluation.objects.filter(tune_id=flag.tune_id).latest()
        assert latest.verdict == flag.kind
        assert flag.opened_by.tune_id == flag.tune_id


def set_fixed_cost(tune: FineTune, amount: int) -> None:
    FineTune.objects.filter(pk=tune.pk).update(monthly_fixed_cost=Decimal(amount))


def base_model_ending(tune: FineTune, on: date | None, original) -> None:
    """Move the tune onto a base model shutting down ``on`` (or back to ``original``)."""
    if on is None:
        FineTune.objects.filter(pk=tune.pk).update(base_model=original)
        return
    successor = portfolio.catalog_model()
    ending = portfolio.catalog_model(shutdown_on=on, successor=successor)
    FineTune.objects.filter(pk=tune.pk).update(base_model=ending)


def test_flags_open_and_resolve_across_a_sequence_of_nights(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    p = portfolio.build(DAY, ("keep",), usage_until=DAY + timedelta(days=20))
    tune = p["keep"]
    stable = tune.base_model
    days = [DAY + timedelta(days=n) for n in range(9)]

    night(days[0], capture)
    assert verdict(tune, days[0]) == "KEEP"
    assert flags(tune) == []

    # The fixed cost jumps: it no longer pays off. A RETIRE flag opens, carrying its evaluation.
    set_fixed_cost(tune, 5000)
    night(days[1], capture)
    assert verdict(tune, days[1]) == "RETIRE"
    retire = Flag.objects.get(tune=tune)
    assert (retire.kind, retire.opened_on, retire.resolved_on) == ("RETIRE", days[1], None)
    assert retire.opened_by == Evaluation.objects.get(tune=tune, as_of=days[1])
    assert_flags_follow_latest_verdicts()

    # Still RETIRE the next night, and again when re-evaluated by hand: the same flag.
    night(days[2], capture)
    reevaluate_now(days[2], tune, capture)
    assert verdict(tune, days[2]) == "RETIRE"
    assert list(tune.flags.values_list("pk", flat=True)) == [retire.pk]
    assert_flags_follow_latest_verdicts()

    # Back to paying off: the flag resolves, with the evaluation that resolved it.
    set_fixed_cost(tune, 500)
    night(days[3], capture)
    assert verdict(tune, days[3]) == "KEEP"
    retire.refresh_from_db()
    assert retire.resolved_on == days[3]
    assert retire.resolved_by == Evaluation.objects.get(tune=tune, as_of=days[3])
    assert not Flag.objects.filter(resolved_on__isnull=True).exists()

    # Its base model is announced to shut down in 30 days: RETRAIN.
    base_model_ending(tune, days[4] + timedelta(days=30), stable)
    night(days[4], capture)
    assert verdict(tune, days[4]) == "RETRAIN"
    assert flags(tune)[-1] == ("RETRAIN", days[4], None)
    assert_flags_follow_latest_verdicts()

    # The announcement was a mistake and the tune is re-evaluated the same day: the flag that
    # day's earlier run opened is withdrawn, not "opened and resolved" the same day.
    base_model_ending(tune, None, stable)
    reevaluate_now(days[4], tune, capture)
    assert verdict(tune, days[4]) == "KEEP"
    assert flags(tune) == [("RETIRE", days[1], days[3])]

    # It was real after all: RETRAIN again, one flag, and the next night keeps it.
    base_model_ending(tune, days[5] + timedelta(days=30), stable)
    night(days[5], capture)
    night(days[6], capture)
    assert [verdict(tune, d) for d in days[5:7]] == ["RETRAIN", "RETRAIN"]
    retrain = Flag.objects.get(tune=tune, resolved_on__isnull=True)
    assert (retrain.kind, retrain.opened_on) == ("RETRAIN", days[5])
    assert_flags_follow_latest_verdicts()

    # Backfilling an older day (when the verdict was different) moves no flag.
    before = flags(tune)
    evaluate_portfolio(as_of=days[3], tune_ids=[tune.pk])
    assert verdict(tune, days[3]) == "RETRAIN"  # today's data, an old date
    assert flags(tune) == before
    assert_flags_follow_latest_verdicts()

    # Losing money as well: RETIRE decides. RETRAIN resolves, a new RETIRE flag opens.
    set_fixed_cost(tune, 5000)
    night(days[7], capture)
    assert verdict(tune, days[7]) == "RETIRE"
    assert flags(tune) == [
        ("RETIRE", days[1], days[3]),
        ("RETRAIN", days[5], days[7]),
        ("RETIRE", days[7], None),
    ]
    assert_flags_follow_latest_verdicts()

    # Fixed the next day, then the fix is reverted and the day re-evaluated: the resolution is
    # undone and the same flag stays open, keeping its age.
    set_fixed_cost(tune, 500)
    base_model_ending(tune, None, stable)
    night(days[8], capture)
    assert verdict(tune, days[8]) == "KEEP"
    assert flags(tune)[-1] == ("RETIRE", days[7], days[8])
    set_fixed_cost(tune, 5000)
    reevaluate_now(days[8], tune, capture)
    assert verdict(tune, days[8]) == "RETIRE"
    assert flags(tune)[-1] == ("RETIRE", days[7], None)
    assert tune.flags.count() == 3
    assert_flags_follow_latest_verdicts()


def test_a_ready_proposal_is_flagged_until_it_is_deployed(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    p = portfolio.build(DAY, ("ready", "brand"))
    night(DAY, capture)
    assert verdict(p["ready"], DAY) == "FINE_TUNE"
    assert verdict(p["brand"], DAY) == "ITERATE"
    assert flags(p["ready"]) == [("FINE_TUNE", DAY, None)]
    assert flags(p["brand"]) == []

    # Trained and deployed: no longer a proposal, so the FINE_TUNE flag resolves.
    later = DAY + timedelta(days=1)
    FineTune.objects.filter(pk=p["ready"].pk).update(
        status=FineTune.Status.DEPLOYED, deployed_on=DAY, last_trained_on=DAY
    )
    portfolio.add_usage(p["ready"], DAY, later)
    night(later, capture)
    assert verdict(p["ready"], later) not in ("FINE_TUNE", "ITERATE")
    assert flags(p["ready"]) == [("FINE_TUNE", DAY, later)]
    assert_flags_follow_latest_verdicts()


def test_the_database_refuses_a_second_open_flag_of_a_kind():
    p = portfolio.build(DAY, ("retire",))
    run = evaluate_portfolio(as_of=DAY)
    assert run.opened_flags == 1
    evaluation = run.evaluations[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(tune=p["retire"], kind="RETIRE", opened_by=evaluation, opened_on=DAY)
    # A resolved one of the same kind, or an open one of another kind, is fine.
    Flag.objects.create(
        tune=p["retire"], kind="RETIRE", opened_by=evaluation, opened_on=DAY, resolved_on=DAY
    )
    Flag.objects.create(tune=p["retire"], kind="RETRAIN", opened_by=evaluation, opened_on=DAY)
    assert UsageRecord.objects.filter(tune=p["retire"]).exists()
