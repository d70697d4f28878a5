"""Reading the portfolio: the engine's input, tunes with their latest verdict, the catalog."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum

from decision.inputs import OPTIONAL_USAGE_COLUMNS, Policy, Portfolio
from tracker.models import (
    CatalogModel,
    ChangeLogEntry,
    DecisionPolicy,
    Evaluation,
    FineTune,
    ModelPrice,
    TunePrice,
    UsageRecord,
)

#: The longest look back any rule needs besides the lookback: the 30 + 60 days of the volume drop.
VOLUME_TREND_DAYS = 90


def current_policy() -> DecisionPolicy:
    policy, _ = DecisionPolicy.objects.get_or_create(pk=1)
    return policy


def engine_policy(policy: DecisionPolicy) -> Policy:
    return Policy(
        lookback_days=policy.lookback_days,
        min_labelled_examples=policy.min_labelled_examples,
        max_changes_per_quarter=policy.max_changes_per_quarter,
        min_quality_gap=policy.min_quality_gap,
        horizon_months=policy.horizon_months,
        shutdown_warning_days=policy.shutdown_warning_days,
        shutdown_watch_days=policy.shutdown_watch_days,
        quality_tolerance=policy.quality_tolerance,
        volume_drop_watch=policy.volume_drop_watch,
        stale_usage_days=policy.stale_usage_days,
    )


def tunes_with_latest_verdict(queryset: QuerySet[FineTune] | None = None) -> QuerySet[FineTune]:
    """Tunes annotated with ``latest_verdict`` and ``latest_as_of``, in one query."""
    latest = Evaluation.objects.filter(tune=OuterRef("pk")).order_by("-as_of")
    queryset = FineTune.objects.all() if queryset is None else queryset
    return queryset.annotate(
        latest_verdict=Subquery(latest.values("verdict")[:1]),
        latest_as_of=Subquery(latest.values("as_of")[:1]),
    )


def catalog_with_tune_counts() -> QuerySet[CatalogModel]:
    return CatalogModel.objects.annotate(
        tune_count=Count("tunes", distinct=True),
        alternative_count=Count("alternative_for", distinct=True),
    )


def tunes_due_for_evaluation(as_of: date) -> list[int]:
    """Tunes (not retired) whose latest evaluation is older than ``as_of``, or that have none."""
    evaluated = Evaluation.objects.filter(as_of__gte=as_of).values("tune_id")
    return list(
        FineTune.objects.exclude(status=FineTune.Status.RETIRED)
        .exclude(pk__in=evaluated)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _frame(rows: Iterable[tuple], columns: list[str], dates=(), floats=()) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows), columns=columns)
    for column in dates:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in floats:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


TUNE_FIELDS = {
    "tune_id": "pk",
    "status": "status",
    "base_model_id": "base_model_id",
    "alternative_model_id": "alternative_id",
    "extra_prompt_tokens": "extra_prompt_tokens",
    "need_is_articulable": "need_is_articulable",
    "behaviour_unpromptable": "behaviour_unpromptable",
    "tacit_expertise": "tacit_expertise",
    "adds_knowledge": "adds_knowledge",
    "fixes_formatting": "fixes_formatting",
    "few_edge_cases": "few_edge_cases",
    "brand_tone": "brand_tone",
    "labelled_examples": "labelled_examples",
    "target_score": "target_score",
    "baseline_score": "baseline_score",
    "tune_score": "tune_score",
    "upfront_cost": "upfront_cost",
    "retrain_cost": "retrain_cost",
    "monthly_fixed_cost": "monthly_fixed_cost",
    "deployed_on": "deployed_on",
    "last_trained_on": "last_trained_on",
    "expected_monthly_queries": "expected_monthly_queries",
    "expected_input_tokens": "expected_input_tokens",
    "expected_output_tokens": "expected_output_tokens",
}
TUNE_FLOATS = [
    "extra_prompt_tokens",
    "labelled_examples",
    "target_score",
    "baseline_score",
    "tune_score",
    "upfront_cost",
    "retrain_cost",
    "monthly_fixed_cost",
    "expected_monthly_queries",
    "expected_input_tokens",
    "expected_output_tokens",
]
PRICE_FIELDS = ["effective_from", "input_usd_per_mtok", "output_usd_per_mtok"]
PRICE_COLUMNS = ["effective_from", "input_per_mtok", "output_per_mtok"]


def portfolio_inputs(
    as_of: date, policy: Policy, tune_ids: Iterable[int] | None = None
) -> Portfolio:
    """The engine's input for the given tunes (all that are not retired when ``None``).

    A fixed number of queries whatever the portfolio's size: tunes, usage summed per day, change
    log, catalog, and the two price tables.
    """
    tunes_qs = FineTune.objects.exclude(status=FineTune.Status.RETIRED).order_by("pk")
    if tune_ids is not None:
        tunes_qs = tunes_qs.filter(pk__in=list(tune_ids))
    tunes = _frame(
        tunes_qs.values_list(*TUNE_FIELDS.values()),
        list(TUNE_FIELDS),
        dates=["deployed_on", "last_trained_on"],
        floats=TUNE_FLOATS,
    )
    for column in ("base_model_id", "alternative_model_id"):
        tunes[column] = tunes[column].astype("Int64")
    tunes = tunes.set_index("tune_id")
    ids = tunes_qs.values("pk")  # a subquery, so a large portfolio is no long IN list

    # Usage back to the earliest day any rule needs: the oldest last training, or the windows.
    earliest = as_of - timedelta(days=max(VOLUME_TREND_DAYS, policy.lookback_days))
    trained = tunes["last_trained_on"].fillna(tunes["deployed_on"]).dropna()
    if not trained.empty:
        earliest = min(earliest, trained.min().date())
    usage = _frame(
        UsageRecord.objects.filter(tune_id__in=ids, day__gte=earliest, day__lte=as_of)
        .values("tune_id", "day")
        .annotate(
            q=Sum("queries"),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            # What sources that report a cost billed, and the tokens they billed it for.
            bc=Sum("cost_usd"),
            bi=Sum("input_tokens", filter=Q(cost_usd__isnull=False)),
            bo=Sum("output_tokens", filter=Q(cost_usd__isnull=False)),
            eq=Sum("queries", filter=Q(estimated=True)),
        )
        .order_by()
        .values_list("tune_id", "day", "q", "i", "o", "bc", "bi", "bo", "eq"),
        ["tune_id", "day", "queries", "input_tokens", "output_tokens", *OPTIONAL_USAGE_COLUMNS],
        dates=["day"],
        floats=["queries", "input_tokens", "output_tokens", *OPTIONAL_USAGE_COLUMNS],
    )
    changes = _frame(
        ChangeLogEntry.objects.filter(tune_id__in=ids, day__lte=as_of)
        .order_by()
        .values_list("tune_id", "day", "kind", "meaningful", "cost"),
        ["tune_id", "day", "kind", "meaningful", "cost"],
        dates=["day"],
        floats=["cost"],
    )
    models = _frame(
        CatalogModel.objects.order_by("pk").values_list(
            "pk", "provider", "name", "version", "shutdown_on", "successor_id"
        ),
        ["model_id", "provider", "name", "version", "shutdown_on", "successor_id"],
        dates=["shutdown_on"],
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
