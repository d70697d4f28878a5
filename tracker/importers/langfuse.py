"""Langfuse's daily metrics API (``GET /api/public/metrics/daily``): one entry per day, usage
broken down by model.

    {"data": [{"date": "2026-11-27", "countTraces": 40, "countObservations": 52,
               "totalCost": 1.93,
               "usage": [{"model": "ft:gpt-4o-mini-…", "inputUsage": 41000, "outputUsage": 5200,
                          "totalUsage": 46200, "countTraces": 40, "countObservations": 52,
                          "totalCost": 1.93}]}],
     "meta": {"page": 1, "limit": 50, "totalItems": 1, "totalPages": 1}}

A model's ``countObservations`` is its number of generations that day: the queries. Entries
without a model (observations Langfuse could not attribute) are refused by name. An array of
pages is read too.
"""

from __future__ import annotations

from . import DailyRow, Reader, daily_items, sum_rows


def read(payload) -> list[DailyRow]:
    reader = Reader()
    rows: list[DailyRow] = []
    entries = daily_items(
        reader,
        payload,
        days="data",
        items="usage",
        day_of=lambda entry, where: reader.day_of_iso(entry.get("date"), f"{where}.date"),
    )
    for day, usage, place in entries:
        model = reader.text(usage, "model", place)
        queries = reader.count(usage, "countObservations", place)
        input_tokens = reader.count(usage, "inputUsage", place)
        output_tokens = reader.count(usage, "outputUsage", place)
        cost = reader.money(usage, "totalCost", place)
        if (
            day is None
            or model is None
            or queries is None
            or input_tokens is None
            or output_tokens is None
        ):
            continue
        rows.append(DailyRow(model, day, queries, input_tokens, output_tokens, cost, place))
    reader.done()
    return sum_rows(rows)
