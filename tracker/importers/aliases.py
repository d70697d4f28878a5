"""Which tune a provider model id belongs to, by the tunes' aliases (pure; no Django).

An exact alias beats a pattern. A model id matching two tunes (two patterns, or exact aliases of
two teams) is an error naming both; one matching none is reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

PATTERN_CHARACTERS = "*?["


def is_pattern(model_id: str) -> bool:
    return any(c in model_id for c in PATTERN_CHARACTERS)


@dataclass
class Resolution:
    tunes: dict[str, str] = field(default_factory=dict)  # model id → tune slug
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # model id → tune slugs
    unmatched: list[str] = field(default_factory=list)


def resolve(model_ids, aliases: list[tuple[str, str]]) -> Resolution:
    """``aliases`` are (alias, tune slug) pairs; returns where each model id goes."""
    exact: dict[str, set[str]] = {}
    patterns: list[tuple[str, str]] = []
    for alias, slug in aliases:
        if is_pattern(alias):
            patterns.append((alias, slug))
        else:
            exact.setdefault(alias, set()).add(slug)
    result = Resolution()
    for model_id in sorted(set(model_ids)):
        slugs = exact.get(model_id) or {s for p, s in patterns if fnmatchcase(model_id, p)}
        if len(slugs) == 1:
            result.tunes[model_id] = next(iter(slugs))
        elif slugs:
            result.ambiguous[model_id] = sorted(slugs)
        else:
            result.unmatched.append(model_id)
    return result
