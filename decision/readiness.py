"""The article's four questions and its anti-patterns, asked of a proposed tune.

FINE_TUNE only when all four questions pass and no anti-pattern applies; a question that cannot
be answered from the data does not pass (the article: "if any answer is no, keep iterating").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import fmt
from .inputs import Policy
from .results import Finding, Message, Severity, Wording
from .vocabulary import Part, quoted

#: The codes the four questions' findings carry (one pass or fail code per outcome).
QUESTION_CODES: frozenset[str] = frozenset(
    {
        "q1_not_articulable",
        "q1_prompting_hit_ceiling",
        "q1_can_be_written_down",
        "q2_task_stable",
        "q2_changes_too_often",
        "q3_enough_examples",
        "q3_too_few_examples",
        "q4_gap_significant",
        "q4_gap_unknown",
        "q4_gap_too_small",
        "q4_payback_unknown",
        "q4_does_not_pay_back",
    }
)
#: The codes of conditions 1 and 3 when claimed (context, not part of the verdict).
CONDITION_CODES: frozenset[str] = frozenset(
    {"condition_1_behaviour_unpromptable", "condition_3_tacit_expertise"}
)


@dataclass(frozen=True)
class AntiPattern:
    column: str
    code: str
    label: str
    message: str


ANTI_PATTERNS: tuple[AntiPattern, ...] = (
    AntiPattern(
        "adds_knowledge",
        "anti_pattern_adds_knowledge",
        "adding knowledge",
        "Adding new knowledge is no reason to fine-tune: put it in the retrieval store, which "
        "can keep up with knowledge that changes faster than weights can.",
    ),
    AntiPattern(
        "fixes_formatting",
        "anti_pattern_formatting",
        "formatting",
        "Formatting is a prompt problem: fix it with better instructions and validation rules.",
    ),
    AntiPattern(
        "few_edge_cases",
        "anti_pattern_few_edge_cases",
        "a few edge cases",
        "A few edge cases don't justify training a model: add them to the prompt examples or "
        "the RAG corpus.",
    ),
    AntiPattern(
        "brand_tone",
        "anti_pattern_brand_tone",
        "brand tone",
        "Sounding like the brand is a prompt problem: a few sentences of voice guidance do "
        "more than a training run.",
    ),
)


def question_flags(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Whether each question passes, per tune (unknown inputs never pass)."""
    q4_gap = frame["quality_gap"] >= policy.min_quality_gap
    q4_payback = frame["payback_months"] <= frame["expected_stable_lifetime_months"]
    flags = pd.DataFrame(
        {
            "q1": ~frame["need_is_articulable"] | (frame["baseline_score"] < frame["target_score"]),
            "q2": frame["change_rate_per_quarter"] <= policy.max_changes_per_quarter,
            "q3": frame["labelled_examples"] >= policy.min_labelled_examples,
            "q4_gap": q4_gap,
            "q4_payback": q4_payback,
            "q4": q4_gap & q4_payback,
        }
    )
    flags["anti_pattern"] = frame[[a.column for a in ANTI_PATTERNS]].any(axis=1)
    flags["fine_tune"] = flags[["q1", "q2", "q3", "q4"]].all(axis=1) & ~flags["anti_pattern"]
    return flags


def savings_sum(row: Mapping[str, Any]) -> str:
    """ "saves $4,800 a month (1,000,000 queries/month × ($0.004 − $0.0008) − $500 fixed)", or
    "loses $240 a month (...)" when the net saving is negative."""
    return (
        f"{fmt.nets(row['monthly_net_saving'])} "
        f"({fmt.count(row['monthly_queries'])} queries/month × "
        f"({fmt.usd_per_query(row['alternative_cost_per_query'])} − "
        f"{fmt.usd_per_query(row['tune_cost_per_query'])}) − "
        f"{fmt.usd(row['monthly_fixed_cost'])} fixed)"
    )


# --- what each question's finding says: from its figures and the policy only ------------------

_Q1, _Q2, _Q3, _Q4 = (
    quoted(part)
    for part in (
        Part.WRITTEN_DOWN,
        Part.TASK_CHANGES_RARELY,
        Part.THOUSANDS_OF_EXAMPLES,
        Part.GAP_WORTH_CLOSING,
    )
)
_SCORES = ("target_score", "baseline_score", "quality_gap")
_CHANGES = ("change_rate_per_quarter", "task_changes_12m")
_EXAMPLES = ("labelled_examples", "min_labelled_examples")
_MONEY = (
    "monthly_net_saving",
    "monthly_queries",
    "alternative_cost_per_query",
    "tune_cost_per_query",
    "monthly_fixed_cost",
    "training_cost",
    "payback_months",
    "expected_stable_lifetime_months",
)


def _ceiling(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{_Q1} passes: the need can be written down, but the best prompt/RAG setup scores "
        f"{fmt.number(f['baseline_score'], 3)} against a {fmt.number(f['target_score'], 3)} "
        f"target, so prompting has hit its ceiling."
    )


def _written_down(f: Mapping[str, Any], policy: Policy) -> str:
    target, baseline = f["target_score"], f["baseline_score"]
    if fmt.is_missing(baseline) or fmt.is_missing(target):
        why = "and no measured prompt/RAG score against a target shows a ceiling"
    else:
        why = (
            f"and the best prompt/RAG setup already scores {fmt.number(baseline, 3)}, "
            f"reaching the {fmt.number(target, 3)} target"
        )
    return f"{_Q1} fails: the need can be written down {why}; start with prompting and RAG."


def _change_words(f: Mapping[str, Any]) -> str:
    return (
        f"{fmt.plural(f['task_changes_12m'], 'meaningful task change')} in the last 365 days, "
        f"{fmt.number(f['change_rate_per_quarter'])} per quarter"
    )


def _task_stable(f: Mapping[str, Any], policy: Policy) -> str:
    limit = fmt.number(policy.max_changes_per_quarter)
    return f"{_Q2} passes: {_change_words(f)} (at most {limit} allowed)."


def _changes_too_often(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{_Q2} fails: {_change_words(f)}, more than the "
        f"{fmt.number(policy.max_changes_per_quarter)} maximum; keep the logic in prompts and "
        f"retrieval, where changes are cheap."
    )


def _enough_examples(f: Mapping[str, Any], policy: Policy) -> str:
    examples, needed = f["labelled_examples"], policy.min_labelled_examples
    return f"{_Q3} passes: {fmt.count(examples)} labelled examples (at least {needed:,} needed)."


def _too_few_examples(f: Mapping[str, Any], policy: Policy) -> str:
    examples, needed = f["labelled_examples"], policy.min_labelled_examples
    have = (
        "no count of labelled examples is recorded"
        if fmt.is_missing(examples)
        else f"{fmt.count(examples)} labelled examples, fewer than the {needed:,} needed"
    )
    return f"{_Q3} fails: {have}; without the examples fine-tuning is expensive guesswork."


def _gap_words(f: Mapping[str, Any]) -> str:
    return (
        f"the gap between the best prompt ({fmt.number(f['baseline_score'], 3)}) and the target "
        f"({fmt.number(f['target_score'], 3)}) is {fmt.number(f['quality_gap'], 3)}"
    )


def _pay_words(f: Mapping[str, Any]) -> str:
    return (
        f"the {fmt.usd(f['training_cost'])} upfront cost {fmt.pays_back(f['payback_months'])} "
        f"as it {savings_sum(f)}"
    )


def _gap_significant(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{_Q4} passes: {_gap_words(f)} (at least {fmt.number(policy.min_quality_gap, 3)}), and "
        f"{_pay_words(f)}, within the expected stable lifetime of "
        f"{fmt.months(f['expected_stable_lifetime_months'])}."
    )


def _gap_too_small(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{_Q4} fails: {_gap_words(f)}, below the {fmt.number(policy.min_quality_gap, 3)} "
        f"minimum; if the gap is small, live with it."
    )


def _does_not_pay_back(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{_Q4} fails: {_pay_words(f)}, beyond the expected stable lifetime of "
        f"{fmt.months(f['expected_stable_lifetime_months'])}."
    )


def _words(text: str) -> Message:
    return lambda f, policy: text


def _question(
    code: str, part: Part, passed: bool, says: Message, cites: tuple[str, ...]
) -> Wording:
    severity = Severity.INFO if passed else Severity.ACTION
    return Wording(code, part, severity, says, cites)


_WD, _TC, _TE, _GW = (
    Part.WRITTEN_DOWN,
    Part.TASK_CHANGES_RARELY,
    Part.THOUSANDS_OF_EXAMPLES,
    Part.GAP_WORTH_CLOSING,
)

#: How each question's findings read, by code; failed questions are ``action``.
QUESTION_WORDINGS: dict[str, Wording] = {
    w.code: w
    for w in (
        _question(
            "q1_not_articulable",
            _WD,
            True,
            _words(
                f"{_Q1} passes: the need can't be written down in words, so prompts and "
                "retrieval can't carry it."
            ),
            _SCORES,
        ),
        _question("q1_prompting_hit_ceiling", _WD, True, _ceiling, _SCORES),
        _question("q1_can_be_written_down", _WD, False, _written_down, _SCORES),
        _question("q2_task_stable", _TC, True, _task_stable, _CHANGES),
        _question("q2_changes_too_often", _TC, False, _changes_too_often, _CHANGES),
        _question("q3_enough_examples", _TE, True, _enough_examples, _EXAMPLES),
        _question("q3_too_few_examples", _TE, False, _too_few_examples, _EXAMPLES),
        _question("q4_gap_significant", _GW, True, _gap_significant, (*_SCORES, *_MONEY)),
        _question(
            "q4_gap_unknown",
            _GW,
            False,
            _words(
                f"{_Q4} can't pass: without both a target score and a measured best prompt/RAG "
                "score the size of the gap is unknown."
            ),
            _SCORES,
        ),
        _question("q4_gap_too_small", _GW, False, _gap_too_small, _SCORES),
        _question(
            "q4_payback_unknown",
            _GW,
            False,
            _words(
                f"{_Q4} can't pass: the payback can't be computed (see the missing data), so it "
                "is unknown whether the upfront cost pays back."
            ),
            _MONEY,
        ),
        _question("q4_does_not_pay_back", _GW, False, _does_not_pay_back, _MONEY),
    )
}


def question_findings(
    row: dict[str, Any], flags: dict[str, Any], policy: Policy
) -> list[tuple[Finding, str]]:
    """One finding per question (pass or fail) plus one per anti-pattern that applies, each with
    a short phrase for the verdict's one-sentence reason. Failed items are ``action``."""
    out: list[tuple[Finding, str]] = []
    figures = {**row, "min_labelled_examples": policy.min_labelled_examples}

    def add(code: str, short: str) -> None:
        wording = QUESTION_WORDINGS[code]
        cited = {key: figures.get(key) for key in wording.cites}
        out.append((wording.finding(cited, policy), short))

    target, baseline = row["target_score"], row["baseline_score"]
    # Q1
    if not row["need_is_articulable"]:
        add("q1_not_articulable", "the need can't be written down")
    elif flags["q1"]:
        add(
            "q1_prompting_hit_ceiling",
            f"prompting tops out at {fmt.number(baseline, 3)} of {fmt.number(target, 3)}",
        )
    else:
        add("q1_can_be_written_down", f"{_Q1} (it can be written down)")
    # Q2
    rate, limit = row["change_rate_per_quarter"], policy.max_changes_per_quarter
    if flags["q2"]:
        add("q2_task_stable", f"{fmt.number(rate)} changes/quarter")
    else:
        add(
            "q2_changes_too_often",
            f"{_Q2} ({fmt.number(rate)} task changes per quarter > {fmt.number(limit)})",
        )
    # Q3
    examples, needed = row["labelled_examples"], policy.min_labelled_examples
    if flags["q3"]:
        add("q3_enough_examples", f"{fmt.count(examples)} examples")
    else:
        add("q3_too_few_examples", f"{_Q3} ({fmt.count(examples)} labelled examples < {needed:,})")
    # Q4: the gap, then whether closing it pays back.
    gap, min_gap = row["quality_gap"], policy.min_quality_gap
    payback, lifetime = row["payback_months"], row["expected_stable_lifetime_months"]
    if flags["q4"]:
        add(
            "q4_gap_significant",
            f"gap {fmt.number(gap, 3)}, payback {fmt.months(payback)} "
            f"within {fmt.months(lifetime)}",
        )
    else:
        if fmt.is_missing(gap):
            add("q4_gap_unknown", f"{_Q4} (gap unknown)")
        elif not flags["q4_gap"]:
            add("q4_gap_too_small", f"{_Q4} (gap {fmt.number(gap, 3)} < {fmt.number(min_gap, 3)})")
        if fmt.is_missing(payback) or fmt.is_missing(lifetime):
            add("q4_payback_unknown", f"{_Q4} (payback unknown)")
        elif not flags["q4_payback"]:
            add(
                "q4_does_not_pay_back",
                f"{_Q4} (payback {fmt.months(payback)} > {fmt.months(lifetime)})",
            )
    # Anti-patterns: each one fails with the article's advice.
    for pattern in ANTI_PATTERNS:
        if row[pattern.column]:
            wording = ANTI_PATTERN_WORDINGS[pattern.code]
            out.append(
                (wording.finding({}, policy), f"{quoted(Part.NOT_A_REASON)} ({pattern.label})")
            )
    return out


#: How each anti-pattern's finding reads, by code.
ANTI_PATTERN_WORDINGS: dict[str, Wording] = {
    a.code: Wording(a.code, Part.NOT_A_REASON, Severity.ACTION, _words(a.message))
    for a in ANTI_PATTERNS
}

#: How conditions 1 and 3 read when claimed, by code.
CONDITION_WORDINGS: dict[str, Wording] = {
    "condition_1_behaviour_unpromptable": Wording(
        "condition_1_behaviour_unpromptable",
        Part.UNPROMPTABLE_BEHAVIOUR,
        Severity.INFO,
        _words(
            f"{quoted(Part.UNPROMPTABLE_BEHAVIOUR)} is claimed: the behaviour can't be held "
            "reliably by prompting, which fine-tuning can embed in the weights."
        ),
    ),
    "condition_3_tacit_expertise": Wording(
        "condition_3_tacit_expertise",
        Part.TACIT_EXPERTISE,
        Severity.INFO,
        _words(
            f"{quoted(Part.TACIT_EXPERTISE)} is claimed: the expertise is tacit, in neither the "
            "prompt nor the retrieval store, and can be learned from labelled examples."
        ),
    ),
}


def condition_findings(row: dict[str, Any], policy: Policy) -> list[Finding]:
    """Conditions 1 and 3, when claimed: context for the reader, not part of the verdict."""
    claimed = [
        code
        for code, column in (
            ("condition_1_behaviour_unpromptable", "behaviour_unpromptable"),
            ("condition_3_tacit_expertise", "tacit_expertise"),
        )
        if row[column]
    ]
    return [CONDITION_WORDINGS[code].finding({}, policy) for code in claimed]
