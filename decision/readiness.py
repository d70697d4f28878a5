"""The article's four questions and its anti-patterns, asked of a proposed tune: their conditions
and their words. The entries themselves live in the rule table (``rules.py``, "proposals").

FINE_TUNE only when all four questions pass and no anti-pattern applies; a question that cannot
be answered from the data does not pass (the article: "if any answer is no, keep iterating").
Each question has one passing entry and one or more failing ones, so exactly one outcome of each
is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import fmt
from .inputs import Policy
from .vocabulary import Part, quoted

Row = dict[str, Any]


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

Q1, Q2, Q3, Q4 = (
    quoted(part)
    for part in (
        Part.WRITTEN_DOWN,
        Part.TASK_CHANGES_RARELY,
        Part.THOUSANDS_OF_EXAMPLES,
        Part.GAP_WORTH_CLOSING,
    )
)

# --- conditions: whole columns, unknown inputs never pass ------------------------------------


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


# --- words -----------------------------------------------------------------------------------


def savings_sum(row: Row) -> str:
    """ "saves $4,800 a month (1,000,000 queries/month × ($0.004 − $0.0008) − $500 fixed)", or
    "loses $240 a month (...)" when the net saving is negative."""
    return (
        f"{fmt.nets(row['monthly_net_saving'])} "
        f"({fmt.count(row['monthly_queries'])} queries/month × "
        f"({fmt.usd_per_query(row['alternative_cost_per_query'])} − "
        f"{fmt.usd_per_query(row['tune_cost_per_query'])}) − "
        f"{fmt.usd(row['monthly_fixed_cost'])} fixed)"
    )


def scores(row: Row) -> str:
    return f"{fmt.number(row['baseline_score'], 3)} of {fmt.number(row['target_score'], 3)}"


def ceiling_says(row: Row) -> str:
    return (
        f"{Q1} passes: the need can be written down, but the best prompt/RAG setup scores "
        f"{fmt.number(row['baseline_score'], 3)} against a {fmt.number(row['target_score'], 3)} "
        f"target, so prompting has hit its ceiling."
    )


def written_down_says(row: Row) -> str:
    baseline, target = row["baseline_score"], row["target_score"]
    if fmt.is_missing(baseline) or fmt.is_missing(target):
        why = "and no measured prompt/RAG score against a target shows a ceiling"
    else:
        why = (
            f"and the best prompt/RAG setup already scores {fmt.number(baseline, 3)}, "
            f"reaching the {fmt.number(target, 3)} target"
        )
    return f"{Q1} fails: the need can be written down {why}; start with prompting and RAG."


def changes_words(row: Row) -> str:
    return (
        f"{fmt.plural(row['task_changes_12m'], 'meaningful task change')} in the last 365 days, "
        f"{fmt.number(row['change_rate_per_quarter'])} per quarter"
    )


def stable_says(row: Row, policy: Policy) -> str:
    limit = fmt.number(policy.max_changes_per_quarter)
    return f"{Q2} passes: {changes_words(row)} (at most {limit} allowed)."


def changes_too_often_says(row: Row, policy: Policy) -> str:
    limit = fmt.number(policy.max_changes_per_quarter)
    return (
        f"{Q2} fails: {changes_words(row)}, more than the {limit} maximum; keep the logic in "
        f"prompts and retrieval, where changes are cheap."
    )


def changes_too_often_short(row: Row, policy: Policy) -> str:
    rate, limit = row["change_rate_per_quarter"], policy.max_changes_per_quarter
    return f"{Q2} ({fmt.number(rate)} task changes per quarter > {fmt.number(limit)})"


def enough_examples_says(row: Row, policy: Policy) -> str:
    needed = policy.min_labelled_examples
    return (
        f"{Q3} passes: {fmt.count(row['labelled_examples'])} labelled examples (at least "
        f"{needed:,} needed)."
    )


def too_few_examples_says(row: Row, policy: Policy) -> str:
    examples, needed = row["labelled_examples"], policy.min_labelled_examples
    have = (
        "no count of labelled examples is recorded"
        if fmt.is_missing(examples)
        else f"{fmt.count(examples)} labelled examples, fewer than the {needed:,} needed"
    )
    return f"{Q3} fails: {have}; without the examples fine-tuning is expensive guesswork."


def too_few_examples_short(row: Row, policy: Policy) -> str:
    examples, needed = row["labelled_examples"], policy.min_labelled_examples
    return f"{Q3} ({fmt.count(examples)} labelled examples < {needed:,})"


def gap_words(row: Row) -> str:
    return (
        f"the gap between the best prompt ({fmt.number(row['baseline_score'], 3)}) and the "
        f"target ({fmt.number(row['target_score'], 3)}) is {fmt.number(row['quality_gap'], 3)}"
    )


def payback_words(row: Row) -> str:
    return (
        f"the {fmt.usd(row['training_cost'])} upfront cost {fmt.pays_back(row['payback_months'])} "
        f"as it {savings_sum(row)}"
    )


def gap_significant_says(row: Row, policy: Policy) -> str:
    return (
        f"{Q4} passes: {gap_words(row)} (at least {fmt.number(policy.min_quality_gap, 3)}), and "
        f"{payback_words(row)}, within the expected stable lifetime of "
        f"{fmt.months(row['expected_stable_lifetime_months'])}."
    )


def gap_significant_short(row: Row) -> str:
    return (
        f"gap {fmt.number(row['quality_gap'], 3)}, payback {fmt.months(row['payback_months'])} "
        f"within {fmt.months(row['expected_stable_lifetime_months'])}"
    )


def gap_too_small_says(row: Row, policy: Policy) -> str:
    return (
        f"{Q4} fails: {gap_words(row)}, below the {fmt.number(policy.min_quality_gap, 3)} "
        f"minimum; if the gap is small, live with it."
    )


def gap_too_small_short(row: Row, policy: Policy) -> str:
    gap, least = fmt.number(row["quality_gap"], 3), fmt.number(policy.min_quality_gap, 3)
    return f"{Q4} (gap {gap} < {least})"


def does_not_pay_back_says(row: Row) -> str:
    return (
        f"{Q4} fails: {payback_words(row)}, beyond the expected stable lifetime of "
        f"{fmt.months(row['expected_stable_lifetime_months'])}."
    )


def does_not_pay_back_short(row: Row) -> str:
    payback, lifetime = row["payback_months"], row["expected_stable_lifetime_months"]
    return f"{Q4} (payback {fmt.months(payback)} > {fmt.months(lifetime)})"


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
