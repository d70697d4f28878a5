"""Usage ingestion: a whole batch of daily records validated at once, then written in bulk.

The API (``POST /api/v1/usage/``) and ``manage.py import_usage`` share this path. A batch is a
DataFrame with one row per record; its index labels name the rows in error reports (the API uses
positions 0..n-1, the CSV import uses line numbers). Validation is vectorised over the whole
batch and collects *every* error; nothing is written unless every row is valid. A batch whose
every value is plainly valid (the usual one) is cleaned in a few array operations a column;
any other goes through the full checks, column by column: a column's JSON types told apart at
once (``infer_dtype``), text checked once per distinct value (a batch names few tunes, days and
sources), a column of plausible numbers accepted in a few array operations; per-row messages
are built only for what fails.
The write is an upsert on (tune, day, source): sending a day again replaces it, and rows whose
values did not change are left alone, so a replayed batch changes nothing at all.

Queries: one to resolve the tunes named in the batch (which also enforces the caller's teams),
one or two to find sources new to a tune on days other sources report (a warning: usage from
every source adds up), then the write, never one per row. On PostgreSQL the batch is ``COPY``-ed
(binary, built by numpy) in key order straight into the table when none of its tunes has stored
rows in its days, or else into a staging table, then merged by one ``MERGE`` in key order
(one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` when a concurrent batch inserted some of its
keys meanwhile), rows whose values did not change left untouched; elsewhere the rows it may
replace are read, compared in pandas and upserted in bulk. The write is retried when PostgreSQL
aborts it for a deadlock, so overlapping concurrent batches all succeed.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import cast

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from pandas.api.types import infer_dtype

from tracker.models import FIRST_DAY, FineTune, OperationsCounter, UsageRecord

from .operations import counter_add

#: Counts above this in one day (queries or tokens) are refused as implausible.
MAX_DAILY_COUNT = 10**12
#: ``cost_usd`` has 4 decimals; SQLite keeps 15 significant digits, so 11 before the point.
MAX_COST_USD = Decimal("99999999999.9999")
#: Days before this are refused as implausible (and out of pandas' timestamp range anyway).
EARLIEST_DAY = FIRST_DAY
DEFAULT_SOURCE = "default"
#: A batch's top-level fields: the records, and the source of records that name none.
BATCH_FIELDS = ("records", "source")
#: Records in one batch: at least one, at most the configured limit.
BATCH_MIN_RECORDS = 1

REQUIRED_FIELDS = ("tune", "day", "queries", "input_tokens", "output_tokens")
OPTIONAL_FIELDS = ("source", "cost_usd", "quality_score")
FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)
COUNT_FIELDS = ("queries", "input_tokens", "output_tokens")
KEY_FIELDS = ("tune_id", "day", "source")
VALUE_FIELDS = ("queries", "input_tokens", "output_tokens", "cost_usd", "quality_score")

#: Usage days are written this way, and never in another century (the schema says the same).
DAY_PATTERN = r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"

#: PostgreSQL aborts one of two writers that wait on each other (deadlock) or that would see
#: an inconsistent snapshot (serialization failure); the batch is then written again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 5
#: Seconds; each retry waits a random time up to this, doubled per attempt (jitter spreads the
#: retries of writers that collided).
RETRY_BASE_DELAY = 0.05

SLUG_MAX_LENGTH = cast(int, FineTune._meta.get_field("slug").max_length)
SOURCE_MAX_LENGTH = cast(int, UsageRecord._meta.get_field("source").max_length)
#: A tune slug, as the API and its schema accept it.
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
_SLUG_RE = SLUG_PATTERN[1:-1]
_DAY_RE = r"(\d{4})-(\d{2})-(\d{2})"
_INT64_MAX = 2**63 - 1

ProgressCallback = Callable[[int], None]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowError:
    """One problem: the row's label (index), the field (None for the whole row), a message."""

    row: int | None
    field: str | None
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


class UsageBatchInvalid(Exception):
    """The batch was refused; ``errors`` lists every problem. Nothing was written."""

    def __init__(self, errors: list[RowError]):
        self.errors = sorted(
            errors,
            key=lambda e: (
                e.row is not None,
                e.row if e.row is not None else 0,
                FIELDS.index(e.field) if e.field in FIELDS else len(FIELDS),
                e.message,
            ),
        )
        count = len(self.errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the batch; nothing written.")


@dataclass(frozen=True)
class SourceWarning:
    """A source new to a tune on days that other sources already report: the two add up."""

    tune: str
    source: str
    other_sources: tuple[str, ...]
    days: int

    def as_dict(self) -> dict:
        others = ", ".join(f"'{o}'" for o in self.other_sources)
        return {
            "tune": self.tune,
            "source": self.source,
            "other_sources": list(self.other_sources),
            "days": self.days,
            "message": f"Source '{self.source}' is new for {self.tune} on {self.days} "
            f"day{'s' if self.days != 1 else ''} that {others} already report; usage from "
            "every source adds up. Send those days with the same source to replace them.",
        }


@dataclass(frozen=True)
class IngestResult:
    received: int
    created: int
    updated: int
    unchanged: int
    warnings: tuple[SourceWarning, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "warnings": [w.as_dict() for w in self.warnings],
        }


# --- Public entry points -------------------------------------------------------------------------


def batch_max_records() -> int:
    return settings.USAGE_BATCH_MAX_ROWS


def records_from_batch(body) -> tuple[list[dict], str]:
    """A batch body's records and default source, or :class:`UsageBatchInvalid` naming each
    problem of its shape (row ``None``: the batch as a whole)."""
    if not isinstance(body, dict):
        raise UsageBatchInvalid([RowError(None, None, 'Send an object: {"records": [...]}.')])
    errors = [
        RowError(None, str(name), "Unknown field.")
        for name in sorted(set(body) - set(BATCH_FIELDS), key=str)
    ]
    source = body.get("source", DEFAULT_SOURCE)
    _, _, source_errors = _strings(
        pd.Series([source], dtype=object), "source", SOURCE_MAX_LENGTH, required=True
    )
    errors += [RowError(None, e.field, e.message) for e in source_errors]
    records = body.get("records")
    limit = batch_max_records()
    if not isinstance(records, list) or len(records) < BATCH_MIN_RECORDS:
        errors.append(RowError(None, "records", "A non-empty array of usage records."))
    elif len(records) > limit:
        errors.append(
            RowError(None, "records", f"{len(records)} records; at most {limit} a request.")
        )
    elif set(map(type, records)) != {dict}:
        errors += [
            RowError(i, None, "Must be an object.")
            for i, record in enumerate(records)
            if not isinstance(record, dict)
        ]
    if errors:
        raise UsageBatchInvalid(errors)
    return cast(list[dict], records), source


def ingest_batch(
    body, *, team_ids: Collection[int] | None = None, today: date | None = None
) -> IngestResult:
    """A usage batch as the API receives it (``{"source": .., "records": [..]}``): checked
    whole, then written; all or nothing."""
    records, source = records_from_batch(body)
    return ingest_usage(
        frame_from_records(records), team_ids=team_ids, default_source=source, today=today
    )


def frame_from_records(records: Iterable[dict]) -> pd.DataFrame:
    """A batch from JSON-like dicts, built column by column, values kept exactly as sent
    (``object`` dtype; a field a record leaves out is ``None``)."""
    records = list(records)
    columns: list[Sequence[object]] = []
    names = list(records[0]) if records else []
    if names and set(map(len, records)) == {len(names)}:
        # Every record has the first one's fields (the usual batch): a column at a time.
        with suppress(KeyError):
            columns = [[record[name] for record in records] for name in names]
    if not columns:
        names = list(dict.fromkeys(chain.from_iterable(records)))  # every field, as first seen
        columns = [[record.get(name) for record in records] for name in names]
    return pd.DataFrame(
        {
            name: np.fromiter(values, dtype=object, count=len(records))
            for name, values in zip(names, columns, strict=True)
        },
        index=pd.RangeIndex(len(records)),
        copy=False,  # the columns are new: no need to copy them into one block
    )


def validate_usage(
    frame: pd.DataFrame,
    *,
    team_ids: Collection[int] | None = None,
    default_source: str | None = DEFAULT_SOURCE,
    today: date | None = None,
    numbers_as_text: bool = False,
    allow_unknown_fields: bool = False,
    row_name: str = "row",
) -> pd.DataFrame:
    """Validate a whole batch; return it clean (``KEY_FIELDS`` + ``VALUE_FIELDS``, tune ids
    resolved) or raise :class:`UsageBatchInvalid` listing every error.

    ``team_ids`` limits the tunes a batch may name (``None``: any team). ``numbers_as_text``
    accepts numbers written as text (CSV); the JSON API wants real JSON numbers. ``row_name``
    is what messages call a row ("line" for a CSV file, whose index holds line numbers).
    ``default_source`` is the source of rows that name none; ``None`` makes it required.
    """
    today = today or timezone.now().date()
    plain = _plainly_valid(
        frame,
        team_ids=team_ids,
        default_source=default_source,
        today=today,
        allow_unknown_fields=allow_unknown_fields,
    )
    if plain is not None:
        return plain
    errors: list[RowError] = []
    index = frame.index
    columns = set(frame.columns)

    if not allow_unknown_fields:
        for column in sorted(columns - set(FIELDS), key=str):
            present = frame[column].notna()
            errors += _errors(present, column, "Unknown field.")
    for column in REQUIRED_FIELDS:
        if column not in columns:
            frame = frame.assign(**{column: None})
    for column in OPTIONAL_FIELDS:
        if column not in columns:
            frame = frame.assign(**{column: None})

    clean = pd.DataFrame(index=index)

    # tune: a slug naming a tune of the caller's teams.
    slugs, ok_slug, slug_errors = _per_distinct(frame["tune"], _slugs)
    errors += slug_errors
    tune_ids = _resolve_tunes(slugs[ok_slug], team_ids)
    clean["tune_id"] = slugs.map(tune_ids).where(ok_slug).astype("Int64")
    unknown = ok_slug & clean["tune_id"].isna()
    errors += _errors(unknown, "tune", "No tune with this slug in your team(s).")
    ok_tune = ok_slug & ~unknown

    # day: ISO date, not in the future, not absurdly old.
    days, ok_day, day_errors = _per_distinct(frame["day"], lambda text: _days(text, today))
    errors += day_errors
    clean["day"] = days

    # source: optional, the batch default otherwise (a row that omits it has the default's key).
    sources, ok_source, source_errors = _per_distinct(
        frame["source"],
        lambda text: _strings(text, "source", SOURCE_MAX_LENGTH, required=default_source is None),
    )
    errors += source_errors
    if default_source is not None:
        ok_source |= _kinds(frame["source"]).eq("null")
        clean["source"] = sources.fillna(default_source)
    else:
        clean["source"] = sources

    for column in COUNT_FIELDS:
        values, ok, column_errors = _numbers(
            frame[column],
            column,
            required=True,
            whole=True,
            maximum=MAX_DAILY_COUNT,
            numbers_as_text=numbers_as_text,
        )
        errors += column_errors
        clean[column] = values.where(ok).astype("Int64")

    costs, ok_cost, cost_errors = _numbers(
        frame["cost_usd"],
        "cost_usd",
        required=False,
        whole=False,
        maximum=float(MAX_COST_USD),
        numbers_as_text=numbers_as_text,
    )
    errors += cost_errors
    clean["cost_usd"] = costs.where(ok_cost).round(4)

    scores, ok_score, score_errors = _numbers(
        frame["quality_score"],
        "quality_score",
        required=False,
        whole=False,
        maximum=1.0,
        numbers_as_text=numbers_as_text,
    )
    errors += score_errors
    clean["quality_score"] = scores.where(ok_score)

    # Two rows with the same key in one batch: refused, not left to the database.
    keyed = ok_tune & ok_day & ok_source
    key_frame = clean.loc[keyed, list(KEY_FIELDS)]
    duplicated = key_frame.duplicated(keep=False)
    if duplicated.any():
        dupes = key_frame[duplicated]
        labels = pd.Series(dupes.index, index=dupes.index)
        groups = labels.groupby([dupes[c] for c in KEY_FIELDS], sort=False)
        first, second = groups.transform("first"), groups.transform(lambda g: g.iloc[1])
        # Each row names another row of its group: the first names the second, others the first.
        other = first.where(labels.ne(first), second)
        for row, other_row in other.items():
            errors.append(
                RowError(
                    _label(row),
                    None,
                    f"Same tune, day and source as {row_name} {_label(other_row)} of this batch.",
                )
            )

    if errors:
        raise UsageBatchInvalid(errors)
    return clean


def _plainly_valid(
    frame: pd.DataFrame,
    *,
    team_ids: Collection[int] | None,
    default_source: str | None,
    today: date,
    allow_unknown_fields: bool,
) -> pd.DataFrame | None:
    """The batch cleaned exactly as :func:`validate_usage` cleans it, when every value is plainly
    valid (the usual batch): found with a few array operations a column and the text checked
    once per distinct value, tunes resolved last. ``None`` when anything needs a closer look;
    the full checks then name every error."""
    columns = set(frame.columns)
    if not set(REQUIRED_FIELDS) <= columns:
        return None
    if not allow_unknown_fields and not columns <= set(FIELDS):
        return None
    tunes = _distinct_text(frame["tune"], SLUG_MAX_LENGTH)
    days = _distinct_text(frame["day"], 10)
    if tunes is None or days is None or -1 in tunes[0] or -1 in days[0]:
        return None
    if not all(re.fullmatch(_SLUG_RE, slug) for slug in tunes[1]):
        return None
    dates = _plain_days(days[1], today)
    if dates is None:
        return None
    if "source" in columns:
        given = _distinct_text(frame["source"], SOURCE_MAX_LENGTH)
        if given is None:
            return None
        source_codes, source_names = given
    else:
        source_codes, source_names = np.full(len(frame), -1, dtype=np.intp), []
    if -1 in source_codes:  # rows that name no source: the batch's default
        if default_source is None:
            return None
        if default_source not in source_names:
            source_names = [*source_names, default_source]
        source_codes = np.where(
            source_codes == -1, source_names.index(default_source), source_codes
        )
    values: dict[str, np.ndarray] = {}
    for column in COUNT_FIELDS:
        counts = _plain_counts(frame[column])
        if counts is None:
            return None
        values[column] = counts
    for column, maximum in (("cost_usd", float(MAX_COST_USD)), ("quality_score", 1.0)):
        numbers = _plain_numbers(frame.get(column), len(frame), maximum)
        if numbers is None:
            return None
        values[column] = numbers
    keys = (tunes[0] * len(days[1]) + days[0]) * len(source_names) + source_codes
    if len(pd.unique(keys)) < len(keys):
        return None  # two rows with one key
    ids = _resolve_tunes(pd.Series(tunes[1], dtype=object), team_ids)
    if len(ids) < len(tunes[1]):
        return None
    tune_ids = np.array([ids[slug] for slug in tunes[1]], dtype=np.int64)
    index = frame.index
    return pd.DataFrame(
        {
            "tune_id": pd.array(tune_ids[tunes[0]], dtype="Int64"),
            "day": pd.Series(np.array(dates, dtype=object)[days[0]], index=index, dtype=object),
            "source": pd.Series(
                np.array(source_names, dtype=object)[source_codes], index=index, dtype=object
            ),
            **{column: pd.array(values[column], dtype="Int64") for column in COUNT_FIELDS},
            "cost_usd": values["cost_usd"].round(4),
            "quality_score": values["quality_score"],
        },
        index=index,
    )


def _distinct_text(series: pd.Series, max_length: int) -> tuple[np.ndarray, list[str]] | None:
    """Each row's position among the column's distinct values (-1: missing), and those values,
    when every one is text no check refuses; ``None`` otherwise."""
    try:
        codes, distinct = pd.factorize(series.to_numpy(dtype=object))
    except TypeError:  # unhashable values (arrays, objects)
        return None
    names = distinct.tolist()
    if not all(_storable_text(name, max_length) for name in names):
        return None
    return codes, names


def _plain_days(texts: list[str], today: date) -> list[date] | None:
    """The days when every one is a real day written YYYY-MM-DD (ASCII digits), from
    ``EARLIEST_DAY``'s year to ``today``."""
    days = []
    for text in texts:
        if not _ASCII_DAY.fullmatch(text):
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        if day.year < EARLIEST_DAY.year or day > today:
            return None
        days.append(day)
    return days


_ASCII_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _plain_counts(series: pd.Series) -> np.ndarray | None:
    """The column as integers when every value is a JSON integer from 0 to the maximum."""
    values = series.to_numpy(dtype=object)
    if infer_dtype(values, skipna=False) != "integer":
        return None
    try:
        numbers = values.astype(np.int64)
    except OverflowError:
        return None
    if len(numbers) and not (numbers.min() >= 0 and numbers.max() <= MAX_DAILY_COUNT):
        return None
    return numbers


def _plain_numbers(series: pd.Series | None, length: int, maximum: float) -> np.ndarray | None:
    """An optional column as floats (NaN: missing) when every value is a JSON number from 0 to
    ``maximum``, or missing."""
    if series is None:
        return np.full(length, np.nan)
    values = series.to_numpy(dtype=object)
    if infer_dtype(values, skipna=True) not in (
        "integer",
        "floating",
        "mixed-integer-float",
        "empty",
    ):
        return None
    try:
        numbers = np.array(values.tolist(), dtype=np.float64)  # None: NaN
    except (OverflowError, TypeError, ValueError):
        return None
    present = numbers[~np.isnan(numbers)]
    if len(present) and not (present.min() >= 0 and present.max() <= maximum):
        return None  # also infinite values
    return numbers


def ingest_usage(
    frame: pd.DataFrame,
    *,
    team_ids: Collection[int] | None = None,
    default_source: str | None = DEFAULT_SOURCE,
    today: date | None = None,
    numbers_as_text: bool = False,
    allow_unknown_fields: bool = False,
    chunk_size: int | None = None,
    progress: ProgressCallback | None = None,
    row_name: str = "row",
) -> IngestResult:
    """Validate the whole batch, then upsert it in one transaction. All or nothing.

    ``chunk_size`` (default: the API's batch limit, so an API batch is one ``bulk_create``)
    splits a large import into several upserts inside the same transaction; ``progress`` is
    called with the number of rows each one wrote.

    Rows are written in key order, so concurrent batches lock shared rows in the same order;
    a write PostgreSQL still aborts (deadlock, serialization failure) is retried whole.
    """
    clean = validate_usage(
        frame,
        team_ids=team_ids,
        default_source=default_source,
        today=today,
        numbers_as_text=numbers_as_text,
        allow_unknown_fields=allow_unknown_fields,
        row_name=row_name,
    )
    warnings = _source_warnings(clean)
    result = _retrying(lambda: write_usage(clean, chunk_size=chunk_size, progress=progress))
    return IngestResult(result.received, result.created, result.updated, result.unchanged, warnings)


def _retrying(write: Callable[[], IngestResult]) -> IngestResult:
    """Run ``write`` in its own transaction (a savepoint inside an outer one), again when the
    database aborted it for a deadlock or a serialization failure: bounded, with jitter."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return write()
        except OperationalError as exc:
            sqlstate = getattr(exc.__cause__, "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == WRITE_ATTEMPTS:
                raise
            logger.warning("Usage write aborted (%s, attempt %d); retrying.", sqlstate, attempt)
        time.sleep(random.uniform(0, RETRY_BASE_DELAY * 2**attempt))
    raise AssertionError("unreachable")


def write_usage(
    clean: pd.DataFrame, *, chunk_size: int | None = None, progress: ProgressCallback | None = None
) -> IngestResult:
    """Upsert a batch that :func:`validate_usage` accepted, in key order."""
    received = len(clean)
    if not received:
        return IngestResult(0, 0, 0, 0)
    chunk_size = chunk_size or settings.USAGE_BATCH_MAX_ROWS
    # Key order: concurrent batches touching the same rows lock them in the same order.
    ordered = clean.sort_values(list(KEY_FIELDS), kind="mergesort", ignore_index=True)
    upsert = _copy_upsert if connection.vendor == "postgresql" else _orm_upsert
    created = updated = 0
    with transaction.atomic(savepoint=False):  # the caller's transaction, when there is one
        for start in range(0, received, chunk_size):
            part = ordered.iloc[start : start + chunk_size]
            new, changed = upsert(part)
            created, updated = created + new, updated + changed
            if progress:
                progress(len(part))
        counter_add(
            name=OperationsCounter.USAGE_ROWS_INGESTED,
            amounts={
                str(k): int(v) for k, v in clean["source"].value_counts().sort_index().items()
            },
        )
    return IngestResult(received, created, updated, received - created - updated)


#: The session-local staging table a batch is copied into on PostgreSQL when it may replace
#: stored rows (emptied at commit): the usage table's columns, so the same ``COPY`` data fills it.
_STAGE = "usage_staged"
#: PostgreSQL's binary ``COPY``: signature, flags, header extension length ... trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
#: Binary dates count days from 2000-01-01.
_PG_EPOCH = np.datetime64("2000-01-01", "D")


def _copy_upsert(part: pd.DataFrame) -> tuple[int, int]:
    """PostgreSQL: rows for days no stored row of the batch's tunes has yet (the daily case) are
    ``COPY``-ed (binary, built by numpy) straight into the table; otherwise, or when a concurrent
    batch wrote the same keys meanwhile, they are copied into a staging table and one ``MERGE``
    replaces them, leaving rows whose values did not change untouched (one ``INSERT … SELECT …
    ON CONFLICT DO UPDATE`` when a concurrent batch inserted some of the keys meanwhile, which
    ``MERGE`` does not wait for). Returns (created, updated)."""
    data = _table_copy_data(part, timezone.now())
    with connection.cursor() as cursor:
        if not _stored_in_range(cursor, part):
            try:
                with transaction.atomic():
                    _copy(cursor, _TABLE_COPY, data)
                return len(part), 0
            except IntegrityError:
                pass  # a concurrent batch wrote some of these keys first: replace them
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (tune_id bigint, day date, source text, "
            "queries bigint, input_tokens bigint, output_tokens bigint, cost_usd numeric, "
            "quality_score double precision, updated_at timestamptz) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_STAGE}")
        _copy(
            cursor, f"COPY {_STAGE} ({', '.join(_TABLE_COLUMNS)}) FROM STDIN (FORMAT binary)", data
        )
        try:
            with transaction.atomic():
                written = _merge_staged(cursor)
            if written is not None:
                return written
        except IntegrityError:
            pass  # a concurrent batch inserted some of these keys meanwhile: upsert them
        cursor.execute(_UPSERT_STAGED)
        created, updated = cursor.fetchone()
    return int(created), int(updated)


def _merge_staged(cursor) -> tuple[int, int] | None:
    """The staged rows merged in key order: (created, updated), or ``None`` (nothing written)
    when the database does not count this transaction's writes."""
    table = UsageRecord._meta.db_table
    cursor.execute(_MERGE_BEFORE, {"table": table})
    counting, hashjoin, mergejoin, _, _, inserted, updated = cursor.fetchone()
    if counting:
        cursor.execute(_MERGE_STAGED)
    cursor.execute(_MERGE_AFTER, {"hashjoin": hashjoin, "mergejoin": mergejoin, "table": table})
    if not counting:
        return None
    _, _, inserted_after, updated_after = cursor.fetchone()
    return int(inserted_after) - int(inserted), int(updated_after) - int(updated)


def _copy(cursor, sql: str, data: bytes) -> None:
    """``COPY … FROM STDIN`` of ``data``: its errors are Django's (an ``IntegrityError`` for a
    key written meanwhile, an ``OperationalError`` for a deadlock), and it is logged among the
    connection's queries like any other statement."""
    debug_sql = getattr(cursor, "debug_sql", None)  # the wrapper that logs queries, when on
    with (
        debug_sql(sql) if debug_sql else nullcontext(),
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        copy.write(data)


#: The columns a batch is copied into the usage table with (``id`` and ``estimated``: defaults).
_TABLE_COLUMNS = (*KEY_FIELDS, *VALUE_FIELDS, "updated_at")
_TABLE_COPY = (
    f"COPY {UsageRecord._meta.db_table} ({', '.join(_TABLE_COLUMNS)}) "
    "FROM STDIN WITH (FORMAT binary)"
)
#: ``numeric`` in binary: digit count, weight of the first digit, sign, scale, then base-10,000
#: digits. A cost (at most 11 digits before the point, 4 after) always fits in four digits of
#: weight 2; PostgreSQL drops the leading and trailing zero digits itself.
_NUMERIC = np.dtype(
    [
        ("ndigits", ">i2"),
        ("weight", ">i2"),
        ("sign", ">u2"),
        ("dscale", ">u2"),
        ("digits", ">i2", 4),
    ]
)
#: Binary timestamps count microseconds from 2000-01-01 UTC.
_PG_EPOCH_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _table_row(source_bytes: int, cost: bool, score: bool) -> np.dtype:
    """A row of the usage table in binary ``COPY``: a source of ``source_bytes`` bytes, and a
    cost and a quality score, or ``NULL`` (size -1, no value) for those that are false."""
    fields: list[tuple] = [
        ("fields", ">i2"),
        ("tune_id_size", ">i4"),
        ("tune_id", ">i8"),
        ("day_size", ">i4"),
        ("day", ">i4"),
        ("source_size", ">i4"),
        ("source", f"S{source_bytes}"),
    ]
    for column in COUNT_FIELDS:
        fields += [(f"{column}_size", ">i4"), (column, ">i8")]
    fields.append(("cost_usd_size", ">i4"))
    if cost:
        fields.append(("cost_usd", _NUMERIC))
    fields.append(("quality_score_size", ">i4"))
    if score:
        fields.append(("quality_score", ">f8"))
    fields += [("updated_at_size", ">i4"), ("updated_at", ">i8")]
    return np.dtype(fields)


def _table_copy_data(part: pd.DataFrame, updated_at: datetime) -> bytes:
    """The rows, in their order, in PostgreSQL's binary ``COPY`` format for the usage table.

    Rows differ in width only by their source and by which of cost and quality score are
    missing: the rows of each such shape are built by numpy in one go (a batch usually has one),
    then laid out in order."""
    source_codes, sources = pd.factorize(part["source"])
    encoded = [str(source).encode() for source in sources]
    costs = part["cost_usd"].to_numpy(dtype=np.float64, na_value=np.nan)
    scores = part["quality_score"].to_numpy(dtype=np.float64, na_value=np.nan)
    has_cost, has_score = ~np.isnan(costs), ~np.isnan(scores)
    shapes = source_codes * 4 + has_cost * 2 + has_score
    day_codes, days = pd.factorize(part["day"])
    columns = {
        "tune_id": part["tune_id"].to_numpy(dtype=np.int64),
        "day": (np.array(days, dtype="datetime64[D]") - _PG_EPOCH).astype(np.int64)[day_codes],
        **{column: part[column].to_numpy(dtype=np.int64) for column in COUNT_FIELDS},
        "quality_score": scores,
    }
    units = np.rint(np.where(has_cost, costs, 0.0) * 10_000).astype(np.int64)  # 0.0001 USD
    digits = np.stack(
        [units // 10**12, units // 10**8 % 10**4, units // 10**4 % 10**4, units % 10**4], axis=1
    )
    stamp = (updated_at - _PG_EPOCH_TIME) // timedelta(microseconds=1)
    distinct = np.unique(shapes)
    blocks = []
    for shape in distinct:
        rows_of = np.flatnonzero(shapes == shape) if len(distinct) > 1 else slice(None)
        source, cost, score = encoded[shape // 4], bool(shape & 2), bool(shape & 1)
        rows = np.zeros(len(shapes[rows_of]), dtype=_table_row(len(source), cost, score))
        rows["fields"] = len(_TABLE_COLUMNS)
        for name, value in columns.items():
            if name in rows.dtype.names:
                rows[f"{name}_size"] = rows.dtype[name].itemsize
                rows[name] = value[rows_of]
        rows["source_size"] = len(source)
        rows["source"] = source
        rows["cost_usd_size"] = _NUMERIC.itemsize if cost else -1
        if cost:
            rows["cost_usd"]["ndigits"] = 4
            rows["cost_usd"]["weight"] = 2
            rows["cost_usd"]["dscale"] = 4
            rows["cost_usd"]["digits"] = digits[rows_of]
        if not score:
            rows["quality_score_size"] = -1
        rows["updated_at_size"] = 8
        rows["updated_at"] = stamp
        blocks.append((rows_of, rows))
    if len(blocks) == 1:
        body = blocks[0][1].tobytes()
    else:  # each row's bytes at its place: after the rows before it, whatever their widths
        widths = np.zeros(len(shapes), dtype=np.int64)
        for rows_of, rows in blocks:
            widths[rows_of] = rows.dtype.itemsize
        starts = np.cumsum(widths) - widths
        laid_out = np.empty(int(widths.sum()), dtype=np.uint8)
        for rows_of, rows in blocks:
            at = starts[rows_of][:, None] + np.arange(rows.dtype.itemsize)
            laid_out[at.ravel()] = np.frombuffer(rows.tobytes(), dtype=np.uint8)
        body = laid_out.tobytes()
    return _COPY_HEADER + body + _COPY_TRAILER


def _stored_in_range(cursor, part: pd.DataFrame) -> bool:
    """Whether any of the batch's tunes has a stored row within the batch's days (an index
    range per tune: no look at each row)."""
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {UsageRecord._meta.db_table} "
        "WHERE tune_id = ANY(%s) AND day BETWEEN %s AND %s)",
        [sorted(int(t) for t in part["tune_id"].unique()), part["day"].min(), part["day"].max()],
    )
    return bool(cursor.fetchone()[0])


def _staged_rows() -> str:
    """The staged rows, in key order: every write takes its rows' locks in this order, so
    concurrent batches writing the same rows never wait on each other in a circle (sources
    compared as ``C`` text: in the order Python sorts them too)."""
    return (
        f"SELECT {', '.join(_TABLE_COLUMNS)} FROM {_STAGE} "
        'ORDER BY tune_id, day, source COLLATE "C"'
    )


def _staged_upsert() -> str:
    """The staged rows upserted; rows whose values did not change are left untouched. Answers
    (created, updated)."""
    table = UsageRecord._meta.db_table
    excluded = ", ".join(f"EXCLUDED.{c}" for c in VALUE_FIELDS)
    names = ", ".join([*KEY_FIELDS, *VALUE_FIELDS])
    return (
        f"WITH written AS (INSERT INTO {table} ({names}, updated_at) "
        f"SELECT {names}, updated_at FROM ({_staged_rows()}) AS rows "
        "ON CONFLICT (tune_id, day, source) DO UPDATE SET "
        f"({', '.join(VALUE_FIELDS)}, updated_at) = ({excluded}, EXCLUDED.updated_at) "
        f"WHERE ({', '.join(f'{table}.{c}' for c in VALUE_FIELDS)}) "
        f"IS DISTINCT FROM ({excluded}) "
        "RETURNING xmax = 0 AS created) "
        "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) "
        "FROM written"
    )


def _staged_merge() -> str:
    """The staged rows merged, in key order: each one's stored row (found by the unique index)
    updated when its values differ, or the row inserted."""
    table = UsageRecord._meta.db_table
    names = ", ".join([*KEY_FIELDS, *VALUE_FIELDS])
    stored = ", ".join(f"t.{c}" for c in VALUE_FIELDS)
    sent = ", ".join(f"s.{c}" for c in VALUE_FIELDS)
    return (
        f"MERGE INTO {table} AS t USING ({_staged_rows()}) AS s "
        "ON t.tune_id = s.tune_id AND t.day = s.day AND t.source = s.source "
        f"WHEN MATCHED AND ({stored}) IS DISTINCT FROM ({sent}) THEN UPDATE SET "
        + ", ".join(f"{c} = s.{c}" for c in VALUE_FIELDS)
        + ", updated_at = s.updated_at "
        f"WHEN NOT MATCHED THEN INSERT ({names}, updated_at) "
        f"VALUES ({', '.join(f's.{c}' for c in _TABLE_COLUMNS)})"
    )


#: Before and after the merge: this transaction's inserts and updates of the table so far, which
#: tell the rows it inserted from those it updated (``MERGE`` has no ``RETURNING`` before
#: PostgreSQL 17), and whether the database counts them at all. Only a nested loop over the
#: staged rows visits them in key order: the other joins are turned off for the merge
#: (``SET LOCAL``), and back as they were after it.
_MERGE_BEFORE = (
    "SELECT current_setting('track_counts')::bool, current_setting('enable_hashjoin'), "
    "current_setting('enable_mergejoin'), set_config('enable_hashjoin', 'off', true), "
    "set_config('enable_mergejoin', 'off', true), "
    "pg_stat_get_xact_tuples_inserted(%(table)s::regclass), "
    "pg_stat_get_xact_tuples_updated(%(table)s::regclass)"
)
_MERGE_AFTER = (
    "SELECT set_config('enable_hashjoin', %(hashjoin)s, true), "
    "set_config('enable_mergejoin', %(mergejoin)s, true), "
    "pg_stat_get_xact_tuples_inserted(%(table)s::regclass), "
    "pg_stat_get_xact_tuples_updated(%(table)s::regclass)"
)


_UPSERT_STAGED = _staged_upsert()
_MERGE_STAGED = _staged_merge()


def _orm_upsert(part: pd.DataFrame) -> tuple[int, int]:
    """Other databases: read the rows the batch may replace, write only new or changed ones."""
    existing = _existing_rows(part)
    merged = part.merge(existing, on=list(KEY_FIELDS), how="left", indicator=True)
    is_new = merged["_merge"].eq("left_only").to_numpy()
    same = ~is_new
    for column in VALUE_FIELDS:
        new, old = merged[column], merged[f"{column}_old"]
        equal = (new.isna() & old.isna()) | (new == old).fillna(False).astype(bool)
        same &= equal.to_numpy()
    UsageRecord.objects.bulk_create(
        _records(merged[~same]),
        update_conflicts=True,
        unique_fields=["tune", "day", "source"],
        update_fields=[*VALUE_FIELDS, "updated_at"],
        batch_size=2000,
    )
    created = int(is_new.sum())
    return created, len(part) - created - int(same.sum())


# --- Validation helpers (vectorised over a column) ------------------------------------------------


def _label(row):
    return int(row) if isinstance(row, (int, np.integer)) else row


def _errors(mask: pd.Series, field: str | None, message: str) -> list[RowError]:
    return [RowError(_label(row), field, message) for row in mask.index[mask.to_numpy(bool)]]


#: Columns that pandas infers hold only one JSON type (nulls aside) need no look at each value.
_UNIFORM_KINDS = {"string": "str", "integer": "int", "floating": "float", "empty": "null"}


def _kinds(series: pd.Series) -> pd.Series:
    """The JSON type of every value: null, bool, int, bigint, float, str or other."""
    values = series.to_numpy(dtype=object)
    null = pd.isna(values)
    present = values[~null]
    kind = _UNIFORM_KINDS.get(infer_dtype(present, skipna=False))
    if kind == "int" and not _fits_int64(present):
        kind = None  # some are beyond bigint: told apart value by value
    if kind is None:
        kinds = np.array([_kind(value) for value in values], dtype=object)
    else:
        kinds = np.where(null, "null", kind).astype(object)
    return pd.Series(kinds, index=series.index, dtype=object)


def _fits_int64(values: np.ndarray) -> bool:
    try:
        numbers = values.astype(np.int64)
    except OverflowError:
        return False
    return not len(numbers) or bool(numbers.min() >= -_INT64_MAX)


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int" if -_INT64_MAX <= value <= _INT64_MAX else "bigint"
    if isinstance(value, (float, np.floating)):
        return "null" if np.isnan(value) else "float"
    if isinstance(value, str):
        return "str"
    return "other"


Checked = tuple[pd.Series, pd.Series, list[RowError]]


def _per_distinct(series: pd.Series, check: Callable[[pd.Series], Checked]) -> Checked:
    """``check`` (cleaned values, ok mask, errors) run once per distinct value of a text column
    (a batch names few tunes, days and sources), then spread back over the rows."""
    values = series.to_numpy(dtype=object)
    if infer_dtype(values, skipna=True) != "string":
        return check(series)  # not only text (and maybe unhashable): checked row by row
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    cleaned, ok, distinct_errors = check(pd.Series(distinct, dtype=object))
    rows = series.index
    errors = []
    if distinct_errors:
        rows_of = pd.Series(np.arange(len(codes))).groupby(codes).indices
        errors = [
            RowError(_label(row), e.field, e.message)
            for e in distinct_errors
            for row in rows[rows_of[e.row]]
        ]
    return (
        pd.Series(cleaned.to_numpy(dtype=object)[codes], index=rows, dtype=object),
        pd.Series(ok.to_numpy(dtype=bool)[codes], index=rows),
        errors,
    )


def _text_problems(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Masks of strings holding NUL bytes, and of strings that are not valid Unicode text."""
    nul = values.str.contains("\x00", regex=False).fillna(False).astype(bool)
    surrogate = values.str.contains("[\ud800-\udfff]", regex=True).fillna(False).astype(bool)
    return nul, surrogate


def _strings(series: pd.Series, field: str, max_length: int, *, required: bool):
    if all(_storable_text(value, max_length) for value in series.tolist()):
        return series.astype(object), pd.Series(True, index=series.index), []
    kinds = _kinds(series)
    errors: list[RowError] = []
    missing = kinds.eq("null")
    if required:
        errors += _errors(missing, field, "This field is required.")
    not_str = ~missing & kinds.ne("str")
    errors += _errors(not_str, field, "Must be a string.")
    text = series.where(kinds.eq("str"), None).astype(object)
    nul, surrogate = _text_problems(text)
    errors += _errors(nul, field, "Contains a NUL byte.")
    errors += _errors(surrogate & ~nul, field, "Is not valid Unicode text.")
    lengths = text.str.len()
    empty = kinds.eq("str") & lengths.eq(0).fillna(False).astype(bool)
    errors += _errors(empty, field, "May not be blank.")
    too_long = lengths.gt(max_length).fillna(False).astype(bool)
    errors += _errors(too_long, field, f"At most {max_length} characters.")
    ok = kinds.eq("str") & ~nul & ~surrogate & ~empty & ~too_long
    cleaned = text.where(ok, None)
    return cleaned, ok, errors


def _storable_text(value: object, max_length: int) -> bool:
    """A string no check refuses: not blank, not too long, no NUL byte, valid Unicode."""
    if type(value) is not str or not 0 < len(value) <= max_length or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _slugs(series: pd.Series) -> Checked:
    slugs, ok, errors = _strings(series, "tune", SLUG_MAX_LENGTH, required=True)
    bad_pattern = ok & ~slugs.fillna("").str.fullmatch(_SLUG_RE)
    errors += _errors(bad_pattern, "tune", "Not a tune slug (letters, digits, - and _ only).")
    return slugs, ok & ~bad_pattern, errors


def _days(series: pd.Series, today: date):
    plausible = _plausible_days(series, today)
    if plausible is not None:
        return plausible, pd.Series(True, index=series.index), []
    field = "day"
    kinds = _kinds(series)
    errors: list[RowError] = []
    missing = kinds.eq("null")
    errors += _errors(missing, field, "This field is required.")
    text = series.where(kinds.eq("str"), None).astype(object)
    errors += _errors(~missing & kinds.ne("str"), field, "Must be a date as YYYY-MM-DD.")
    parts = text.str.extract(f"^{_DAY_RE}$")
    well_formed = parts[0].notna()
    errors += _errors(kinds.eq("str") & ~well_formed, field, "Must be a date as YYYY-MM-DD.")
    numbers = parts.apply(pd.to_numeric, errors="coerce").astype("float64")
    year = numbers[0]
    too_old = well_formed & (year < EARLIEST_DAY.year)
    errors += _errors(too_old, field, f"Before {EARLIEST_DAY}: not a plausible usage day.")
    convertible = well_formed & ~too_old
    stamps = pd.to_datetime(
        pd.DataFrame(
            {
                "year": year.where(convertible, 2000),
                "month": numbers[1].where(convertible, 1),
                "day": numbers[2].where(convertible, 1),
            }
        ),
        errors="coerce",
    ).where(convertible)
    invalid = convertible & stamps.isna()
    errors += _errors(invalid, field, "Not a calendar date.")
    future = stamps.gt(pd.Timestamp(today)).fillna(False).astype(bool)
    errors += _errors(future, field, f"In the future (today is {today}).")
    ok = convertible & ~invalid & ~future
    days = stamps.where(ok).dt.date.astype(object).where(ok, None)
    return days, ok, errors


def _numbers(
    series: pd.Series,
    field: str,
    *,
    required: bool,
    whole: bool,
    maximum: float,
    numbers_as_text: bool,
):
    plausible = _plausible_numbers(series, required=required, whole=whole, maximum=maximum)
    if plausible is not None:
        return plausible, pd.Series(True, index=series.index), []
    kinds = _kinds(series)
    errors: list[RowError] = []
    missing = kinds.eq("null")
    if numbers_as_text:
        # Text from a CSV file: blank is missing, the rest must read as a number.
        is_text = kinds.eq("str")
        stripped = series.where(is_text, None).astype(object).str.strip()
        blank = is_text & stripped.eq("").fillna(False).astype(bool)
        missing |= blank
        parsed = pd.to_numeric(stripped.where(~blank), errors="coerce").astype("float64")
        numeric_kind = kinds.isin(["int", "float"]) | (is_text & ~blank)
        bad_type = ~missing & ~numeric_kind
        unreadable = is_text & ~blank & parsed.isna()
    else:
        numeric_kind = kinds.isin(["int", "float"])
        bad_type = ~missing & ~numeric_kind & kinds.ne("bigint")
        unreadable = pd.Series(False, index=series.index)
        parsed = pd.Series(np.nan, index=series.index, dtype="float64")
    if required:
        errors += _errors(missing, field, "This field is required.")
    errors += _errors(bad_type, field, "Must be a number.")
    errors += _errors(unreadable, field, "Must be a number.")
    too_big_int = kinds.eq("bigint")
    native = series.where(kinds.isin(["int", "float"]))
    values = pd.to_numeric(native, errors="coerce").astype("float64")
    values = values.fillna(parsed)
    not_finite = values.notna() & ~np.isfinite(values.to_numpy(dtype="float64", na_value=0.0))
    errors += _errors(not_finite, field, "Must be a finite number.")
    values = values.where(~not_finite)
    negative = values.lt(0).fillna(False).astype(bool)
    errors += _errors(negative, field, "Cannot be negative.")
    over = (values.gt(maximum).fillna(False).astype(bool) & ~negative) | too_big_int
    errors += _errors(over, field, f"Implausibly large: at most {maximum:,g}.")
    fraction = pd.Series(False, index=series.index)
    if whole:
        fraction = values.notna() & (values != np.floor(values))
        fraction = fraction.fillna(False).astype(bool)
        errors += _errors(fraction & ~over & ~negative, field, "Must be a whole number.")
    ok = values.notna() & ~negative & ~over & ~fraction
    if not required:
        ok |= missing
    return values, ok, errors


def _plausible_numbers(
    series: pd.Series, *, required: bool, whole: bool, maximum: float
) -> pd.Series | None:
    """The column as floats when every value is a JSON number in range (the usual batch), found
    without a look at each value; ``None`` when some value needs one (then errors are named)."""
    values = series.to_numpy(dtype=object)
    null = pd.isna(values)
    if required and null.any():
        return None
    present = values[~null]
    numeric = infer_dtype(present, skipna=False) in ("integer", "floating", "mixed-integer-float")
    if len(present) and not numeric:
        return None
    numbers = present.astype("float64")
    in_range = np.isfinite(numbers) & (numbers >= 0) & (numbers <= maximum)
    if whole:
        in_range &= numbers == np.floor(numbers)
    if not in_range.all():
        return None
    column = np.full(len(values), np.nan)
    column[~null] = numbers
    return pd.Series(column, index=series.index)


def _plausible_days(series: pd.Series, today: date) -> pd.Series | None:
    """The column as dates when every value is a real day written YYYY-MM-DD, from
    ``EARLIEST_DAY``'s year to ``today`` (the usual batch); ``None`` when some value needs a
    closer look (then errors are named)."""
    values = series.to_numpy(dtype=object)
    if infer_dtype(values, skipna=False) != "string":
        return None
    text = pd.Series(values, index=series.index, dtype=object)
    if not text.str.fullmatch(_DAY_RE).all():
        return None
    stamps = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    in_range = stamps.dt.year.ge(EARLIEST_DAY.year) & stamps.le(pd.Timestamp(today))
    if not in_range.all():  # NaT (no calendar date) is never in range
        return None
    return stamps.dt.date.astype(object)


def _resolve_tunes(slugs: pd.Series, team_ids: Collection[int] | None) -> dict[str, int]:
    """One query for every tune named in the batch, limited to the caller's teams."""
    names = sorted(slugs.dropna().unique())
    if not names:
        return {}
    tunes = FineTune.objects.filter(slug__in=names)
    if team_ids is not None:
        tunes = tunes.filter(team_id__in=list(team_ids))
    return dict(tunes.values_list("slug", "pk"))


def _existing_rows(clean: pd.DataFrame) -> pd.DataFrame:
    """The stored rows the batch may replace, in one query (a superset, matched in pandas)."""
    rows = UsageRecord.objects.filter(
        tune_id__in=sorted({int(t) for t in clean["tune_id"]}),
        day__gte=min(clean["day"]),
        day__lte=max(clean["day"]),
        source__in=sorted(set(clean["source"])),
    ).values_list(*KEY_FIELDS, *VALUE_FIELDS)
    existing = pd.DataFrame.from_records(
        list(rows), columns=[*KEY_FIELDS, *(f"{c}_old" for c in VALUE_FIELDS)]
    )
    existing["tune_id"] = existing["tune_id"].astype("Int64")
    for column in COUNT_FIELDS:
        existing[f"{column}_old"] = existing[f"{column}_old"].astype("Int64")
    for column in ("cost_usd", "quality_score"):
        existing[f"{column}_old"] = pd.to_numeric(
            existing[f"{column}_old"], errors="coerce"
        ).astype("float64")
    existing["day"] = existing["day"].astype(object)
    existing["source"] = existing["source"].astype(object)
    return existing


def _source_warnings(clean: pd.DataFrame) -> tuple[SourceWarning, ...]:
    """Sources in the batch that a tune has no stored row from on the batch's days, while other
    sources do: one query over the batch's tunes and day range, matched in pandas. A batch from
    one source first asks whether any other source reports there at all (usually not)."""
    if clean.empty:
        return ()
    in_range = UsageRecord.objects.filter(
        tune_id__in=sorted(int(t) for t in clean["tune_id"].unique()),
        day__gte=clean["day"].min(),
        day__lte=clean["day"].max(),
    )
    sources = clean["source"].unique()
    if len(sources) == 1 and not in_range.exclude(source=sources[0]).exists():
        return ()
    stored = pd.DataFrame.from_records(
        list(in_range.values_list("tune_id", "tune__slug", "day", "source").distinct()),
        columns=["tune_id", "slug", "day", "stored_source"],
    )
    if stored.empty:
        return ()
    stored["tune_id"] = stored["tune_id"].astype("Int64")
    stored["day"] = stored["day"].astype(object)
    sent = clean[["tune_id", "day", "source"]]
    same_days = sent.merge(stored, on=["tune_id", "day"])
    warnings = []
    for (slug, source), group in same_days.groupby(["slug", "source"], sort=True):
        others = set(group["stored_source"])
        if source in others:
            continue  # the source already reports these days: a resend, not a new source
        days = group["day"].nunique()
        warnings.append(
            SourceWarning(cast(str, slug), cast(str, source), tuple(sorted(others)), days)
        )
    return tuple(warnings)


def _records(frame: pd.DataFrame) -> list[UsageRecord]:
    """Model instances for ``bulk_create`` (built in memory; no query)."""
    costs = [
        None if pd.isna(c) else Decimal(repr(float(c))).quantize(Decimal("0.0001"))
        for c in frame["cost_usd"]
    ]
    scores = [None if pd.isna(s) else float(s) for s in frame["quality_score"]]
    return [
        UsageRecord(
            tune_id=int(tune_id),
            day=day,
            source=source,
            queries=int(queries),
            input_tokens=int(input_tokens),
            output_tokens=int(output_tokens),
            cost_usd=cost,
            quality_score=score,
        )
        for tune_id, day, source, queries, input_tokens, output_tokens, cost, score in zip(
            frame["tune_id"],
            frame["day"],
            frame["source"],
            frame["queries"],
            frame["input_tokens"],
            frame["output_tokens"],
            costs,
            scores,
            strict=True,
        )
    ]
