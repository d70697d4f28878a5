"""Operational writes: the counters behind the metrics."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Case, F, Value, When

from tracker.models import OperationsCounter


def counter_add(*, name: str, amounts: Mapping[str, int]) -> None:
    """Add to the counter ``name`` per label, in the caller's transaction (so a rolled-back
    batch counts nothing). Two queries whatever the labels; concurrent writers add up, since
    the database does the addition."""
    amounts = {label: int(n) for label, n in amounts.items() if n}
    if not amounts:
        return
    OperationsCounter.objects.bulk_create(
        [OperationsCounter(name=name, label=label) for label in amounts], ignore_conflicts=True
    )
    OperationsCounter.objects.filter(name=name, label__in=list(amounts)).update(
        value=F("value")
        + Case(*(When(label=label, then=Value(n)) for label, n in amounts.items()), default=0)
    )
