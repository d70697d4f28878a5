"""The article's four questions and its anti-patterns, asked of a proposed tune.

FINE_TUNE only when all four questions pass and no anti-pattern applies; a question that cannot
be answered from the data does not pass (the article: "if any answer is no, keep iterating").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import fmt
from .inputs import Policy
from .results import Finding, Severity
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


def _pick(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: fmt.json_safe(row.get(k)) for k in keys}


def savings_sum(row: dict[str, Any]) -> str:
    """ "saves $4,800 a month (1,000,000 queries/month × ($0.004 − $0.0008) − $500 fixed)", or
    "loses $240 a month (...)" when the net saving is negative."""
    return (
        f"{fmt.nets(row['monthly_net_saving'])} "
        f"({fmt.count(row['monthly_queries'])} queries/month × "
        f"({fmt.usd_per_query(row['alternative_cost_per_query'])} − "
        f"{fmt.usd_per_query(row['tune_cost_per_query'])}) − "
        f"{fmt.usd(row['monthly_fixed_cost'])} fixed)"
    )


def question_findings(
    row: dict[str, Any], flags: dict[str, Any], policy: Policy
) -> list[tuple[Finding, str]]:
    """One finding per question (pass or fail) plus one per anti-pattern that applies, each with
    a short phrase for the verdict's one-sentence reason. Failed items are ``action``."""
    out: list[tuple[Finding, str]] = []

    def add(
        code: str,
        source: Part,
        passed: bool,
        message: str,
        short: str,
        figures: dict[str, Any],
    ) -> None:
        severity = Severity.INFO if passed else Severity.ACTION
        out.append((Finding(code, source, severity, message, figures=figures), short))

    q1, q2, q3, q4 = (
        quoted(part)
        for part in (
            Part.WRITTEN_DOWN,
            Part.TASK_CHANGES_RARELY,
            Part.THOUSANDS_OF_EXAMPLES,
            Part.GAP_WORTH_CLOSING,
        )
    )
    target, baseline = row["target_score"], row["baseline_score"]
    scores = _pick(row, "target_score", "baseline_score", "quality_gap")
    # Q1
    if not row["need_is_articulable"]:
        add(
            "q1_not_articulable",
            Part.WRITTEN_DOWN,
            True,
            f"{q1} passes: the need can't be written down in words, so prompts and retrieval "
            "can't carry it.",
            "the need can't be written down",
            scores,
        )
    elif flags["q1"]:
        add(
            "q1_prompting_hit_ceiling",
            Part.WRITTEN_DOWN,
            True,
            f"{q1} passes: the need can be written down, but the best prompt/RAG setup scores "
            f"{fmt.number(baseline, 3)} against a {fmt.number(target, 3)} target, so prompting "
            f"has hit its ceiling.",
            f"prompting tops out at {fmt.number(baseline, 3)} of {fmt.number(target, 3)}",
            scores,
        )
    else:
        if fmt.is_missing(baseline) or fmt.is_missing(target):
            why = "and no measured prompt/RAG score against a target shows a ceiling"
        else:
            why = (
                f"and the best prompt/RAG setup already scores {fmt.number(baseline, 3)}, "
                f"reaching the {fmt.number(target, 3)} target"
            )
        add(
            "q1_can_be_written_down",
            Part.WRITTEN_DOWN,
            False,
            f"{q1} fails: the need can be written down {why}; start with prompting and RAG.",
            f"{q1} (it can be written down)",
            scores,
        )
    # Q2
    rate, changes = row["change_rate_per_quarter"], row["task_changes_12m"]
    limit = policy.max_changes_per_quarter
    change_words = (
        f"{fmt.plural(changes, 'meaningful task change')} in the last 365 days, "
        f"{fmt.number(rate)} per quarter"
    )
    q2_figures = _pick(row, "change_rate_per_quarter", "task_changes_12m")
    if flags["q2"]:
        add(
            "q2_task_stable",
            Part.TASK_CHANGES_RARELY,
            True,
            f"{q2} passes: {change_words} (at most {fmt.number(limit)} allowed).",
            f"{fmt.number(rate)} changes/quarter",
            q2_figures,
        )
    else:
        add(
            "q2_changes_too_often",
            Part.TASK_CHANGES_RARELY,
            False,
            f"{q2} fails: {change_words}, more than the {fmt.number(limit)} maximum; keep the "
            f"logic in prompts and retrieval, where changes are cheap.",
            f"{q2} ({fmt.number(rate)} task changes per quarter > {fmt.number(limit)})",
            q2_figures,
        )
    # Q3
    examples, needed = row["labelled_examples"], policy.min_labelled_examples
    q3_figures = {"labelled_examples": fmt.json_safe(examples), "min_labelled_examples": needed}
    if flags["q3"]:
        add(
            "q3_enough_examples",
            Part.THOUSANDS_OF_EXAMPLES,
            True,
            f"{q3} passes: {fmt.count(examples)} labelled examples (at least {needed:,} needed).",
            f"{fmt.count(examples)} examples",
            q3_figures,
        )
    else:
        have = (
            "no count of labelled examples is recorded"
            if fmt.is_missing(examples)
            else f"{fmt.count(examples)} labelled examples, fewer than the {needed:,} needed"
        )
        add(
            "q3_too_few_examples",
            Part.THOUSANDS_OF_EXAMPLES,
            False,
            f"{q3} fails: {have}; without the examples fine-tuning is expensive guesswork.",
            f"{q3} ({fmt.count(examples)} labelled examples < {needed:,})",
            q3_figures,
        )
    # Q4: the gap, then whether closing it pays back.
    gap, min_gap = row["quality_gap"], policy.min_quality_gap
    payback, lifetime = row["payback_months"], row["expected_stable_lifetime_months"]
    money = _pick(
        row,
        "monthly_net_saving",
        "monthly_queries",
        "alternative_cost_per_query",
        "tune_cost_per_query",
        "monthly_fixed_cost",
        "training_cost",
        "payback_months",
        "expected_stable_lifetime_months",
    )
    gap_words = (
        f"the gap between the best prompt ({fmt.number(baseline, 3)}) and the target "
        f"({fmt.number(target, 3)}) is {fmt.number(gap, 3)}"
    )
    pay_words = (
        f"the {fmt.usd(row['training_cost'])} upfront cost {fmt.pays_back(payback)} "
        f"as it {savings_sum(row)}"
    )
    if flags["q4"]:
        add(
            "q4_gap_significant",
            Part.GAP_WORTH_CLOSING,
            True,
            f"{q4} passes: {gap_words} (at least {fmt.number(min_gap, 3)}), and {pay_words}, "
            f"within the expected stable lifetime of {fmt.months(lifetime)}.",
            f"gap {fmt.number(gap, 3)}, payback {fmt.months(payback)} "
            f"within {fmt.months(lifetime)}",
            {**scores, **money},
        )
    else:
        if fmt.is_missing(gap):
            add(
                "q4_gap_unknown",
                Part.GAP_WORTH_CLOSING,
                False,
                f"{q4} can't pass: without both a target score and a measured best prompt/RAG "
                "score the size of the gap is unknown.",
                f"{q4} (gap unknown)",
                scores,
            )
        elif not flags["q4_gap"]:
            add(
                "q4_gap_too_small",
                Part.GAP_WORTH_CLOSING,
                False,
                f"{q4} fails: {gap_words}, below the {fmt.number(min_gap, 3)} minimum; if the gap "
                f"is small, live with it.",
                f"{q4} (gap {fmt.number(gap, 3)} < {fmt.number(min_gap, 3)})",
                scores,
            )
        if fmt.is_missing(payback) or fmt.is_missing(lifetime):
            add(
                "q4_payback_unknown",
                Part.GAP_WORTH_CLOSING,
                False,
                f"{q4} can't pass: the payback can't be computed (see the missing data), so it is "
                "unknown whether the upfront cost pays back.",
                f"{q4} (payback unknown)",
                money,
            )
        elif not flags["q4_payback"]:
            add(
                "q4_does_not_pay_back",
                Part.GAP_WORTH_CLOSING,
                False,
                f"{q4} fails: {pay_words}, beyond the expected stable lifetime of "
                f"{fmt.months(lifetime)}.",
                f"{q4} (payback {fmt.months(payback)} > {fmt.months(lifetime)})",
                money,
            )
    # Anti-patterns: each one fails with the article's advice.
    for pattern in ANTI_PATTERNS:
        if row[pattern.column]:
            out.append(
                (
                    Finding(pattern.code, Part.NOT_A_REASON, Severity.ACTION, pattern.message),
                    f"{quoted(Part.NOT_A_REASON)} ({pattern.label})",
                )
            )
    return out


def condition_findings(row: dict[str, Any]) -> list[Finding]:
    """Conditions 1 and 3, when claimed: context for the reader, not part of the verdict."""
    out = []
    if row["behaviour_unpromptable"]:
        out.append(
            Finding(
                "condition_1_behaviour_unpromptable",
                Part.UNPROMPTABLE_BEHAVIOUR,
                Severity.INFO,
                f"{quoted(Part.UNPROMPTABLE_BEHAVIOUR)} is claimed: the behaviour can't be held "
                "reliably by prompting, "
                "which fine-tuning can embed in the weights.",
            )
        )
    if row["tacit_expertise"]:
        out.append(
            Finding(
                "condition_3_tacit_expertise",
                Part.TACIT_EXPERTISE,
                Severity.INFO,
                f"{quoted(Part.TACIT_EXPERTISE)} is claimed: the expertise is tacit, in neither "
                "the prompt nor the "
                "retrieval store, and can be learned from labelled examples.",
            )
        )
    return out
