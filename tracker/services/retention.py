"""Evaluation history kept in proportion: every day for a while, then one a week.

A nightly run over a large portfolio writes a row per tune per day; kept forever that is most of
the database. Older history is thinned to the last evaluation of each tune's ISO week. Never
deleted: a tune's latest evaluation, and any evaluation that opened or resolved a flag (the
flag's history points at it).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import TruncWeek
from django.utils import timezone

from tracker.models import Evaluation, Flag

#: Days of daily history kept; older evaluations are thinned to one a week.
DAILY_HISTORY_DAYS = 90
#: Rows deleted per statement, so a first prune of years of history holds no huge lock or list.
PRUNE_BATCH = 5000


def prunable_evaluations(today: date):
    """Evaluations older than the daily window with a later one of the same tune in the same ISO
    week (so never a tune's latest), opening or resolving no flag."""
    cutoff = today - timedelta(days=DAILY_HISTORY_DAYS)
    later_same_week = Evaluation.objects.annotate(week=TruncWeek("as_of")).filter(
        tune_id=OuterRef("tune_id"), week=OuterRef("week"), as_of__gt=OuterRef("as_of")
    )
    return (
        Evaluation.objects.filter(as_of__lt=cutoff)
        .annotate(week=TruncWeek("as_of"))
        .filter(Exists(later_same_week))
        .exclude(Exists(Flag.objects.filter(opened_by=OuterRef("pk"))))
        .exclude(Exists(Flag.objects.filter(resolved_by=OuterRef("pk"))))
    )


def prune_evaluations(*, today: date | None = None) -> int:
    """Delete the evaluations :func:`prunable_evaluations` names; returns how many. Idempotent:
    what it keeps is the latest of its week, so a second run finds nothing."""
    today = today or timezone.localdate()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                prunable_evaluations(today)
                .order_by("pk")
                .values_list("pk", flat=True)[:PRUNE_BATCH]
            )
            if not ids:
                return deleted
            count, _ = Evaluation.objects.filter(pk__in=ids).delete()
            deleted += count
