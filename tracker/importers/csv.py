"""Tunefolio's own CSV (a billing export or a gateway's dump): one row per tune or provider
model id, and day. Header names are matched case-insensitively; the common billing-export
spellings are understood.

    tune           a tune's slug                        (also: tune_slug, fine_tune)
    model          or a provider model id, resolved through the tunes' aliases (also: model_id)
    day            YYYY-MM-DD                           (also: date, usage_date)
    queries        requests that day                    (also: requests, num_requests)
    input_tokens                                        (also: prompt_tokens, context_tokens)
    output_tokens                                       (also: completion_tokens, generated_tokens)
    cost_usd       optional, the actual cost            (also: cost, amount_usd)
    quality_score  optional, 0 to 1

Rows are named by line number (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from datetime import date

from . import DailyRow, PayloadError, PayloadInvalid, Reader

ALIASES = {
    "tune_slug": "tune",
    "fine_tune": "tune",
    "model_id": "model",
    "date": "day",
    "usage_date": "day",
    "requests": "queries",
    "num_requests": "queries",
    "prompt_tokens": "input_tokens",
    "context_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "generated_tokens": "output_tokens",
    "cost": "cost_usd",
    "amount_usd": "cost_usd",
}
REQUIRED = ("day", "queries", "input_tokens", "output_tokens")


def columns(header: list[str]) -> list[str]:
    """Header cells in Tunefolio's names."""
    names = [cell.strip().lower() for cell in header]
    return [ALIASES.get(name, name) for name in names]


def read(payload) -> list[DailyRow]:
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8-sig")
    if not isinstance(payload, str):
        raise PayloadInvalid([PayloadError("payload", "Must be CSV text.")])
    reader = Reader()
    lines = csv.reader(io.StringIO(payload.lstrip("\ufeff")))
    header = columns(next(lines, []))
    missing = [c for c in REQUIRED if c not in header]
    if "tune" not in header and "model" not in header:
        missing.insert(0, "tune or model")
    if missing:
        reader.fail("line 1", f"Missing columns: {', '.join(missing)}.")
        reader.done()
    rows: list[DailyRow] = []
    for number, cells in enumerate(lines, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        record = {k: v.strip() for k, v in zip(header, cells, strict=False) if v.strip()}
        place = f"line {number}"
        tune, model = record.get("tune"), record.get("model")
        if not tune and not model:
            reader.fail(f"{place}.tune", "Name a tune or a model.")
        try:
            day = date.fromisoformat(record.get("day", ""))
        except ValueError:
            reader.fail(f"{place}.day", "Must be a date as YYYY-MM-DD.")
            day = None
        counts: dict[str, int | None] = {}
        for key in ("queries", "input_tokens", "output_tokens"):
            text = record.get(key)
            counts[key] = reader.count({key: text}, key, place) if text else None
            if text is None:
                reader.fail(f"{place}.{key}", "Missing.")
        cost = reader.money(record, "cost_usd", place)
        score_text = record.get("quality_score")
        score: float | None
        try:
            score = float(score_text) if score_text else None
        except ValueError:
            reader.fail(f"{place}.quality_score", "Must be a number.")
            score = None
        queries, input_tokens, output_tokens = (
            counts["queries"],
            counts["input_tokens"],
            counts["output_tokens"],
        )
        if (
            day is None
            or queries is None
            or input_tokens is None
            or output_tokens is None
            or not (tune or model)
        ):
            continue
        rows.append(
            DailyRow(
                None if tune else model,
                day,
                queries,
                input_tokens,
                output_tokens,
                cost,
                place,
                tune=tune,
                quality_score=score,
            )
        )
    reader.done()
    return rows
