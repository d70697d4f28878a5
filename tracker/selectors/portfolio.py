"""Reading the portfolio: the engine's input, tunes with their latest verdict, the catalog."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, TypedDict, cast

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    DecimalField,
    F,
    Field,
    FloatField,
    IntegerField,
    QuerySet,
)
from django.db.models.expressions import RawSQL

import decision
from decision import vocabulary
from decision.inputs import SPAN_COLUMNS, SPAN_DATES, Policy, Portfolio
from tracker.models import (
    ENGINE_TUNE_FIELDS,
    CatalogModel,
    ChangeLogEntry,
    DecisionPolicy,
    Evaluation,
    FineTune,
    ModelPrice,
    TunePrice,
    UsageRecord,
)

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import (
        DatabaseOperations as PostgresOperations,
    )
    from django_stubs_ext import WithAnnotations


class LatestVerdict(TypedDict):
    latest_verdict: str | None
    latest_as_of: date | None


def current_policy() -> DecisionPolicy:
    """The saved policy, or the defaults (unsaved) when nobody has edited it yet: reading
    never writes."""
    return DecisionPolicy.objects.filter(pk=1).first() or DecisionPolicy()


def engine_policy(policy: DecisionPolicy) -> Policy:
    return Policy(**{name: getattr(policy, name) for name in vocabulary.policy_fields()})


def tunes_with_latest_verdict(
    queryset: QuerySet[FineTune] | None = None,
) -> QuerySet[WithAnnotations[FineTune, LatestVerdict]]:
    """Tunes annotated with ``latest_verdict`` and ``latest_as_of``, in one query: a join
    through ``FineTune.latest_evaluation``."""
    queryset = FineTune.objects.all() if queryset is None else queryset
    return queryset.annotate(
        latest_verdict=F("latest_evaluation__verdict"),
        latest_as_of=F("latest_evaluation__as_of"),
    )


def catalog_with_tune_counts() -> QuerySet[CatalogModel]:
    from .access import catalog

    return catalog(None)


def evaluable_tunes() -> QuerySet[FineTune]:
    """Every tune the engine evaluates: all but the retired ones, by id."""
    return FineTune.objects.exclude(status=FineTune.Status.RETIRED).order_by("pk")


def tunes_due_for_evaluation(as_of: date, tune_ids: Iterable[int] | None = None) -> list[int]:
    """Tunes (not retired) whose latest evaluation is older than ``as_of``, or that have none;
    only among ``tune_ids`` when given (a chunk checks its own ids, not the whole portfolio)."""
    tunes = evaluable_tunes()
    evaluated = Evaluation.objects.filter(as_of__gte=as_of)
    if tune_ids is not None:
        ids = sorted({int(i) for i in tune_ids})
        tunes = tunes.filter(pk__in=ids)
        evaluated = evaluated.filter(tune_id__in=ids)
    return list(tunes.exclude(pk__in=evaluated.values("tune_id")).values_list("pk", flat=True))


def any_tune_due(as_of: date) -> bool:
    """Whether any tune still waits for its evaluation of ``as_of`` (stops at the first one)."""
    evaluated = Evaluation.objects.filter(as_of__gte=as_of).values("tune_id")
    return evaluable_tunes().exclude(pk__in=evaluated).exists()


def _frame(
    queryset: QuerySet, columns: list[str], dates=(), floats=(), bools=(), texts=()
) -> pd.DataFrame:
    """A ``values_list`` queryset read straight into a DataFrame named by ``columns``."""
    sql, params = queryset.query.sql_with_params()
    return _sql_frame(sql, params, columns, dates, floats, bools, texts)


def _sql_frame(
    sql: str, params, columns: list[str], dates=(), floats=(), bools=(), texts=()
) -> pd.DataFrame:
    """A SELECT's rows read straight into a DataFrame named by ``columns``.

    On PostgreSQL the rows come as ``COPY … TO STDOUT`` text parsed by pandas, skipping the
    per-row, per-field converters of a cursor or the ORM (most of the cost of a large read).
    """
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            ops = cast("PostgresOperations", connection.ops)
            # Dates cross as days since 1970: parsing them as ISO text costs more than the rest
            # of a large read's parsing together.
            names = [ops.quote_name(c) for c in columns]
            values = ", ".join(
                f"q.{name} - DATE '1970-01-01'" if column in dates else f"q.{name}"
                for column, name in zip(columns, names, strict=True)
            )
            statement = (
                f"SELECT {values} FROM ({ops.compose_sql(sql, params)}) AS q({', '.join(names)})"
            )
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buffer.write(block)
        buffer.seek(0)
        text_columns = [*texts, *bools]
        frame = (
            pd.read_csv(
                buffer,
                names=columns,
                header=None,
                dtype={c: object for c in text_columns},
                keep_default_na=False,
                na_values={c: [""] for c in columns if c not in texts},
            )
            if buffer.getbuffer().nbytes
            else pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        )
        for column in bools:
            frame[column] = frame[column].map({"t": True, "f": False}).astype("boolean")
        for column in dates:
            frame[column] = pd.to_datetime(frame[column], unit="D").astype("datetime64[ns]")
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
        for column in bools:
            frame[column] = frame[column].astype("boolean")
        for column in dates:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype("datetime64[ns]")
    for column in floats:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


#: Engine column -> the FineTune attribute it is read from (``decision.vocabulary`` owns the list).
TUNE_FIELDS = {
    "tune_id": "pk",
    **{
        column: cast("Field[Any, Any]", FineTune._meta.get_field(field)).attname
        for column, field in ENGINE_TUNE_FIELDS.items()
    },
}
TUNE_FLAGS = [
    column
    for column, field in ENGINE_TUNE_FIELDS.items()
    if isinstance(FineTune._meta.get_field(field), BooleanField)
]
TUNE_FLOATS = [
    column
    for column, field in ENGINE_TUNE_FIELDS.items()
    if isinstance(FineTune._meta.get_field(field), IntegerField | FloatField | DecimalField)
]
PRICE_FIELDS = ["effective_from", "input_usd_per_mtok", "output_usd_per_mtok"]
PRICE_COLUMNS = ["effective_from", "input_per_mtok", "output_per_mtok"]

#: Usage as stored, one row per tune, day and source (the engine sums sources per day itself).
USAGE_FIELDS = (
    "tune_id",
    "day",
    "queries",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "estimated",
)


def _engine_usage(rows: pd.DataFrame) -> pd.DataFrame:
    """The engine's usage columns from stored rows: what the sources that report a cost billed
    and the tokens they billed it for, and the queries estimated from tokens."""
    billed = rows["cost_usd"].notna()
    estimated = rows["estimated"].astype(bool)
    return pd.DataFrame(
        {
            "tune_id": rows["tune_id"],
            "day": rows["day"],
            "queries": rows["queries"],
            "input_tokens": rows["input_tokens"],
            "output_tokens": rows["output_tokens"],
            "billed_cost": rows["cost_usd"],
            "billed_input_tokens": rows["input_tokens"].where(billed, 0.0),
            "billed_output_tokens": rows["output_tokens"].where(billed, 0.0),
            "estimated_queries": rows["queries"].where(estimated, 0.0),
        }
    )


def portfolio_inputs(
    as_of: date,
    policy: Policy,
    tune_ids: Iterable[int] | None = None,
    usage_since: date | None = None,
) -> Portfolio:
    """The engine's input for the given tunes (all that are not retired when ``None``), with
    their usage day by day (charts and what-if scenarios, which move prices and trainings).

    A fixed number of queries whatever the portfolio's size: tunes, usage, change log, catalog,
    and the two price tables. ``usage_since`` reaches further back than the rules need (for
    charts of the whole history).
    """
    inputs, ids = _inputs_without_usage(as_of, tune_ids)
    # Each tune's rows from its own first day, as the span read takes them (rows dated as_of's
    # day or earlier). Rows go as stored: the engine sums sources per day itself.
    first_days = _first_days(inputs, policy, as_of, usage_since)
    since = first_days.min() if first_days.notna().any() else pd.Timestamp(as_of)
    usage = _frame(
        UsageRecord.objects.filter(tune_id__in=ids, day__gte=since.date(), day__lte=as_of)
        .order_by()
        .values_list(*USAGE_FIELDS),
        list(USAGE_FIELDS),
        dates=["day"],
        floats=["queries", "input_tokens", "output_tokens", "cost_usd"],
        bools=["estimated"],
    )
    usage = usage[usage["day"].to_numpy() >= first_days.reindex(usage["tune_id"]).to_numpy()]
    return replace(inputs, usage=_engine_usage(usage))


def evaluation_inputs(
    as_of: date, policy: Policy, tune_ids: Iterable[int] | None = None
) -> Portfolio:
    """The engine's input for evaluating the given tunes: as :func:`portfolio_inputs`, but on
    PostgreSQL the usage is summed by the server into spans that one price holds over
    (``decision.span_starts``); pass :func:`usage_days` to ``decision.evaluate`` for the days
    the engine needs one by one (around a break-even day, a price gap, a young tune's first
    day). The figures are the same; far fewer rows cross the wire and the engine works on far
    fewer. A fixed number of queries.
    """
    if connection.vendor != "postgresql":
        return portfolio_inputs(as_of, policy, tune_ids)
    inputs, _ = _inputs_without_usage(as_of, tune_ids)
    starts = decision.span_starts(inputs, policy, as_of)
    with _planner(SPAN_READ_PLANNER):
        spans = _span_frame(_first_days(inputs, policy, as_of), as_of, starts)
    return replace(inputs, usage_spans=spans)


#: How PostgreSQL plans the span sums: each span is its own small aggregate over the (tune, day,
#: source) index, which leaves the planner nothing to choose but whether to compile it. A chunk's
#: thousands of spans add up to a cost past ``jit_above_cost``, and compiling costs more than the
#: read it would speed up.
SPAN_READ_PLANNER = {"jit": "off"}


@contextmanager
def _planner(settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL planner settings for the statements inside, back to the session's own after
    them. They hold for a transaction only, so the statements run inside one (the one already
    open, if any)."""
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config(n, v, true) FROM unnest(%s::text[], %s::text[]) AS s(n, v)",
                [list(settings), list(settings.values())],
            )
        # On an error the transaction is rolled back, and the settings with it.
        yield
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name = ANY(%s)",
                [list(settings)],
            )


def savings_inputs(as_of: date, policy: Policy, tune_ids: Iterable[int], since: date) -> Portfolio:
    """The engine's input for pricing the given tunes' usage from each one's deployment (on or
    after ``since``) up to ``as_of``, for ``decision.daily_savings``: as :func:`portfolio_inputs`,
    but on PostgreSQL summed by the server into spans over which one price holds and that never
    cross a month (:func:`evaluation_inputs`' spans, with every month start back to ``since``).
    A span's saving is then the sum of its days', and the month of its first day is theirs.
    """
    if connection.vendor != "postgresql":
        return portfolio_inputs(as_of, policy, tune_ids, usage_since=since)
    inputs, _ = _inputs_without_usage(as_of, tune_ids)
    first = pd.Timestamp(since)
    months = pd.date_range(first.to_period("M").to_timestamp(), as_of, freq="MS")
    starts = decision.span_starts(inputs, policy, as_of)
    every_month = pd.MultiIndex.from_product([inputs.tunes.index, months], names=["tune_id", "day"])
    starts = pd.concat([starts, every_month.to_frame(index=False)])
    deployed = inputs.tunes["deployed_on"]
    with _planner(SPAN_READ_PLANNER):
        spans = _span_frame(deployed.mask(deployed < first, first), as_of, starts)
    return replace(inputs, usage_spans=spans)


def _span_frame(first_days: pd.Series, as_of: date, starts: pd.DataFrame) -> pd.DataFrame:
    """The usage of each tune of ``first_days`` (its index) from that day (none when blank) to
    ``as_of``, summed by the server per span: from the tune's first day, and from each of its
    ``starts`` (``tune_id``, ``day``) after it, up to the day before the next one."""
    spans = _spans_between(first_days, pd.Timestamp(as_of), starts)
    # Each span is one aggregate over the (tune, day, source) index, read in a nested loop: no
    # grouping key to work out per row and nothing to hash. Whole numbers are summed as such
    # (exact, and cheaper than converting each to float); costs as float8, far cheaper than
    # numeric. A day to price has any of queries or tokens above zero, as the engine says of a
    # single day (``economics.usage_spans``).
    return _sql_frame(
        f"""
        SELECT s.tune_id, a.*
        FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS s(tune_id, first_day, last_day)
        CROSS JOIN LATERAL (
            SELECT min(day) AS first_read, max(day),
                sum(queries), sum(input_tokens), sum(output_tokens), sum(cost_usd::float8),
                coalesce(sum(input_tokens) FILTER (WHERE cost_usd IS NOT NULL), 0),
                coalesce(sum(output_tokens) FILTER (WHERE cost_usd IS NOT NULL), 0),
                coalesce(sum(queries) FILTER (WHERE estimated), 0),
                min(day) FILTER (WHERE queries > 0), max(day) FILTER (WHERE queries > 0),
                min(day) FILTER (WHERE queries > 0 OR input_tokens > 0 OR output_tokens > 0),
                max(day) FILTER (WHERE queries > 0 OR input_tokens > 0 OR output_tokens > 0)
            FROM {UsageRecord._meta.db_table} u
            WHERE u.tune_id = s.tune_id
                AND u.day BETWEEN DATE '1970-01-01' + s.first_day
                    AND DATE '1970-01-01' + s.last_day
        ) AS a
        WHERE a.first_read IS NOT NULL
        """,
        [
            _int_array(spans["tune_id"]),
            _int_array(_days_since_1970(spans["day"])),
            _int_array(_days_since_1970(spans["last_day"])),
        ],
        list(SPAN_COLUMNS),
        dates=[name for name in SPAN_COLUMNS if name in SPAN_DATES],
        floats=[name for name in SPAN_COLUMNS if name not in SPAN_DATES and name != "tune_id"],
    )


def _spans_between(
    first_days: pd.Series, as_of: pd.Timestamp, starts: pd.DataFrame
) -> pd.DataFrame:
    """Each tune's spans (``tune_id``, ``day``, ``last_day``): from its first day (none when
    blank) and each of its ``starts`` after that, to the day before the next one, the last up
    to ``as_of``."""
    # Starts before a tune's first day cut nothing it reads (a catalog price years old would
    # otherwise give every tune a start each month since).
    first = first_days[first_days.notna() & (first_days <= as_of)]
    kept = starts["day"].to_numpy() >= first.reindex(starts["tune_id"]).to_numpy()
    ids = np.concatenate([first.index.to_numpy("int64"), starts["tune_id"].to_numpy("int64")[kept]])
    days = np.concatenate(
        [first.to_numpy("datetime64[ns]"), starts["day"].to_numpy("datetime64[ns]")[kept]]
    )
    order = np.lexsort((days, ids))
    ids, days = ids[order], days[order]
    new = np.ones(len(ids), dtype=bool)
    new[1:] = (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])
    ids, days = ids[new], days[new]
    last = np.full(len(ids), as_of.to_datetime64(), dtype="datetime64[ns]")
    same_tune = ids[1:] == ids[:-1]
    last[:-1][same_tune] = days[1:][same_tune] - np.timedelta64(1, "D")
    last = np.minimum(last, as_of.to_datetime64())  # nothing after the as-of day is read
    keep = days <= last
    return pd.DataFrame({"tune_id": ids[keep], "day": days[keep], "last_day": last[keep]})


def _int_array(values: Iterable[int]) -> str:
    """Whole numbers as one PostgreSQL array literal (cast it in the SQL): the text of tens of
    thousands of numbers is made several times faster than their list is quoted one by one."""
    return "{" + ",".join(map(str, values)) + "}"


def _days_since_1970(days: pd.Series) -> list[int]:
    """Days (none blank) as whole numbers of days since 1970-01-01."""
    numbers: list[int] = (
        days.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype("int64").tolist()
    )
    return numbers


def usage_days(spans: pd.DataFrame) -> pd.DataFrame:
    """The usage rows of the given spans (``tune_id``, ``day``, ``last_day``) day by day, in
    the engine's columns: what ``decision.evaluate`` asks for beside
    :func:`evaluation_inputs`. One query however many spans."""
    days = _sql_frame(
        f"""
        SELECT u.tune_id, u.day, u.queries, u.input_tokens, u.output_tokens, u.cost_usd,
            u.estimated
        FROM {UsageRecord._meta.db_table} u
        JOIN unnest(%s::bigint[], %s::date[], %s::date[]) AS s(tune_id, first_day, last_day)
            ON u.tune_id = s.tune_id AND u.day BETWEEN s.first_day AND s.last_day
        """,
        [
            [int(i) for i in spans["tune_id"]],
            [d.date() for d in spans["day"]],
            [d.date() for d in spans["last_day"]],
        ],
        list(USAGE_FIELDS),
        dates=["day"],
        floats=["queries", "input_tokens", "output_tokens", "cost_usd"],
        bools=["estimated"],
    )
    return _engine_usage(days)


def _first_days(
    inputs: Portfolio, policy: Policy, as_of: date, usage_since: date | None = None
) -> pd.Series:
    """The first day of usage read for each tune: from its last training or the rule windows'
    start (``decision.usage_needed_from``), or ``usage_since`` when earlier (charts)."""
    needed = decision.usage_needed_from(inputs, policy, as_of)
    if usage_since is None:
        return needed
    since = pd.Timestamp(usage_since)
    return needed.where(needed < since, since)


def ids_in(ids: Iterable[int]) -> list[int] | RawSQL:
    """Ids for an ``__in`` filter: on PostgreSQL one array parameter (``COPY`` takes no
    parameters, so a chunk's 5,000 ids would otherwise be spelled into each statement one by
    one, several times a chunk), elsewhere the list."""
    values = [int(i) for i in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (values,))
    return values


def _inputs_without_usage(
    as_of: date, tune_ids: Iterable[int] | None
) -> tuple[Portfolio, QuerySet]:
    """Tunes, change log, catalog and prices: everything but the usage; and the tunes' ids as
    a subquery."""
    tunes_qs = FineTune.objects.exclude(status=FineTune.Status.RETIRED).order_by("pk")
    if tune_ids is not None:
        tunes_qs = tunes_qs.filter(pk__in=ids_in(tune_ids))
    tunes = _frame(
        tunes_qs.values_list(*TUNE_FIELDS.values()),
        list(TUNE_FIELDS),
        dates=["deployed_on", "last_trained_on"],
        floats=TUNE_FLOATS,
        bools=TUNE_FLAGS,
        texts=["status"],
    )
    for column in ("base_model_id", "alternative_model_id"):
        tunes[column] = tunes[column].astype("Int64")
    tunes = tunes.set_index("tune_id")
    ids = tunes_qs.values("pk")  # a subquery, so a large portfolio is no long IN list
    changes = _frame(
        ChangeLogEntry.objects.filter(tune_id__in=ids, day__lte=as_of)
        .order_by()
        .values_list("tune_id", "day", "kind", "meaningful", "cost"),
        ["tune_id", "day", "kind", "meaningful", "cost"],
        dates=["day"],
        floats=["cost"],
        bools=["meaningful"],
        texts=["kind"],
    )
    models = _frame(
        CatalogModel.objects.order_by("pk").values_list(
            "pk", "provider", "name", "version", "shutdown_on", "successor_id"
        ),
        ["model_id", "provider", "name", "version", "shutdown_on", "successor_id"],
        dates=["shutdown_on"],
        texts=["provider", "name", "version"],
    )
    models["label"] = models["provider"] + " " + models["name"] + " " + models["version"]
    models["successor_id"] = models["successor_id"].astype("Int64")
    models = models.set_index("model_id")[["label", "shutdown_on", "successor_id"]]
    model_prices = _frame(
        ModelPrice.objects.filter(effective_from__lte=as_of)
        .order_by("model_id", "effective_from")
        .values_list("model_id", *PRICE_FIELDS),
        ["model_id", *PRICE_COLUMNS],
        dates=["effective_from"],
        floats=PRICE_COLUMNS[1:],
    )
    tune_prices = _frame(
        TunePrice.objects.filter(tune_id__in=ids, effective_from__lte=as_of)
        .order_by("tune_id", "effective_from")
        .values_list("tune_id", *PRICE_FIELDS),
        ["tune_id", *PRICE_COLUMNS],
        dates=["effective_from"],
        floats=PRICE_COLUMNS[1:],
    )
    inputs = Portfolio(
        tunes=tunes,
        changes=changes,
        models=models,
        model_prices=model_prices,
        tune_prices=tune_prices,
    )
    return inputs, ids
