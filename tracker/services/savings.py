"""Realised net saving per deployed tune and month, stored for the overview.

Computed by the engine exactly as the overview used to on every request
(``selectors.savings.realised_monthly_savings``), chunk by chunk of tunes, after each nightly
run and by ``manage.py refresh_savings``. A tune's rows are replaced as a whole, so a
refresh is idempotent; a tune no longer deployed loses its rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracker.models import FineTune, TuneMonthSaving
from tracker.selectors import savings as selectors

from .jobs import chunked


@dataclass(frozen=True)
class SavingsRefresh:
    as_of: date
    tunes: int
    rows: int


def refresh_savings(*, as_of: date, tune_ids: Iterable[int] | None = None) -> SavingsRefresh:
    """Recompute the stored months of the given tunes (every deployed tune, and every tune that
    still has rows, when ``None``) with usage up to ``as_of``: one transaction per chunk of
    ``TUNEFOLIO_EVALUATION_CHUNK_SIZE`` tunes, computed before it opens. Returns how many tunes
    and rows were written."""
    ids = selectors.savings_tune_ids(as_of, tune_ids)
    written = 0
    for chunk in chunked(ids, settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE):
        written += _replace(chunk, selectors.realised_monthly_savings(chunk, as_of), as_of)
    return SavingsRefresh(as_of, len(ids), written)


@transaction.atomic
def _replace(tune_ids: list[int], frame, as_of: date) -> int:
    """The chunk's rows replaced by ``frame``'s. The tune rows are locked first (in id order,
    not against ingestion's key locks), so two refreshes of the same tunes take turns."""
    list(
        FineTune.objects.select_for_update(no_key=True)
        .filter(pk__in=tune_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    TuneMonthSaving.objects.filter(tune_id__in=tune_ids).delete()
    now = timezone.now()
    months = pd.PeriodIndex(frame["month"], freq="M").start_time.date
    rows = [
        TuneMonthSaving(
            tune_id=int(tune_id),
            month=month,
            net_saving=float(saving),
            as_of=as_of,
            computed_at=now,
        )
        for tune_id, month, saving in zip(
            frame["tune_id"], months, frame["net_saving"], strict=True
        )
    ]
    TuneMonthSaving.objects.bulk_create(rows, batch_size=5000)
    return len(rows)
