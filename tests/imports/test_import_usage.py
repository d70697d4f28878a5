"""Importing provider payloads: aliases, unmatched ids, estimates, replacement, the command and
the API. "Today" is 2025-07-01 (tests/api/conftest.py)."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from tests.api.helpers import error_of
from tests.factories import FineTuneFactory, UsageRecordFactory
from tests.imports import payloads as p
from tracker.models import TuneAlias, UsageRecord
from tracker.services.imports import ImportRefused, tune_alias_add, usage_import

D1, D2 = date(2025, 6, 29), date(2025, 6, 30)
URL = "/api/v1/usage/import/"


def stored(source):
    return sorted(
        UsageRecord.objects.filter(source=source).values_list(
            "tune__slug", "day", "queries", "input_tokens", "output_tokens", "estimated"
        )
    )


@pytest.fixture
def aliased(world):
    tune_alias_add(tune=world.tune_a, model_id="ft:gpt-4o-mini-2024-07-18:support:triage:*")
    return world


def test_openai_import_writes_matched_ids_and_reports_unmatched_ones(aliased):
    page = p.openai_page(
        {
            D1: [
                p.openai_result(p.TRIAGE, 1000, 800, 500, 5),
                p.openai_result(p.TRIAGE_RETRAINED, 10, 0, 20, 1),  # same tune, same day
                p.openai_result(p.UNKNOWN, 300, 0, 30, 3),
            ],
            D2: [p.openai_result(p.UNKNOWN, 100, 0, 10, 1)],
        }
    )
    report = usage_import(format="openai", payload=page, team_ids=[aliased.team_a.pk])
    assert stored("openai") == [("ticket-triage", D1, 6, 1010, 520, False)]
    assert report.rows_written == 1
    assert (report.first_day, report.last_day, report.days) == (D1, D1, 1)
    assert report.unmatched == [
        {
            "model_id": p.UNKNOWN,
            "days": 2,
            "first_day": "2025-06-29",
            "last_day": "2025-06-30",
            "input_tokens": 400,
            "output_tokens": 40,
        }
    ]
    assert p.UNKNOWN in report.warnings[0]


def test_model_id_matching_two_tunes_is_refused_naming_both(aliased):
    other = FineTuneFactory(slug="triage-v2", team=aliased.team_a)
    tune_alias_add(tune=other, model_id="ft:gpt-4o-mini-*:triage:*")
    page = p.openai_page({D1: [p.openai_result(p.TRIAGE, 1, 0, 1, 1)]})
    with pytest.raises(ImportRefused) as exc:
        usage_import(format="openai", payload=page)
    [error] = exc.value.errors
    assert error["field"] == "data[0].results[0].model"
    assert "ticket-triage" in error["message"] and "triage-v2" in error["message"]
    assert not UsageRecord.objects.exists()
    # An exact alias settles it.
    tune_alias_add(tune=other, model_id=p.TRIAGE)
    usage_import(format="openai", payload=page)
    assert stored("openai") == [("triage-v2", D1, 1, 1, 1, False)]


def test_anthropic_queries_are_estimated_from_measured_tokens_per_query(aliased):
    # Measured: 1,000 queries of 950 tokens each; an estimate never feeds the next one.
    UsageRecordFactory(tune=aliased.tune_a, day=date(2025, 6, 1), source="gateway")
    page = p.anthropic_page({D1: [p.anthropic_result(p.TRIAGE, 80_000, 10_000, 5_000, 0, 0)]})
    report = usage_import(format="anthropic", payload=page)
    assert stored("anthropic") == [("ticket-triage", D1, 100, 95_000, 0, True)]
    assert report.estimated_rows == 1
    assert any("estimated" in w for w in report.warnings)


def test_estimate_falls_back_to_expected_tokens_else_refuses(aliased):
    page = p.anthropic_page({D1: [p.anthropic_result(p.TRIAGE, 1000, 0, 0, 0, 0)]})
    with pytest.raises(ImportRefused) as exc:
        usage_import(format="anthropic", payload=page)
    assert exc.value.errors[0]["field"] == "data[0].results[0].queries"
    aliased.tune_a.expected_input_tokens, aliased.tune_a.expected_output_tokens = 40, 10
    aliased.tune_a.save()
    usage_import(format="anthropic", payload=page)
    assert stored("anthropic") == [("ticket-triage", D1, 20, 1000, 0, True)]


def test_reimporting_a_revised_day_replaces_it_and_a_replay_changes_nothing(aliased):
    first = p.langfuse_page({D1: [p.langfuse_usage(p.TRIAGE, 1000, 100, 10, 0.5)]})
    usage_import(format="langfuse", payload=first)
    revised = p.langfuse_page(
        {
            D1: [p.langfuse_usage(p.TRIAGE, 1500, 150, 15, 0.75)],
            D2: [p.langfuse_usage(p.TRIAGE, 10, 1, 1, 0.01)],
        }
    )
    report = usage_import(format="langfuse", payload=revised)
    assert (report.created, report.updated) == (1, 1)
    assert stored("langfuse") == [
        ("ticket-triage", D1, 15, 1500, 150, False),
        ("ticket-triage", D2, 1, 10, 1, False),
    ]
    again = usage_import(format="langfuse", payload=revised)
    assert (again.rows_written, again.unchanged) == (0, 2)


def test_rows_of_another_team_are_refused_by_the_usage_checks(aliased):
    tune_alias_add(tune=aliased.tune_b, model_id="legal-model")
    page = p.openai_page({D1: [p.openai_result("legal-model", 1, 0, 1, 1)]})
    report = usage_import(format="openai", payload=page, team_ids=[aliased.team_a.pk])
    assert report.unmatched[0]["model_id"] == "legal-model"  # team A can't see B's aliases
    assert not UsageRecord.objects.exists()


def test_future_day_is_refused_with_the_payload_place(aliased):
    page = p.openai_page({date(2025, 7, 5): [p.openai_result(p.TRIAGE, 1, 0, 1, 1)]})
    with pytest.raises(ImportRefused) as exc:
        usage_import(format="openai", payload=page)
    assert exc.value.errors[0]["field"] == "data[0].results[0].day"
    assert "future" in exc.value.errors[0]["message"]


def test_command_reads_stdin(aliased, monkeypatch):
    spans = [
        p.otel_span(
            p.datetime(2025, 6, 29, 12, tzinfo=p.UTC), request_model=p.TRIAGE, inp=10, out=2
        ),
        p.otel_span(p.datetime(2025, 6, 29, 13, tzinfo=p.UTC), request_model="o3", inp=5, out=1),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(p.otel_export(spans))))
    out = io.StringIO()
    call_command("import_usage", "--format", "otel", "-", stdout=out)
    assert stored("otel") == [("ticket-triage", D1, 1, 10, 2, False)]
    text = out.getvalue()
    assert "Unmatched model id o3: 1 day(s) 2025-06-29..2025-06-29, 5 input" in text
    assert "Imported 1 rows (otel)" in text


def test_command_reports_places_and_writes_nothing(aliased, tmp_path):
    file = tmp_path / "usage.json"
    file.write_text(json.dumps(p.openai_page({D1: [{"model": p.TRIAGE}]})))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_usage", "--format", "openai", str(file), stderr=err)
    assert "data[0].results[0].input_tokens: Missing." in err.getvalue()
    assert not UsageRecord.objects.exists()


def test_api_import_with_idempotency_key(aliased):
    client = aliased.client_a()
    logs = [p.litellm_log(p.TRIAGE, "2025-06-29T10:00:00Z", 800, 90, 0.0002)]
    body = {"data": logs, "total": 1, "page": 1, "page_size": 50, "total_pages": 1}
    headers = {"HTTP_IDEMPOTENCY_KEY": "litellm-2025-06-29"}
    response = client.post(f"{URL}?format=litellm", body, format="json", **headers)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["rows_written"] == 1
    assert answer["days"] == {"first": "2025-06-29", "last": "2025-06-29", "count": 1}
    assert answer["unmatched"] == [] and answer["source"] == "litellm"
    replay = client.post(f"{URL}?format=litellm", body, format="json", **headers)
    assert replay.json() == answer and replay["Idempotent-Replayed"] == "true"
    assert stored("litellm") == [("ticket-triage", D1, 1, 800, 90, False)]


def test_api_csv_and_errors(aliased):
    client = aliased.client_a()
    csv = "model,day,queries,input_tokens,output_tokens\n" + f"{p.TRIAGE},2025-06-29,3,30,3\n"
    response = client.post(f"{URL}?format=csv", csv, content_type="text/csv")
    assert response.status_code == 200, response.content
    assert stored("csv") == [("ticket-triage", D1, 3, 30, 3, False)]
    bad = client.post(f"{URL}?format=openai", {"data": [{"start_time": "x"}]}, format="json")
    assert bad.status_code == 400
    rows = {d["field"] for d in error_of(bad)["details"]}
    assert rows == {"data[0].start_time", "data[0].results"}
    unknown = client.post(f"{URL}?format=helicone", {}, format="json")
    assert unknown.status_code == 400 and error_of(unknown)["details"][0]["field"] == "format"


def test_api_import_needs_the_ingest_scope(aliased):
    from tests.api.helpers import key_client, make_key

    client = key_client(make_key(aliased.team_a, ingest=False))
    response = client.post(f"{URL}?format=openai", p.openai_page({}), format="json")
    assert response.status_code == 403


def test_aliases_endpoint(aliased):
    client = aliased.client_a()
    url = "/api/v1/tunes/ticket-triage/aliases/"
    created = client.post(url, {"model_id": p.TRIAGE}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["is_pattern"] is False
    listed = client.get(url).json()
    assert [a["model_id"] for a in listed] == sorted(
        [p.TRIAGE, "ft:gpt-4o-mini-2024-07-18:support:triage:*"]
    )
    taken = client.post(url, {"model_id": p.TRIAGE}, format="json")
    assert taken.status_code == 400
    assert error_of(taken)["details"][0]["field"] == "model_id"
    # Another team may use the same id for its own tune.
    assert (
        aliased.client_b()
        .post("/api/v1/tunes/clause-review/aliases/", {"model_id": p.TRIAGE}, format="json")
        .status_code
        == 201
    )
    assert TuneAlias.objects.filter(team=aliased.team_a).count() == 2
    assert aliased.client_b().get(url).status_code == 404


def test_evaluation_says_the_volume_is_estimated_and_the_bill_differs(aliased):
    from tracker.services import evaluate_portfolio

    aliased.tune_a.expected_input_tokens, aliased.tune_a.expected_output_tokens = 900, 100
    aliased.tune_a.save()
    anthropic = p.anthropic_page({D1: [p.anthropic_result(p.TRIAGE, 900_000, 0, 0, 0, 100_000)]})
    usage_import(format="anthropic", payload=anthropic)
    # 1,000,000 in + 100,000 out tokens at $0.30 / $1.20 per 1M: $0.42 computed; billed $0.84.
    langfuse = p.langfuse_page({D2: [p.langfuse_usage(p.TRIAGE, 1_000_000, 100_000, 1000, 0.84)]})
    usage_import(format="langfuse", payload=langfuse)
    evaluate_portfolio(as_of=date(2025, 7, 1))
    evaluation = aliased.tune_a.evaluations.get()
    codes = {f["code"]: f for f in evaluation.findings}
    assert codes["volume_estimated"]["figures"]["estimated_queries"] == 1000
    billed = codes["billed_differs_from_computed"]
    assert billed["figures"] == {"billed_cost": 0.84, "computed_cost": pytest.approx(0.42)}
    assert "$0.84" in billed["message"] and "$0.42" in billed["message"]


def test_command_csv_file_with_model_ids_goes_through_the_aliases(aliased, tmp_path):
    file = tmp_path / "billing.csv"
    file.write_text(
        f"Model,Date,Requests,Prompt_Tokens,Completion_Tokens\n{p.TRIAGE},2025-06-29,4,40,4\n"
    )
    call_command("import_usage", str(file), stdout=io.StringIO())
    assert stored("csv") == [("ticket-triage", D1, 4, 40, 4, False)]
