"""``reevaluate --processes``: the chunks evaluated side by side in forked processes, each on its
own connection, write exactly what one process writes, and this process's connection works
afterwards. Forking needs committed data and a server that takes several connections, so this
runs on PostgreSQL (on SQLite the command evaluates in one process, as every other test shows).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from tracker.models import Evaluation, FineTune, Flag
from tracker.services import jobs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="forked evaluation is for PostgreSQL; SQLite evaluates in one process",
    ),
]
AS_OF = date(2026, 3, 2)


def stored_evaluations() -> list[tuple]:
    return list(
        Evaluation.objects.filter(as_of=AS_OF)
        .order_by("tune_id")
        .values_list("tune_id", "verdict", "reason", "figures", "stored_findings", "policy_id")
    )


def open_flags() -> list[tuple]:
    return list(
        Flag.objects.filter(resolved_on__isnull=True)
        .order_by("tune_id", "kind")
        .values_list("tune_id", "kind", "opened_on")
    )


def reevaluate(processes: int) -> str:
    out = StringIO()
    call_command("reevaluate", as_of=AS_OF, processes=processes, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_chunks_in_several_processes_write_what_one_process_writes(settings, monkeypatch):
    call_command("load_demo", as_of=AS_OF, stdout=StringIO())
    settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE = 4  # several chunks for each process
    tunes = FineTune.objects.exclude(status=FineTune.Status.RETIRED).count()
    assert tunes > 8

    one = reevaluate(1)
    alone, alone_flags = stored_evaluations(), open_flags()
    assert len(alone) == tunes and alone_flags
    Flag.objects.all().delete()
    Evaluation.objects.all().delete()

    # Which process evaluated each chunk: the real evaluation (written already), its reason
    # replaced by the process id on its way back.
    evaluate_portfolio = jobs.evaluate_portfolio

    def tagged(**kwargs):
        run = evaluate_portfolio(**kwargs)
        for evaluation in run.evaluations:
            evaluation.reason = str(os.getpid())
        return run

    monkeypatch.setattr(jobs, "evaluate_portfolio", tagged)
    pids: set[int] = set()
    chunks = jobs.evaluate_in_chunks(
        tune_ids=FineTune.objects.exclude(status=FineTune.Status.RETIRED).values_list(
            "pk", flat=True
        ),
        as_of=AS_OF,
        processes=2,
    )
    for evaluations in chunks:
        pids |= {int(evaluated.reason) for evaluated in evaluations}
    assert len(pids) == 2 and os.getpid() not in pids

    assert stored_evaluations() == alone
    assert open_flags() == alone_flags
    # Run again through the command: the same day replaced, nothing added or changed.
    monkeypatch.undo()
    two = reevaluate(2)
    assert stored_evaluations() == alone and open_flags() == alone_flags
    assert sorted(one.splitlines()) == sorted(two.splitlines())
    assert Evaluation.objects.count() == tunes  # this process's connection works afterwards


def test_a_process_that_dies_fails_the_run_instead_of_hanging(monkeypatch):
    call_command("load_demo", as_of=AS_OF, stdout=StringIO())
    tunes = FineTune.objects.exclude(status=FineTune.Status.RETIRED)
    ids = list(tunes.values_list("pk", flat=True))
    evaluate_portfolio = jobs.evaluate_portfolio

    def dies_on_the_last_chunk(**kwargs):
        if max(ids) in kwargs["tune_ids"]:
            os._exit(9)  # as if killed: no exception, no result
        return evaluate_portfolio(**kwargs)

    monkeypatch.setattr(jobs, "evaluate_portfolio", dies_on_the_last_chunk)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            for _ in jobs.evaluate_in_chunks(tune_ids=ids, as_of=AS_OF, processes=2):
                pass
        except BaseException as exc:  # what the run ends with is the point
            raised.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "the run waits forever for the chunk of a dead process"
    assert raised and isinstance(raised[0], BrokenProcessPool)
    # The chunk of the process that died wrote nothing (its transaction never committed).
    assert not Evaluation.objects.filter(tune_id=max(ids)).exists()
