"""Usage payloads in the shapes the providers document (see each importer's docstring), built
small so a test can say exactly what it expects."""

from __future__ import annotations

from datetime import UTC, date, datetime

TRIAGE = "ft:gpt-4o-mini-2024-07-18:support:triage:AbC12"
TRIAGE_RETRAINED = "ft:gpt-4o-mini-2024-07-18:support:triage:XyZ99"
UNKNOWN = "gpt-4o-2024-08-06"


def unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def openai_result(model, input_tokens, cached, output_tokens, requests, project_id=None) -> dict:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_cached_tokens": cached,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": requests,
        "project_id": project_id,
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": None,
    }


def openai_page(buckets: dict[date, list[dict]], next_page: str | None = None) -> dict:
    return {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": unix(day),
                "end_time": unix(day) + 86400,
                "results": results,
            }
            for day, results in buckets.items()
        ],
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def anthropic_result(model, uncached, cache_read, cache_5m, cache_1h, output_tokens) -> dict:
    return {
        "uncached_input_tokens": uncached,
        "cache_creation": {
            "ephemeral_1h_input_tokens": cache_1h,
            "ephemeral_5m_input_tokens": cache_5m,
        },
        "cache_read_input_tokens": cache_read,
        "output_tokens": output_tokens,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": None,
        "workspace_id": None,
        "model": model,
        "service_tier": "standard",
        "context_window": "0-200k",
    }


def anthropic_page(buckets: dict[date, list[dict]], next_page: str | None = None) -> dict:
    return {
        "data": [
            {
                "starting_at": f"{day.isoformat()}T00:00:00Z",
                "ending_at": f"{day.isoformat()}T23:59:59Z",
                "results": results,
            }
            for day, results in buckets.items()
        ],
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def litellm_log(model, start: str, prompt, completion, spend, request_id="r") -> dict:
    return {
        "request_id": request_id,
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": spend,
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": start,
        "endTime": start,
        "model": model,
        "model_group": "triage",
        "custom_llm_provider": "openai",
        "user": "",
        "metadata": {},
        "cache_hit": "False",
        "request_tags": [],
    }


def litellm_page(logs: list[dict], page: int, total_pages: int, page_size: int = 50) -> dict:
    return {
        "data": logs,
        "total": len(logs) * total_pages,
        "page": page,
        "page_size": page_size,
        "total_pages": total_pages,
    }


def langfuse_usage(model, input_usage, output_usage, observations, cost) -> dict:
    return {
        "model": model,
        "inputUsage": input_usage,
        "outputUsage": output_usage,
        "totalUsage": input_usage + output_usage,
        "countTraces": observations,
        "countObservations": observations,
        "totalCost": cost,
    }


def langfuse_page(days: dict[date, list[dict]], page: int = 1, total_pages: int = 1) -> dict:
    return {
        "data": [
            {
                "date": day.isoformat(),
                "countTraces": sum(u["countTraces"] for u in usage),
                "countObservations": sum(u["countObservations"] for u in usage),
                "totalCost": sum(u["totalCost"] for u in usage),
                "usage": usage,
            }
            for day, usage in days.items()
        ],
        "meta": {"page": page, "limit": 50, "totalItems": len(days), "totalPages": total_pages},
    }


def otel_span(start: datetime, *, request_model=None, response_model=None, inp=0, out=0):
    attributes = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]
    if request_model:
        attributes.append({"key": "gen_ai.request.model", "value": {"stringValue": request_model}})
    if response_model:
        attributes.append(
            {"key": "gen_ai.response.model", "value": {"stringValue": response_model}}
        )
    attributes += [
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(inp)}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": out}},
    ]
    nanos = int(start.timestamp()) * 10**9
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": f"chat {request_model or response_model}",
        "kind": 3,
        "startTimeUnixNano": str(nanos),
        "endTimeUnixNano": str(nanos + 1_500_000_000),
        "attributes": attributes,
        "status": {},
    }


def otel_export(spans: list[dict]) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "triage-api"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.openai_v2"},
                        "spans": spans,
                    }
                ],
            }
        ]
    }
