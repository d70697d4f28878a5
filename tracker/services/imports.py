"""Usage from where it lives: a provider's or gateway's payload, read by its importer
(``tracker.importers``), its model ids resolved to tunes through their aliases, missing request
counts estimated, then written through the usage API's own validation and upsert
(:func:`tracker.services.usage.ingest_usage`). All or nothing; each format writes under its own
source name, so importing a period again replaces it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from django.db import transaction
from django.utils import timezone

from tracker.importers import DailyRow, PayloadInvalid, importers, sum_rows
from tracker.importers.aliases import resolve
from tracker.models import FineTune, TuneAlias, UsageRecord
from tracker.selectors.imports import alias_pairs, tokens_per_query
from tracker.services.usage import UsageBatchInvalid, frame_from_records, ingest_usage


class ImportRefused(Exception):
    """Nothing was written; ``errors`` are the API's ``{"row", "field", "message"}``, ``field``
    naming the place in the source payload (``data[0].results[2].input_tokens``)."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        count = len(errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''}; nothing was imported.")


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    first_day: date | None = None
    last_day: date | None = None
    days: int = 0
    estimated_rows: int = 0
    unmatched: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "rows": self.rows,
            "rows_written": self.rows_written,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "days": {
                "first": self.first_day.isoformat() if self.first_day else None,
                "last": self.last_day.isoformat() if self.last_day else None,
                "count": self.days,
            },
            "estimated_rows": self.estimated_rows,
            "unmatched": self.unmatched,
            "warnings": self.warnings,
        }


def read_payload(*, format: str, payload) -> list[DailyRow]:
    """The format's daily rows, or :class:`ImportRefused` naming every place in error."""
    reader = importers().get(format)
    if reader is None:
        raise ImportRefused(
            [{"row": None, "field": "format", "message": f"Unknown format {format!r}."}]
        )
    try:
        return reader(payload)
    except PayloadInvalid as exc:
        raise ImportRefused([e.as_dict() for e in exc.errors]) from exc


def usage_import(
    *,
    format: str,
    payload,
    team_ids: Collection[int] | None = None,
    source: str | None = None,
    today: date | None = None,
) -> ImportReport:
    """Import one payload; see the module docstring. ``source`` defaults to the format name."""
    rows = read_payload(format=format, payload=payload)
    return usage_import_rows(rows=rows, source=source or format, team_ids=team_ids, today=today)


def usage_import_rows(
    *,
    rows: list[DailyRow],
    source: str,
    team_ids: Collection[int] | None = None,
    today: date | None = None,
) -> ImportReport:
    today = today or timezone.localdate()
    report = ImportReport(source=source)
    errors: list[dict] = []

    model_rows = [r for r in rows if r.tune is None]
    resolution = resolve([r.model_id for r in model_rows], alias_pairs(team_ids))
    first_place: dict[str | None, str] = {}
    for row in model_rows:
        first_place.setdefault(row.model_id, row.place)
    for model_id, slugs in resolution.ambiguous.items():
        errors.append(
            {
                "row": None,
                "field": f"{first_place[model_id]}.model",
                "message": f"{model_id!r} matches the aliases of {len(slugs)} tunes: "
                f"{', '.join(slugs)}. Make the aliases tell them apart.",
            }
        )
    report.unmatched = _unmatched(
        [r for r in model_rows if r.model_id in set(resolution.unmatched)]
    )
    if report.unmatched:
        report.warnings.append(
            f"{len(report.unmatched)} model id(s) match no tune and were not imported: "
            f"{', '.join(u['model_id'] for u in report.unmatched)}. Add them as aliases."
        )

    matched = [
        DailyRow(**{**vars(r), "tune": resolution.tunes[r.model_id], "model_id": None})
        for r in model_rows
        if r.model_id in resolution.tunes
    ]
    daily = [r for r in rows if r.tune is not None] + sum_rows(matched)

    unknown_count = [r for r in daily if r.queries is None]
    if unknown_count:
        per_query = tokens_per_query({_slug(r) for r in unknown_count}, today)
        for row in unknown_count:
            average = per_query.get(_slug(row))
            if average is None:
                errors.append(
                    {
                        "row": None,
                        "field": f"{row.place}.queries",
                        "message": f"No request count, and tune {row.tune!r} has neither "
                        "measured usage nor expected tokens per query to estimate it from.",
                    }
                )
                continue
            tokens = row.input_tokens + row.output_tokens
            row.queries = max(round(tokens / average), 1 if tokens else 0)
        report.estimated_rows = len(unknown_count)
        report.warnings.append(
            f"No request count in {source}: queries of {len(unknown_count)} row(s) were "
            "estimated from each tune's tokens per query."
        )
    if errors:
        raise ImportRefused(errors)

    estimated = {(r.tune, r.day) for r in unknown_count}
    report.rows = len(daily)
    if daily:
        days = {r.day for r in daily}
        report.first_day, report.last_day, report.days = min(days), max(days), len(days)
    if not daily:
        return report
    frame = frame_from_records(
        {
            "tune": r.tune,
            "day": r.day.isoformat(),
            "source": source,
            "queries": r.queries,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost_usd": None if r.cost_usd is None else float(r.cost_usd),
            "quality_score": r.quality_score,
        }
        for r in daily
    )
    with transaction.atomic():
        try:
            result = ingest_usage(frame, team_ids=team_ids, default_source=source, today=today)
        except UsageBatchInvalid as exc:
            raise ImportRefused([_in_payload(e, daily) for e in exc.errors]) from exc
        _mark_estimated(source, daily, estimated)
    report.created, report.updated, report.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    return report


def _slug(row: DailyRow) -> str:
    """The tune of a row past resolution: it named one, or its model id's alias did."""
    return cast(str, row.tune)


def _in_payload(error, daily: list[DailyRow]) -> dict:
    """A usage-batch error (rows by position) named by its place in the source payload."""
    if error.row is None:
        return error.as_dict()
    place = daily[error.row].place
    field = {"tune": "model"}.get(error.field, error.field)
    return {
        "row": None,
        "field": f"{place}.{field}" if field else place,
        "message": error.message,
    }


def _unmatched(rows: list[DailyRow]) -> list[dict]:
    """Per model id: the days it was seen and its tokens, largest first."""
    summary: dict[str | None, dict] = {}
    for row in rows:
        entry = summary.setdefault(
            row.model_id,
            {"model_id": row.model_id, "days": set(), "input_tokens": 0, "output_tokens": 0},
        )
        entry["days"].add(row.day)
        entry["input_tokens"] += row.input_tokens
        entry["output_tokens"] += row.output_tokens
    out = []
    for entry in summary.values():
        days = sorted(entry["days"])
        out.append(
            {
                **entry,
                "days": len(days),
                "first_day": days[0].isoformat(),
                "last_day": days[-1].isoformat(),
            }
        )
    return sorted(out, key=lambda e: (-(e["input_tokens"] + e["output_tokens"]), e["model_id"]))


def _mark_estimated(source: str, rows: list[DailyRow], estimated: set) -> None:
    """Flag the rows whose queries were estimated (and unflag re-imported measured ones)."""
    by_tune: dict[tuple[str, bool], list[date]] = {}
    for row in rows:
        by_tune.setdefault((_slug(row), (row.tune, row.day) in estimated), []).append(row.day)
    for (slug, flag), days in by_tune.items():
        UsageRecord.objects.filter(tune__slug=slug, source=source, day__in=days).exclude(
            estimated=flag
        ).update(estimated=flag)


@transaction.atomic
def tune_alias_add(*, tune: FineTune, model_id: str) -> TuneAlias:
    """Tie a provider model id (or a glob pattern of them) to a tune."""
    alias = TuneAlias(tune=tune, team_id=tune.team_id, model_id=model_id.strip())
    alias.full_clean()
    alias.save()
    return alias


@transaction.atomic
def tune_alias_remove(*, alias: TuneAlias) -> None:
    """Untie a provider model id from its tune: later imports report it as unmatched."""
    TuneAlias.objects.filter(pk=alias.pk).delete()
