"""Usage ingestion against the database's own limit: a raw ``COPY`` of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tunefolio_bench \\
        .venv/bin/python bench/bench_ingest.py [--rows 10000] [--tunes 20] [--rounds 3]

On a throwaway database, the same ``--rows`` rows (one batch) go, in each round, first into an
empty table (every row new), then again with new values for the same keys (every row replaced):

* baseline: a raw ``COPY`` of the rows into a bare table with the same columns and unique key
  (emptied first, off the clock: ``COPY`` cannot replace, so both columns show the database's
  own write speed, one median over both columns' runs);
* service: ``tracker.services.usage.ingest_usage`` in this process (validation and upsert), and
  its write alone (``write_usage`` on the batch validated before the clock starts);
* HTTP API: ``POST /api/v1/usage/`` with a team key to gunicorn running the production settings
  on 127.0.0.1 (a free port; stopped at the end). Bodies are encoded before the clock starts.

Prints rows per second (median of the rounds) and each path's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    bench_database,
    clear,
    copy_in,
    database_url,
    median,
    seed_portfolio,
    timed,
)
from django.db import connection
from django.utils import timezone

from tracker.models import FineTune, Team, TeamAPIKey, UsageRecord
from tracker.services.usage import frame_from_records, ingest_usage, validate_usage, write_usage

COLUMNS = [
    "tune_id",
    "day",
    "source",
    "queries",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "quality_score",
]


def make_rows(rows: int, slugs: list[str], bump: int = 0) -> list[dict]:
    yesterday = timezone.localdate() - timedelta(days=1)
    days = -(-rows // len(slugs))
    records = [
        {
            "tune": slug,
            "day": (yesterday - timedelta(days=d)).isoformat(),
            "source": "gateway",
            "queries": 1000 + d + bump,
            "input_tokens": 800_000 + d + bump,
            "output_tokens": 150_000 + d + bump,
            "cost_usd": 0.42 + bump,
            "quality_score": 0.9,
        }
        for d in range(days)
        for slug in slugs
    ]
    return records[:rows]


def as_csv(records: list[dict], ids: dict[str, int]) -> str:
    return "".join(
        f"{ids[r['tune']]},{r['day']},{r['source']},{r['queries']},{r['input_tokens']},"
        f"{r['output_tokens']},{r['cost_usd']},{r['quality_score']}\n"
        for r in records
    )


def empty_bare() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bare_usage")


def raw_copy(text: str) -> None:
    copy_in("bare_usage", COLUMNS, text)


def empty_usage() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tracker_usagerecord")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn with the production settings on a free loopback port."""

    def __init__(self, database: str):
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-not-secret-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": database_url(database),
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--timeout",
                "300",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def post(self, body: bytes, key: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.request(
            "POST",
            "/api/v1/usage/",
            body=body,
            headers={"Content-Type": "application/json", "X-Api-Key": key},
        )
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows per batch (10,000)")
    parser.add_argument("--tunes", type=int, default=20, help="tunes the rows spread over (20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are shown (3)")
    args = parser.parse_args()

    times: dict[str, list[tuple[float, float]]] = {
        "baseline": [],
        "service": [],
        "write": [],
        "http": [],
    }
    with bench_database() as database:
        clear()
        seed_portfolio(args.tunes, 0)
        ids = dict(FineTune.objects.values_list("slug", "pk"))
        slugs = sorted(ids)
        first, second = make_rows(args.rows, slugs), make_rows(args.rows, slugs, bump=1)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bare_usage (tune_id bigint NOT NULL, day date NOT NULL, "
                "source varchar(64) NOT NULL, queries bigint NOT NULL, "
                "input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, "
                "cost_usd numeric(16, 4), quality_score double precision, "
                "UNIQUE (tune_id, day, source))"
            )
        texts = as_csv(first, ids), as_csv(second, ids)
        validated = [validate_usage(frame_from_records(rows)) for rows in (first, second)]
        bodies = [json.dumps({"records": rows}).encode() for rows in (first, second)]
        _, key = TeamAPIKey.objects.create_key(
            name="bench", team=Team.objects.get(slug="bench"), can_ingest=True
        )
        server = Server(database)
        try:
            server.post(bodies[0], key)  # warm the worker up (imports, connection)
            empty_usage()
            for _ in range(args.rounds):
                baseline = []
                for text in texts:
                    empty_bare()  # off the clock, like emptying the usage table for the others
                    baseline.append(timed(raw_copy, text)[0])
                times["baseline"].append(tuple(baseline))
                empty_usage()
                times["write"].append(tuple(timed(write_usage, batch)[0] for batch in validated))
                empty_usage()
                times["service"].append(
                    tuple(
                        timed(ingest_usage, frame_from_records(rows), team_ids=None)[0]
                        for rows in (first, second)
                    )
                )
                empty_usage()
                times["http"].append(tuple(timed(server.post, body, key)[0] for body in bodies))
                # Every path must have written the second batch's values over the first's.
                stored = set(UsageRecord.objects.values_list("queries", flat=True))
                assert UsageRecord.objects.count() == args.rows
                assert stored == {r["queries"] for r in second}
                empty_usage()
        finally:
            server.stop()

    rates = {
        name: tuple(args.rows / median([run[i] for run in runs]) for i in (0, 1))
        for name, runs in times.items()
    }
    # Both baseline columns time one operation (COPY into the emptied table): one median over
    # all their runs, so neither column gains from which of the two ran second, warmer.
    pooled = args.rows / median([t for run in times["baseline"] for t in run])
    rates["baseline"] = (pooled, pooled)
    print(
        f"Ingesting one batch of {args.rows:,} usage rows over {args.tunes} tunes on "
        f"PostgreSQL (median of {args.rounds}): into an empty table, then the same keys again "
        "with new values."
    )
    labels = {
        "baseline": "raw COPY into a bare table",
        "write": "  of which the write (write_usage)",
        "service": "services.usage.ingest_usage",
        "http": "HTTP API (gunicorn, production)",
    }
    print(f"{'':34}{'insert':>14}{'÷ COPY':>8}{'replace':>14}{'÷ COPY':>8}")
    base = rates["baseline"]
    for name, (insert, replace) in rates.items():
        print(
            f"{labels[name]:34}{insert:>8,.0f} rows/s{insert / base[0]:>7.2f}x"
            f"{replace:>8,.0f} rows/s{replace / base[1]:>7.2f}x"
        )


if __name__ == "__main__":
    main()
