"""Writes to the tunes themselves: change log, retirement and evaluating one tune."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q

from tracker.models import ChangeLogEntry, Evaluation, FineTune, Flag

from .catalog import refuse_fixed_fields
from .errors import TuneRetired
from .evaluation import evaluate_portfolio


@transaction.atomic
def record_change(*, tune: FineTune, **fields: Any) -> ChangeLogEntry:
    """Add a change-log entry. A retraining restarts the tune's economic clock on its day."""
    entry = ChangeLogEntry(tune=tune, **fields)
    entry.full_clean()
    entry.save()
    _restart_clock(entry)
    return entry


@transaction.atomic
def change_update(*, entry: ChangeLogEntry, **fields: Any) -> ChangeLogEntry:
    """Correct a change-log entry (its day, kind, summary…). An entry corrected into a
    retraining restarts the clock on its day, as a new one would."""
    entry = ChangeLogEntry.objects.select_for_update().get(pk=entry.pk)
    refuse_fixed_fields(fields, CHANGE_EDITABLE_FIELDS)
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.full_clean()
    entry.save()
    _restart_clock(entry)
    return entry


@transaction.atomic
def change_delete(*, entry: ChangeLogEntry) -> None:
    """Remove an entry recorded by mistake. The last trained date stays: it may have been set
    by hand, and a wrong date is corrected on the tune itself."""
    ChangeLogEntry.objects.filter(pk=entry.pk).delete()


#: What a correction may change: the tune an entry belongs to is fixed.
CHANGE_EDITABLE_FIELDS = frozenset({"day", "kind", "meaningful", "summary", "author", "cost"})


def _restart_clock(entry: ChangeLogEntry) -> None:
    """Move the last trained date forward to a retraining's day (never back)."""
    if entry.kind != ChangeLogEntry.Kind.RETRAINING:
        return
    FineTune.objects.filter(pk=entry.tune_id).filter(
        Q(last_trained_on__isnull=True) | Q(last_trained_on__lt=entry.day)
    ).update(last_trained_on=entry.day)


@transaction.atomic
def retire_tune(*, tune: FineTune, on: date) -> FineTune:
    """Retire a tune: it stays in the history but is no longer evaluated, and the flags that
    asked for action on it are resolved by the retirement. Retiring a retired tune changes
    nothing."""
    current = FineTune.objects.select_for_update().get(pk=tune.pk)
    if current.status != FineTune.Status.RETIRED:
        FineTune.objects.filter(pk=tune.pk).update(status=FineTune.Status.RETIRED)
        Flag.objects.filter(tune=tune, resolved_on__isnull=True, opened_on__lte=on).update(
            resolved_on=on
        )
    tune.refresh_from_db()
    return tune


def evaluate_tune(*, tune: FineTune, as_of: date) -> Evaluation:
    """Evaluate one tune as of ``as_of`` (again the same day replaces the evaluation).

    Raises :class:`TuneRetired` for a retired tune: retired tunes are not evaluated.
    """
    if tune.status == FineTune.Status.RETIRED:
        raise TuneRetired("Retired tunes are not evaluated.")
    return evaluate_portfolio(as_of=as_of, tune_ids=[tune.pk]).evaluations[0]
