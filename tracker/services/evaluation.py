"""Evaluating the portfolio: verdicts written per tune and day, flags kept in step."""

from __future__ import annotations

import gc
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import orjson
from django.db import connection, transaction

import decision
from tracker import selectors, stored
from tracker.models import Evaluation, FineTune, Flag, PolicyVersion, Verdict

from . import webhooks

#: The verdicts that open a flag of the same kind.
FLAG_VERDICTS = {Verdict.RETRAIN, Verdict.RETIRE, Verdict.FINE_TUNE}


def _money(value) -> Decimal | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return Decimal(str(round(float(value), 2)))


def _dumps(value: object) -> str:
    """Compact JSON; the stored figures and findings hold no NaN or infinity (``tracker.stored``
    leaves them out or spells them), so orjson's writing them as null never comes into play."""
    return orjson.dumps(value).decode()


def policy_version(policy: decision.Policy) -> PolicyVersion:
    """The stored copy of these thresholds, created the first time they are used."""
    values = policy.as_dict()
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    version, _ = PolicyVersion.objects.get_or_create(digest=digest, defaults={"values": values})
    return version


@dataclass(frozen=True)
class EvaluationRun:
    as_of: date
    evaluations: list[Evaluation]
    opened_flags: int
    resolved_flags: int


@transaction.atomic
def evaluate_portfolio(*, as_of: date, tune_ids: Iterable[int] | None = None) -> EvaluationRun:
    """Evaluate the given tunes (every tune not retired when ``None``) as of ``as_of``.

    Writes one evaluation per tune and day: running it again for the same day replaces it.
    Flags follow the verdicts. A fixed number of queries whatever the portfolio's size.
    """
    policy = selectors.engine_policy(selectors.current_policy())
    version = policy_version(policy)
    inputs = selectors.evaluation_inputs(as_of, policy, tune_ids)
    with _cycle_collector_paused():
        results = decision.evaluate(inputs, policy, as_of, read_days=selectors.usage_days)
        evaluations = [_evaluation(result, as_of, version) for result in results]
    evaluations.sort(key=lambda e: e.tune_id)  # rows written in key order: no deadlock cycles
    if connection.vendor == "postgresql":
        _copy_evaluations(evaluations)
    else:
        _bulk_create_evaluations(evaluations)
    opened, resolved = _sync_flags(evaluations)
    webhooks.record_evaluation_events(evaluations=evaluations)
    return EvaluationRun(as_of, evaluations, opened, resolved)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A chunk's results are tens of thousands of small dicts and findings, none in a reference
    cycle: reference counting frees them, while the cycle collector, set off by their number,
    would walk every live object again and again (a fifth of the engine's time)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _evaluation(result: decision.TuneResult, as_of: date, version: PolicyVersion) -> Evaluation:
    """The row for one result: figures once, findings by code (``tracker.stored``)."""
    figures = stored.result_figures(result)
    proposal = result.verdict in stored.PROPOSAL_VERDICTS
    return Evaluation(
        tune_id=int(result.tune_id),
        as_of=as_of,
        verdict=str(result.verdict),
        reason=result.reason,
        monthly_net_saving=_money(result.figures.get("monthly_net_saving")),
        unrecovered_cost=_money(result.figures.get("unrecovered_cost")),
        figures=figures,
        stored_findings=stored.pack_findings(result.findings, figures, proposal=proposal),
        policy=version,
        engine_version=result.engine_version,
    )


_WRITTEN = [
    "tune_id",
    "as_of",
    "verdict",
    "reason",
    "monthly_net_saving",
    "unrecovered_cost",
    "figures",
    "stored_findings",
    "policy_id",
    "engine_version",
]


def _copy_evaluations(evaluations: list[Evaluation]) -> None:
    """PostgreSQL: ``COPY`` the rows into a session-local staging table, then one upsert; the
    figures are serialised once here, not by a field per row. Sets each ``pk``/``created_at``."""
    table = Evaluation._meta.db_table
    columns = ", ".join(_WRITTEN)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _WRITTEN[2:])
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS evaluation_stage (tune_id bigint, as_of date, "
            "verdict varchar(16), reason text, monthly_net_saving numeric, "
            "unrecovered_cost numeric, figures json, stored_findings json, policy_id bigint, "
            "engine_version varchar(32)) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE evaluation_stage")
        with cursor.cursor.copy(f"COPY evaluation_stage ({columns}) FROM STDIN") as copy:
            for e in evaluations:
                copy.write_row(
                    (
                        e.tune_id,
                        e.as_of,
                        e.verdict,
                        e.reason,
                        e.monthly_net_saving,
                        e.unrecovered_cost,
                        _dumps(stored.pack_figures(e.figures)),
                        _dumps(e.stored_findings),
                        e.policy_id,
                        e.engine_version,
                    )
                )
        cursor.execute(
            f"INSERT INTO {table} ({columns}, created_at) "
            f"SELECT {columns}, now() FROM evaluation_stage ORDER BY tune_id "
            f"ON CONFLICT (tune_id, as_of) DO UPDATE SET {updates} "
            "RETURNING tune_id, id, created_at"
        )
        written = {tune_id: (pk, created) for tune_id, pk, created in cursor.fetchall()}
    for e in evaluations:
        e.pk, e.created_at = written[e.tune_id]
        e._state.adding = False


def _bulk_create_evaluations(evaluations: list[Evaluation]) -> None:
    """Other databases: the ORM's upsert, then one read of the ids it kept."""
    if not evaluations:
        return
    Evaluation.objects.bulk_create(
        evaluations,
        update_conflicts=True,
        unique_fields=["tune", "as_of"],
        update_fields=[c.removesuffix("_id") for c in _WRITTEN[2:]],
    )
    written = {
        tune_id: (pk, created)
        for tune_id, pk, created in Evaluation.objects.filter(
            as_of=evaluations[0].as_of, tune_id__in=[e.tune_id for e in evaluations]
        ).values_list("tune_id", "pk", "created_at")
    }
    for e in evaluations:
        e.pk, e.created_at = written[e.tune_id]
        e._state.adding = False


def _sync_flags(evaluations: list[Evaluation]) -> tuple[int, int]:
    """Keep each tune's flags in step with its latest evaluation; return (opened, resolved).

    A flag opens when the latest verdict is RETRAIN, RETIRE or FINE_TUNE and no flag of that
    kind is open, and carries the evaluation that opened it; it resolves, with the evaluation
    that resolved it, when a later verdict no longer supports it. The rules:

    - Only a tune's latest evaluation moves its flags: re-evaluating an older day (a backfill)
      changes nothing, so an old verdict never reopens or resolves today's state.
    - Re-running the latest day replaces that day's effect instead of stacking on it: a flag that
      an earlier run of the day opened and the new verdict does not support is withdrawn (it was
      never supported by a kept evaluation); a flag an earlier run of the day resolved and the new
      verdict supports again is reopened, keeping its original opening and age.
    - At most one open flag per tune and kind (a database constraint); runs on the same tunes are
      serialised by locking the tune rows (PostgreSQL; SQLite serialises writers anyway).

    The tunes whose latest evaluation this is get it as ``FineTune.latest_evaluation`` here.
    """
    if not evaluations:
        return 0, 0
    as_of = evaluations[0].as_of
    by_tune = {e.tune_id: e for e in evaluations}
    list(
        FineTune.objects.select_for_update()
        .filter(pk__in=selectors.ids_in(by_tune))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    latest = {tune_id: by_tune[tune_id] for tune_id in _point_at_latest(evaluations)}
    if not latest:
        return 0, 0
    open_flags: dict[int, list[Flag]] = {}
    for flag in Flag.objects.filter(tune_id__in=selectors.ids_in(latest), resolved_on__isnull=True):
        open_flags.setdefault(flag.tune_id, []).append(flag)
    resolved_today: dict[tuple[int, str], Flag] = {
        (flag.tune_id, flag.kind): flag
        for flag in Flag.objects.filter(
            resolved_by__in=selectors.ids_in(e.pk for e in latest.values())
        ).order_by("opened_on")
    }

    to_resolve: list[Flag] = []
    to_withdraw: list[int] = []
    to_reopen: list[Flag] = []
    to_open: list[Flag] = []
    for tune_id, evaluation in latest.items():
        wanted = evaluation.verdict if evaluation.verdict in FLAG_VERDICTS else None
        still_open = False
        for flag in open_flags.get(tune_id, []):
            if flag.kind == wanted:
                still_open = True
            elif flag.opened_by_id == evaluation.pk:
                to_withdraw.append(flag.pk)
            else:
                flag.resolved_by, flag.resolved_on = evaluation, as_of
                to_resolve.append(flag)
        if wanted is None or still_open:
            continue
        earlier = resolved_today.get((tune_id, wanted))
        if earlier is not None:
            earlier.resolved_by, earlier.resolved_on = None, None
            to_reopen.append(earlier)
        else:
            to_open.append(
                Flag(tune_id=tune_id, kind=wanted, opened_by=evaluation, opened_on=as_of)
            )

    # Withdraw and resolve first: the one-open-flag constraint holds after every statement.
    Flag.objects.filter(pk__in=to_withdraw).delete()
    Flag.objects.bulk_update(to_resolve, ["resolved_by", "resolved_on"])
    Flag.objects.bulk_update(to_reopen, ["resolved_by", "resolved_on"])
    Flag.objects.bulk_create(to_open)
    return len(to_open) + len(to_reopen), len(to_resolve)


def _point_at_latest(evaluations: list[Evaluation]) -> list[int]:
    """Point each tune at its evaluation when no later day of it is evaluated, in one UPDATE;
    return those tunes. The tune rows are locked already, and this statement sees every run
    that held them before: a concurrent run of a later day is never overtaken."""
    as_of = evaluations[0].as_of
    tunes = FineTune._meta.db_table
    later = (
        f"NOT EXISTS (SELECT 1 FROM {Evaluation._meta.db_table} e "
        f"WHERE e.tune_id = {tunes}.id AND e.as_of > %s)"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {tunes} SET latest_evaluation_id = s.evaluation_id "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS s(tune_id, evaluation_id) "
                f"WHERE {tunes}.id = s.tune_id AND {later} RETURNING {tunes}.id",
                [[e.tune_id for e in evaluations], [e.pk for e in evaluations], as_of],
            )
        else:
            ids = [e.tune_id for e in evaluations]
            cursor.execute(
                f"UPDATE {tunes} SET latest_evaluation_id = (SELECT e.id FROM "
                f"{Evaluation._meta.db_table} e WHERE e.tune_id = {tunes}.id AND e.as_of = %s) "
                f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND {later} RETURNING id",
                [as_of, *ids, as_of],
            )
        return [row[0] for row in cursor.fetchall()]
