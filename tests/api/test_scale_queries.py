"""The catalog and tune create/edit cost the same number of queries however many tunes exist,
and the catalog counts stay right when a model is used both as base and as alternative."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import FineTuneFactory


def queries(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
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
