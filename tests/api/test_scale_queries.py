"""Every list, the catalog and tune create/edit cost the same number of queries however many
tunes exist (and however long a tune's own history is), and the catalog counts stay right when a
model is used both as base and as alternative."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    ChangeLogEntryFactory,
    EvaluationFactory,
    FineTuneFactory,
    FlagFactory,
    TuneAliasFactory,
    TunePriceFactory,
    UsageRecordFactory,
)
from tracker.models import FineTune, Flag, TuneMonthSaving, Verdict
from tracker.services.savings import refresh_savings


def queries(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
        if getattr(response, "streaming", False):  # the CSV reads its rows as it is sent
            b"".join(response.streaming_content)
    return len(captured.captured_queries), response


def more_tunes(world, count: int) -> None:
    for team in (world.team_a, world.team_b):
        FineTuneFactory.create_batch(
            count, team=team, base_model=world.base, alternative=world.frontier
        )
        # Used both ways: the join-then-count shape multiplied these rows.
        FineTuneFactory.create_batch(
            count, team=team, base_model=world.frontier, alternative=world.base
        )


def catalog_calls(world):
    client = world.client_a()
    return {
        "list": lambda: client.get("/api/v1/catalog/"),
        "detail": lambda: client.get(f"/api/v1/catalog/{world.base.pk}/"),
        "tune create": lambda: client.post(
            "/api/v1/tunes/",
            {
                "slug": f"new-{FineTuneFactory._meta.next_sequence()}",
                "name": "New",
                "team": "support",
                "status": "proposed",
                "owner": "alice",
                "base_model": world.base.pk,
                "alternative": world.frontier.pk,
                "task_description": "x",
            },
            format="json",
        ),
        "tune edit": lambda: client.patch(
            "/api/v1/tunes/ticket-triage/",
            {"base_model": world.frontier.pk, "alternative": world.base.pk},
            format="json",
        ),
    }


def test_catalog_and_tune_writes_cost_the_same_queries_at_any_size(world):
    calls = catalog_calls(world)
    small = {}
    for name, call in calls.items():
        small[name], response = queries(call)
        assert response.status_code in (200, 201), (name, response.content)
    more_tunes(world, 20)
    for name, call in calls.items():
        count, response = queries(call)
        assert response.status_code in (200, 201), (name, response.content)
        assert count == small[name], name


def test_catalog_counts_each_relation_for_ones_own_teams(world):
    more_tunes(world, 3)
    client = world.client_a()
    catalog = {m["id"]: m for m in client.get("/api/v1/catalog/").json()["results"]}
    # Team A: ticket-triage + 3 on base (alternative frontier), 3 on frontier (alternative base).
    assert (catalog[world.base.pk]["tune_count"], catalog[world.base.pk]["alternative_count"]) == (
        4,
        3,
    )
    assert (
        catalog[world.frontier.pk]["tune_count"],
        catalog[world.frontier.pk]["alternative_count"],
    ) == (3, 4)
    detail = client.get(f"/api/v1/catalog/{world.frontier.pk}/").json()
    assert (detail["tune_count"], detail["alternative_count"]) == (3, 4)


VERDICTS = [Verdict.KEEP, Verdict.RETIRE, Verdict.WATCH, Verdict.RETRAIN]


def history(tune: FineTune, start: int, count: int) -> None:
    """``count`` more days of everything a tune accumulates: evaluations (a flag opened by the
    last), usage, changes, serving prices and provider model ids."""
    for n in range(start, start + count):
        day = date(2025, 6, 30) - timedelta(days=n)
        verdict = VERDICTS[(n + tune.pk) % len(VERDICTS)]
        evaluation = EvaluationFactory(tune=tune, as_of=day, verdict=verdict)
        open_flags = Flag.objects.filter(tune=tune, kind=verdict, resolved_on__isnull=True)
        if verdict in (Verdict.RETIRE, Verdict.RETRAIN) and not open_flags.exists():
            FlagFactory(opened_by=evaluation, kind=verdict, tune=tune)
        UsageRecordFactory(tune=tune, day=day)
        ChangeLogEntryFactory(tune=tune, day=day)
        TunePriceFactory(tune=tune, effective_from=date(2024, 1, 1) + timedelta(days=n))
        TuneAliasFactory(tune=tune)


def grow(world, tunes: int, days: int, first: int) -> None:
    """``tunes`` more tunes per team with ``days`` of history each; team A's ticket-triage (whose
    own lists are read) gains ``days`` more days."""
    for team, owner in ((world.team_a, world.alice), (world.team_b, world.bob)):
        for tune in FineTuneFactory.create_batch(
            tunes, team=team, owner=owner, base_model=world.base, alternative=world.frontier
        ):
            history(tune, 0, days)
    history(world.tune_a, first, days)
    refresh_savings(as_of=date(2025, 6, 30))  # the overview reads the stored months


def list_calls(world, staff_client):
    api = world.client_a()
    tune = "/api/v1/tunes/ticket-triage"
    admin = {
        name: reverse(f"admin:tracker_{name}_changelist")
        for name in ("finetune", "evaluation", "flag")
    }
    return {
        "teams": lambda: api.get("/api/v1/teams/"),
        "tunes": lambda: api.get("/api/v1/tunes/"),
        "tunes by latest verdict": lambda: api.get("/api/v1/tunes/?verdict=KEEP"),
        "tunes searched": lambda: api.get("/api/v1/tunes/?search=tune"),
        "tunes filtered and ordered": lambda: api.get(
            "/api/v1/tunes/?verdict=RETIRE&status=deployed&search=tune&ordering=-updated_at"
        ),
        "tunes, a later page": lambda: api.get("/api/v1/tunes/?limit=3&offset=3"),
        "tunes as CSV": lambda: api.get("/api/v1/tunes/?format=csv"),
        "tune": lambda: api.get(f"{tune}/"),
        "tune changes": lambda: api.get(f"{tune}/changes/"),
        "tune serving prices": lambda: api.get(f"{tune}/serving-prices/"),
        "tune aliases": lambda: api.get(f"{tune}/aliases/"),
        "tune usage by day": lambda: api.get(f"{tune}/usage/?period=day"),
        "tune usage by month": lambda: api.get(f"{tune}/usage/?period=month"),
        "tune evaluations": lambda: api.get(f"{tune}/evaluations/"),
        "tune latest evaluation": lambda: api.get(f"{tune}/evaluations/latest/"),
        "summary": lambda: api.get("/api/v1/summary/"),
        "flags": lambda: api.get("/api/v1/flags/"),
        "flags, a later page": lambda: api.get("/api/v1/flags/?limit=1&offset=1"),
        "open flags of a team": lambda: api.get("/api/v1/flags/?state=open&team=support"),
        "catalog": lambda: api.get("/api/v1/catalog/"),
        "catalog model prices": lambda: api.get(f"/api/v1/catalog/{world.base.pk}/prices/"),
        "portfolio overview": lambda: staff_client.get("/portfolio/"),
        "portfolio tune page": lambda: staff_client.get("/portfolio/tunes/ticket-triage/"),
        "admin tunes": lambda: staff_client.get(admin["finetune"]),
        "admin tunes by latest verdict": lambda: staff_client.get(
            f"{admin['finetune']}?verdict=RETIRE"
        ),
        "admin evaluations": lambda: staff_client.get(admin["evaluation"]),
        "admin open flags": lambda: staff_client.get(f"{admin['flag']}?state=open"),
        "admin every flag": lambda: staff_client.get(f"{admin['flag']}?q="),
    }


def test_every_list_costs_the_same_queries_at_any_size(world, staff_client):
    calls = list_calls(world, staff_client)
    grow(world, tunes=5, days=3, first=0)
    small = {}
    for name, call in calls.items():
        small[name], response = queries(call)
        assert response.status_code == 200, (name, response.content[:500])
    grow(world, tunes=45, days=5, first=3)
    assert FineTune.objects.count() == 2 + 2 * 50
    grown = {}
    for name, call in calls.items():
        grown[name], response = queries(call)
        assert response.status_code == 200, (name, response.content[:500])
    assert grown == small
    assert small["flags"] == 3 and small["tunes"] == 3  # a count and a page: none was empty
    assert TuneMonthSaving.objects.count() > 50 * 2  # the overview summed rows of every tune


def test_pages_hold_every_row_once_in_the_lists_order(world):
    """A later page is read by its ids: walked page by page, a list is the list read at once,
    ties (equal names) included."""
    FineTuneFactory.create_batch(
        20, team=world.team_a, name="Same name", base_model=world.base, alternative=world.frontier
    )
    grow(world, tunes=3, days=4, first=0)
    api = world.client_a()
    for url, key in (("/api/v1/tunes/", "slug"), ("/api/v1/flags/", "id")):
        whole = [row[key] for row in api.get(f"{url}?limit=500").json()["results"]]
        paged = []
        for offset in range(0, len(whole), 4):
            page = api.get(f"{url}?limit=4&offset={offset}").json()["results"]
            paged += [row[key] for row in page]
        assert paged == whole, url
        assert len(set(whole)) == len(whole) > 4, url
