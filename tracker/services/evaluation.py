"""Evaluating the portfolio: verdicts written per tune and day, flags kept in step."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

import decision
from tracker import selectors
from tracker.models import Evaluation, Flag, Verdict

#: The verdicts that open a flag of the same kind.
FLAG_VERDICTS = {Verdict.RETRAIN, Verdict.RETIRE, Verdict.FINE_TUNE}


def _money(value) -> Decimal | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return Decimal(str(round(float(value), 2)))


@dataclass(frozen=True)
class EvaluationRun:
    as_of: date
    evaluations: list[Evaluation]
    opened_flags: int
    resolved_flags: int


@transaction.atomic
def evaluate_portfolio(as_of: date, tune_ids: Iterable[int] | None = None) -> EvaluationRun:
    """Evaluate the given tunes (every tune not retired when ``None``) as of ``as_of``.

    Writes one evaluation per tune and day: running it again for the same day replaces it.
    Flags follow the verdicts. A fixed number of queries whatever the portfolio's size.
    """
    policy_row = selectors.current_policy()
    policy = selectors.engine_policy(policy_row)
    inputs = selectors.portfolio_inputs(as_of, policy, tune_ids)
    results = decision.evaluate(inputs, policy, as_of)
    rows = [
        Evaluation(
            tune_id=result.tune_id,
            as_of=as_of,
            verdict=str(result.verdict),
            reason=result.reason,
            monthly_net_saving=_money(result.figures.get("monthly_net_saving")),
            unrecovered_cost=_money(result.figures.get("unrecovered_cost")),
            figures=result.figures,
            findings=[finding.as_dict() for finding in result.findings],
            policy=policy.as_dict(),
            engine_version=result.engine_version,
        )
        for result in results
    ]
    Evaluation.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["tune", "as_of"],
        update_fields=[
            "verdict",
            "reason",
            "monthly_net_saving",
            "unrecovered_cost",
            "figures",
            "findings",
            "policy",
            "engine_version",
        ],
    )
    evaluations = list(
        Evaluation.objects.filter(as_of=as_of, tune_id__in=[r.tune_id for r in results]).order_by(
            "tune_id"
        )
    )
    opened, resolved = _sync_flags(evaluations)
    return EvaluationRun(as_of, evaluations, opened, resolved)


def _sync_flags(evaluations: list[Evaluation]) -> tuple[int, int]:
    """Open a flag when a verdict calls for action; resolve open flags a verdict no longer
    supports. Only evaluations newer than the flag's opening move it."""
    if not evaluations:
        return 0, 0
    by_tune = {e.tune_id: e for e in evaluations}
    as_of = evaluations[0].as_of
    open_flags = list(
        Flag.objects.filter(tune_id__in=by_tune, resolved_on__isnull=True, opened_on__lte=as_of)
    )
    to_resolve = [f for f in open_flags if by_tune[f.tune_id].verdict != f.kind]
    for flag in to_resolve:
        flag.resolved_by = by_tune[flag.tune_id]
        flag.resolved_on = as_of
    Flag.objects.bulk_update(to_resolve, ["resolved_by", "resolved_on"])

    open_kinds = {(f.tune_id, f.kind) for f in open_flags if f not in to_resolve}
    # An open flag dated after this evaluation (a re-run of an older day) also counts as open.
    open_kinds |= set(
        Flag.objects.filter(
            tune_id__in=by_tune, resolved_on__isnull=True, opened_on__gt=as_of
        ).values_list("tune_id", "kind")
    )
    to_open = [
        Flag(tune_id=e.tune_id, kind=e.verdict, opened_by=e, opened_on=as_of)
        for e in evaluations
        if e.verdict in FLAG_VERDICTS and (e.tune_id, e.verdict) not in open_kinds
    ]
    Flag.objects.bulk_create(to_open)
    return len(to_open), len(to_resolve)
