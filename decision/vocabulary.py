"""The words the engine and the app share, declared once: verdicts, tune statuses, change-log
kinds, finding codes, the tune fields the engine reads and the policy's fields.

The Django app derives its choices, selectors, serializers and admin from these; a test
(``tests/test_vocabulary.py``) fails when a copy disagrees.
"""

from __future__ import annotations

from dataclasses import fields
from enum import StrEnum


class Verdict(StrEnum):
    """KEEP/WATCH/RETRAIN/RETIRE for deployed tunes; FINE_TUNE/ITERATE for proposals."""

    KEEP = "KEEP"
    WATCH = "WATCH"
    RETRAIN = "RETRAIN"
    RETIRE = "RETIRE"
    FINE_TUNE = "FINE_TUNE"
    ITERATE = "ITERATE"


VERDICT_LABELS: dict[Verdict, str] = {
    Verdict.KEEP: "Keep",
    Verdict.WATCH: "Watch",
    Verdict.RETRAIN: "Retrain",
    Verdict.RETIRE: "Retire",
    Verdict.FINE_TUNE: "Fine-tune",
    Verdict.ITERATE: "Iterate on prompts",
}


class TuneStatus(StrEnum):
    """Retired tunes are not evaluated; any status other than proposed counts as deployed."""

    PROPOSED = "proposed"
    DEPLOYED = "deployed"
    RETIRED = "retired"


STATUS_LABELS: dict[TuneStatus, str] = {
    TuneStatus.PROPOSED: "Proposed",
    TuneStatus.DEPLOYED: "Deployed",
    TuneStatus.RETIRED: "Retired",
}


class ChangeKind(StrEnum):
    """What a change-log entry records."""

    TASK_SPEC = "task_spec"
    NEW_CATEGORY = "new_category"
    BUSINESS_RULE = "business_rule"
    BASE_MODEL_UPGRADE = "base_model_upgrade"
    RETRAINING = "retraining"
    DATA_REFRESH = "data_refresh"
    BASELINE_REMEASURED = "baseline_remeasured"
    NOTE = "note"


CHANGE_KIND_LABELS: dict[ChangeKind, str] = {
    ChangeKind.TASK_SPEC: "Task specification",
    ChangeKind.NEW_CATEGORY: "New category",
    ChangeKind.BUSINESS_RULE: "Business rule",
    ChangeKind.BASE_MODEL_UPGRADE: "Base-model upgrade",
    ChangeKind.RETRAINING: "Retraining",
    ChangeKind.DATA_REFRESH: "Data refresh",
    ChangeKind.BASELINE_REMEASURED: "Baseline re-measured",
    ChangeKind.NOTE: "Note",
}

#: Kinds that change the task itself; only these (when meaningful) count against stability.
TASK_CHANGE_KINDS: frozenset[ChangeKind] = frozenset(
    {ChangeKind.TASK_SPEC, ChangeKind.NEW_CATEGORY, ChangeKind.BUSINESS_RULE}
)
RETRAINING_KIND = ChangeKind.RETRAINING


def tune_fields() -> tuple[str, ...]:
    """The tune fields the engine reads (the columns of ``Portfolio.tunes``)."""
    from .inputs import TUNE_COLUMNS

    return tuple(TUNE_COLUMNS)


def policy_fields() -> dict[str, object]:
    """The policy's fields and their defaults."""
    from .inputs import Policy

    return {field.name: field.default for field in fields(Policy)}


def finding_codes() -> frozenset[str]:
    """Every code a finding can carry."""
    from .rules import RULE_CODES

    return RULE_CODES


class Part(StrEnum):
    """The part of the article's framework a finding comes from, named so it explains itself.

    The article (*When Fine-Tuning Is Actually Worth It*) numbers its three conditions and four
    questions; these names replace the numbers everywhere a person reads them. ``PART_ORIGINS``
    says where each comes from; decision/README.md defines them.
    """

    WRITTEN_DOWN = "need can't be written down"
    TASK_CHANGES_RARELY = "task changes rarely"
    THOUSANDS_OF_EXAMPLES = "examples: thousands needed"
    GAP_WORTH_CLOSING = "gap worth closing"
    UNPROMPTABLE_BEHAVIOUR = "behaviour prompting can't hold"
    STABLE_HIGH_VOLUME = "stable, high-volume task"
    TACIT_EXPERTISE = "tacit expertise"
    NOT_A_REASON = "not a reason to fine-tune"
    LIFECYCLE = "base model and traffic"
    DATA = "missing data"


#: Where in the article each part comes from.
PART_ORIGINS: dict[Part, str] = {
    Part.WRITTEN_DOWN: "question 1, “Can I write down what I need?”",
    Part.TASK_CHANGES_RARELY: "question 2, “Is my task changing frequently?”",
    Part.THOUSANDS_OF_EXAMPLES: "question 3, “Do I have thousands of high-quality examples?”",
    Part.GAP_WORTH_CLOSING: "question 4, “Is the performance gap significant enough?”",
    Part.UNPROMPTABLE_BEHAVIOUR: "condition 1, “The behavior can't be prompted reliably”",
    Part.STABLE_HIGH_VOLUME: "condition 2, “The task is high-volume and stable”",
    Part.TACIT_EXPERTISE: "condition 3, “The needed expertise isn't in the prompt or the "
    "retrieval store”",
    Part.NOT_A_REASON: "“What doesn't justify fine-tuning”",
    Part.LIFECYCLE: "“Every base model upgrade risks breaking your fine-tune”, and condition 2's "
    "high volume",
    Part.DATA: "none: a figure a rule needs is missing, so the rule can't be checked",
}


def quoted(part: Part) -> str:
    """A part's name as it appears inside a sentence: “examples: thousands needed”."""
    return f"“{part}”"
