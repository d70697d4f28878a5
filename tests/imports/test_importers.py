"""The importers alone: payloads in the providers' documented shapes → daily rows. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.imports import payloads as p
from tracker.importers import PayloadInvalid, anthropic, csv, langfuse, litellm, openai, otel
from tracker.importers.aliases import resolve

D1, D2 = date(2025, 6, 29), date(2025, 6, 30)


def by_key(rows):
    return {(r.model_id or r.tune, r.day): r for r in rows}


def test_openai_cached_tokens_count_once_and_pages_concatenate():
    page1 = p.openai_page(
        {D1: [p.openai_result(p.TRIAGE, 1000, 800, 500, 5)]}, next_page="page_AAAA"
    )
    page2 = p.openai_page(
        {
            D1: [p.openai_result(p.TRIAGE, 10, 0, 20, 1, project_id="proj_x")],
            D2: [p.openai_result(p.UNKNOWN, 7, 7, 3, 2)],
        }
    )
    rows = by_key(openai.read([page1, page2]))
    assert (rows[(p.TRIAGE, D1)].input_tokens, rows[(p.TRIAGE, D1)].output_tokens) == (1010, 520)
    assert rows[(p.TRIAGE, D1)].queries == 6
    assert rows[(p.UNKNOWN, D2)].input_tokens == 7
    assert rows[(p.TRIAGE, D1)].place == "[0].data[0].results[0]"


def test_openai_result_without_model_names_its_place_and_the_fix():
    page = p.openai_page({D1: [p.openai_result(None, 1, 0, 1, 1)]})
    page["data"][0]["results"].append({"model": "x", "input_tokens": -1, "output_tokens": 1})
    with pytest.raises(PayloadInvalid) as exc:
        openai.read(page)
    messages = {(e.place, e.message) for e in exc.value.errors}
    assert ("data[0].results[0].model", "Missing: ask for the usage with group_by=model.") in (
        messages
    )
    places = {e.place for e in exc.value.errors}
    assert "data[0].results[1].input_tokens" in places
    assert "data[0].results[1].num_model_requests" in places


def test_anthropic_adds_cache_reads_and_writes_and_has_no_request_count():
    page = p.anthropic_page({D1: [p.anthropic_result(p.TRIAGE, 1200, 300, 50, 25, 400)]})
    flat = p.anthropic_result(p.TRIAGE, 100, 0, 0, 0, 10)
    del flat["cache_creation"]
    flat["cache_creation_5m_input_tokens"] = 5
    page["data"].append(
        {"starting_at": "2025-06-30T00:00:00Z", "ending_at": "…", "results": [flat]}
    )
    rows = by_key(anthropic.read(page))
    assert rows[(p.TRIAGE, D1)].input_tokens == 1200 + 300 + 50 + 25
    assert rows[(p.TRIAGE, D1)].output_tokens == 400
    assert rows[(p.TRIAGE, D1)].queries is None
    assert rows[(p.TRIAGE, D2)].input_tokens == 105


def test_litellm_sums_requests_per_model_and_utc_day():
    logs = [
        p.litellm_log(p.TRIAGE, "2025-06-29T23:59:59.900Z", 800, 90, 0.0002),
        p.litellm_log(p.TRIAGE, "2025-06-30T01:30:00+02:00", 700, 80, 0.0003),  # 29th in UTC
        p.litellm_log(p.TRIAGE, "2025-06-30T00:00:00.000Z", 100, 10, 0.0001),
    ]
    rows = by_key(litellm.read([p.litellm_page(logs[:2], 1, 2), p.litellm_page(logs[2:], 2, 2)]))
    assert rows[(p.TRIAGE, D1)].queries == 2
    assert rows[(p.TRIAGE, D1)].input_tokens == 1500
    assert rows[(p.TRIAGE, D1)].cost_usd == Decimal("0.0005")
    assert rows[(p.TRIAGE, D2)].queries == 1

    # The plain /spend/logs array reads the same.
    def counts(rows):
        return {
            k: (r.queries, r.input_tokens, r.output_tokens, r.cost_usd) for k, r in rows.items()
        }

    assert counts(by_key(litellm.read(logs))) == counts(rows)


def test_langfuse_daily_metrics():
    page = p.langfuse_page({D1: [p.langfuse_usage(p.TRIAGE, 41000, 5200, 52, 1.93)]})
    [row] = langfuse.read(page)
    assert (row.day, row.queries, row.input_tokens, row.output_tokens) == (D1, 52, 41000, 5200)
    assert row.cost_usd == Decimal("1.93")


def test_otel_prefers_the_response_model_and_skips_non_genai_spans():
    start = datetime(2025, 6, 29, 23, 59, 59, tzinfo=UTC)
    spans = [
        p.otel_span(start, request_model="gpt-4o-mini", response_model=p.TRIAGE, inp=812, out=95),
        p.otel_span(start, request_model=p.TRIAGE, inp=100, out=5),
        {
            "traceId": "t",
            "spanId": "s",
            "name": "GET /",
            "startTimeUnixNano": "1",
            "attributes": [],
        },
    ]
    [row] = otel.read(p.otel_export(spans))
    assert (row.model_id, row.day, row.queries, row.input_tokens, row.output_tokens) == (
        p.TRIAGE,
        D1,
        2,
        912,
        100,
    )


def test_otel_span_without_token_counts_is_an_error_naming_it():
    span = p.otel_span(datetime(2025, 6, 29, tzinfo=UTC), request_model=p.TRIAGE)
    span["attributes"] = [a for a in span["attributes"] if "output" not in a["key"]]
    with pytest.raises(PayloadInvalid) as exc:
        otel.read(p.otel_export([span]))
    assert [e.place for e in exc.value.errors] == [
        "resourceSpans[0].scopeSpans[0].spans[0].attributes.gen_ai.usage.output_tokens"
    ]


def test_csv_names_lines():
    text = "tune,model,date,requests,prompt_tokens,completion_tokens\n"
    text += "ticket-triage,,2025-06-29,10,100,10\n,ft:x,2025-06-30,1,1,1\n,,2025-13-01,x,1,1\n"
    with pytest.raises(PayloadInvalid) as exc:
        csv.read(text)
    places = {e.place for e in exc.value.errors}
    assert places == {"line 4.tune", "line 4.day", "line 4.queries"}
    rows = csv.read(text.rsplit("\n", 2)[0] + "\n")
    assert [(r.tune, r.model_id, r.queries) for r in rows] == [
        ("ticket-triage", None, 10),
        (None, "ft:x", 1),
    ]


def test_exact_alias_beats_pattern_and_two_patterns_are_ambiguous():
    aliases = [
        (p.TRIAGE, "triage"),
        ("ft:gpt-4o-mini-2024-07-18:support:*", "support-all"),
        ("ft:gpt-4o-mini-2024-07-18:*:triage:*", "other"),
    ]
    result = resolve(
        [p.TRIAGE, p.TRIAGE_RETRAINED, "ft:gpt-4o-mini-2024-07-18:x:y:z", "o1"], aliases
    )
    assert result.tunes == {p.TRIAGE: "triage"}
    assert result.ambiguous == {p.TRIAGE_RETRAINED: ["other", "support-all"]}
    assert result.unmatched == ["ft:gpt-4o-mini-2024-07-18:x:y:z", "o1"]


def test_absurd_timestamps_are_errors_not_crashes():
    page = p.openai_page({})
    page["data"] = [{"start_time": 10**20, "results": []}]
    with pytest.raises(PayloadInvalid) as exc:
        openai.read(page)
    assert [e.place for e in exc.value.errors] == ["data[0].start_time"]
    span = p.otel_span(datetime(2025, 6, 29, tzinfo=UTC), request_model=p.TRIAGE, inp=1, out=1)
    span["startTimeUnixNano"] = str(10**30)
    with pytest.raises(PayloadInvalid):
        otel.read(p.otel_export([span]))


def test_odd_numbers_and_timestamps_are_errors_not_crashes():
    with pytest.raises(PayloadInvalid) as exc:
        csv.read("tune,day,queries,input_tokens,output_tokens\nt,2025-06-29,²,1,1\n")
    assert [e.place for e in exc.value.errors] == ["line 2.queries"]
    page = p.langfuse_page({D1: [p.langfuse_usage(p.TRIAGE, 1, 1, 1, 0)]})
    page["data"][0]["date"] = "0001-01-01T00:00:00+05:00"
    with pytest.raises(PayloadInvalid) as exc:
        langfuse.read(page)
    assert [e.place for e in exc.value.errors] == ["data[0].date"]
