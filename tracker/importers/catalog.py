"""LiteLLM's ``model_prices_and_context_window.json``: a model map keyed by model name (pure; no
Django). Each entry may carry ``litellm_provider``, ``input_cost_per_token``,
``output_cost_per_token`` (USD per token) and ``deprecation_date`` (YYYY-MM-DD):

    {"gpt-4o-mini-2024-07-18": {"litellm_provider": "openai", "mode": "chat",
                                "input_cost_per_token": 1.5e-07,
                                "output_cost_per_token": 6e-07,
                                "deprecation_date": "2026-02-27", …}, …}

**Matching.** A catalog model (provider, name, version) matches the entry keyed
``{name}-{version}`` — or ``{version}`` alone when the version already starts with the name —
optionally prefixed ``{provider}/``, whose ``litellm_provider`` equals the model's provider
(case-insensitively). Undated aliases (``gpt-4o-mini``) are never matched: they move from
version to version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

MILLION = Decimal(1_000_000)
#: Prices are stored with 4 decimals (USD per million tokens).
PLACES = Decimal("0.0001")


class CatalogInvalid(Exception):
    pass


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    provider: str
    input_usd_per_mtok: Decimal | None
    output_usd_per_mtok: Decimal | None
    deprecation_date: date | None


def per_million(value) -> Decimal | None:
    """USD per token (read as an exact decimal) → USD per million tokens."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value)) * MILLION
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount.quantize(PLACES)


def read_catalog(text: str | bytes) -> dict[str, CatalogEntry]:
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise CatalogInvalid(f"Not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogInvalid("Must be an object keyed by model name.")
    entries = {}
    for key, spec in data.items():
        if key == "sample_spec" or not isinstance(spec, dict):
            continue
        try:
            shutdown = date.fromisoformat(str(spec["deprecation_date"]))
        except (KeyError, ValueError):
            shutdown = None
        entries[key] = CatalogEntry(
            key=key,
            provider=str(spec.get("litellm_provider", "")).lower(),
            input_usd_per_mtok=per_million(spec.get("input_cost_per_token")),
            output_usd_per_mtok=per_million(spec.get("output_cost_per_token")),
            deprecation_date=shutdown,
        )
    return entries


def candidate_keys(provider: str, name: str, version: str) -> list[str]:
    dated = version if version.startswith(name) else f"{name}-{version}"
    return [dated, f"{provider}/{dated}"]


def match(
    entries: dict[str, CatalogEntry], provider: str, name: str, version: str
) -> CatalogEntry | None:
    for key in candidate_keys(provider, name, version):
        entry = entries.get(key)
        if entry is not None and entry.provider == provider.lower():
            return entry
    return None
