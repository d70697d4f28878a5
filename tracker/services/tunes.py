"""Writes to the tunes themselves: change log, retirement and evaluating one tune."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Q

from tracker.models import ChangeLogEntry, Evaluation, FineTune, Flag

from .errors import TuneRetired
from .evaluation import evaluate_portfolio


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
    return evaluate_portfolio(as_of, [tune.pk]).evaluations[0]
