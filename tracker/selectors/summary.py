"""The portfolio at a glance, for the teams a caller sees: tunes per latest verdict, what the
deployed tunes save a month, the training cost still unrecovered on flagged tunes, and the base
models shutting down soon. A fixed number of queries whatever the portfolio's size.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Exists, F, OuterRef

from tracker.models import CatalogModel, FineTune, Flag, Verdict

from .portfolio import current_policy, tunes_with_latest_verdict

UNEVALUATED = "UNEVALUATED"


def _label(model: CatalogModel | None) -> dict | None:
    if model is None:
        return None
    return {"id": model.pk, "label": str(model), "shutdown_on": model.shutdown_on}


def portfolio_summary(team_ids: Collection[int] | None, today: date) -> dict:
    tunes = FineTune.objects.all()
    if team_ids is not None:
        tunes = tunes.filter(team_id__in=list(team_ids))
    active = tunes.exclude(status=FineTune.Status.RETIRED)
    annotated = tunes_with_latest_verdict(active).annotate(
        latest_saving=F("latest_evaluation__monthly_net_saving"),
        latest_unrecovered=F("latest_evaluation__unrecovered_cost"),
        flagged=Exists(Flag.objects.filter(tune=OuterRef("pk"), resolved_on__isnull=True)),
    )

    # One pass over the tunes: the latest verdict, saving and unrecovered cost come with each.
    by_verdict = {verdict.value: 0 for verdict in Verdict} | {UNEVALUATED: 0}
    deployed_savings: list[Decimal] = []
    flagged: list[Decimal | None] = []
    for verdict, status, saving, is_flagged, unrecovered in annotated.order_by().values_list(
        "latest_verdict", "status", "latest_saving", "flagged", "latest_unrecovered"
    ):
        by_verdict[verdict or UNEVALUATED] += 1
        if status == "deployed" and saving is not None:
            deployed_savings.append(saving)
        if is_flagged:
            flagged.append(unrecovered)

    window = current_policy().shutdown_watch_days
    horizon = today + timedelta(days=window)
    dependants: dict[int, list[str]] = {}
    for model_id, slug in (
        active.filter(base_model__shutdown_on__lte=horizon)
        .order_by("base_model_id", "slug")
        .values_list("base_model_id", "slug")
    ):
        dependants.setdefault(model_id, []).append(slug)
    models = (
        CatalogModel.objects.filter(pk__in=list(dependants))
        .select_related("successor")
        .order_by("shutdown_on", "pk")
    )
    shutdowns = [
        {
            "model": _label(model),
            "shutdown_on": model.shutdown_on,
            "days_left": (model.shutdown_on - today).days if model.shutdown_on else None,
            "successor": _label(model.successor),
            "tunes": dependants[model.pk],
        }
        for model in models
    ]

    return {
        "as_of": today,
        "tunes": sum(by_verdict.values()),
        "by_verdict": by_verdict,
        "deployed_tunes_evaluated": len(deployed_savings),
        "realised_monthly_saving_usd": sum(deployed_savings, Decimal(0)),
        "flagged_tunes": len(flagged),
        "unrecovered_training_cost_of_flagged_usd": sum(
            (u for u in flagged if u is not None), Decimal(0)
        ),
        "shutdown_window_days": window,
        "upcoming_shutdowns": shutdowns,
    }
