"""OpenAI's organization Usage API, completions (``GET /v1/organization/usage/completions``
with ``bucket_width=1d&group_by=model``): pages of daily buckets.

    {"object": "page", "has_more": true, "next_page": "…",
     "data": [{"object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
               "results": [{"model": "ft:gpt-4o-mini-2024-07-18:acme:triage:AbC12",
                            "input_tokens": 1000, "input_cached_tokens": 800,
                            "output_tokens": 500, "num_model_requests": 5,
                            "project_id": null, …}]}]}

``input_tokens`` already includes ``input_cached_tokens``: cached tokens count once. Several
pages may come as an array of pages. Results without a model (no ``group_by=model``) are refused:
they can't be tied to a tune.
"""

from __future__ import annotations

from . import DailyRow, Reader, daily_items, sum_rows


def read(payload) -> list[DailyRow]:
    reader = Reader()
    rows: list[DailyRow] = []
    buckets = daily_items(
        reader,
        payload,
        days="data",
        items="results",
        day_of=lambda bucket, where: reader.day_of_unix(
            bucket.get("start_time"), f"{where}.start_time"
        ),
    )
    for day, result, place in buckets:
        model = result.get("model")
        if not isinstance(model, str) or not model:
            reader.fail(f"{place}.model", "Missing: ask for the usage with group_by=model.")
            model = None
        queries = reader.count(result, "num_model_requests", place)
        input_tokens = reader.count(result, "input_tokens", place)
        output_tokens = reader.count(result, "output_tokens", place)
        if (
            day is None
            or model is None
            or queries is None
            or input_tokens is None
            or output_tokens is None
        ):
            continue
        rows.append(DailyRow(model, day, queries, input_tokens, output_tokens, None, place))
    reader.done()
    return sum_rows(rows)
