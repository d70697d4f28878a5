"""Every finding's wording by code: how the engine words a finding, and how a stored finding (its
code and figures) is worded again when it is read back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .inputs import Policy
from .readiness import ANTI_PATTERN_WORDINGS, CONDITION_WORDINGS, QUESTION_WORDINGS
from .results import Cited, Wording
from .rules import RULE_WORDINGS
from .sources import SOURCE_WORDINGS
from .verdict import PROPOSAL_SHUTDOWN

WORDINGS: dict[str, Wording] = {
    **RULE_WORDINGS,
    **QUESTION_WORDINGS,
    **ANTI_PATTERN_WORDINGS,
    **CONDITION_WORDINGS,
    **SOURCE_WORDINGS,
}


def wording(code: str, *, proposal: bool) -> Wording:
    """The wording of a finding with this code (``proposal``: the tune is a proposal)."""
    if proposal and code == PROPOSAL_SHUTDOWN.code:
        return PROPOSAL_SHUTDOWN
    return WORDINGS[code]


def render(code: str, figures: Mapping[str, Any], policy: Policy, *, proposal: bool) -> str:
    """A finding's message from its figures (as stored; an absent one reads as None)."""
    return wording(code, proposal=proposal).says(Cited(figures), policy)
