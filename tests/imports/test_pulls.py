"""Nightly pulls against a real local HTTP server playing each provider's usage API: pagination,
a 429 with Retry-After, a 500, a slow answer, a provider error mid-pull. "Today" is 2025-07-01,
so a pull covers 2025-06-28..2025-06-30."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from tests.imports import payloads as p
from tests.imports.provider_server import Answer, ProviderServer
from tracker.importers.clients import Http
from tracker.models import UsagePull, UsageRecord
from tracker.services.imports import tune_alias_add
from tracker.services.pulls import usage_pull

D28, D29, D30 = date(2025, 6, 28), date(2025, 6, 29), date(2025, 6, 30)
OPENAI = "/v1/organization/usage/completions"
ANTHROPIC = "/v1/organizations/usage_report/messages"
LITELLM = "/spend/logs/v2"
LANGFUSE = "/api/public/metrics/daily"


@pytest.fixture
def server():
    server = ProviderServer().start()
    yield server
    server.stop()


@pytest.fixture
def sources(settings, server):
    settings.USAGE_PULL_SOURCES = {
        "openai": {"url": server.url, "key": "sk-admin-test"},
        "anthropic": {"url": server.url, "key": "sk-ant-admin-test"},
        "litellm": {"url": server.url, "key": "sk-litellm"},
        "langfuse": {"url": server.url, "public_key": "pk-lf", "secret_key": "sk-lf"},
    }
    return settings.USAGE_PULL_SOURCES


@pytest.fixture
def aliased(world):
    tune_alias_add(tune=world.tune_a, model_id="ft:gpt-4o-mini-2024-07-18:support:triage:*")
    return world


class Waits(list):
    """The clock the client waits on, recorded instead of slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http(**kwargs) -> Http:
    return Http(**{"timeout": 2.0, "retries": 3, "backoff": 0.5, "sleep": Waits(), **kwargs})


def stored(source):
    return sorted(
        UsageRecord.objects.filter(source=source).values_list(
            "tune__slug", "day", "queries", "input_tokens", "output_tokens"
        )
    )


def test_openai_pages_through_and_retries_a_429_honouring_retry_after(aliased, sources, server):
    page1 = p.openai_page({D28: [p.openai_result(p.TRIAGE, 100, 50, 10, 2)]}, next_page="pg2")
    page2 = p.openai_page(
        {D29: [p.openai_result(p.TRIAGE, 200, 0, 20, 4)], D30: [p.openai_result("o3", 5, 0, 1, 1)]}
    )
    server.on(OPENAI, Answer(page1))
    server.on(
        OPENAI,
        Answer({"error": {"message": "Rate limit"}}, status=429, headers={"Retry-After": "7"}),
        Answer(page2),
        page="pg2",
    )
    client = http()
    pull = usage_pull(source="openai", http=client)
    assert pull.error == ""
    assert (pull.period_start, pull.period_end, pull.rows) == (D28, D30, 2)
    assert [u["model_id"] for u in pull.unmatched] == ["o3"]
    assert stored("openai") == [
        ("ticket-triage", D28, 2, 100, 10),
        ("ticket-triage", D29, 4, 200, 20),
    ]
    assert client.sleep == [7.0]  # Retry-After, not the backoff
    _, query, headers = server.requests[0]
    assert headers["Authorization"] == "Bearer sk-admin-test"
    assert query["bucket_width"] == ["1d"] and query["group_by"] == ["model"]
    assert query["start_time"] == [str(p.unix(D28))] and query["end_time"] == [
        str(p.unix(date(2025, 7, 1)))
    ]
    assert [q.get("page") for _, q, _ in server.requests] == [None, ["pg2"], ["pg2"]]


def test_a_provider_error_mid_pull_writes_nothing_and_is_recorded(aliased, sources, server):
    page1 = p.anthropic_page({D28: [p.anthropic_result(p.TRIAGE, 100, 0, 0, 0, 10)]}, next_page="n")
    server.on(ANTHROPIC, Answer(page1))
    server.on(ANTHROPIC, Answer({"type": "error"}, status=500), page="n")
    aliased.tune_a.expected_input_tokens, aliased.tune_a.expected_output_tokens = 10, 1
    aliased.tune_a.save()
    client = http()
    pull = usage_pull(source="anthropic", http=client)
    assert "answered 500" in pull.error and "after 4 attempts" in pull.error
    assert client.sleep == [0.5, 1.0, 2.0]  # exponential backoff
    assert not UsageRecord.objects.exists()
    assert UsagePull.objects.get() == pull and pull.finished_at is not None
    _, _, headers = server.requests[0]
    assert headers["x-api-key"] == "sk-ant-admin-test" and headers["anthropic-version"]


def test_a_slow_answer_times_out_and_is_retried(aliased, sources, server):
    page = p.langfuse_page({D29: [p.langfuse_usage(p.TRIAGE, 1000, 100, 10, 0.25)]})
    server.on(LANGFUSE, Answer(page, delay=1.5), Answer(page))
    client = http(timeout=0.5)
    pull = usage_pull(source="langfuse", http=client)
    assert pull.error == "" and pull.rows == 1
    assert len(client.sleep) == 1
    assert stored("langfuse") == [("ticket-triage", D29, 10, 1000, 100)]


def test_always_slow_fails_after_the_retries(aliased, sources, server):
    server.on(LANGFUSE, Answer(p.langfuse_page({}), delay=1.0))
    pull = usage_pull(source="langfuse", http=http(timeout=0.3, retries=1))
    assert "timed out" in pull.error


def test_litellm_pages_and_revised_days_replace(aliased, sources, server):
    day1 = [p.litellm_log(p.TRIAGE, "2025-06-29T10:00:00Z", 100, 10, 0.001)]
    day2 = [p.litellm_log(p.TRIAGE, "2025-06-30T10:00:00Z", 50, 5, 0.0005)]
    server.on(LITELLM, Answer(p.litellm_page(day1, 1, 2)), page="1")
    server.on(LITELLM, Answer(p.litellm_page(day2, 2, 2)), page="2")
    assert usage_pull(source="litellm", http=http()).rows == 2
    # The provider revises the 29th; the next night's pull replaces it.
    server.on(LITELLM, Answer(p.litellm_page(day1 * 3, 1, 2)), page="1")
    again = usage_pull(source="litellm", http=http())
    assert again.rows == 1
    assert stored("litellm") == [
        ("ticket-triage", D29, 3, 300, 30),
        ("ticket-triage", D30, 1, 50, 5),
    ]
    _, query, headers = server.requests[0]
    assert headers["Authorization"] == "Bearer sk-litellm"
    assert query["start_date"] == ["2025-06-28 00:00:00"]


def test_langfuse_uses_basic_auth_and_pages(aliased, sources, server):
    server.on(
        LANGFUSE,
        Answer(p.langfuse_page({D28: [p.langfuse_usage(p.TRIAGE, 1, 1, 1, 0)]}, 1, 2)),
        page="1",
    )
    server.on(
        LANGFUSE,
        Answer(p.langfuse_page({D29: [p.langfuse_usage(p.TRIAGE, 2, 2, 2, 0)]}, 2, 2)),
        page="2",
    )
    assert usage_pull(source="langfuse", http=http()).rows == 2
    _, _, headers = server.requests[0]
    assert headers["Authorization"] == "Basic cGstbGY6c2stbGY="


def test_a_4xx_is_not_retried(aliased, sources, server):
    server.on(OPENAI, Answer({"error": {"message": "Invalid admin key"}}, status=401))
    client = http()
    pull = usage_pull(source="openai", http=client)
    assert "answered 401" in pull.error and client.sleep == []


def test_command_and_since(aliased, sources, server, settings):
    settings.USAGE_PULL_BACKOFF = 0.01
    server.on(OPENAI, Answer(p.openai_page({D28: [p.openai_result(p.TRIAGE, 1, 0, 1, 1)]})))
    out = io.StringIO()
    call_command("pull_usage", "openai", "--since", "2025-06-01", stdout=out)
    assert "Pulled openai 2025-06-01..2025-06-30: 1 rows written." in out.getvalue()
    server.on(OPENAI, Answer({}, status=503))
    settings.USAGE_PULL_RETRIES = 0
    with pytest.raises(CommandError, match="answered 503"):
        call_command("pull_usage", "openai", stdout=io.StringIO())


def test_unconfigured_source_is_refused(db, settings):
    settings.USAGE_PULL_SOURCES = {}
    with pytest.raises(CommandError, match="no credentials"):
        call_command("pull_usage", "anthropic")


def test_beat_pulls_configured_sources_before_the_reevaluation():
    from config.settings import base

    assert base._hour_before("02:00") == "01:00" and base._hour_before("00:30") == "23:30"
