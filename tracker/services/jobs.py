"""Background evaluation: which tunes to evaluate, in what chunks, published when it is safe.

The tasks in ``tracker.tasks`` are thin; the decisions live here. Publishing goes through
``tracker.publish``, after the transaction commits.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, time
from typing import NamedTuple

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from tracker import selectors
from tracker.models import NightlyRun
from tracker.publish import QueueUnavailable, publish_after_commit
from tracker.selectors import savings as savings_selectors

from .evaluation import evaluate_portfolio, policy_version

__all__ = [
    "Evaluated",
    "QueueUnavailable",
    "chunked",
    "complete_nightly_run",
    "enqueue_evaluation",
    "enqueue_savings_refresh",
    "evaluate_in_chunks",
    "evaluate_tunes",
    "start_nightly_run",
]


def nightly_run_at(day: date) -> datetime:
    """When the nightly re-evaluation of ``day`` is scheduled (``TUNEFOLIO_REEVALUATE_AT``, UTC)."""
    hour, minute = settings.REEVALUATE_AT.split(":")
    return datetime.combine(day, time(int(hour), int(minute)), tzinfo=UTC)


def chunked(ids: Iterable[int], size: int) -> list[list[int]]:
    """Sorted, de-duplicated ids in chunks of at most ``size``."""
    unique = sorted({int(i) for i in ids})
    size = max(1, int(size))
    return [unique[start : start + size] for start in range(0, len(unique), size)]


class Evaluated(NamedTuple):
    """One tune's new verdict, as ``reevaluate`` reports it: small enough that a forked process
    sends its chunk's back for almost nothing (whole evaluations cost a tenth of a run)."""

    tune_id: int
    verdict: str
    reason: str


def evaluate_in_chunks(
    *, tune_ids: Iterable[int], as_of: date, processes: int = 1
) -> Iterator[list[Evaluated]]:
    """Evaluate the tunes as of ``as_of`` in the nightly run's chunks, here instead of queued,
    and yield each chunk's verdicts in order (memory stays flat however many tunes).

    With ``processes`` above 1, on PostgreSQL and outside a transaction, the chunks run in that
    many processes forked from this one, each on its own connection: while one chunk waits for
    the database another computes, and the chunks are the same independent units the nightly
    tasks are (disjoint tunes, one transaction each). The portfolio is then cut into at least
    one chunk per process.
    """
    ids = sorted({int(i) for i in tune_ids})
    size = settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE
    forked = processes > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
    if forked:
        size = min(size, -(-len(ids) // processes))
    chunks = chunked(ids, size)
    if not forked or len(chunks) < 2:
        for chunk in chunks:
            yield _evaluate_chunk((chunk, as_of), forked=False)
        return
    # The thresholds' stored copy is made once here, not raced for by every process.
    policy_version(selectors.engine_policy(selectors.current_policy()))
    connections.close_all()  # a forked process must not share this process's connection
    # A process that dies (killed, out of memory) breaks the pool and fails the run, where a
    # multiprocessing.Pool would wait for its chunk forever.
    with ProcessPoolExecutor(
        min(processes, len(chunks)), mp_context=multiprocessing.get_context("fork")
    ) as pool:
        yield from pool.map(_evaluate_chunk, [(chunk, as_of) for chunk in chunks])


def _evaluate_chunk(job: tuple[list[int], date], forked: bool = True) -> list[Evaluated]:
    """One chunk; in a forked process on a connection of its own, closed when done."""
    chunk, as_of = job
    try:
        if forked:
            # The processes keep every core busy already: a statement's own parallel workers
            # would only contend with them, and a parallel plan costs more work in all.
            with connection.cursor() as cursor:
                cursor.execute("SET max_parallel_workers_per_gather = 0")
        run = evaluate_portfolio(as_of=as_of, tune_ids=chunk)
        return [Evaluated(e.tune_id, e.verdict, e.reason) for e in run.evaluations]
    finally:
        if forked:
            connections.close_all()


def enqueue_evaluation(
    tune_ids: Iterable[int], as_of: date | None = None, *, only_due: bool = False
) -> int:
    """Queue ``evaluate_tunes`` for the tunes in bounded chunks, once the current transaction
    commits (at once outside one). Returns how many tasks are queued.

    ``as_of=None`` lets each task evaluate as of its own run day. ``only_due`` makes each task
    skip tunes already evaluated for the day (the nightly run; a redelivered chunk is then
    nearly free); "re-evaluate now" leaves it off to replace today's evaluation.

    Raises :class:`QueueUnavailable` when the broker cannot be reached and publishing is not
    deferred to a commit (in an atomic block the error surfaces when it commits).
    """
    day = as_of.isoformat() if as_of else None
    chunks = chunked(tune_ids, settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE)
    calls = [{"tune_ids": chunk, "as_of": day, "only_due": only_due} for chunk in chunks]
    return publish_after_commit("evaluate_tunes", calls)


def evaluate_tunes(*, tune_ids: Iterable[int], as_of: date, only_due: bool = False) -> int:
    """Evaluate the given tunes as of ``as_of`` (idempotent: one evaluation per tune and day).
    With ``only_due``, tunes already evaluated for the day are skipped. Returns how many were
    evaluated."""
    ids = {int(i) for i in tune_ids}
    if only_due:
        ids = set(selectors.tunes_due_for_evaluation(as_of, ids))
    evaluated = len(evaluate_portfolio(as_of=as_of, tune_ids=sorted(ids)).evaluations) if ids else 0
    if only_due:
        complete_nightly_run(as_of=as_of)
    return evaluated


def start_nightly_run(*, as_of: date) -> int:
    """The nightly run for ``as_of``: queue every tune still due; with none due, the night's
    run is complete. Only reads until then, so a busy database never holds up the fan-out.
    Returns how many tasks were queued."""
    due = selectors.tunes_due_for_evaluation(as_of)
    if not due:
        complete_nightly_run(as_of=as_of)
    return enqueue_evaluation(due, as_of, only_due=True)


def complete_nightly_run(*, as_of: date) -> bool:
    """Record the night's run as completed once no tune is left due for the day (the last chunk
    to finish does it, once). True when this call recorded it."""
    if selectors.any_tune_due(as_of):
        return False
    _, created = NightlyRun.objects.get_or_create(
        as_of=as_of, defaults={"completed_at": timezone.now()}
    )
    if created:
        enqueue_savings_refresh(as_of)
    return created


def enqueue_savings_refresh(as_of: date) -> int:
    """Queue ``refresh_savings`` for the stored monthly savings as of ``as_of``, in the
    evaluation's chunks of tunes. A broker that can't be reached is logged, not
    raised: the night's evaluations are done, and the next night refreshes the savings again
    (the overview says when they were computed)."""
    ids = savings_selectors.savings_tune_ids(as_of)
    chunks = chunked(ids, settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE)
    calls = [{"tune_ids": chunk, "as_of": as_of.isoformat()} for chunk in chunks]
    return publish_after_commit("refresh_savings", calls, robust=True)
