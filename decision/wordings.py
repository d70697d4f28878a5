"""Every finding's wording by code: how the engine words a finding, and how a stored finding (its
code and figures) is worded again when it is read back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .inputs import Policy
from .results import Cited, Severity, Wording
from .rules import RULE_WORDINGS
from .sources import SOURCE_WORDINGS

WORDINGS: dict[str, Wording] = {**RULE_WORDINGS, **SOURCE_WORDINGS}


def wording(code: str) -> Wording:
    """The wording of a finding with this code. A code no rule carries any more (renamed or
    removed since a row was stored) still reads, as its code: old rows never fail to load."""
    known = WORDINGS.get(code)
    if known is not None:
        return known
    retired = f"“{code.replace('_', ' ')}”: a finding of an earlier version of the rules."
    return Wording(code, "", Severity.INFO, lambda figures, policy: retired)


def render(code: str, figures: Mapping[str, Any], policy: Policy) -> str:
    """A finding's message from its figures (as stored; an absent one reads as None)."""
    return wording(code).says(Cited(figures), policy)
