"""A tune's usage, summed per day, ISO week or calendar month — in SQL, one query."""

from __future__ import annotations

from datetime import date

from django.db.models import Avg, Count, DateField, F, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from tracker.models import FineTune, UsageRecord

PERIODS = ("day", "week", "month")
_TRUNC = {
    "day": lambda: F("day"),
    "week": lambda: TruncWeek("day", output_field=DateField()),
    "month": lambda: TruncMonth("day", output_field=DateField()),
}


def usage_by_period(tune: FineTune, period: str, start: date, end: date) -> list[dict]:
    """Rows ``{period_start, queries, input_tokens, output_tokens, cost_usd, quality_score,
    sources}`` from ``start`` to ``end`` (inclusive), oldest first; every source summed.

    Weeks start on Monday. ``cost_usd`` is the sum of the actual costs reported (``None`` when
    none was); ``quality_score`` the mean of the scores reported.
    """
    if period not in _TRUNC:
        raise ValueError(f"period must be one of {PERIODS}")
    rows = (
        UsageRecord.objects.filter(tune=tune, day__gte=start, day__lte=end)
        .annotate(period_start=_TRUNC[period]())
        .values("period_start")
        .annotate(
            queries=Sum("queries"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost_usd=Sum("cost_usd"),
            quality_score=Avg("quality_score"),
            sources=Count("source", distinct=True),
        )
        .order_by("period_start")
    )
    return [dict(row) for row in rows]


def usage_totals(rows: list[dict]) -> dict:
    """Totals over :func:`usage_by_period` rows (no query)."""
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    return {
        "queries": sum(r["queries"] for r in rows),
        "input_tokens": sum(r["input_tokens"] for r in rows),
        "output_tokens": sum(r["output_tokens"] for r in rows),
        "cost_usd": sum(costs) if costs else None,
    }
