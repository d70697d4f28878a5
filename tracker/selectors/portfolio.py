"""Reading the portfolio: the engine's input, tunes with their latest verdict, the catalog."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, cast

import pandas as pd
from django.db import connection
from django.db.models import (
    BooleanField,
    DateField,
    DecimalField,
    F,
    Field,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Least

from decision import vocabulary
from decision.inputs import Policy, Portfolio
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


#: The longest look back any rule needs besides the lookback: the 30 + 60 days of the volume drop.
VOLUME_TREND_DAYS = 90


def current_policy() -> DecisionPolicy:
    """The saved policy, or the defaults (unsaved) when nobody has edited it yet: reading
    never writes."""
    return DecisionPolicy.objects.filter(pk=1).first() or DecisionPolicy()


def engine_policy(policy: DecisionPolicy) -> Policy:
    return Policy(**{name: getattr(policy, name) for name in vocabulary.policy_fields()})


def tunes_with_latest_verdict(
    queryset: QuerySet[FineTune] | None = None,
) -> QuerySet[WithAnnotations[FineTune, LatestVerdict]]:
    """Tunes annotated with ``latest_verdict`` and ``latest_as_of``, in one query."""
    latest = Evaluation.objects.filter(tune=OuterRef("pk")).order_by("-as_of")
    queryset = FineTune.objects.all() if queryset is None else queryset
    return queryset.annotate(
        latest_verdict=Subquery(latest.values("verdict")[:1]),
        latest_as_of=Subquery(latest.values("as_of")[:1]),
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
    """A ``values_list`` queryset read straight into a DataFrame named by ``columns``.

    On PostgreSQL the rows come as ``COPY … TO STDOUT`` text parsed by pandas, skipping the
    per-row, per-field converters of a cursor or the ORM (most of the cost of a large read).
    """
    sql, params = queryset.query.sql_with_params()
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            ops = cast("PostgresOperations", connection.ops)
            statement = ops.compose_sql(sql, params)
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buffer.write(block)
        buffer.seek(0)
        text_columns = [*texts, *bools, *dates]
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
            frame[column] = frame[column].map({"t": True, "f": False}).astype(object)
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
    """The engine's input for the given tunes (all that are not retired when ``None``).

    A fixed number of queries whatever the portfolio's size: tunes, usage summed per day, change
    log, catalog, and the two price tables. ``usage_since`` reaches further back than the rules
    need (for charts of the whole history).
    """
    tunes_qs = FineTune.objects.exclude(status=FineTune.Status.RETIRED).order_by("pk")
    if tune_ids is not None:
        tunes_qs = tunes_qs.filter(pk__in=list(tune_ids))
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

    # Each tune's usage back to the earliest day a rule needs for it: its last training (or
    # deployment), or the windows. Rows go as stored: the engine sums sources per day itself, and
    # a GROUP BY on the server measured slower than the transfer it saves (bench/).
    window = as_of - timedelta(days=max(VOLUME_TREND_DAYS, policy.lookback_days))
    if usage_since is not None:
        window = min(window, usage_since)
    trained = Coalesce(
        F("tune__last_trained_on"), F("tune__deployed_on"), Value(window, output_field=DateField())
    )
    usage = _frame(
        UsageRecord.objects.filter(
            tune_id__in=ids,
            day__gte=Least(trained, Value(window, output_field=DateField())),
            day__lte=as_of,
        )
        .order_by()
        .values_list(*USAGE_FIELDS),
        list(USAGE_FIELDS),
        dates=["day"],
        floats=["queries", "input_tokens", "output_tokens", "cost_usd"],
        bools=["estimated"],
    )
    usage = _engine_usage(usage)
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
    return Portfolio(
        tunes=tunes,
        usage=usage,
        changes=changes,
        models=models,
        model_prices=model_prices,
        tune_prices=tune_prices,
    )
