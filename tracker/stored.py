"""How an evaluation's figures and findings are stored, and read back.

Tunes are evaluated every night, so an evaluation row is kept small:

- the figures once per row, under short keys (:data:`SHORT_KEYS`), without blanks, rounded as
  ``decision.fmt.stored`` rounds them;
- each finding as its code (``"pays_off"``, ``"pays_off!"`` when it decided the verdict), or
  ``[code, {values}]`` with only the values the row's own figures don't already hold: figures
  the finding adds (which ones are missing), what its message names besides figures (a model's
  label: ``Finding.words``), an infinite payback (``"inf"``).

A finding's source, severity, cited figures and message come back from the engine's wording of
its code (``decision.wordings``), rendered from the stored figures and the evaluation's policy:
the same words the engine wrote, because the engine words every finding from those same stored
values. Rows written before findings were stored by code hold whole findings (with their
message) and full figure keys; both read back unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

from decision import Finding, Policy, TuneResult, Verdict, vocabulary
from decision.fmt import stored
from decision.results import Cited
from decision.wordings import wording

#: The engine's figures under the short keys they are stored as. Stored rows use these keys: a
#: key never changes meaning; a figure without one is stored under its full key.
SHORT_KEYS: dict[str, str] = {
    "monthly_queries": "q",
    "input_tokens_per_query": "ti",
    "output_tokens_per_query": "to",
    "alternative_cost_per_query": "ca",
    "tune_cost_per_query": "ct",
    "monthly_net_saving": "s",
    "change_rate_per_quarter": "cr",
    "expected_stable_lifetime_months": "lf",
    "training_cost": "tc",
    "payback_months": "pb",
    "cumulative_net_saving": "cs",
    "recovered": "rc",
    "break_even_on": "be",
    "unrecovered_cost": "uc",
    "retrain_payback_months": "rpb",
    "lifetime_after_retraining_months": "rlf",
    "base_model_shutdown_on": "sd",
    "days_to_shutdown": "dsd",
    "volume_change_30d": "v30",
    "days_since_last_usage": "dlu",
    "quality_gap": "qg",
    "tune_score_shortfall": "ss",
    "last_trained_on": "lt",
    "lookback_start": "ls",
    "lookback_days": "ld",
    "task_changes_12m": "c12",
    "task_changes_since_training": "cst",
    "monthly_fixed_cost": "fc",
    "retrain_cost": "rt",
    "successor_shutdown_on": "ssd",
    "monthly_net_saving_at_past_prices": "sp",
}
FULL_KEYS: dict[str, str] = {short: full for full, short in SHORT_KEYS.items()}

#: Marks a finding that decided the verdict (after its code).
DECISIVE = "!"
#: Proposals get these verdicts; a few findings read differently for them.
PROPOSAL_VERDICTS = frozenset({Verdict.FINE_TUNE, Verdict.ITERATE})


def _finite(value: object) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def figures(values: Mapping[str, Any]) -> dict[str, Any]:
    """The figures as kept for a row (full keys): rounded, without blanks or infinities."""
    out = {}
    for key, value in values.items():
        value = stored(value)
        if value is not None and _finite(value):
            out[str(key)] = value
    return out


def result_figures(result: TuneResult) -> dict[str, Any]:
    """The result's figures as kept for a row (:func:`figures`): as the engine hands them over
    (``TuneResult.stored_figures``) when it does, so no figure is rounded twice."""
    if result.stored_figures is None:
        return figures(result.figures)
    return dict(result.stored_figures)


def pack_figures(values: Mapping[str, Any]) -> dict[str, Any]:
    """Full keys to stored keys (nothing else changes)."""
    return {SHORT_KEYS.get(key, key): value for key, value in values.items()}


def unpack_figures(values: Mapping[str, Any]) -> dict[str, Any]:
    """Stored keys (short or, in older rows, full) to full keys."""
    return {FULL_KEYS.get(key, key): value for key, value in values.items()}


def _pack_value(value: object) -> object:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _unpack_value(value: object) -> object:
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    return value


def pack_findings(
    findings: Iterable[Finding], row_figures: Mapping[str, Any], *, proposal: bool
) -> list[Any]:
    """The findings as stored, given the row's kept figures (:func:`figures`)."""
    in_row = _with_status(row_figures, proposal=proposal).get
    out: list[Any] = []
    for finding in findings:
        from_row = _from_row(finding.code)
        own = {}
        values = {**finding.figures, **finding.words} if finding.words else finding.figures
        for key, value in values.items():
            # As the engine kept it (see ``Wording.finding``): a stored float, string or None
            # (the usual values) stays as it is.
            kind = type(value)
            if kind is float:
                if value != value:
                    value = None
            elif value is not None and kind is not str:
                value = stored(value, exact=True)
            if key in from_row:
                if value == in_row(key):
                    continue  # read back from the row's figures
            elif value is None:
                continue  # an absent figure reads as None
            own[key] = _pack_value(value)
        code = finding.code + (DECISIVE if finding.decisive else "")
        out.append([code, own] if own else code)
    return out


@functools.cache
def _from_row(code: str) -> frozenset[str]:
    """The values a finding with this code reads back from its row's figures (a code's wording
    is fixed for the life of the process, so this is worked out once)."""
    said = wording(code)
    return frozenset((*said.cites, *said.uses))


def _with_status(row_figures: Mapping[str, Any], *, proposal: bool) -> dict[str, Any]:
    """The row's figures and whether the tune was a proposal, which a few messages name (a
    proposal's base model near shutdown reads differently): the verdict says it, so no finding
    stores it."""
    return {**row_figures, "status": _PROPOSED if proposal else _DEPLOYED}


_PROPOSED, _DEPLOYED = str(vocabulary.TuneStatus.PROPOSED), str(vocabulary.TuneStatus.DEPLOYED)


def policy_of(values: Mapping[str, Any]) -> Policy:
    """The engine's policy from stored thresholds (a threshold added since reads its default)."""
    known = vocabulary.policy_fields()
    return Policy(**{name: value for name, value in values.items() if name in known})


def unpack_findings(
    stored_findings: Iterable[Any],
    row_figures: Mapping[str, Any],
    policy: Policy,
    *,
    proposal: bool,
) -> list[dict[str, Any]]:
    """The findings as the engine wrote them: code, source, severity, message, decisive, figures."""
    row_figures = _with_status(row_figures, proposal=proposal)
    out = []
    for item in stored_findings:
        if isinstance(item, dict):  # stored whole, message included
            out.append(item)
            continue
        code, own = (item, {}) if isinstance(item, str) else (item[0], item[1])
        decisive = code.endswith(DECISIVE)
        code = code.removesuffix(DECISIVE)
        said = wording(code)
        values = {key: row_figures.get(key) for key in (*said.cites, *said.uses)}
        values.update({key: _unpack_value(value) for key, value in own.items()})
        shown = {
            key: value
            for key, value in values.items()
            if key not in said.uses and value is not None and _finite(value)
        }
        out.append(
            {
                "code": code,
                "source": str(said.source),
                "severity": str(said.severity),
                "message": said.says(Cited(values), policy),
                "decisive": decisive,
                "figures": shown,
            }
        )
    return out
