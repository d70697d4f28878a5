"""LiteLLM proxy spend logs (``GET /spend/logs``, or the paginated ``/spend/logs/v2`` whose page
is ``{"data": [...], "total", "page", "page_size", "total_pages"}``): one row per request.

    [{"request_id": "…", "model": "ft:gpt-4o-mini-…", "startTime": "2026-11-27T09:12:03.120Z",
      "prompt_tokens": 812, "completion_tokens": 95, "spend": 0.000214, …}]

Rows are summed per model and UTC day of ``startTime``: each is one query, and ``spend`` is the
cost LiteLLM computed. An array of v2 pages is read too.
"""

from __future__ import annotations

from decimal import Decimal

from . import DailyRow, Reader, sum_rows


def _logs(payload, reader: Reader) -> list[tuple[str, object]]:
    if isinstance(payload, dict):
        return [(f"data[{i}]", row) for i, row in enumerate(reader.items(payload, "data", ""))]
    if not isinstance(payload, list):
        reader.fail("payload", "Must be an array of spend logs or a page of them.")
        return []
    if payload and all(isinstance(p, dict) and "data" in p for p in payload):
        return [
            (f"[{p}].data[{i}]", row)
            for p, page in enumerate(payload)
            for i, row in enumerate(reader.items(page, "data", f"[{p}]"))
        ]
    return [(f"[{i}]", row) for i, row in enumerate(payload)]


def read(payload) -> list[DailyRow]:
    reader = Reader()
    rows: list[DailyRow] = []
    for place, log in _logs(payload, reader):
        log = reader.obj(log, place)
        if log is None:
            continue
        model = reader.text(log, "model", place)
        day = reader.day_of_iso(log.get("startTime"), f"{place}.startTime")
        input_tokens = reader.count(log, "prompt_tokens", place)
        output_tokens = reader.count(log, "completion_tokens", place)
        spend = reader.money(log, "spend", place)
        if model is None or day is None or input_tokens is None or output_tokens is None:
            continue
        rows.append(
            DailyRow(model, day, 1, input_tokens, output_tokens, spend or Decimal(0), place)
        )
    reader.done()
    return sum_rows(rows)
