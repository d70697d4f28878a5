"""Anthropic's Admin API messages usage report (``GET /v1/organizations/usage_report/messages``
with ``bucket_width=1d&group_by[]=model``): pages of daily buckets.

    {"data": [{"starting_at": "2026-11-27T00:00:00Z", "ending_at": "2026-11-28T00:00:00Z",
               "results": [{"model": "claude-…", "uncached_input_tokens": 1200,
                            "cache_read_input_tokens": 300,
                            "cache_creation": {"ephemeral_5m_input_tokens": 50,
                                               "ephemeral_1h_input_tokens": 0},
                            "output_tokens": 400, …}]}],
     "has_more": false, "next_page": null}

``uncached_input_tokens`` excludes cache reads and cache writes, so both are added to make the
input tokens. The flat ``cache_creation_5m_input_tokens`` / ``…_1h_…`` spelling is read too.
There is no request count: queries are estimated.
"""

from __future__ import annotations

from . import DailyRow, Reader, daily_items, sum_rows

CACHE_WRITE_KEYS = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
FLAT_CACHE_WRITE_KEYS = ("cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens")


def read(payload) -> list[DailyRow]:
    reader = Reader()
    rows: list[DailyRow] = []
    buckets = daily_items(
        reader,
        payload,
        days="data",
        items="results",
        day_of=lambda bucket, where: reader.day_of_iso(
            bucket.get("starting_at"), f"{where}.starting_at"
        ),
    )
    for day, result, place in buckets:
        model = reader.text(result, "model", place)
        uncached = reader.count(result, "uncached_input_tokens", place)
        cache_read = reader.count(result, "cache_read_input_tokens", place, required=False)
        output_tokens = reader.count(result, "output_tokens", place)
        cache_write = 0
        creation = result.get("cache_creation")
        if creation is not None:
            creation = reader.obj(creation, f"{place}.cache_creation") or {}
            for key in CACHE_WRITE_KEYS:
                part = reader.count(creation, key, f"{place}.cache_creation", required=False)
                cache_write += part or 0
        for key in FLAT_CACHE_WRITE_KEYS:
            cache_write += reader.count(result, key, place, required=False) or 0
        if day is None or model is None or uncached is None or output_tokens is None:
            continue
        input_tokens = uncached + (cache_read or 0) + cache_write
        rows.append(DailyRow(model, day, None, input_tokens, output_tokens, None, place))
    reader.done()
    return sum_rows(rows)
