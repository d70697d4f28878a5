"""How much faster is the bulk ingestion path than the obvious per-row loop?

    .venv/bin/python bench/bench_ingest.py [--rows 10000] [--tunes 20]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tunefolio_dev \
        .venv/bin/python bench/bench_ingest.py

Runs in a throwaway test database (created and destroyed here; the configured database is only
used for its engine and server). The same rows go through both paths, twice each: into an empty
table (every row new), then again with changed values (every row replaced):

* baseline: per row, look the tune up by slug and ``UsageRecord.objects.update_or_create(...)``,
  all in one transaction — the loop a first version of an import would have;
* bulk: ``tracker.services.usage.ingest_usage`` — validation vectorised with pandas, one query
  for the tunes, one for the rows it may replace, one ``bulk_create(update_conflicts=True)``.

Prints rows per second for each and the ratio (bulk ÷ baseline) measured in this run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

from tracker.models import CatalogModel, FineTune, Team, UsageRecord  # noqa: E402
from tracker.services.usage import frame_from_records, ingest_usage  # noqa: E402

TODAY = date(2025, 7, 1)


def make_rows(rows: int, tunes: list[str], bump: int = 0) -> list[dict]:
    days = -(-rows // len(tunes))
    records = [
        {
            "tune": slug,
            "day": (TODAY - timedelta(days=d + 1)).isoformat(),
            "source": "gateway",
            "queries": 1000 + d + bump,
            "input_tokens": 800_000 + d + bump,
            "output_tokens": 150_000 + d + bump,
            "cost_usd": 0.42 + bump,
            "quality_score": 0.9,
        }
        for d in range(days)
        for slug in tunes
    ]
    return records[:rows]


def baseline(records: list[dict]) -> None:
    with transaction.atomic():
        for row in records:
            tune = FineTune.objects.get(slug=row["tune"])
            UsageRecord.objects.update_or_create(
                tune=tune,
                day=date.fromisoformat(row["day"]),
                source=row["source"],
                defaults={
                    "queries": row["queries"],
                    "input_tokens": row["input_tokens"],
                    "output_tokens": row["output_tokens"],
                    "cost_usd": row["cost_usd"],
                    "quality_score": row["quality_score"],
                },
            )


def bulk(records: list[dict]) -> None:
    ingest_usage(frame_from_records(records), today=TODAY, chunk_size=len(records))


def timed(function, records) -> float:
    start = time.perf_counter()
    function(records)
    return time.perf_counter() - start


def seed(tunes: int) -> list[str]:
    owner = get_user_model().objects.create_user("bench", "bench@example.com")
    team = Team.objects.create(name="Bench", slug="bench")
    model = CatalogModel.objects.create(provider="bench", name="model", version="1")
    slugs = [f"bench-tune-{i}" for i in range(tunes)]
    for slug in slugs:
        FineTune.objects.create(name=slug, slug=slug, team=team, owner=owner, base_model=model)
    return slugs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows per batch (10,000)")
    parser.add_argument("--tunes", type=int, default=20, help="tunes the rows spread over (20)")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        slugs = seed(args.tunes)
        first, second = make_rows(args.rows, slugs), make_rows(args.rows, slugs, bump=1)
        results = {}
        for name, function in (("baseline", baseline), ("bulk", bulk)):
            UsageRecord.objects.all().delete()
            insert = timed(function, first)
            replace = timed(function, second)
            assert UsageRecord.objects.count() == len(first)
            assert set(UsageRecord.objects.values_list("queries", flat=True)) == {
                r["queries"] for r in second
            }
            results[name] = (len(first) / insert, len(second) / replace)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    print(
        f"Ingesting {args.rows:,} usage rows over {args.tunes} tunes on {connection.vendor} "
        "(into an empty table, then the same keys with new values):"
    )
    print(f"{'':34}{'insert':>16}{'replace':>16}")
    labels = {
        "baseline": "per-row update_or_create loop",
        "bulk": "bulk path (services.usage)",
    }
    for name, (insert, replace) in results.items():
        print(f"{labels[name]:34}{insert:>10,.0f} rows/s{replace:>10,.0f} rows/s")
    ratio_insert = results["bulk"][0] / results["baseline"][0]
    ratio_replace = results["bulk"][1] / results["baseline"][1]
    print(f"{'speed-up (bulk / baseline)':34}{ratio_insert:>15.1f}x{ratio_replace:>15.1f}x")


if __name__ == "__main__":
    main()
