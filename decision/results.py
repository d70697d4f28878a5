"""What the engine hands back: a verdict per tune, the figures, and the findings behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .fmt import json_safe
from .vocabulary import Verdict

__all__ = ["ENGINE_VERSION", "Finding", "Severity", "TuneResult", "Verdict"]

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


@dataclass(frozen=True)
class TuneResult:
    """The engine's answer for one tune on one as-of date."""

    tune_id: int
    verdict: Verdict
    reason: str
    figures: dict[str, Any]
    findings: tuple[Finding, ...]
    engine_version: str

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
