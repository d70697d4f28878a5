"""Every list endpoint, the summary, the portfolio pages and the admin changelists at growing
portfolio sizes: queries and time, against the same endpoint at the first size.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tunefolio_bench \\
        .venv/bin/python bench/bench_endpoints.py --sizes 1000,10000

For each size, on a fresh synthetic portfolio (``common.seed_portfolio``: a usage row a day for
``--days`` days, tunes deployed over its first four weeks, a serving price, a provider model id
and two change log entries; a weekly evaluation over the last ``--evaluations`` weeks with a mix
of verdicts; an open flag on each tune whose latest
verdict is retire or retrain and a resolved one on every fifth tune), each endpoint is requested
through Django's test client (the test settings: ``DEBUG`` off, caching and middleware as in
production) ``--rounds`` times after one warm-up request. Prints each endpoint's queries and
median time at each size, and the ratio of its time at the last size to its time at the first
(the baseline, measured in the same run). A ratio near 1 means the endpoint costs the same
however many tunes exist; the CSV export and the overview read every tune by design.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from common import (
    AS_OF,
    bench_database,
    copy_in,
    median,
    point_tunes_at_latest_evaluations,
    seed_portfolio,
    timed,
)
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tracker import stored
from tracker.models import (
    CatalogModel,
    ChangeLogEntry,
    Evaluation,
    FineTune,
    PolicyVersion,
    Team,
    TeamAPIKey,
    TuneAlias,
)
from tracker.services.savings import refresh_savings

#: Latest verdicts in about these shares; the earlier weeks are drawn from the same mix.
VERDICT_SHARES = {"KEEP": 0.6, "WATCH": 0.15, "RETRAIN": 0.1, "RETIRE": 0.1, "ITERATE": 0.05}
FIGURES = {"payback_months": 4.2, "break_even_on": "2026-09-01", "monthly_net_saving": 812.5}
#: Stored the way evaluations store them (``tracker/stored.py``): findings by code, short keys.
FINDINGS = ["pays_off!", "training_not_yet_recovered"]


def seed_history(weeks: int, seed: int = 11) -> None:
    """Evaluations, flags, change log entries and provider model ids for every tune."""
    rng = np.random.default_rng(seed)
    ids = np.array(FineTune.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    policy, _ = PolicyVersion.objects.get_or_create(
        digest="bench" + "0" * 59, defaults={"values": {"lookback_days": 30}}
    )
    days = [(AS_OF - timedelta(weeks=w)).isoformat() for w in range(weeks)]
    verdicts = rng.choice(
        list(VERDICT_SHARES), p=list(VERDICT_SHARES.values()), size=len(ids) * weeks
    )
    frame = pd.DataFrame(
        {
            "tune_id": np.repeat(ids, weeks),
            "as_of": np.tile(days, len(ids)),
            "verdict": verdicts,
            "reason": "Saves $812.50 a month against the alternative; pays back in 4.2 months.",
            "monthly_net_saving": rng.integers(-500, 5000, len(verdicts)),
            "unrecovered_cost": rng.integers(0, 20_000, len(verdicts)),
            "figures": json.dumps(stored.pack_figures(FIGURES)),
            "stored_findings": json.dumps(FINDINGS),
            "policy_id": policy.pk,
            "engine_version": "bench",
            "created_at": "2026-07-01 00:00:00+00",
        }
    )
    copy_in("tracker_evaluation", list(frame.columns), frame.to_csv(header=False, index=False))
    point_tunes_at_latest_evaluations()

    evaluations = pd.DataFrame(
        Evaluation.objects.values_list("pk", "tune_id", "as_of", "verdict"),
        columns=["id", "tune_id", "as_of", "verdict"],
    ).sort_values(["tune_id", "as_of"])
    latest = evaluations.groupby("tune_id").tail(1)
    flagged = latest[latest["verdict"].isin(["RETRAIN", "RETIRE"])]
    open_flags = pd.DataFrame(
        {
            "tune_id": flagged["tune_id"],
            "kind": flagged["verdict"],
            "opened_by_id": flagged["id"],
            "opened_on": flagged["as_of"].astype(str),
            "note": "",
        }
    )
    first_two = evaluations.groupby("tune_id").head(2)
    opened = first_two.groupby("tune_id").head(1).set_index("tune_id")
    resolved = first_two.groupby("tune_id").tail(1).set_index("tune_id")
    every_fifth = opened.index[::5].intersection(resolved.index)
    every_fifth = every_fifth[
        opened.loc[every_fifth, "id"].to_numpy() != resolved.loc[every_fifth, "id"].to_numpy()
    ]
    resolved_flags = pd.DataFrame(
        {
            "tune_id": every_fifth,
            "kind": "RETRAIN",
            "opened_by_id": opened.loc[every_fifth, "id"].to_numpy(),
            "opened_on": opened.loc[every_fifth, "as_of"].astype(str).to_numpy(),
            "resolved_by_id": resolved.loc[every_fifth, "id"].to_numpy(),
            "resolved_on": resolved.loc[every_fifth, "as_of"].astype(str).to_numpy(),
            "note": "",
        }
    )
    for flags in (open_flags, resolved_flags):
        # Quoted text, so the empty note is an empty string rather than NULL.
        text = flags.to_csv(header=False, index=False, quoting=csv.QUOTE_NONNUMERIC)
        copy_in("tracker_flag", list(flags.columns), text)

    team = Team.objects.get(slug="bench")
    TuneAlias.objects.bulk_create(
        (TuneAlias(tune_id=int(t), team=team, model_id=f"ft:bench:{t}") for t in ids),
        batch_size=5000,
    )
    ChangeLogEntry.objects.bulk_create(
        (
            ChangeLogEntry(
                tune_id=int(t),
                day=AS_OF - timedelta(days=d),
                kind=ChangeLogEntry.Kind.TASK_SPEC,
                meaningful=bool(d % 2),
                summary="Spec changed",
                author="bench",
            )
            for t in ids
            for d in (10, 40)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:  # as autovacuum leaves a table: statistics, visibility
        cursor.execute("VACUUM (ANALYZE)")


def clients() -> tuple[APIClient, Client]:
    team = Team.objects.get(slug="bench")
    _, secret = TeamAPIKey.objects.create_key(
        name="bench", team=team, can_read=True, can_write=True
    )
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=secret)
    staff = get_user_model().objects.filter(username="bench-staff").first()
    if staff is None:
        staff = get_user_model().objects.create_superuser("bench-staff", "staff@example.com")
    browser = Client()
    browser.force_login(staff)
    return api, browser


def endpoints(api: APIClient, browser: Client) -> dict:
    """Name → the request; the tune whose own lists are read is the middle one by id."""
    ids = list(FineTune.objects.order_by("pk").values_list("slug", flat=True))
    tune = f"/api/v1/tunes/{ids[len(ids) // 2]}"
    model = CatalogModel.objects.order_by("pk").first()
    assert model is not None
    admin = {
        name: reverse(f"admin:tracker_{name}_changelist")
        for name in ("finetune", "evaluation", "flag")
    }
    return {
        "API teams": lambda: api.get("/api/v1/teams/"),
        "API tunes": lambda: api.get("/api/v1/tunes/"),
        "API tunes, last page": lambda: api.get(f"/api/v1/tunes/?offset={max(0, len(ids) - 50)}"),
        "API tunes by verdict": lambda: api.get("/api/v1/tunes/?verdict=RETIRE"),
        "API tunes searched": lambda: api.get("/api/v1/tunes/?search=tune%2042"),
        "API tunes by update": lambda: api.get("/api/v1/tunes/?ordering=-updated_at"),
        "API tunes as CSV": lambda: api.get("/api/v1/tunes/?format=csv"),
        "API tune changes": lambda: api.get(f"{tune}/changes/"),
        "API tune serving prices": lambda: api.get(f"{tune}/serving-prices/"),
        "API tune aliases": lambda: api.get(f"{tune}/aliases/"),
        "API tune usage by week": lambda: api.get(f"{tune}/usage/?period=week&end={AS_OF}"),
        "API tune evaluations": lambda: api.get(f"{tune}/evaluations/"),
        "API summary": lambda: api.get("/api/v1/summary/"),
        "API flags": lambda: api.get("/api/v1/flags/"),
        "API open flags": lambda: api.get("/api/v1/flags/?state=open"),
        "API catalog": lambda: api.get("/api/v1/catalog/"),
        "API catalog model prices": lambda: api.get(f"/api/v1/catalog/{model.pk}/prices/"),
        "portfolio overview": lambda: browser.get("/portfolio/"),
        "admin tunes": lambda: browser.get(admin["finetune"]),
        "admin tunes by verdict": lambda: browser.get(f"{admin['finetune']}?verdict=RETIRE"),
        "admin evaluations": lambda: browser.get(admin["evaluation"]),
        "admin open flags": lambda: browser.get(f"{admin['flag']}?state=open"),
    }


def request(call) -> tuple[float, int]:
    """One request, its body read to the end: (milliseconds, queries)."""
    cache.clear()  # rate limits count in the cache

    def whole():
        response = call()
        if getattr(response, "streaming", False):
            for _ in response.streaming_content:
                pass
        return response

    with CaptureQueriesContext(connection) as queries:
        seconds, response = timed(whole)
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return seconds * 1000, len(queries)


def use(database: str) -> None:
    """Point the connection at ``database``: every size keeps its own until the end."""
    connection.close()
    settings.DATABASES["default"]["NAME"] = database
    connection.settings_dict["NAME"] = database
    connection.ensure_connection()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="tunes, comma-separated")
    parser.add_argument("--days", type=int, default=60, help="days of usage per tune (60)")
    parser.add_argument("--evaluations", type=int, default=12, help="weekly evaluations (12)")
    parser.add_argument("--rounds", type=int, default=5, help="timed requests each (5)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    databases: dict[int, str] = {}
    calls: dict[int, dict] = {}
    runs: dict[int, dict[str, list[tuple[float, int]]]] = {size: {} for size in sizes}
    with ExitStack() as stack:
        for size in sizes:
            databases[size] = stack.enter_context(bench_database(f"_{size}"))
            seed_portfolio(size, args.days)
            seed_history(args.evaluations)
            # What the nightly run stores after evaluating: the overview reads it.
            seconds, _ = timed(refresh_savings, as_of=timezone.localdate())
            calls[size] = endpoints(*clients())
            print(f"  seeded {size:,} tunes, savings stored in {seconds:.2f} s", file=sys.stderr)
        # Rounds alternate between the sizes, so whatever else loads the machine falls on
        # every size alike.
        for name in calls[sizes[0]]:
            for size in sizes:
                use(databases[size])
                request(calls[size][name])  # warm-up
            for _ in range(args.rounds):
                for size in sizes:
                    use(databases[size])
                    runs[size].setdefault(name, []).append(request(calls[size][name]))
        use(databases[sizes[-1]])  # each database is dropped from the one nested in it
    measured = {
        size: {
            name: (median([ms for ms, _ in times]), times[-1][1])
            for name, times in runs[size].items()
        }
        for size in sizes
    }

    first, last = sizes[0], sizes[-1]
    print(
        f"Endpoints on PostgreSQL: {args.days} days of usage and {args.evaluations} weekly "
        f"evaluations per tune; median of {args.rounds} requests; ratio = time at {last:,} "
        f"tunes ÷ time at {first:,} (the baseline)."
    )
    header = f"{'endpoint':<26}" + "".join(f" {f'{s:,} tunes':>16}" for s in sizes)
    print(f"{header} {'ratio':>7}")
    for name in measured[first]:
        cells = "".join(
            f" {f'{measured[s][name][0]:,.1f} ms / {measured[s][name][1]}':>16}" for s in sizes
        )
        ratio = measured[last][name][0] / measured[first][name][0]
        print(f"{name:<26}{cells} {ratio:>6.2f}×")


if __name__ == "__main__":
    main()
