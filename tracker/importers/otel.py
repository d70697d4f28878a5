"""An OTLP/JSON trace export (what an OpenTelemetry collector's file exporter writes) with the
GenAI semantic conventions.

    {"resourceSpans": [{"resource": {…}, "scopeSpans": [{"scope": {…}, "spans": [
        {"traceId": "…", "spanId": "…", "name": "chat ft:gpt-4o-mini-…",
         "startTimeUnixNano": "1764233523000000000", "endTimeUnixNano": "…",
         "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "ft:gpt-4o-mini-…"}},
            {"key": "gen_ai.response.model", "value": {"stringValue": "ft:gpt-4o-mini-…"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "812"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "95"}}]}]}]}]}

Each span with a model and token counts is one query, on the UTC day its span started. The model
is ``gen_ai.response.model``, else ``gen_ai.request.model``. Spans without GenAI attributes (HTTP,
database, …) are skipped. A file of several exports, one JSON object per line, is read as an
array of them.
"""

from __future__ import annotations

from . import DailyRow, Reader, pages, sum_rows

WANTED = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
)


def _attributes(span: dict) -> dict:
    found = {}
    for attribute in span.get("attributes") or []:
        if isinstance(attribute, dict) and attribute.get("key") in WANTED:
            value = attribute.get("value")
            if isinstance(value, dict) and value:
                found[attribute["key"]] = next(iter(value.values()))
    return found


def read(payload) -> list[DailyRow]:
    reader = Reader()
    rows: list[DailyRow] = []
    for p, export in enumerate(pages(payload)):
        prefix = f"[{p}]." if isinstance(payload, list) else ""
        export = reader.obj(export, prefix.rstrip(".") or "payload")
        if export is None:
            continue
        for r, resource in enumerate(reader.items(export, "resourceSpans", prefix.rstrip("."))):
            rwhere = f"{prefix}resourceSpans[{r}]"
            resource = reader.obj(resource, rwhere) or {}
            for s, scope in enumerate(resource.get("scopeSpans") or []):
                swhere = f"{rwhere}.scopeSpans[{s}]"
                scope = reader.obj(scope, swhere) or {}
                for i, span in enumerate(scope.get("spans") or []):
                    place = f"{swhere}.spans[{i}]"
                    span = reader.obj(span, place)
                    if span is None:
                        continue
                    found = _attributes(span)
                    model = found.get("gen_ai.response.model") or found.get("gen_ai.request.model")
                    if not model:
                        continue  # not a GenAI call
                    if not isinstance(model, str):
                        reader.fail(f"{place}.attributes", "The model must be a string value.")
                        continue
                    input_tokens = reader.count(
                        found, "gen_ai.usage.input_tokens", f"{place}.attributes"
                    )
                    output_tokens = reader.count(
                        found, "gen_ai.usage.output_tokens", f"{place}.attributes"
                    )
                    start = reader.count(span, "startTimeUnixNano", place)
                    if start is None or input_tokens is None or output_tokens is None:
                        continue
                    day = reader.day_of_unix(start // 10**9, f"{place}.startTimeUnixNano")
                    if day is None:
                        continue
                    rows.append(
                        DailyRow(
                            model,
                            day,
                            1,
                            input_tokens,
                            output_tokens,
                            None,
                            place,
                        )
                    )
    reader.done()
    return sum_rows(rows)
