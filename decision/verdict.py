"""Turns the figures into verdicts and findings, using the rule table in ``rules.py``.

Deployed tunes: the first verdict in ``rules.PRECEDENCE`` with a deciding rule that holds wins
(else KEEP), and every rule that holds is reported as a finding. Proposals: FINE_TUNE or ITERATE
from the four questions. The rule conditions are whole columns; only the final per-tune objects
are assembled in a loop over already-computed rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

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

_Item = TypeVar("_Item")


class _Tune(NamedTuple):
    """What one tune's result is assembled from: its figures, worked out a frame column at a time
    (:func:`_figures`), JSON-safe (``TuneResult.figures``) and as a stored row keeps them
    (``TuneResult.stored_figures``); the row's values its findings store, exact and rounded, by
    key (``Rule.stored_finding`` adds the ones they lack); the rules that hold for it, in table
    order (``rule_flags`` already kept each rule to the tunes it applies to); its verdict and the
    codes of the findings that decide it (:func:`_deciding`)."""

    figures: dict[str, Any]
    stored_figures: dict[str, Any]  # the known, finite ones
    exact: dict[str, Any]
    rounded: dict[str, Any]
    rules: tuple[Rule, ...]
    verdict: Verdict
    deciding: frozenset[str]


class _FlagsRow(Mapping[str, Any]):
    """One tune's row of the flags frame, read from its columns when asked: a rule's notes read
    a flag or two of the fifty."""

    __slots__ = ("_columns", "_i")

    def __init__(self, columns: dict[str, list[Any]], i: int) -> None:
        self._columns, self._i = columns, i

    def __getitem__(self, key: str) -> Any:
        return self._columns[key][self._i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _deciding(proposal: bool, verdict: Verdict) -> frozenset[str]:
    """The codes of the findings that decide this verdict (marked ``decisive``): for a deployed
    tune every rule arguing for it (KEEP: ``pays_off``); for a proposal each question's answer
    (FINE_TUNE) or the answers arguing for it."""
    if not proposal:
        if verdict is Verdict.KEEP:
            return frozenset({"pays_off"})
        return frozenset(rule.code for rule in RULES if rule.verdict is verdict)
    answers = [rule for rule in RULES if rule.short is not None]
    if verdict is Verdict.FINE_TUNE:
        return frozenset(rule.code for rule in answers)
    return frozenset(rule.code for rule in answers if rule.verdict is verdict)


def _holding(
    row: dict[str, Any], flags: Mapping[str, Any], policy: Policy, tune: _Tune
) -> list[tuple[Rule, Finding]]:
    """The rules that hold for this tune, each with its finding, in table order; the findings
    that decide its verdict are marked so."""
    exact, rounded, deciding = tune.exact, tune.rounded, tune.deciding
    return [
        (rule, rule.stored_finding(row, flags, policy, exact, rounded, rule.code in deciding))
        for rule in tune.rules
    ]


def deployed_result(
    row: dict[str, Any], flags: Mapping[str, Any], policy: Policy, tune: _Tune
) -> TuneResult:
    verdict = tune.verdict
    findings = [finding for _, finding in _holding(row, flags, policy, tune)]
    decisive = [f for f in findings if f.decisive]
    if verdict is Verdict.KEEP:
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
        figures=tune.figures,
        findings=tuple(findings),
        engine_version=ENGINE_VERSION,
        stored_figures=tune.stored_figures,
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


def proposal_result(
    row: dict[str, Any], flags: Mapping[str, Any], policy: Policy, tune: _Tune
) -> TuneResult:
    """FINE_TUNE with every question's answer, or ITERATE with the ones that fail."""
    verdict = tune.verdict
    held = _holding(row, flags, policy, tune)
    answers = [
        (rule, finding, rule.short(row, policy)) for rule, finding in held if rule.short is not None
    ]
    if verdict is Verdict.FINE_TUNE:
        shorts = "; ".join(short for _, _, short in answers)
        reason = f"All four questions pass and no anti-pattern applies: {shorts}."
    else:
        failed = [short for rule, _, short in answers if rule.verdict is verdict]
        reason = f"Keep improving prompts and retrieval: fails {and_list(failed)}."
    return TuneResult(
        tune_id=int(row["tune_id"]),
        verdict=verdict,
        reason=reason,
        figures=tune.figures,
        findings=tuple(finding for _, finding in held),
        engine_version=ENGINE_VERSION,
        stored_figures=tune.stored_figures,
    )


def decide(frame: pd.DataFrame, policy: Policy) -> list[TuneResult]:
    """One result per row of the figures frame, sorted by tune id."""
    flags = rule_flags(frame, policy)
    columns = {str(name): _plain_values(frame[name]) for name in frame.columns}
    columns["tune_id"] = _plain_values(frame.index)
    rows = _rows(columns)
    marks = {str(name): _plain_values(flags[name]) for name in flags.columns}
    figures = _figures(frame, columns)
    holding = _holding_rules(flags)
    verdicts = {value: Verdict(value) for value in set(marks["verdict"])}
    # Worked out on each run, as the rule table reads then.
    deciding = {
        (proposal, verdict): _deciding(proposal, verdict)
        for proposal in (False, True)
        for verdict in verdicts.values()
    }
    # By tune id, as the rows' dict was keyed (a repeated id keeps its last row).
    positions = {int(key): i for i, key in enumerate(frame.index.tolist())}
    results = []
    for tune_id in sorted(positions):
        i = positions[tune_id]
        row = rows[i]
        proposal = row["status"] == "proposed"
        verdict = verdicts[marks["verdict"][i]]
        tune = _Tune(*figures[i], holding[i], verdict, deciding[proposal, verdict])
        build = proposal_result if proposal else deployed_result
        results.append(build(row, _FlagsRow(marks, i), policy, tune))
    return results


def _holding_rules(flags: pd.DataFrame) -> list[tuple[Rule, ...]]:
    """The rules that hold for each tune, in table order."""
    return _picked(flags[[rule.code for rule in RULES]].to_numpy(dtype=bool), RULES)


def _picked(marks: np.ndarray, items: Sequence[_Item]) -> list[tuple[_Item, ...]]:
    """For each row of ``marks`` (bools, a column per item), the items marked, in order: worked
    out once for each combination that occurs (a portfolio has few)."""
    if not items:
        return [()] * len(marks)
    # Each row's combination as one opaque value (its bits), for a fast np.unique.
    bits = np.ascontiguousarray(np.packbits(marks, axis=1))
    combinations = bits.view(np.dtype((np.void, bits.shape[1]))).ravel()
    _, first, which = np.unique(combinations, return_index=True, return_inverse=True)
    picked = [
        tuple(item for item, marked in zip(items, marks[i].tolist(), strict=True) if marked)
        for i in first.tolist()
    ]
    return [picked[k] for k in which.ravel().tolist()]


def _plain_values(values: pd.Series | pd.Index) -> list[Any]:
    """A column as plain Python values (``tolist`` is far cheaper than ``to_dict``): numpy
    floats, ints and bools come out plain, dates as ``pd.Timestamp``; <NA> and NaT (in masked
    "Int64", string or date columns) become None, and numpy bools bools."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return values.tolist()
    if (isinstance(dtype, np.dtype) and dtype.kind == "M") or isinstance(dtype, pd.DatetimeTZDtype):
        # Each distinct day boxed once (a Timestamp can be shared): a portfolio has few of them.
        codes, days = pd.factorize(values)
        boxed = days.tolist()
        return [None if code < 0 else boxed[code] for code in codes.tolist()]
    plain = values.tolist()
    na, nat, np_bool = pd.NA, pd.NaT, np.bool_
    return [
        None
        if value is na or value is nat
        else bool(value)
        if isinstance(value, np_bool)
        else value
        for value in plain
    ]


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Each row as a dict, in frame order."""
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _figures(
    frame: pd.DataFrame, columns: dict[str, list[Any]]
) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Each tune's figures four ways (the first four of :class:`_Tune`), worked out a column at a
    time: the values ``fmt.json_safe`` and ``fmt.stored`` give figure by figure, without a call
    per figure. The findings start from a figure's JSON-safe value as its exact stored one (all
    but an infinity are) and from the rounded one kept; they store any other value (a figure of
    an unusual kind, what isn't a figure) themselves as they read it."""
    as_json: list[list[Any]] = []
    kept: list[list[Any]] = []
    # By tune and figure: the figures a stored row leaves out (unknown or infinite), and those
    # the findings can't start from.
    shape = (len(frame), len(FIGURE_KEYS))
    blank, not_exact, not_rounded = (
        np.zeros(shape, bool),
        np.zeros(shape, bool),
        np.zeros(shape, bool),
    )
    for j, key in enumerate(FIGURE_KEYS):
        values = columns[key]
        series = frame[key]
        kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else None
        if kind == "f":
            array = series.to_numpy()
            as_json.append(fmt.json_safe_floats(values))
            kept.append(fmt.stored_floats(values))
            blank[:, j] = ~np.isfinite(array)
            not_exact[:, j] = np.isinf(array)
        elif kind == "M":
            days = fmt.iso_days(series.to_numpy())
            as_json.append(days)
            kept.append(days)
            blank[:, j] = [day is None for day in days]
        elif kind in ("i", "u", "b") or all(
            value is None or type(value) in _SELF_STORED for value in values
        ):
            as_json.append(values)  # every form of these is the value itself
            kept.append(values)
            blank[:, j] = [value is None for value in values]
        else:
            json_values = [fmt.json_safe(value) for value in values]
            as_json.append(json_values)
            kept.append([fmt.stored(value) for value in json_values])
            blank[:, j] = [not _kept(value) for value in kept[-1]]
            not_exact[:, j] = not_rounded[:, j] = True
    out = []
    for json_row, kept_row, blanks, inexact, unrounded in zip(
        zip(*as_json, strict=True),
        zip(*kept, strict=True),
        _picked(blank, FIGURE_KEYS),
        _picked(not_exact, FIGURE_KEYS),
        _picked(not_rounded, FIGURE_KEYS),
        strict=True,
    ):
        figures = dict(zip(FIGURE_KEYS, json_row, strict=True))
        stored_figures = dict(zip(FIGURE_KEYS, kept_row, strict=True))
        exact, rounded = figures.copy(), stored_figures.copy()
        for key in inexact:
            del exact[key]
        for key in unrounded:
            del rounded[key]
        for key in blanks:
            del stored_figures[key]
        out.append((figures, stored_figures, exact, rounded))
    return out


def _kept(value: object) -> bool:
    """Whether a stored row keeps this stored figure: known and finite."""
    return value is not None and not (isinstance(value, float) and math.isinf(value))


#: Plain values that ``fmt.json_safe`` and ``fmt.stored`` (exact or rounded) return unchanged.
_SELF_STORED = (str, int, bool)
