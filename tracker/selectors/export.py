"""Tunes as CSV rows: each with its latest verdict, the deciding reason and the key figures.

Read with ``QuerySet.iterator(chunk_size=...)``: rows reach the response as the database sends
them, so memory stays flat whatever the portfolio's size (a server-side cursor on PostgreSQL,
fetchmany batches on SQLite).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet

from tracker.models import FineTune

from .shutdowns import retrain_by

CHUNK_SIZE = 2000
FIGURES = ("payback_months", "break_even_on", "expected_stable_lifetime_months")
COLUMNS = [
    "slug",
    "name",
    "team",
    "owner",
    "status",
    "base_model",
    "base_model_shutdown_on",
    "retrain_by",
    "latest_verdict",
    "latest_as_of",
    "reason",
    "monthly_net_saving_usd",
    "unrecovered_cost_usd",
    *FIGURES,
    "upfront_cost_usd",
    "retrain_cost_usd",
    "monthly_fixed_cost_usd",
]
#: A cell starting with one of these is a formula to a spreadsheet: neutralised with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _export_queryset(queryset: QuerySet[FineTune]) -> QuerySet[FineTune, tuple[Any, ...]]:
    return (
        queryset.annotate(
            export_verdict=F("latest_evaluation__verdict"),
            export_as_of=F("latest_evaluation__as_of"),
            export_reason=F("latest_evaluation__reason"),
            export_saving=F("latest_evaluation__monthly_net_saving"),
            export_unrecovered=F("latest_evaluation__unrecovered_cost"),
            export_figures=F("latest_evaluation__figures"),
        )
        .order_by("pk")
        .values_list(
            "slug",
            "name",
            "team__slug",
            "owner__username",
            "status",
            "base_model__provider",
            "base_model__name",
            "base_model__version",
            "base_model__shutdown_on",
            "export_verdict",
            "export_as_of",
            "export_reason",
            "export_saving",
            "export_unrecovered",
            "export_figures",
            "upfront_cost",
            "retrain_cost",
            "monthly_fixed_cost",
        )
    )


def _cell(value) -> str | int | float | Decimal:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bool | int | float | Decimal):
        return value
    return str(value)  # dates


def tune_rows(queryset: QuerySet[FineTune]) -> Iterator[list]:
    """The header, then one row per tune, read in chunks."""
    yield COLUMNS
    for row in _export_queryset(queryset).iterator(chunk_size=CHUNK_SIZE):
        (slug, name, team, owner, status, provider, model, version, shutdown_on, verdict,
         as_of, reason, saving, unrecovered, figures, upfront, retrain, fixed) = row  # fmt: skip
        figures = figures or {}
        yield [
            _cell(v)
            for v in (
                slug, name, team, owner, status, f"{provider} {model} {version}", shutdown_on,
                retrain_by(status=status, shutdown_on=shutdown_on), verdict, as_of, reason,
                saving, unrecovered, *(figures.get(key) for key in FIGURES), upfront, retrain,
                fixed,
            )
        ]  # fmt: skip


class _Echo:
    """A file-like object whose write returns the line, for csv.writer to stream through."""

    def write(self, value: str) -> str:
        return value


def tune_csv_lines(queryset: QuerySet[FineTune]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in tune_rows(queryset):
        yield writer.writerow(row)
