"""Importers: pure functions from a usage payload, in the shape a provider or gateway emits it,
to Tunefolio's daily rows. No Django here; ``tracker.services.imports`` resolves the model ids to
tunes and hands the rows to the usage API's validation and upsert.

Every importer takes the parsed payload (JSON) or text (CSV) and returns a list of
:class:`DailyRow`, one per model id and UTC day, or raises :class:`PayloadInvalid` naming the
place in the payload of every problem (``data[2].results[0].input_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal


@dataclass
class DailyRow:
    """One model id's usage on one UTC day. ``queries`` is None when the source has no request
    count (it is then estimated from the tune's tokens per query). ``tune`` is set instead of
    ``model_id`` by formats keyed by Tunefolio's own slugs (the CSV)."""

    model_id: str | None
    day: date
    queries: int | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None = None
    place: str = ""
    tune: str | None = None
    quality_score: float | None = None


@dataclass(frozen=True)
class PayloadError:
    place: str
    message: str

    def as_dict(self) -> dict:
        return {"row": None, "field": self.place, "message": self.message}


class PayloadInvalid(Exception):
    """The payload is not in the format's shape; ``errors`` names every place. Nothing written."""

    def __init__(self, errors: list[PayloadError]):
        self.errors = errors
        count = len(errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the payload.")


class Reader:
    """Collects errors while reading fields, so one pass reports every problem."""

    def __init__(self) -> None:
        self.errors: list[PayloadError] = []

    def fail(self, place: str, message: str) -> None:
        self.errors.append(PayloadError(place, message))

    def obj(self, value, place: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.fail(place, "Must be an object.")
        return None

    def items(self, parent: dict, key: str, place: str) -> list:
        value = parent.get(key)
        if isinstance(value, list):
            return value
        self.fail(f"{place}.{key}" if place else key, "Must be an array.")
        return []

    def count(self, parent: dict, key: str, place: str, *, required: bool = True) -> int | None:
        """A whole, non-negative number (OTLP/JSON writes 64-bit integers as strings)."""
        where = f"{place}.{key}"
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(where, "Missing.")
            return None
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,30}", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            self.fail(where, "Must be a number.")
            return None
        if value < 0 or value != int(value):
            self.fail(where, "Must be a whole number, not negative.")
            return None
        return int(value)

    def money(self, parent: dict, key: str, place: str) -> Decimal | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
            self.fail(f"{place}.{key}", "Must be a number.")
            return None
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            self.fail(f"{place}.{key}", "Must be a number.")
            return None
        if not amount.is_finite() or amount < 0:
            self.fail(f"{place}.{key}", "Must be a finite number, not negative.")
            return None
        return amount

    def text(self, parent: dict, key: str, place: str, *, required: bool = True) -> str | None:
        value = parent.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{place}.{key}", "Missing.")
            return None
        if not isinstance(value, str):
            self.fail(f"{place}.{key}", "Must be a string.")
            return None
        return value

    def day_of_unix(self, value, place: str) -> date | None:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            self.fail(place, "Must be a Unix timestamp in seconds.")
            return None
        try:
            return datetime.fromtimestamp(float(value), UTC).date()
        except (OverflowError, OSError, ValueError):
            self.fail(place, "Not a plausible Unix timestamp.")
            return None

    def day_of_iso(self, value, place: str) -> date | None:
        """The UTC day of an ISO 8601 timestamp or date (``2026-11-27``, ``…T00:00:00Z``)."""
        if not isinstance(value, str):
            self.fail(place, "Must be an ISO 8601 date or timestamp.")
            return None
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(place, "Must be an ISO 8601 date or timestamp.")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # gateways log UTC without saying so
        try:
            return moment.astimezone(UTC).date()
        except OverflowError:
            self.fail(place, "Not a plausible timestamp.")
            return None

    def done(self) -> None:
        if self.errors:
            raise PayloadInvalid(self.errors)


def sum_rows(rows: list[DailyRow]) -> list[DailyRow]:
    """One row per model id (or tune) and day: counts and costs added; a day's queries are
    unknown if any part of it has none. The place is the first contributing row's."""
    merged: dict[tuple, DailyRow] = {}
    for row in rows:
        key = (row.model_id, row.tune, row.day)
        seen = merged.get(key)
        if seen is None:
            merged[key] = DailyRow(**vars(row))
            continue
        seen.queries = (
            None if seen.queries is None or row.queries is None else seen.queries + row.queries
        )
        seen.input_tokens += row.input_tokens
        seen.output_tokens += row.output_tokens
        if row.cost_usd is not None:
            seen.cost_usd = (seen.cost_usd or Decimal(0)) + row.cost_usd
    return list(merged.values())


def pages(payload) -> list:
    """A payload is one page (an object) or several pages concatenated (an array of them)."""
    return payload if isinstance(payload, list) else [payload]


def daily_items(
    reader: Reader,
    payload: object,
    *,
    days: str,
    items: str,
    day_of: Callable[[dict, str], date | None],
) -> Iterator[tuple[date | None, dict, str]]:
    """The walk the usage APIs share: pages, then their ``days`` (one entry per day), then each
    day's ``items`` (one per model). Yields (day, item, place in the payload) for every item
    that is an object; other problems are recorded on ``reader``, naming their place."""
    for number, page in enumerate(pages(payload)):
        prefix = f"[{number}]." if isinstance(payload, list) else ""
        page = reader.obj(page, prefix.rstrip(".") or "payload")
        if page is None:
            continue
        for d, entry in enumerate(reader.items(page, days, prefix.rstrip("."))):
            where = f"{prefix}{days}[{d}]"
            entry = reader.obj(entry, where)
            if entry is None:
                continue
            day = day_of(entry, where)
            for i, item in enumerate(reader.items(entry, items, where)):
                place = f"{where}.{items}[{i}]"
                item = reader.obj(item, place)
                if item is not None:
                    yield day, item, place


Importer = Callable[[object], list[DailyRow]]


def importers() -> dict[str, Importer]:
    """Format name (also the source name its rows are written under) → importer."""
    from . import anthropic, csv, langfuse, litellm, openai, otel

    return {
        "openai": openai.read,
        "anthropic": anthropic.read,
        "litellm": litellm.read,
        "langfuse": langfuse.read,
        "otel": otel.read,
        "csv": csv.read,
    }


FORMATS = ("openai", "anthropic", "litellm", "langfuse", "otel", "csv")
#: Formats whose payload carries no request count: their queries are estimated.
ESTIMATED_FORMATS = frozenset({"anthropic"})
