"""The article's four questions and its anti-patterns, asked of a proposed tune: their conditions
and their words. The entries themselves are in the rule table (``rules.py``, "proposals").

FINE_TUNE only when all four questions pass and no anti-pattern applies; a question that cannot
be answered from the data does not pass (the article: "if any answer is no, keep iterating").
Each question has one passing entry and one or more failing ones, so exactly one outcome of each
is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import fmt
from .inputs import Policy
from .vocabulary import Part, quoted


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


# --- conditions: whole columns; unknown inputs never pass ------------------------------------


def prompting_hit_ceiling(frame: pd.DataFrame) -> pd.Series:
    return frame["baseline_score"] < frame["target_score"]


def task_stable(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    return frame["change_rate_per_quarter"] <= policy.max_changes_per_quarter


def enough_examples(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    return frame["labelled_examples"] >= policy.min_labelled_examples


def gap_significant(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    return frame["quality_gap"] >= policy.min_quality_gap


def payback_known(frame: pd.DataFrame) -> pd.Series:
    return frame["payback_months"].notna() & frame["expected_stable_lifetime_months"].notna()


def pays_back_in_time(frame: pd.DataFrame) -> pd.Series:
    return frame["payback_months"] <= frame["expected_stable_lifetime_months"]


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

Q1, Q2, Q3, Q4 = (
    quoted(part)
    for part in (
        Part.WRITTEN_DOWN,
        Part.TASK_CHANGES_RARELY,
        Part.THOUSANDS_OF_EXAMPLES,
        Part.GAP_WORTH_CLOSING,
    )
)
SCORES = ("target_score", "baseline_score", "quality_gap")
CHANGES = ("change_rate_per_quarter", "task_changes_12m")
EXAMPLES = ("labelled_examples", "min_labelled_examples")
MONEY = (
    "monthly_net_saving",
    "monthly_queries",
    "alternative_cost_per_query",
    "tune_cost_per_query",
    "monthly_fixed_cost",
    "training_cost",
    "payback_months",
    "expected_stable_lifetime_months",
)


def ceiling(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{Q1} passes: the need can be written down, but the best prompt/RAG setup scores "
        f"{fmt.number(f['baseline_score'], 3)} against a {fmt.number(f['target_score'], 3)} "
        f"target, so prompting has hit its ceiling."
    )


def written_down(f: Mapping[str, Any], policy: Policy) -> str:
    target, baseline = f["target_score"], f["baseline_score"]
    if fmt.is_missing(baseline) or fmt.is_missing(target):
        why = "and no measured prompt/RAG score against a target shows a ceiling"
    else:
        why = (
            f"and the best prompt/RAG setup already scores {fmt.number(baseline, 3)}, "
            f"reaching the {fmt.number(target, 3)} target"
        )
    return f"{Q1} fails: the need can be written down {why}; start with prompting and RAG."


def change_words(f: Mapping[str, Any]) -> str:
    return (
        f"{fmt.plural(f['task_changes_12m'], 'meaningful task change')} in the last 365 days, "
        f"{fmt.number(f['change_rate_per_quarter'])} per quarter"
    )


def stable_says(f: Mapping[str, Any], policy: Policy) -> str:
    limit = fmt.number(policy.max_changes_per_quarter)
    return f"{Q2} passes: {change_words(f)} (at most {limit} allowed)."


def changes_too_often(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{Q2} fails: {change_words(f)}, more than the "
        f"{fmt.number(policy.max_changes_per_quarter)} maximum; keep the logic in prompts and "
        f"retrieval, where changes are cheap."
    )


def enough_examples_says(f: Mapping[str, Any], policy: Policy) -> str:
    examples, needed = f["labelled_examples"], policy.min_labelled_examples
    return f"{Q3} passes: {fmt.count(examples)} labelled examples (at least {needed:,} needed)."


def too_few_examples(f: Mapping[str, Any], policy: Policy) -> str:
    examples, needed = f["labelled_examples"], policy.min_labelled_examples
    have = (
        "no count of labelled examples is recorded"
        if fmt.is_missing(examples)
        else f"{fmt.count(examples)} labelled examples, fewer than the {needed:,} needed"
    )
    return f"{Q3} fails: {have}; without the examples fine-tuning is expensive guesswork."


def gap_words(f: Mapping[str, Any]) -> str:
    return (
        f"the gap between the best prompt ({fmt.number(f['baseline_score'], 3)}) and the target "
        f"({fmt.number(f['target_score'], 3)}) is {fmt.number(f['quality_gap'], 3)}"
    )


def pay_words(f: Mapping[str, Any]) -> str:
    return (
        f"the {fmt.usd(f['training_cost'])} upfront cost {fmt.pays_back(f['payback_months'])} "
        f"as it {savings_sum(f)}"
    )


def gap_significant_says(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{Q4} passes: {gap_words(f)} (at least {fmt.number(policy.min_quality_gap, 3)}), and "
        f"{pay_words(f)}, within the expected stable lifetime of "
        f"{fmt.months(f['expected_stable_lifetime_months'])}."
    )


def gap_too_small(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{Q4} fails: {gap_words(f)}, below the {fmt.number(policy.min_quality_gap, 3)} "
        f"minimum; if the gap is small, live with it."
    )


def does_not_pay_back(f: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{Q4} fails: {pay_words(f)}, beyond the expected stable lifetime of "
        f"{fmt.months(f['expected_stable_lifetime_months'])}."
    )


NOT_ARTICULABLE = (
    f"{Q1} passes: the need can't be written down in words, so prompts and retrieval can't "
    "carry it."
)
GAP_UNKNOWN = (
    f"{Q4} can't pass: without both a target score and a measured best prompt/RAG score the "
    "size of the gap is unknown."
)
PAYBACK_UNKNOWN = (
    f"{Q4} can't pass: the payback can't be computed (see the missing data), so it is unknown "
    "whether the upfront cost pays back."
)
UNPROMPTABLE_CLAIMED = (
    f"{quoted(Part.UNPROMPTABLE_BEHAVIOUR)} is claimed: the behaviour can't be held reliably by "
    "prompting, which fine-tuning can embed in the weights."
)
TACIT_CLAIMED = (
    f"{quoted(Part.TACIT_EXPERTISE)} is claimed: the expertise is tacit, in neither the prompt "
    "nor the retrieval store, and can be learned from labelled examples."
)
