"""Pruning evaluation history: daily for 90 days, then one a week; never the latest, never one a
flag points at; a second run changes nothing."""

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from tracker.models import Evaluation, Flag

from .factories import FineTuneFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 4)  # a Wednesday


def frozen():
    return time_machine.travel(datetime.combine(TODAY, time(4, 30), tzinfo=UTC), tick=False)


def history(tune, days: int, *, until: date = TODAY) -> None:
    Evaluation.objects.bulk_create(
        Evaluation(
            tune=tune,
            as_of=until - timedelta(days=d),
            verdict="KEEP",
            reason="r",
            engine_version="t",
        )
        for d in range(days)
    )


def kept(tune) -> list[date]:
    return sorted(Evaluation.objects.filter(tune=tune).values_list("as_of", flat=True))


def prune() -> str:
    out = StringIO()
    with frozen():
        call_command("prune_evaluations", stdout=out)
    return out.getvalue()


def test_daily_for_90_days_then_the_last_of_each_week():
    tune = FineTuneFactory()
    history(tune, 200)
    prune()
    days = kept(tune)
    cutoff = TODAY - timedelta(days=90)
    recent = [d for d in days if d >= cutoff]
    older = [d for d in days if d < cutoff]
    assert recent == [cutoff + timedelta(days=n) for n in range(91)]
    # Before the window, the last evaluation of each ISO week (a Sunday here); the week the
    # window starts in is already covered by the daily history.
    first = TODAY - timedelta(days=199)
    sundays = [
        first + timedelta(days=n) for n in range(200) if (first + timedelta(days=n)).weekday() == 6
    ]
    assert older == [d for d in sundays if d.isocalendar()[:2] < cutoff.isocalendar()[:2]]
    assert len(older) == 16


def test_a_second_run_changes_nothing():
    tune = FineTuneFactory()
    history(tune, 150)
    first = prune()
    after_first = kept(tune)
    second = prune()
    assert kept(tune) == after_first
    assert first != "Deleted 0 evaluation(s).\n"
    assert second == "Deleted 0 evaluation(s).\n"


def test_never_the_latest_nor_one_a_flag_points_at():
    stopped = FineTuneFactory()  # evaluated daily long ago, not since: its latest is old
    history(stopped, 30, until=TODAY - timedelta(days=200))
    flagged = FineTuneFactory()
    history(flagged, 200)
    opened = Evaluation.objects.get(tune=flagged, as_of=TODAY - timedelta(days=152))
    resolved = Evaluation.objects.get(tune=flagged, as_of=TODAY - timedelta(days=123))
    assert opened.as_of.weekday() != 6 and resolved.as_of.weekday() != 6  # not kept anyway
    Flag.objects.create(
        tune=flagged,
        kind="RETIRE",
        opened_by=opened,
        opened_on=opened.as_of,
        resolved_by=resolved,
        resolved_on=resolved.as_of,
    )
    prune()
    assert kept(stopped)[-1] == TODAY - timedelta(days=200)
    assert Evaluation.objects.filter(pk__in=[opened.pk, resolved.pk]).count() == 2
    assert Flag.objects.get().opened_by_id == opened.pk


def test_runs_weekly_from_beat():
    from tracker import tasks

    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == tasks.prune_evaluations.name
    )
    assert entry["schedule"].day_of_week == {0}  # Sunday
    tune = FineTuneFactory()
    history(tune, 120)
    with frozen():
        deleted = tasks.prune_evaluations.apply().get()
    assert deleted > 0 and Evaluation.objects.filter(tune=tune).count() == 120 - deleted
