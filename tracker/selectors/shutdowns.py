"""Retrain-by dates: a deployed tune on a base model with an announced shutdown must be retrained
on the successor and evaluated before the shutdown, which takes ``TUNEFOLIO_RETRAIN_LEAD_DAYS``
(default 30). Shutdown notices go out 90, 60 and 30 days before that date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, TypedDict, cast

from django.conf import settings
from django.db.models import Case, DateField, ExpressionWrapper, F, QuerySet, When
from django.db.models.functions import Cast

from tracker.models import FineTune, ShutdownNotice

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class RetrainBy(TypedDict):
    retrain_by: date | None


def retrain_by(*, status: str, shutdown_on: date | None) -> date | None:
    """The day a tune must be retrained and evaluated by; None when it has no such day (not
    deployed, or no shutdown announced)."""
    if status != FineTune.Status.DEPLOYED or shutdown_on is None:
        return None
    return shutdown_on - timedelta(days=settings.TUNEFOLIO_RETRAIN_LEAD_DAYS)


def tunes_with_retrain_by(
    queryset: QuerySet[FineTune] | None = None,
) -> QuerySet[WithAnnotations[FineTune, RetrainBy]]:
    """Tunes annotated with ``retrain_by`` (a date, or None), for lists, filters and ordering."""
    queryset = FineTune.objects.all() if queryset is None else queryset
    lead = timedelta(days=settings.TUNEFOLIO_RETRAIN_LEAD_DAYS)
    return queryset.annotate(
        retrain_by=Case(
            When(
                status=FineTune.Status.DEPLOYED,
                base_model__shutdown_on__isnull=False,
                # PostgreSQL's date − interval is a timestamp: cast back to a date.
                then=Cast(
                    ExpressionWrapper(
                        F("base_model__shutdown_on") - lead, output_field=DateField()
                    ),
                    output_field=DateField(),
                ),
            ),
            default=None,
            output_field=DateField(),
        )
    )


def notice_threshold(days_left: int) -> int | None:
    """The tightest notice threshold ``days_left`` has crossed (30 when the date has passed),
    or None when it is further away than every threshold."""
    crossed = [t for t in settings.TUNEFOLIO_SHUTDOWN_NOTICE_DAYS if days_left <= t]
    return min(crossed) if crossed else None


def shutdown_notices_due(today: date) -> list[tuple[int, date, int]]:
    """(tune id, retrain-by date, threshold) for each deployed tune whose retrain-by date has
    crossed a threshold it has not been told about. A tune first seen at 50 days gets the
    60-day notice only: the 90-day one is history."""
    horizon = today + timedelta(days=max(settings.TUNEFOLIO_SHUTDOWN_NOTICE_DAYS))
    candidates = (
        tunes_with_retrain_by(FineTune.objects.filter(status=FineTune.Status.DEPLOYED))
        .filter(retrain_by__isnull=False, retrain_by__lte=horizon)
        .order_by("pk")
        .values_list("pk", "retrain_by")
    )
    wanted: dict[tuple[int, date, int], None] = {}
    for tune_id, retrain_on in candidates:
        day = cast(date, retrain_on)  # never None: filtered above
        threshold = notice_threshold((day - today).days)
        if threshold is not None:
            wanted[(tune_id, day, threshold)] = None
    if not wanted:
        return []
    sent = set(
        ShutdownNotice.objects.filter(tune_id__in={k[0] for k in wanted}).values_list(
            "tune_id", "retrain_by", "days_before"
        )
    )
    return [key for key in wanted if key not in sent]


def recent_shutdown_notices(tune_ids, since: date) -> QuerySet[ShutdownNotice]:
    return (
        ShutdownNotice.objects.filter(tune_id__in=tune_ids, noticed_on__gte=since)
        .select_related("tune", "tune__base_model", "tune__base_model__successor")
        .order_by("retrain_by", "tune__name")
    )
