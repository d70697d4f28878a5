"""Turns the figures into verdicts and findings, using the rule table in ``rules.py``.

Deployed tunes: the first verdict in ``rules.PRECEDENCE`` with a deciding rule that holds wins
(else KEEP), and every rule that holds is reported as a finding. Proposals: FINE_TUNE or ITERATE
from the four questions. The rule conditions are whole columns; only the final per-tune objects
are assembled in a loop over already-computed rows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from . import fmt
from .engine import FIGURE_KEYS
from .inputs import Policy
from .readiness import savings_sum
from .results import ENGINE_VERSION, Finding, TuneResult, Verdict
from .rules import RULES, Rule, and_list, rule_flags
from .sources import source_findings

# --- assembly ------------------------------------------------------------------------------


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {key: fmt.json_safe(row[key]) for key in FIGURE_KEYS}


def _with_decisive(findings: list[Finding], decisive: list[Finding]) -> tuple[Finding, ...]:
    chosen = {id(finding) for finding in decisive}
    return tuple(
        replace(finding, decisive=True) if id(finding) in chosen else finding
        for finding in findings
    )


def _holding(
    row: dict[str, Any], flags: dict[str, Any], policy: Policy
) -> list[tuple[Rule, Finding]]:
    """The rules that hold for this tune, each with its finding, in table order (``rule_flags``
    already kept each rule to the tunes it applies to)."""
    return [(rule, rule.finding(row, flags, policy)) for rule in RULES if flags[rule.code]]


def deployed_result(row: dict[str, Any], flags: dict[str, Any], policy: Policy) -> TuneResult:
    findings = [finding for _, finding in _holding(row, flags, policy)]
    verdict = Verdict(flags["verdict"])
    deciding_codes = {rule.code for rule in RULES if rule.verdict is verdict}
    decisive = [f for f in findings if f.code in deciding_codes]
    if verdict is Verdict.KEEP:
        decisive = [f for f in findings if f.code == "pays_off"]
        reason = _keep_reason(row)
    elif verdict is Verdict.RETRAIN:
        outcome = next(f for f in decisive if f.code == "retraining_pays_back")
        first, *others = [f for f in decisive if f is not outcome]
        reason = _also(
            f"{first.message.rstrip('.')}; {outcome.message[0].lower()}{outcome.message[1:]}",
            others,
        )
    else:
        reason = _also(decisive[0].message, decisive[1:])
    # Where the usage came from (estimated volume, a billed cost that disagrees): context that
    # never decides, so it stays outside the rule table.
    findings = [*findings, *source_findings(row, policy)]
    return TuneResult(
        tune_id=int(row["tune_id"]),
        verdict=verdict,
        reason=reason,
        figures=_figures(row),
        findings=_with_decisive(findings, decisive),
        engine_version=ENGINE_VERSION,
    )


def _also(reason: str, others: list[Finding]) -> str:
    """The reason, followed by every other deciding finding in full: nothing points at reasons
    a surface might not show."""
    if not others:
        return reason
    return f"{reason} Also: {' '.join(finding.message for finding in others)}"


def _keep_reason(row: dict[str, Any]) -> str:
    if row["recovered"] is True:
        recovery = f"training cost recovered on {fmt.day(row['break_even_on'])}"
    else:
        recovery = (
            f"it {fmt.pays_back(row['payback_months'])}, within the expected stable lifetime "
            f"of {fmt.months(row['expected_stable_lifetime_months'])}"
        )
    return f"Still pays off: it {savings_sum(row)}; {recovery}."


def proposal_result(row: dict[str, Any], flags: dict[str, Any], policy: Policy) -> TuneResult:
    """FINE_TUNE with every question's answer, or ITERATE with the ones that fail."""
    held = _holding(row, flags, policy)
    verdict = Verdict(flags["verdict"])
    answers = [
        (rule, finding, rule.short(row, policy)) for rule, finding in held if rule.short is not None
    ]
    if verdict is Verdict.FINE_TUNE:
        decisive = [finding for _, finding, _ in answers]
        shorts = "; ".join(short for _, _, short in answers)
        reason = f"All four questions pass and no anti-pattern applies: {shorts}."
    else:
        failed = [(finding, short) for rule, finding, short in answers if rule.verdict is verdict]
        decisive = [finding for finding, _ in failed]
        reason = f"Keep improving prompts and retrieval: fails {and_list([s for _, s in failed])}."
    findings = [finding for _, finding in held]
    return TuneResult(
        tune_id=int(row["tune_id"]),
        verdict=verdict,
        reason=reason,
        figures=_figures(row),
        findings=_with_decisive(findings, decisive),
        engine_version=ENGINE_VERSION,
    )


def decide(frame: pd.DataFrame, policy: Policy) -> list[TuneResult]:
    """One result per row of the figures frame, sorted by tune id."""
    flags = rule_flags(frame, policy)
    rows = _records(frame.assign(tune_id=frame.index))
    marks = _records(flags)
    results = []
    for tune_id in sorted(rows):
        row = rows[tune_id]
        build = proposal_result if row["status"] == "proposed" else deployed_result
        results.append(build(row, marks[tune_id], policy))
    return results


def _records(frame: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Each row as a dict of plain Python values, by index (column lists are far cheaper than
    ``to_dict``). Only columns that can hold <NA> or NaT go through :func:`_plain`."""
    names = [str(name) for name in frame.columns]
    columns = []
    for name in frame.columns:
        dtype = frame[name].dtype
        values = frame[name].tolist()
        # numpy floats, ints and bools come out plain; masked ones ("Int64") can hold <NA>.
        if not (isinstance(dtype, np.dtype) and dtype.kind in "fiub"):
            values = [_plain(value) for value in values]
        columns.append(values)
    return {
        int(key): dict(zip(names, row, strict=True))
        for key, row in zip(frame.index.tolist(), zip(*columns, strict=True), strict=True)
    }


def _plain(value: object) -> object:
    """pandas scalars to plain Python so ``is True`` and formatting behave."""
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
