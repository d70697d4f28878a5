"""Shutdown notices: recorded once per threshold per tune, announced through the webhooks and
listed in the next weekly digest."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from tracker.models import ShutdownNotice
from tracker.selectors import shutdowns as shutdown_selectors

from . import webhooks


@transaction.atomic
def send_shutdown_notices(*, today: date) -> int:
    """Record the notices due today and queue their webhooks. Idempotent: a second run the
    same day (or a concurrent one) records and sends nothing new. Returns how many it recorded."""
    due = shutdown_selectors.shutdown_notices_due(today)
    if not due:
        return 0
    ShutdownNotice.objects.bulk_create(
        [
            ShutdownNotice(tune_id=tune_id, retrain_by=day, days_before=threshold, noticed_on=today)
            for tune_id, day, threshold in due
        ],
        ignore_conflicts=True,
    )
    keys = set(due)
    notices = [
        notice
        for notice in ShutdownNotice.objects.filter(
            tune_id__in={k[0] for k in due}, noticed_on=today
        ).select_related("tune__team", "tune__base_model__successor")
        if (notice.tune_id, notice.retrain_by, notice.days_before) in keys
    ]
    webhooks.record_shutdown_notice_events(notices=notices)
    return len(notices)
