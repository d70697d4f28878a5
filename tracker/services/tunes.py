"""Writes to the tunes themselves: change log and retirement."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Q

from tracker.models import ChangeLogEntry, FineTune, Flag


@transaction.atomic
def record_change(tune: FineTune, **fields) -> ChangeLogEntry:
    """Add a change-log entry. A retraining restarts the tune's economic clock on its day."""
    entry = ChangeLogEntry(tune=tune, **fields)
    entry.full_clean()
    entry.save()
    after_change_saved(entry)
    return entry


def after_change_saved(entry: ChangeLogEntry) -> None:
    """Move the last trained date forward to a retraining's day (never back)."""
    if entry.kind != ChangeLogEntry.Kind.RETRAINING:
        return
    FineTune.objects.filter(pk=entry.tune_id).filter(
        Q(last_trained_on__isnull=True) | Q(last_trained_on__lt=entry.day)
    ).update(last_trained_on=entry.day)


@transaction.atomic
def retire_tune(tune: FineTune, on: date) -> FineTune:
    """Retire a tune: it stays in the history but is no longer evaluated, and the flags that
    asked for action on it are resolved by the retirement."""
    FineTune.objects.filter(pk=tune.pk).update(status=FineTune.Status.RETIRED)
    Flag.objects.filter(tune=tune, resolved_on__isnull=True, opened_on__lte=on).update(
        resolved_on=on
    )
    tune.refresh_from_db()
    return tune
