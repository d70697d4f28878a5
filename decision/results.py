"""What the engine hands back: a verdict per tune, the figures, and the findings behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .fmt import json_safe, stored
from .inputs import Policy
from .vocabulary import Verdict

__all__ = [
    "ENGINE_VERSION",
    "Cited",
    "Finding",
    "Message",
    "Severity",
    "TuneResult",
    "Verdict",
    "Wording",
]

#: Recorded with every result so a stored verdict can be traced to the rules that produced it.
ENGINE_VERSION = "1.0.0"


class Severity(StrEnum):
    """How much a finding asks of the reader: nothing, attention, or a decision."""

    INFO = "info"
    WATCH = "watch"
    ACTION = "action"


@dataclass(frozen=True)
class Finding:
    """One rule that holds for a tune, in plain words with the numbers behind it.

    ``code`` is a stable machine code (``vocabulary.finding_codes()``); ``source`` names the part
    of the article's framework it comes from (a ``vocabulary.Part``);
    ``decisive`` marks the finding(s) that decided the verdict.
    """

    code: str
    source: str
    severity: Severity
    message: str
    decisive: bool = False
    figures: dict[str, Any] = field(default_factory=dict[str, Any])
    #: What else the message names (a model's label, which bound sets a lifetime): not figures
    #: the finding reports, but stored with it so the message can be worded again.
    words: dict[str, Any] = field(default_factory=dict[str, Any])

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (severity as its string value)."""
        return {
            "code": self.code,
            "source": str(self.source),
            "severity": str(self.severity),
            "message": self.message,
            "decisive": self.decisive,
            "figures": json_safe(self.figures),
        }


class Cited(dict[str, Any]):
    """A finding's figures by key; one it doesn't have reads as None (storage omits blanks)."""

    def __missing__(self, key: str) -> None:
        return None


#: A finding's message: its figures and the policy in, the words out. It reads nothing else, so
#: a stored finding (its code and figures) reads the same when its message is rendered again.
Message = Callable[[Mapping[str, Any], Policy], str]


@dataclass(frozen=True)
class Wording:
    """How a finding with this code reads: where it comes from, its severity, the figures it
    cites (``cites``; a finding may add others, e.g. which figures are missing), the other
    values its message names (``uses``, see ``Finding.words``) and the message (``says``)."""

    code: str
    source: str
    severity: Severity
    says: Message
    cites: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()

    def finding(
        self, figures: Mapping[str, Any], policy: Policy, words: Mapping[str, Any] | None = None
    ) -> Finding:
        """The finding with these figures and words, kept as they are stored (``fmt.stored``):
        rounded, unless rounding would change the message (a value just past a tie, such as
        155,434.5000001 queries, rounds onto it): then exact, so the message worded again from
        them reads the same."""
        words = words or {}
        exact, rounded = Cited(), Cited()
        for values in (figures, words):
            for key, value in values.items():
                exact[key] = stored(value, exact=True)
                rounded[key] = stored(value)
        return self.stored_finding(figures, words, exact, rounded, policy)

    def stored_finding(
        self,
        figures: Iterable[str],
        words: Iterable[str],
        exact: Cited,
        rounded: Cited,
        policy: Policy,
        decisive: bool = False,
    ) -> Finding:
        """:meth:`finding`, given the keys of its figures and words and every value already as
        ``fmt.stored`` keeps it, exact and rounded (a tune's findings share those); ``decisive``
        as the finding's."""
        message = self.says(exact, policy)
        kept = rounded if rounded == exact or self.says(rounded, policy) == message else exact
        return Finding(
            self.code,
            self.source,
            self.severity,
            message,
            decisive,
            {key: kept[key] for key in figures},
            {key: kept[key] for key in words},
        )


@dataclass(frozen=True)
class TuneResult:
    """The engine's answer for one tune on one as-of date."""

    tune_id: int
    verdict: Verdict
    reason: str
    figures: dict[str, Any]
    findings: tuple[Finding, ...]
    engine_version: str
    #: The figures a stored row keeps: the known, finite ones, as ``fmt.stored`` rounds them;
    #: handed over when the engine worked them out with the result (``decide`` does), else None,
    #: so they need not be rounded again. Not part of the result's value: equality, ``repr`` and
    #: :meth:`as_dict` leave it out.
    stored_figures: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def codes(self) -> tuple[str, ...]:
        """The finding codes, in rule order (handy in tests and logs)."""
        return tuple(f.code for f in self.findings)

    def finding(self, code: str) -> Finding | None:
        """The finding with this code, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict[str, Any], ready for a JSONField."""
        return {
            "tune_id": int(self.tune_id),
            "verdict": str(self.verdict),
            "reason": self.reason,
            "figures": json_safe(self.figures),
            "findings": [f.as_dict() for f in self.findings],
            "engine_version": self.engine_version,
        }
