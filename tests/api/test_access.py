"""Who sees and does what: team isolation on every endpoint, scopes, keys, sessions and CSRF."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from tests.api.helpers import error_of, key_client, make_key, usage_row
from tests.factories import ChangeLogEntryFactory, UsageRecordFactory
from tracker.models import (
    ChangeLogEntry,
    Evaluation,
    FineTune,
    TeamAPIKey,
    TunePrice,
    UsageRecord,
)
from tracker.services.evaluation import evaluate_portfolio

B_TUNE = "/api/v1/tunes/clause-review"

#: Every route that names a tune, with a request that would succeed on one's own tune.
TUNE_ROUTES = [
    ("get", "/", None),
    ("patch", "/", {"name": "Renamed"}),
    ("post", "/retire/", {}),
    ("get", "/changes/", None),
    ("post", "/changes/", {"day": "2025-06-01", "kind": "task_spec", "summary": "New rule"}),
    ("get", "/serving-prices/", None),
    (
        "post",
        "/serving-prices/",
        {"effective_from": "2025-06-01", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
    ),
    ("get", "/usage/", None),
    ("get", "/evaluations/", None),
    ("get", "/evaluations/latest/", None),
    ("post", "/evaluate/", {}),
]


def team_b_state(world) -> tuple:
    tune = FineTune.objects.get(pk=world.tune_b.pk)
    return (
        tune.name,
        tune.status,
        ChangeLogEntry.objects.filter(tune=tune).count(),
        TunePrice.objects.filter(tune=tune).count(),
        Evaluation.objects.filter(tune=tune).count(),
        UsageRecord.objects.filter(tune=tune).count(),
    )


@pytest.fixture
def lived_in(world):
    """Both tunes with usage, a change and an evaluation, so every route has data to leak."""
    for tune in (world.tune_a, world.tune_b):
        UsageRecordFactory(tune=tune, day=date(2025, 6, 1))
        ChangeLogEntryFactory(tune=tune, day=date(2025, 5, 1))
    evaluate_portfolio(as_of=date(2025, 6, 30))
    return world


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "suffix", "body"), TUNE_ROUTES)
def test_another_teams_tune_is_not_found_on_every_route(lived_in, method, suffix, body):
    before = team_b_state(lived_in)
    response = getattr(lived_in.client_a(), method)(B_TUNE + suffix, body, format="json")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "not_found",
        "message": "No such tune in your team(s).",
        "details": [],
    }
    assert team_b_state(lived_in) == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "suffix", "body"), TUNE_ROUTES)
def test_ones_own_tune_answers_on_every_route(lived_in, method, suffix, body):
    response = getattr(lived_in.client_a(), method)(
        "/api/v1/tunes/ticket-triage" + suffix, body, format="json"
    )
    assert response.status_code in (200, 201), response.content


@pytest.mark.django_db
def test_lists_show_only_ones_own_teams(lived_in):
    client = lived_in.client_a()
    tunes = client.get("/api/v1/tunes/").json()
    assert [t["slug"] for t in tunes["results"]] == ["ticket-triage"]
    assert tunes["count"] == 1
    assert client.get("/api/v1/tunes/", {"team": "legal"}).json()["count"] == 0
    assert client.get("/api/v1/tunes/", {"search": "clause"}).json()["count"] == 0
    assert client.get("/api/v1/teams/").json() == [{"slug": "support", "name": "Support"}]
    summary = client.get("/api/v1/summary/").json()
    assert summary["tunes"] == 1
    assert client.get("/api/v1/summary/", {"team": "legal"}).json()["tunes"] == 0
    catalog = {m["id"]: m for m in client.get("/api/v1/catalog/").json()["results"]}
    assert catalog[lived_in.base.pk]["tune_count"] == 1  # team B's tune is not counted


@pytest.mark.django_db
def test_a_batch_naming_another_teams_tune_writes_nothing(lived_in):
    before = UsageRecord.objects.count()
    response = lived_in.client_a().post(
        "/api/v1/usage/",
        {"records": [usage_row(day="2025-06-02"), usage_row(tune="clause-review")]},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == [
        {"row": 1, "field": "tune", "message": "No tune with this slug in your team(s)."}
    ]
    assert UsageRecord.objects.count() == before


@pytest.mark.django_db
def test_a_key_cannot_register_tunes_in_another_team_or_for_its_members(world):
    client = world.client_a()
    body = {"name": "Sneaky", "base_model": world.base.pk, "owner": "alice", "team": "legal"}
    response = client.post("/api/v1/tunes/", body, format="json")
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "team"
    response = client.post(
        "/api/v1/tunes/", {**body, "team": "support", "owner": "bob"}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["details"][0] == {
        "row": None,
        "field": "owner",
        "message": "No member 'bob' in team support.",
    }
    assert not FineTune.objects.filter(name="Sneaky").exists()


@pytest.mark.django_db
def test_the_catalog_is_shared(world):
    ids_a = [m["id"] for m in world.client_a().get("/api/v1/catalog/").json()["results"]]
    ids_b = [m["id"] for m in world.client_b().get("/api/v1/catalog/").json()["results"]]
    assert ids_a == ids_b
    assert set(ids_a) == {world.base.pk, world.frontier.pk}
    response = world.client_a().patch(
        f"/api/v1/catalog/{world.base.pk}/", {"shutdown_on": "2026-01-31"}, format="json"
    )
    assert response.status_code == 200
    assert world.client_b().get(f"/api/v1/catalog/{world.base.pk}/").json()["shutdown_on"] == (
        "2026-01-31"
    )


# --- Scopes --------------------------------------------------------------------------------------

READ = ("get", "/api/v1/tunes/", None)
INGEST = ("post", "/api/v1/usage/", {"records": [usage_row()]})
WRITE = (
    "post",
    "/api/v1/tunes/ticket-triage/changes/",
    {"day": "2025-06-01", "kind": "note", "summary": "x"},
)
WRITE_CATALOG = ("post", "/api/v1/catalog/", {"provider": "p", "name": "n", "version": "1"})
EVALUATE = ("post", "/api/v1/tunes/ticket-triage/evaluate/", {})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scopes", "request_", "allowed"),
    [
        ({"ingest"}, READ, False),
        ({"ingest"}, INGEST, True),
        ({"ingest"}, WRITE, False),
        ({"read"}, READ, True),
        ({"read"}, INGEST, False),
        ({"read"}, WRITE, False),
        ({"read"}, WRITE_CATALOG, False),
        ({"read"}, EVALUATE, False),
        ({"write"}, READ, False),
        ({"write"}, INGEST, False),
        ({"write"}, WRITE, True),
        ({"write"}, WRITE_CATALOG, False),
        ({"write"}, EVALUATE, True),
        ({"catalog"}, WRITE_CATALOG, True),
        ({"catalog"}, WRITE, False),
        ({"catalog"}, READ, False),
    ],
)
def test_scopes_are_enforced(world, scopes, request_, allowed):
    secret = make_key(
        world.team_a,
        ingest="ingest" in scopes,
        read="read" in scopes,
        write="write" in scopes,
        catalog="catalog" in scopes,
    )
    method, url, body = request_
    response = getattr(key_client(secret), method)(url, body, format="json")
    if allowed:
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code == 403
        scope = {"get": "read"}.get(method, "ingest" if url.endswith("/usage/") else "write")
        scope = "catalog" if request_ is WRITE_CATALOG else scope
        assert error_of(response) == {
            "code": "missing_scope",
            "message": f"This API key lacks the '{scope}' scope.",
            "details": [],
        }
        assert UsageRecord.objects.count() == 0
        assert ChangeLogEntry.objects.count() == 0


@pytest.mark.django_db
def test_no_credentials_get_401_with_the_scheme(world):
    response = APIClient().get("/api/v1/tunes/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Api-Key")
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["wrong secret", "unknown prefix", "revoked", "expired", "junk"])
def test_bad_keys_get_401(world, state):
    secret = world.key_a
    key = TeamAPIKey.objects.get(prefix=secret.split(".")[0])
    if state == "wrong secret":
        secret = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    elif state == "unknown prefix":
        secret = "zzzzzzzz." + secret.split(".")[1]
    elif state == "revoked":
        key.revoked = True
        key.save()
    elif state == "expired":
        key.expiry_date = timezone.now() - timedelta(seconds=1)
        key.save()
    else:
        secret = "\x00"
    response = key_client(secret).get("/api/v1/tunes/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


@pytest.mark.django_db
def test_keys_are_stored_hashed(world):
    key = TeamAPIKey.objects.get(prefix=world.key_a.split(".")[0])
    assert world.key_a.split(".")[1] not in key.hashed_key
    assert key.hashed_key.startswith("sha512$$")


# --- People --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_person_sees_the_teams_they_belong_to(lived_in):
    client = APIClient()
    client.force_authenticate(lived_in.alice)
    assert [t["slug"] for t in client.get("/api/v1/tunes/").json()["results"]] == ["ticket-triage"]
    assert client.get(B_TUNE + "/").status_code == 404


@pytest.mark.django_db
def test_a_superuser_sees_every_team(lived_in):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = APIClient()
    client.force_authenticate(admin)
    slugs = sorted(t["slug"] for t in client.get("/api/v1/tunes/").json()["results"])
    assert slugs == ["clause-review", "ticket-triage"]


@pytest.mark.django_db
def test_a_person_in_no_team_may_only_read(world):
    loner = get_user_model().objects.create_user("loner", "loner@example.com", "pw")
    client = APIClient()
    client.force_authenticate(loner)
    assert client.get("/api/v1/tunes/").json()["count"] == 0
    assert client.get("/api/v1/catalog/").json()["count"] == 2
    response = client.post("/api/v1/catalog/", WRITE_CATALOG[2], format="json")
    assert response.status_code == 403
    assert error_of(response)["message"] == (
        "This account lacks the 'tracker.add_catalogmodel' permission."
    )


@pytest.mark.django_db
def test_sessions_need_the_csrf_token(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.alice)
    url = "/api/v1/tunes/ticket-triage/changes/"
    body = {"day": "2025-06-01", "kind": "note", "summary": "Seen in review"}
    refused = client.post(url, body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in error_of(refused)["message"]
    assert ChangeLogEntry.objects.count() == 0

    token = get_random_string(32)
    client.cookies["csrftoken"] = token
    accepted = client.post(url, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    assert accepted.json()["author"] == "alice"
    assert ChangeLogEntry.objects.get().summary == "Seen in review"


@pytest.mark.django_db
def test_money_is_not_leaked_through_other_teams_prices(world):
    TunePrice.objects.create(
        tune=world.tune_b,
        effective_from=date(2025, 1, 1),
        input_usd_per_mtok=Decimal("9"),
        output_usd_per_mtok=Decimal("9"),
    )
    assert world.client_a().get(B_TUNE + "/serving-prices/").status_code == 404
    assert world.client_b().get(B_TUNE + "/serving-prices/").json()[0]["input_usd_per_mtok"] == 9
