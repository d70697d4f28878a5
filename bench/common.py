"""What the benchmarks share: Django set up on a throwaway database, synthetic seeded data
written with ``COPY``, and a child process for the figures only a fresh process can give
(peak memory).

The configured ``DATABASE_URL`` names the server and a database prefix; the benchmark creates
``<name>_run`` beside it, migrates it, and drops it at the end.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from tracker.models import (  # noqa: E402
    CatalogModel,
    DecisionPolicy,
    FineTune,
    ModelPrice,
    Team,
    TunePrice,
)

AS_OF = date(2026, 6, 30)
MODELS = 20


#: The database ``DATABASE_URL`` names; the benchmarks' own are named after it.
CONFIGURED_NAME = settings.DATABASES["default"]["NAME"]


@contextmanager
def bench_database(suffix: str = "_run"):
    """A fresh, migrated ``<name><suffix>`` database for the duration; dropped afterwards.
    Nested ones stay side by side (the innermost must be in use when each is left)."""
    if connection.vendor != "postgresql":
        sys.exit("Benchmarks measure PostgreSQL: set DATABASE_URL=postgres://…/<name>.")
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{CONFIGURED_NAME}{suffix}"
    old_name = database["NAME"]  # create_test_db returns the new name, not this one
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield database["NAME"]
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def database_url(name: str) -> str:
    """``DATABASE_URL`` pointing at database ``name`` on the configured server."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def copy_in(table: str, columns: list[str], text: str) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        ) as copy,
    ):
        copy.write(text)


def copy_out(sql: str) -> int:
    """The bare read: ``COPY (sql) TO STDOUT`` into memory; returns the bytes read."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
        for block in copy:
            buffer.write(block)
    return buffer.tell()


def clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tracker_usagerecord, tracker_flag, tracker_evaluation, tracker_tuneprice, "
            "tracker_changelogentry, tracker_finetune, tracker_modelprice, tracker_catalogmodel, "
            "tracker_team_members, tracker_team CASCADE"
        )


def seed_portfolio(tunes: int, days: int, *, sources: int = 1, seed: int = 7) -> int:
    """``tunes`` deployed tunes with daily usage from ``sources`` sources on each of the last
    ``days`` days (written day by day), trained (and priced) on one of the first four weeks'
    days, as a portfolio trained over time is; catalog models used both as base and as
    alternative, every other one with a price cut ``days // 3`` days before ``AS_OF``. Returns
    the number of usage rows."""
    rng = np.random.default_rng(seed)
    owner, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"email": "bench@example.com"}
    )
    team = Team.objects.create(name="Bench", slug="bench")
    team.members.add(owner)
    DecisionPolicy.objects.get_or_create(pk=1)
    models = CatalogModel.objects.bulk_create(
        CatalogModel(provider="bench", name=f"model-{m}", version="1") for m in range(MODELS)
    )
    ModelPrice.objects.bulk_create(
        ModelPrice(
            model=m,
            effective_from=AS_OF - timedelta(days=days + 30),
            input_usd_per_mtok=1 + i,
            output_usd_per_mtok=4 + i,
        )
        for i, m in enumerate(models)
    )
    ModelPrice.objects.bulk_create(
        ModelPrice(
            model=m,
            effective_from=AS_OF - timedelta(days=days // 3),
            input_usd_per_mtok=0.8 * (1 + i),
            output_usd_per_mtok=0.8 * (4 + i),
        )
        for i, m in enumerate(models)
        if i % 2 == 0
    )
    first_day = AS_OF - timedelta(days=days - 1)
    trained = [first_day + timedelta(days=i % min(28, max(days, 1))) for i in range(tunes)]
    FineTune.objects.bulk_create(
        (
            FineTune(
                name=f"Bench tune {i}",
                slug=f"bench-tune-{i}",
                team=team,
                owner=owner,
                status=FineTune.Status.DEPLOYED,
                base_model=models[i % MODELS],
                alternative=models[(i + 1) % MODELS],
                task_description="Synthetic",
                labelled_examples=5000,
                upfront_cost=20_000,
                retrain_cost=5_000,
                monthly_fixed_cost=300,
                deployed_on=trained[i],
                last_trained_on=trained[i],
            )
            for i in range(tunes)
        ),
        batch_size=5000,
    )
    ids = np.array(FineTune.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    TunePrice.objects.bulk_create(
        (
            TunePrice(
                tune_id=int(t),
                effective_from=trained[i],
                input_usd_per_mtok="0.3",
                output_usd_per_mtok="1.2",
            )
            for i, t in enumerate(ids)
        ),
        batch_size=5000,
    )
    # Day by day, every tune's rows together, as a nightly feed writes them: a tune's rows lie
    # a page apart in the table, not side by side (which would flatter any read by tune). The
    # last day is written after the vacuum, as the night's feed lands before the night's run.
    with connection.cursor() as cursor:  # vacuumed below; autovacuum would wake mid-run
        cursor.execute("ALTER TABLE tracker_usagerecord SET (autovacuum_enabled = false)")
    day_list = [(AS_OF - timedelta(days=d)).isoformat() for d in range(days)][::-1]
    per_day = len(ids) * sources
    block = max(1, 500_000 // max(per_day, 1))  # days at a time, so seeding stays small
    rows = 0
    for start in range(0, max(days - 1, 0), block):
        rows += _write_usage(ids, day_list[start : min(start + block, days - 1)], sources, rng)
    vacuum()
    rows += _write_usage(ids, day_list[days - 1 :], sources, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return rows


def _write_usage(ids: np.ndarray, days: list[str], sources: int, rng: np.random.Generator) -> int:
    """A usage row per tune, source and day, day after day; returns how many."""
    if not days:
        return 0
    day_col = np.repeat(days, len(ids) * sources)
    tune_col = np.tile(np.repeat(ids, sources), len(days))
    source_col = np.tile([f"src{s}" for s in range(sources)], len(ids) * len(days))
    queries = rng.integers(500, 50_000, len(tune_col))
    frame = pd.DataFrame(
        {
            "tune_id": tune_col,
            "day": day_col,
            "source": source_col,
            "queries": queries,
            "input_tokens": queries * 800,
            "output_tokens": queries * 150,
            "updated_at": "2026-07-01 00:00:00+00",
        }
    )
    copy_in("tracker_usagerecord", list(frame.columns), frame.to_csv(header=False, index=False))
    return len(frame)


def vacuum() -> None:
    """Statistics, and the visibility map autovacuum keeps on a table that only grows (what
    lets a read come from an index alone)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def point_tunes_at_latest_evaluations() -> None:
    """``FineTune.latest_evaluation`` for evaluations written straight into the table, as the
    evaluation service keeps it (the migration's own backfill)."""
    from importlib import import_module

    from django.apps import apps

    import_module("tracker.migrations.0010_latest_evaluation_on_tune").point_at_latest(apps, None)
