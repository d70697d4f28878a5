"""Every error under /api/ is the JSON envelope, with DEBUG on or off; every write refuses unknown
fields; authenticated answers are never cached."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.helpers import error_of
from tracker.models import ChangeLogEntry, FineTune, ModelPrice, TunePrice

pytestmark = pytest.mark.django_db

LEAKS = ("Traceback", "SELECT", "tracker_", "RuntimeError", "Exception Value")


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def raw_client(world) -> Client:
    """Django's client, answering unhandled exceptions as the server would (no re-raise)."""
    return Client(raise_request_exception=False, HTTP_X_API_KEY=world.key_a)


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/no-such-thing/", "/api/v2/tunes/", "/api/"])
def test_unknown_paths_answer_the_envelope(debug, raw_client, path):
    response = raw_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response) == {
        "code": "not_found",
        "message": f"No API endpoint at {path}.",
        "details": [],
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/tunes/"),
        ("put", "/api/v1/tunes/ticket-triage/"),
        ("delete", "/api/v1/usage/"),
        ("post", "/api/v1/summary/"),
    ],
)
def test_a_wrong_method_answers_the_envelope(debug, raw_client, method, path):
    response = getattr(raw_client, method)(path, content_type="application/json")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response["Allow"]


def test_an_unhandled_exception_answers_the_envelope_and_is_logged(
    debug, raw_client, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM tracker_finetune")

    monkeypatch.setattr("tracker.api.views.portfolio_summary", broken)
    response = raw_client.get("/api/v1/summary/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "server_error"
    for leak in LEAKS:
        assert leak not in response.content.decode()
    if not debug:  # django-csp leaves DEBUG's error pages alone, by design
        assert "script-src 'self'" in response["Content-Security-Policy"]
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


def test_a_bad_host_under_the_api_answers_the_envelope(debug, world):
    response = Client(raise_request_exception=False, HTTP_HOST="evil.example").get(
        "/api/v1/tunes/", HTTP_X_API_KEY=world.key_a
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_pages_outside_the_api_keep_their_own_errors(debug, client):
    response = Client(raise_request_exception=False).get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_authenticated_answers_are_not_cached(world, staff_client):
    for response in (
        world.client_a().get("/api/v1/tunes/"),
        world.client_a().get("/api/v1/tunes/no-such-tune/"),
        world.client_a().post("/api/v1/usage/", {"records": []}, format="json"),
    ):
        assert "no-store" in response["Cache-Control"], response.status_code


# --- Unknown fields -------------------------------------------------------------------------------


def _writes(world):
    """(method, path, a valid body) for every write that takes a body."""
    tune, model = world.tune_a.slug, world.base.pk
    return [
        (
            "post",
            "/api/v1/tunes/",
            {"name": "New tune", "base_model": model, "owner": "alice"},
            FineTune,
        ),
        ("patch", f"/api/v1/tunes/{tune}/", {"name": "Renamed"}, FineTune),
        (
            "post",
            f"/api/v1/tunes/{tune}/changes/",
            {"day": "2025-06-01", "kind": "note", "summary": "New policy"},
            ChangeLogEntry,
        ),
        (
            "post",
            f"/api/v1/tunes/{tune}/serving-prices/",
            {"effective_from": "2025-06-01", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
            TunePrice,
        ),
        ("post", f"/api/v1/tunes/{tune}/evaluate/", {"as_of": "2025-06-30"}, None),
        ("post", f"/api/v1/tunes/{tune}/retire/", {"on": "2025-06-30"}, None),
        (
            "post",
            "/api/v1/catalog/",
            {"provider": "acme", "name": "m", "version": "1"},
            None,
        ),
        ("patch", f"/api/v1/catalog/{model}/", {"version": "2"}, None),
        (
            "post",
            f"/api/v1/catalog/{model}/prices/",
            {"effective_from": "2025-06-01", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2},
            ModelPrice,
        ),
    ]


def _state(world):
    world.tune_a.refresh_from_db()
    world.base.refresh_from_db()
    return (
        FineTune.objects.count(),
        world.tune_a.name,
        world.tune_a.status,
        world.tune_a.upfront_cost,
        ChangeLogEntry.objects.count(),
        TunePrice.objects.count(),
        ModelPrice.objects.count(),
        world.base.version,
        world.tune_a.evaluations.count(),
    )


def test_every_write_refuses_unknown_fields_naming_each(world):
    client = world.client_a()
    for method, path, body, _ in _writes(world):
        before = _state(world)
        typo = {**body, "training_cost": 5, "notes": "x"}
        response = getattr(client, method)(path, typo, format="json")
        assert response.status_code == 400, (method, path, response.content)
        details = error_of(response)["details"]
        unknown = {(d["field"], d["message"]) for d in details}
        assert unknown == {("training_cost", "Unknown field."), ("notes", "Unknown field.")}, (
            method,
            path,
            details,
        )
        assert _state(world) == before, (method, path)


def test_the_same_writes_without_the_unknown_fields_are_accepted(world):
    """The bodies above are valid: the 400s come from the unknown fields alone."""
    client = world.client_a()
    for method, path, body, _ in _writes(world):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code in (200, 201), (method, path, response.content)


def test_the_upfront_cost_typo_no_longer_passes(world):
    response = world.client_a().post(
        "/api/v1/tunes/",
        {"name": "Typo", "base_model": world.base.pk, "owner": "alice", "training_cost": 5},
        format="json",
    )
    assert response.status_code == 400
    assert not FineTune.objects.filter(name="Typo").exists()
