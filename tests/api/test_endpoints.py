"""What each endpoint does, with concrete values: tunes, change log, catalog and prices, usage
read-back, evaluations, the summary — and the protocol around them (errors, limits, docs)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import RequestDataTooBig
from rest_framework.test import APIClient

from tests.api.helpers import TODAY, error_of
from tests.factories import CatalogModelFactory, FineTuneFactory, UsageRecordFactory
from tracker.api.errors import exception_handler
from tracker.models import (
    ChangeLogEntry,
    Evaluation,
    FineTune,
    Flag,
    ModelPrice,
    TunePrice,
    Verdict,
)

# --- Tunes ---------------------------------------------------------------------------------------


def new_tune(world, **overrides) -> dict:
    return {
        "name": "Refund replies",
        "owner": "alice",
        "base_model": world.base.pk,
        "alternative": world.frontier.pk,
        "status": "proposed",
        "labelled_examples": 2400,
        "target_score": 0.9,
        "baseline_score": 0.82,
        "upfront_cost": 18000.5,
        "expected_monthly_queries": 250_000,
        **overrides,
    }


@pytest.mark.django_db
def test_register_read_and_edit_a_tune(world):
    client = world.client_a()
    created = client.post("/api/v1/tunes/", new_tune(world), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["slug"], body["team"], body["owner"], body["status"]) == (
        "refund-replies",
        "support",
        "alice",
        "proposed",
    )
    assert body["upfront_cost"] == 18000.5
    assert body["latest_verdict"] is None
    tune = FineTune.objects.get(slug="refund-replies")
    assert tune.upfront_cost == Decimal("18000.50")
    assert tune.team == world.team_a

    edited = client.patch(
        "/api/v1/tunes/refund-replies/",
        {"status": "deployed", "deployed_on": "2025-06-01", "last_trained_on": "2025-05-20"},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["status"] == "deployed"
    tune.refresh_from_db()
    assert (tune.status, tune.deployed_on) == ("deployed", date(2025, 6, 1))

    assert client.get("/api/v1/tunes/refund-replies/").json()["deployed_on"] == "2025-06-01"


@pytest.mark.django_db
def test_model_rules_are_refused_with_the_field(world):
    client = world.client_a()
    response = client.post(
        "/api/v1/tunes/", new_tune(world, status="deployed", slug="x"), format="json"
    )
    assert response.status_code == 400
    assert "deployed date" in error_of(response)["details"][0]["message"]

    duplicate = client.post("/api/v1/tunes/", new_tune(world, slug="ticket-triage"), format="json")
    assert duplicate.status_code == 400
    assert error_of(duplicate)["details"][0]["field"] == "slug"
    assert FineTune.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("labelled_examples", "12", "Must be an integer."),
        ("need_is_articulable", 1, "Must be a boolean."),
        ("name", 12, "Must be a string."),
        ("target_score", 1.5, "Ensure this value is less than or equal to 1.0."),
        ("base_model", 999_999, "No catalog model with id 999999."),
        ("deployed_on", "1899-12-31", "Must be between 2000-01-01 and 2099-12-31."),
    ],
)
def test_json_types_are_taken_at_their_word(world, field, value, message):
    response = world.client_a().post(
        "/api/v1/tunes/", new_tune(world, **{field: value}), format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == [{"row": None, "field": field, "message": message}]


@pytest.mark.django_db
def test_status_moves_only_between_proposed_and_deployed(world):
    client = world.client_a()
    response = client.patch("/api/v1/tunes/ticket-triage/", {"status": "retired"}, format="json")
    assert response.status_code == 400
    assert FineTune.objects.get(pk=world.tune_a.pk).status == "deployed"


@pytest.mark.django_db
def test_filters_and_search(world):
    other = CatalogModelFactory()
    FineTuneFactory(
        name="Brand voice",
        slug="brand-voice",
        team=world.team_a,
        owner=world.alice,
        status="proposed",
        base_model=other,
        task_description="Sounds like us",
    )
    Evaluation.objects.create(
        tune=world.tune_a,
        as_of=date(2025, 6, 30),
        verdict=Verdict.KEEP,
        reason="ok",
        engine_version="t",
    )
    client = world.client_a()

    def slugs(**query):
        response = client.get("/api/v1/tunes/", query)
        assert response.status_code == 200, response.content
        return [t["slug"] for t in response.json()["results"]]

    assert slugs() == ["brand-voice", "ticket-triage"]
    assert slugs(status="proposed") == ["brand-voice"]
    assert slugs(verdict="KEEP") == ["ticket-triage"]
    assert slugs(base_model=other.pk) == ["brand-voice"]
    assert slugs(search="sounds") == ["brand-voice"]
    assert slugs(team="support", ordering="-name") == ["ticket-triage", "brand-voice"]
    assert slugs(limit=1, offset=1) == ["ticket-triage"]
    for bad in ({"status": "gone"}, {"limit": "0"}, {"offset": "-1"}, {"base_model": "x"}):
        response = client.get("/api/v1/tunes/", bad)
        assert response.status_code == 400, bad
        assert error_of(response)["details"][0]["field"] == next(iter(bad))


@pytest.mark.django_db
def test_retire_resolves_open_flags(world):
    evaluation = Evaluation.objects.create(
        tune=world.tune_a,
        as_of=date(2025, 6, 1),
        verdict=Verdict.RETIRE,
        reason="r",
        engine_version="t",
    )
    flag = Flag.objects.create(
        tune=world.tune_a, kind="RETIRE", opened_by=evaluation, opened_on=date(2025, 6, 1)
    )
    response = world.client_a().post("/api/v1/tunes/ticket-triage/retire/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "retired"
    flag.refresh_from_db()
    assert flag.resolved_on == TODAY
    future = world.client_a().post(
        "/api/v1/tunes/ticket-triage/retire/", {"on": "2025-07-02"}, format="json"
    )
    assert future.status_code == 400


# --- Change log ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_recorded_retraining_restarts_the_clock(world):
    client = world.client_a()
    response = client.post(
        "/api/v1/tunes/ticket-triage/changes/",
        {"day": "2025-06-15", "kind": "retraining", "summary": "Retrained", "cost": 4200},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["author"] == "api key team A"
    assert FineTune.objects.get(pk=world.tune_a.pk).last_trained_on == date(2025, 6, 15)
    client.post(
        "/api/v1/tunes/ticket-triage/changes/",
        {"day": "2025-06-20", "kind": "task_spec", "summary": "Spec", "meaningful": False},
        format="json",
    )
    listed = client.get("/api/v1/tunes/ticket-triage/changes/").json()
    assert [(c["day"], c["kind"], c["cost"]) for c in listed["results"]] == [
        ("2025-06-20", "task_spec", None),
        ("2025-06-15", "retraining", 4200.0),
    ]
    only = client.get("/api/v1/tunes/ticket-triage/changes/", {"meaningful": "false"}).json()
    assert [c["day"] for c in only["results"]] == ["2025-06-20"]


@pytest.mark.django_db
def test_changes_in_the_future_are_refused(world):
    response = world.client_a().post(
        "/api/v1/tunes/ticket-triage/changes/",
        {"day": "2025-07-02", "kind": "note", "summary": "Later"},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "day"
    assert ChangeLogEntry.objects.count() == 0


# --- Catalog and prices --------------------------------------------------------------------------


@pytest.mark.django_db
def test_catalog_models_are_created_and_announcements_recorded(world):
    client = world.client_a()
    created = client.post(
        "/api/v1/catalog/",
        {
            "provider": "anthropic",
            "name": "claude-haiku",
            "version": "4.5",
            "released_on": "2025-05-01",
        },
        format="json",
    )
    assert created.status_code == 201
    model_id = created.json()["id"]
    assert created.json()["tune_count"] == 0
    again = client.post(
        "/api/v1/catalog/",
        {"provider": "anthropic", "name": "claude-haiku", "version": "4.5"},
        format="json",
    )
    assert again.status_code == 400
    patched = client.patch(
        f"/api/v1/catalog/{world.base.pk}/",
        {"shutdown_on": "2025-09-30", "successor": model_id},
        format="json",
    )
    assert patched.status_code == 200
    assert (patched.json()["shutdown_on"], patched.json()["successor"]) == ("2025-09-30", model_id)
    itself = client.patch(f"/api/v1/catalog/{model_id}/", {"successor": model_id}, format="json")
    assert itself.status_code == 400


@pytest.mark.django_db
def test_prices_are_appended_never_rewritten(world):
    client = world.client_a()
    url = f"/api/v1/catalog/{world.base.pk}/prices/"
    appended = client.post(
        url,
        {"effective_from": "2025-08-01", "input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6},
        format="json",
    )
    assert appended.status_code == 201
    for day in ("2025-08-01", "2024-06-01"):
        response = client.post(
            url,
            {"effective_from": day, "input_usd_per_mtok": 9, "output_usd_per_mtok": 9},
            format="json",
        )
        assert response.status_code == 400
        assert error_of(response)["details"][0]["field"] == "effective_from"
    assert [(p["effective_from"], p["input_usd_per_mtok"]) for p in client.get(url).json()] == [
        ("2024-01-01", 0.3),
        ("2025-08-01", 0.15),
    ]
    assert ModelPrice.objects.filter(model=world.base).count() == 2
    assert client.put(url, {}, format="json").status_code == 405
    assert client.delete(url).status_code == 405


@pytest.mark.django_db
def test_serving_prices_are_appended_too(world):
    client = world.client_a()
    url = "/api/v1/tunes/ticket-triage/serving-prices/"
    body = {"effective_from": "2025-01-01", "input_usd_per_mtok": 0.5, "output_usd_per_mtok": 2}
    assert client.post(url, body, format="json").status_code == 201
    assert client.post(url, body, format="json").status_code == 400
    assert TunePrice.objects.filter(tune=world.tune_a).count() == 1


# --- Usage read-back -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_usage_by_day_week_and_month(world):
    # Mon 2025-06-02 .. Sun 2025-06-08 and Mon 2025-06-30, two sources on 06-02.
    for day, queries, cost in [
        (date(2025, 6, 2), 100, Decimal("1.5")),
        (date(2025, 6, 8), 50, None),
        (date(2025, 6, 30), 10, Decimal("0.25")),
    ]:
        UsageRecordFactory(
            tune=world.tune_a,
            day=day,
            queries=queries,
            input_tokens=queries * 10,
            output_tokens=queries,
            cost_usd=cost,
            quality_score=0.8,
        )
    UsageRecordFactory(
        tune=world.tune_a,
        day=date(2025, 6, 2),
        source="billing",
        queries=1,
        input_tokens=10,
        output_tokens=1,
        quality_score=0.9,
    )
    url = "/api/v1/tunes/ticket-triage/usage/"
    client = world.client_a()

    days = client.get(url, {"period": "day", "start": "2025-06-01"}).json()
    assert [(r["period_start"], r["queries"], r["sources"]) for r in days["rows"]] == [
        ("2025-06-02", 101, 2),
        ("2025-06-08", 50, 1),
        ("2025-06-30", 10, 1),
    ]
    assert days["rows"][0]["quality_score"] == pytest.approx(0.85)
    assert days["totals"] == {
        "queries": 161,
        "input_tokens": 1610,
        "output_tokens": 161,
        "cost_usd": 1.75,
    }
    assert (days["start"], days["end"]) == ("2025-06-01", "2025-07-01")

    weeks = client.get(url, {"period": "week", "start": "2025-06-01"}).json()["rows"]
    assert [(r["period_start"], r["queries"], r["cost_usd"]) for r in weeks] == [
        ("2025-06-02", 151, 1.5),
        ("2025-06-30", 10, 0.25),
    ]
    months = client.get(url, {"period": "month"}).json()["rows"]
    assert [(r["period_start"], r["queries"]) for r in months] == [("2025-06-01", 161)]
    assert client.get(url, {"period": "year"}).status_code == 400
    assert client.get(url, {"start": "2025-07-01", "end": "2025-06-01"}).json()["rows"] == []


# --- Evaluations ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_evaluate_now_then_latest_and_history(world):
    client = world.client_a()
    assert client.get("/api/v1/tunes/ticket-triage/evaluations/latest/").status_code == 404
    for day in ("2025-06-01", "2025-06-30"):
        response = client.post(
            "/api/v1/tunes/ticket-triage/evaluate/", {"as_of": day}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["as_of"] == day
        assert body["verdict"] in Verdict.values
        assert body["findings"] and {"code", "message"} <= set(body["findings"][0])
    today = client.post("/api/v1/tunes/ticket-triage/evaluate/", {}, format="json").json()
    assert today["as_of"] == "2025-07-01"
    again = client.post("/api/v1/tunes/ticket-triage/evaluate/", {}, format="json").json()
    assert again["as_of"] == "2025-07-01"
    assert Evaluation.objects.filter(tune=world.tune_a).count() == 3  # replaced, not duplicated
    assert Evaluation.objects.filter(tune=world.tune_b).count() == 0  # one tune only

    latest = client.get("/api/v1/tunes/ticket-triage/evaluations/latest/").json()
    assert latest["as_of"] == "2025-07-01"
    history = client.get("/api/v1/tunes/ticket-triage/evaluations/").json()
    assert [e["as_of"] for e in history["results"]] == ["2025-07-01", "2025-06-30", "2025-06-01"]
    since = client.get("/api/v1/tunes/ticket-triage/evaluations/", {"since": "2025-06-30"})
    assert since.json()["count"] == 2
    listed = client.get("/api/v1/tunes/ticket-triage/").json()
    assert (listed["latest_verdict"], listed["latest_as_of"]) == (latest["verdict"], "2025-07-01")


@pytest.mark.django_db
def test_retired_tunes_are_not_evaluated(world):
    world.tune_a.status = "retired"
    world.tune_a.save()
    response = world.client_a().post("/api/v1/tunes/ticket-triage/evaluate/", {}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


# --- Summary -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_summary_adds_up(world):
    successor = CatalogModelFactory(name="gpt-5-mini")
    world.base.shutdown_on = TODAY + timedelta(days=45)
    world.base.successor = successor
    world.base.save()
    far = CatalogModelFactory(shutdown_on=TODAY + timedelta(days=400))
    second = FineTuneFactory(slug="second", team=world.team_a, owner=world.alice, base_model=far)
    FineTuneFactory(
        slug="idea",
        team=world.team_a,
        owner=world.alice,
        status="proposed",
        deployed_on=None,
        last_trained_on=None,
        base_model=far,
    )
    FineTuneFactory(slug="old", team=world.team_a, owner=world.alice, status="retired")

    def evaluate(tune, verdict, saving, unrecovered, as_of=date(2025, 6, 30)):
        return Evaluation.objects.create(
            tune=tune,
            as_of=as_of,
            verdict=verdict,
            reason="r",
            engine_version="t",
            monthly_net_saving=Decimal(saving),
            unrecovered_cost=Decimal(unrecovered),
        )

    evaluate(world.tune_a, Verdict.KEEP, "900", "0", as_of=date(2025, 6, 1))  # superseded
    evaluate(world.tune_a, Verdict.KEEP, "1200.50", "0")
    retrain = evaluate(second, Verdict.RETRAIN, "-300", "7000")
    Flag.objects.create(tune=second, kind="RETRAIN", opened_by=retrain, opened_on=TODAY)
    evaluate(world.tune_b, Verdict.RETIRE, "5", "5")  # team B: not counted

    summary = world.client_a().get("/api/v1/summary/").json()
    assert summary["tunes"] == 3
    assert summary["by_verdict"] == {
        "KEEP": 1,
        "WATCH": 0,
        "RETRAIN": 1,
        "RETIRE": 0,
        "FINE_TUNE": 0,
        "ITERATE": 0,
        "UNEVALUATED": 1,
    }
    assert summary["realised_monthly_saving_usd"] == 900.5
    assert summary["flagged_tunes"] == 1
    assert summary["unrecovered_training_cost_of_flagged_usd"] == 7000.0
    assert [
        (s["model"]["id"], s["days_left"], s["successor"]["id"], s["tunes"])
        for s in summary["upcoming_shutdowns"]
    ] == [(world.base.pk, 45, successor.pk, ["ticket-triage"])]


# --- Protocol ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_throttling_answers_429_with_retry_after(world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "3/min", "user": "3/min"},
    }
    client = world.client_a()
    assert [client.get("/api/v1/teams/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/teams/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert error_of(refused)["code"] == "throttled"
    assert world.client_b().get("/api/v1/teams/").status_code == 200  # per key


@pytest.mark.django_db
def test_protocol_errors_use_the_envelope(world):
    client = world.client_a()
    not_json = client.post("/api/v1/usage/", "records=1", content_type="text/plain")
    assert (not_json.status_code, error_of(not_json)["code"]) == (415, "unsupported_media_type")
    nan = client.post("/api/v1/usage/", '{"records": [NaN]}', content_type="application/json")
    assert (nan.status_code, error_of(nan)["code"]) == (400, "parse_error")
    deep = client.post(
        "/api/v1/usage/", "[" * 50_000 + "]" * 50_000, content_type="application/json"
    )
    assert deep.status_code == 400
    surrogate = client.post(
        "/api/v1/usage/", '{"records": [{"tune": "\\ud800"}]}', content_type="application/json"
    )
    assert surrogate.status_code == 400
    assert error_of(surrogate)["details"][0]["row"] == 0
    method = client.delete("/api/v1/tunes/ticket-triage/")
    assert method.status_code == 405
    assert "PATCH" in method["Allow"]
    assert error_of(method)["code"] == "method_not_allowed"
    unknown = client.get("/api/v1/nothing-here/")
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "not_found")
    bad_slug = client.get("/api/v1/tunes/not a slug/")
    assert bad_slug.status_code == 404
    bad_id = client.get("/api/v1/catalog/99999999999999999999999/")
    assert bad_id.status_code == 404


def test_request_data_too_big_becomes_413():
    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413
    assert response.data["error"]["code"] == "payload_too_large"


@pytest.mark.django_db
def test_the_schema_documents_the_envelope_on_every_operation():
    schema = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert "ErrorEnvelope" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "X-Api-Key"
    operations = [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]
    assert len(operations) == 28
    for path, method, op in operations:
        for code in ("400", "401", "403", "404", "429"):
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorEnvelope", (path, method, code)
        assert "Retry-After" in op["responses"]["429"]["headers"]
        if method == "post":
            assert "422" in op["responses"], path
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path


@pytest.mark.django_db
def test_the_docs_work_offline(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html
    asset = html.split('src="')[1].split('"')[0]
    assert asset.startswith("/static/drf_spectacular_sidecar/")
    bundle = client.get(asset)
    assert bundle.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(bundle.streaming_content)
