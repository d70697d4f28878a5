"""Findings about where the usage came from: volume estimated from tokens, and a billed cost
that disagrees with tokens × catalog price (the catalog price may be stale)."""

from __future__ import annotations

from typing import Any

from . import fmt
from .results import Finding, Severity

#: Billed and computed costs further apart than this (relative to computed) get a finding.
BILLED_TOLERANCE = 0.05


def source_findings(row: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    estimated = row.get("estimated_queries") or 0.0
    if estimated > 0:
        total = row.get("window_queries") or estimated
        out.append(
            Finding(
                "volume_estimated",
                "data",
                Severity.INFO,
                f"Volume is estimated: {estimated / total:.0%} of the {fmt.count(total)} queries "
                "in the lookback window come from a source without a request count and were "
                "estimated from the tune's tokens per query.",
                figures={"estimated_queries": estimated, "window_queries": total},
            )
        )
    billed, computed = row.get("billed_cost"), row.get("computed_cost")
    if (
        billed is not None  # is_missing covers None too, but mypy only narrows on "is None"
        and computed is not None
        and not fmt.is_missing(billed)
        and not fmt.is_missing(computed)
        and computed > 0
    ):
        difference = (billed - computed) / computed
        if abs(difference) > BILLED_TOLERANCE:
            out.append(
                Finding(
                    "billed_differs_from_computed",
                    "data",
                    Severity.WATCH,
                    f"The sources billed {fmt.usd(billed)} over the lookback window, but the "
                    f"same tokens at the catalog price cost {fmt.usd(computed)} "
                    f"({difference:+.0%}): the catalog price may be stale.",
                    figures={"billed_cost": billed, "computed_cost": computed},
                )
            )
    return out
