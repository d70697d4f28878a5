"""The nightly re-evaluation and the catalog at growing portfolio sizes, against a bare read.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tunefolio_bench \\
        .venv/bin/python bench/bench_reevaluate.py --sizes 1000 --days 730
    DATABASE_URL=… .venv/bin/python bench/bench_reevaluate.py --sizes 10000 --days 365
    DATABASE_URL=… .venv/bin/python bench/bench_reevaluate.py --sizes 1000,10000,100000 --days 120

For each size, on a fresh synthetic portfolio (a usage row per tune and day for ``--days`` days,
written day by day as a nightly feed does, the last day after a vacuum; tunes trained on one of
the first four weeks' days, catalog models used both as base and as
alternative, half of them with a price cut on the way: ``common.seed_portfolio``):

* baseline: a bare ``COPY (SELECT …) TO STDOUT`` of the usage rows the evaluation needs,
  median of 3;
* ``manage.py reevaluate --processes 1`` in a child process, ``--repeat`` times (3): its
  median time, queries (total and per chunk of ``TUNEFOLIO_EVALUATION_CHUNK_SIZE`` tunes), the
  child's peak RSS, the average stored evaluation row (``eval row``:
  ``avg(pg_column_size(e.*))``) and the evaluation table's whole size per row (``table/row``:
  ``pg_total_relation_size``, with TOAST and indexes, over the row count);
* ``manage.py reevaluate --processes N`` (``--processes``, one per CPU by default), as many
  times: its median time, and the largest peak RSS of its processes (the ``peak RSS`` column is
  the larger of the two runs);
* ``manage.py refresh_savings``, the nightly run's next step (every deployed tune's history
  priced month by month, in the same chunks): its time and peak RSS;
* the catalog list and detail, and a tune create and edit through the API: time and queries.

Prints one row per size; each ``÷ read`` is a run's time over the baseline measured in the
same run, and ``µs/row`` shows whether the time grows faster than the data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    AS_OF,
    bench_database,
    clear,
    copy_out,
    database_url,
    median,
    peak_rss_mb,
    seed_portfolio,
    timed,
)
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tracker.models import CatalogModel, FineTune, Team, TeamAPIKey

#: ``reevaluate`` evaluates in the nightly run's chunks.
CHUNK = settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE

#: The rows each tune's evaluation reads: from its last training, or from the day the rule
#: windows reach back to (the default policy's: 90 days) when that is earlier.
NEEDED_USAGE = (
    "SELECT u.tune_id, u.day, u.source, u.queries, u.input_tokens, u.output_tokens "
    "FROM tracker_usagerecord u JOIN tracker_finetune t ON t.id = u.tune_id "
    f"WHERE u.day >= LEAST(t.last_trained_on, DATE '{AS_OF - timedelta(days=90)}') "
    f"AND u.day <= DATE '{AS_OF}'"
)


def own_peak_rss_mb() -> float:
    """This process's own peak memory. ``getrusage`` keeps the high-water mark across
    ``execve``, so a child would report the larger parent that started it; the kernel's
    ``VmHWM`` belongs to the new address space."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()


def child(command: list[str]) -> None:
    """Run in a fresh process: the management command ``command`` (name and options) with its
    queries, time and peak memory (the largest of this process and the ones it forked; queries
    are this process's own)."""
    queries = 0

    def counted(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    # A counter, not a debug cursor: processes forked by the command would inherit that, and
    # spelling out every statement they run (with thousands of ids) is not work they do.
    with open(os.devnull, "w") as devnull, connection.execute_wrapper(counted):
        seconds, _ = timed(call_command, *command, as_of=AS_OF, stdout=devnull, verbosity=0)
    forked_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "queries": queries,
                "rss_mb": max(own_peak_rss_mb(), forked_mb),
            }
        )
    )


def in_child(database: str, *command: str) -> dict:
    """``command`` run by :func:`child` in a fresh process on ``database``."""
    env = {**os.environ, "DATABASE_URL": database_url(database)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", " ".join(command)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def repeated(database: str, times: int, *command: str) -> dict:
    """``command`` run ``times`` by :func:`in_child`: the median time (as the baseline's), the
    first run's queries (the later ones replace its evaluations with the same statements), and
    the largest peak memory. Each run starts from the same state."""
    runs = []
    for _ in range(max(1, times)):
        # Each run from the same state: the rows an earlier run replaced are cleared away, as
        # autovacuum would between two nights (a server may run without it).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM tracker_evaluation, tracker_finetune, tracker_flag")
        runs.append(in_child(database, *command))
    return {
        **runs[0],
        "seconds": median([r["seconds"] for r in runs]),
        "rss_mb": max(r["rss_mb"] for r in runs),
    }


def api_calls() -> dict[str, tuple[float, int]]:
    """Catalog list and detail, tune create and edit: (milliseconds, queries), median of 3."""
    team = Team.objects.get(slug="bench")
    _, secret = TeamAPIKey.objects.create_key(
        name="bench", team=team, can_read=True, can_write=True
    )
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    base, alternative = CatalogModel.objects.order_by("pk")[:2]
    tune = FineTune.objects.order_by("pk").first()
    counter = iter(range(10**6))
    calls = {
        "catalog list": lambda: client.get("/api/v1/catalog/"),
        "catalog detail": lambda: client.get(f"/api/v1/catalog/{base.pk}/"),
        "tune create": lambda: client.post(
            "/api/v1/tunes/",
            {
                "slug": f"bench-new-{next(counter)}",
                "name": "New",
                "team": "bench",
                "owner": "bench",
                "status": "proposed",
                "base_model": base.pk,
                "alternative": alternative.pk,
                "task_description": "x",
            },
            format="json",
        ),
        "tune edit": lambda: client.patch(
            f"/api/v1/tunes/{tune.slug}/", {"alternative": alternative.pk}, format="json"
        ),
    }
    results = {}
    for name, call in calls.items():
        runs = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as queries:
                seconds, response = timed(call)
            assert response.status_code in (200, 201), (name, response.content[:300])
            runs.append((seconds * 1000, len(queries)))
        results[name] = (median([r[0] for r in runs]), runs[-1][1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000", help="tunes, comma-separated (1000)")
    parser.add_argument("--days", type=int, default=730, help="days of usage per tune (730)")
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the second reevaluate run (one per CPU)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each reevaluate, timed as their median (3)"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child.split())

    rows_out = []
    with bench_database() as database:
        for size in [int(s) for s in args.sizes.split(",")]:
            clear()
            usage_rows = seed_portfolio(size, args.days)
            read = median([timed(copy_out, NEEDED_USAGE)[0] for _ in range(3)])
            # Queries and memory per chunk in one process, then the chunks side by side.
            run = repeated(database, args.repeat, "reevaluate", "--processes=1")
            spread = repeated(database, args.repeat, "reevaluate", f"--processes={args.processes}")
            savings = in_child(database, "refresh_savings")
            with connection.cursor() as cursor:
                # The row as stored (compressed values count compressed), and the table's whole
                # footprint (heap, TOAST and indexes) per row.
                cursor.execute(
                    "SELECT avg(pg_column_size(e.*)), "
                    "pg_total_relation_size('tracker_evaluation')::float / count(*) "
                    "FROM tracker_evaluation e"
                )
                run["row_bytes"], run["table_bytes"] = map(float, cursor.fetchone())
            api = api_calls()
            rows_out.append((size, usage_rows, read, run, spread, savings, api))
            print(f"  measured {size:,} tunes", file=sys.stderr)

    print(
        f"Re-evaluation on PostgreSQL, {args.days} days of usage per tune "
        f"(chunks of at most {CHUNK} tunes; API times are medians of 3). ``1 process`` runs the "
        f"chunks one after the other; ``{args.processes} processes`` runs them side by side "
        "(``reevaluate --processes``, one chunk per process at least):"
    )
    header = (
        f"{'tunes':>8} {'usage rows':>11} {'bare read':>10} {'1 process':>10} "
        f"{'÷ read':>7} {f'{args.processes} processes':>12} {'÷ read':>7} "
        f"{'µs/row':>7} {'queries':>8} {'/chunk':>7} {'peak RSS':>9} {'eval row':>9} "
        f"{'table/row':>10} {'savings':>8} {'its RSS':>8} "
        f"{'catalog list':>13} {'detail':>12} {'tune create':>12} {'tune edit':>12}"
    )
    print(header)
    for size, usage_rows, read, run, spread, savings, api in rows_out:
        chunks = -(-size // CHUNK)
        cells = " ".join(f"{ms:>7.1f}ms/{q:<3}" for ms, q in api.values())
        print(
            f"{size:>8,} {usage_rows:>11,} {read:>9.2f}s {run['seconds']:>9.2f}s "
            f"{run['seconds'] / read:>6.2f}x {spread['seconds']:>11.2f}s "
            f"{spread['seconds'] / read:>6.2f}x {run['seconds'] / usage_rows * 1e6:>7.2f} "
            f"{run['queries']:>8} {run['queries'] / chunks:>7.1f} "
            f"{max(run['rss_mb'], spread['rss_mb']):>7.0f}MB "
            f"{run['row_bytes']:>8.0f}B {run['table_bytes']:>9.0f}B "
            f"{savings['seconds']:>7.2f}s {savings['rss_mb']:>6.0f}MB "
            f"{cells}"
        )


if __name__ == "__main__":
    main()
