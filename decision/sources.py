"""Findings about where the usage came from: volume estimated from tokens, and a billed cost
that disagrees with tokens × catalog price (the catalog price may be stale)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import fmt
from .inputs import Policy
from .results import Finding, Severity, Wording

#: Billed and computed costs further apart than this (relative to computed) get a finding.
BILLED_TOLERANCE = 0.05


def _estimated(f: Mapping[str, Any], policy: Policy) -> str:
    estimated, total = f["estimated_queries"], f["window_queries"]
    return (
        f"Volume is estimated: {estimated / total:.0%} of the {fmt.count(total)} queries "
        "in the lookback window come from a source without a request count and were "
        "estimated from the tune's tokens per query."
    )


def _billed_differs(f: Mapping[str, Any], policy: Policy) -> str:
    billed, computed = f["billed_cost"], f["computed_cost"]
    return (
        f"The sources billed {fmt.usd(billed)} over the lookback window, but the "
        f"same tokens at the catalog price cost {fmt.usd(computed)} "
        f"({(billed - computed) / computed:+.0%}): the catalog price may be stale."
    )


#: How the findings about where usage came from read, by code.
SOURCE_WORDINGS: dict[str, Wording] = {
    "volume_estimated": Wording(
        "volume_estimated",
        "data",
        Severity.INFO,
        _estimated,
        ("estimated_queries", "window_queries"),
    ),
    "billed_differs_from_computed": Wording(
        "billed_differs_from_computed",
        "data",
        Severity.WATCH,
        _billed_differs,
        ("billed_cost", "computed_cost"),
    ),
}


def source_findings(row: dict[str, Any], policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    estimated = row.get("estimated_queries") or 0.0
    if estimated > 0:
        total = row.get("window_queries") or estimated
        out.append(
            SOURCE_WORDINGS["volume_estimated"].finding(
                {"estimated_queries": estimated, "window_queries": total}, policy
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
                SOURCE_WORDINGS["billed_differs_from_computed"].finding(
                    {"billed_cost": billed, "computed_cost": computed}, policy
                )
            )
    return out
