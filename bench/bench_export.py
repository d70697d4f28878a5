"""How much memory does streaming the tune CSV save over building it whole?

    .venv/bin/python bench/bench_export.py [--tunes 10000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tunefolio_dev \
        .venv/bin/python bench/bench_export.py

Runs in a throwaway test database (created and destroyed here). Seeds N tunes with one
evaluation each (a reason and the full figures), then measures the peak Python memory
(tracemalloc) of:

* baseline: what a first version would do — ``list()`` the same rows, write the whole CSV into
  one string and return it;
* streaming: ``tracker.selectors.export.tune_csv_lines`` — the rows read with
  ``iterator(chunk_size=2000)`` and each line handed on as it is written, as the
  ``StreamingHttpResponse`` of ``GET /api/v1/tunes/?format=csv`` does.

Prints both peaks, the ratio (baseline ÷ streaming) measured in this run, and the time of each.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import OuterRef, Subquery  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

from tracker.models import CatalogModel, Evaluation, FineTune, Team  # noqa: E402
from tracker.selectors.export import tune_csv_lines, tune_rows  # noqa: E402

AS_OF = date(2026, 3, 2)


def seed(tunes: int) -> None:
    owner = get_user_model().objects.create_user("bench", "bench@example.com")
    team = Team.objects.create(name="Bench", slug="bench")
    model = CatalogModel.objects.create(
        provider="bench", name="model", version="1", shutdown_on=date(2026, 12, 31)
    )
    FineTune.objects.bulk_create(
        FineTune(
            name=f"Bench tune {i}", slug=f"bench-tune-{i}", team=team, owner=owner,
            base_model=model, status="deployed", deployed_on=date(2025, 1, 1),
            last_trained_on=date(2025, 1, 1), task_description="Sorts tickets. " * 10,
        )
        for i in range(tunes)
    )  # fmt: skip
    figures = {f"figure_{k}": k * 1.5 for k in range(40)} | {"payback_months": 7.5}
    Evaluation.objects.bulk_create(
        Evaluation(
            tune_id=pk, as_of=AS_OF, verdict="KEEP", monthly_net_saving=1234.56,
            unrecovered_cost=0, reason="Pays back in 7.5 months, inside its 14-month lifetime. "
            * 3, figures=figures, engine_version="bench",
        )
        for pk in FineTune.objects.values_list("pk", flat=True)
    )  # fmt: skip
    FineTune.objects.update(  # as the evaluation service keeps it
        latest_evaluation_id=Subquery(Evaluation.objects.filter(tune=OuterRef("pk")).values("pk"))
    )


def baseline() -> int:
    rows = list(tune_rows(FineTune.objects.all()))  # every row in memory first
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return len(buffer.getvalue())


def streaming() -> int:
    return sum(len(line) for line in tune_csv_lines(FineTune.objects.all()))


def measure(function) -> tuple[int, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    size = function()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=10_000, help="tunes to export (10,000)")
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        seed(args.tunes)
        base_peak, base_s, base_size = measure(baseline)
        stream_peak, stream_s, stream_size = measure(streaming)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    assert base_size == stream_size, "both paths must write the same CSV"
    mb = 1024 * 1024
    print(f"{args.tunes:,} tunes on {connection.vendor}, {stream_size / mb:.1f} MB of CSV")
    print(f"baseline (list, then one string): peak {base_peak / mb:7.1f} MB in {base_s:.2f} s")
    print(
        f"streaming (iterator, line by line): peak {stream_peak / mb:7.1f} MB in {stream_s:.2f} s"
    )
    print(f"peak memory ratio (baseline ÷ streaming): {base_peak / stream_peak:.1f}×")


if __name__ == "__main__":
    main()
