"""The rules for deployed tunes and the data gaps, as a table: one entry per rule.

Each :class:`Rule` says, once, what it is called (``code``), which verdict it argues for
(``verdict``; ``None`` for context), how much it asks of the reader (``severity``), where in the
article it comes from (``source``), when it holds (``holds``: a whole-column condition over the
figures frame), what it says (``says``) and which figures it cites (``cites``). A message reads
only what its finding carries (the cited figures, the ``notes``, and the ``uses``: other values
it names) and the policy, so a stored finding is worded the same again. Precedence between
verdicts is declared once, in :data:`PRECEDENCE`.

Adding a rule: write one :class:`Rule` in :data:`RULES` (in reading order within its verdict) and a
test in ``tests/decision``. Nothing else changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import fmt
from . import readiness as ask
from .inputs import Policy
from .readiness import ANTI_PATTERNS, AntiPattern, savings_sum
from .results import Cited, Finding, Message, Severity, Verdict, Wording
from .stability import MONTHS_PER_QUARTER
from .vocabulary import Part, TuneStatus, quoted

#: A rule's condition: the figures frame and the policy in, one bool per tune out. It may read
#: the helper columns of :func:`helper_flags` (e.g. ``retrain_needed``) from ``flags``.
Condition = Callable[[pd.DataFrame, pd.DataFrame, Policy], pd.Series]
#: Values a rule's finding adds besides frame columns, from the figures row, the flags row and
#: the policy: which figures are missing (``notes``), what limits a lifetime (``hints``).
Notes = Callable[[dict[str, Any], Mapping[str, Any], Policy], dict[str, Any]]

#: How far today's pricing of the lookback window may differ from each day's own pricing before a
#: finding says so (a share of the past figure).
PRICES_MOVED_SHARE = 0.05

#: Which tunes a rule applies to: deployed ones, proposals, or both.
AppliesTo = Literal["deployed", "proposed", "all"]

#: For each kind of tune: the verdicts its deciding rules argue for, in precedence order (the first
#: with a deciding rule that holds wins), then the verdict when none holds. A proposal is ready to
#: fine-tune unless a question fails or an anti-pattern applies.
PRECEDENCE: dict[str, tuple[tuple[Verdict, ...], Verdict]] = {
    "deployed": ((Verdict.RETIRE, Verdict.RETRAIN, Verdict.WATCH), Verdict.KEEP),
    "proposed": ((Verdict.ITERATE,), Verdict.FINE_TUNE),
}


@dataclass(frozen=True)
class Rule:
    """One rule: its condition, its words and the figures behind them.

    ``decides`` is False for a rule that argues for its verdict only together with a deciding one:
    a RETRAIN trigger needs ``retraining_pays_back``. ``applies_to`` says which tunes it is about.
    ``short`` is the phrase a proposal's one-sentence reason uses for a question's outcome.
    """

    code: str
    verdict: Verdict | None
    severity: Severity
    source: str
    holds: Condition
    says: Message
    cites: tuple[str, ...] = ()
    notes: Notes | None = None  # figures that aren't frame columns
    decides: bool = True
    applies_to: AppliesTo = "deployed"
    #: Other values the message names: frame columns, or keys ``hints`` computes.
    uses: tuple[str, ...] = ()
    hints: Notes | None = None
    short: Message | None = None

    @cached_property
    def wording(self) -> Wording:
        return Wording(self.code, self.source, self.severity, self.says, self.cites, self.uses)

    def finding(self, row: dict[str, Any], flags: Mapping[str, Any], policy: Policy) -> Finding:
        return self.stored_finding(row, flags, policy, {}, {})

    def stored_finding(
        self,
        row: dict[str, Any],
        flags: Mapping[str, Any],
        policy: Policy,
        exact_row: dict[str, Any],
        rounded_row: dict[str, Any],
        decisive: bool = False,
    ) -> Finding:
        """:meth:`finding`, reading the row's values as ``fmt.stored`` keeps them, exact and
        rounded, from ``exact_row`` and ``rounded_row``; a value they lack is worked out and
        added to them, so a tune's findings store each of its values once. ``decisive`` marks
        the finding as deciding the verdict."""
        exact, rounded = Cited(), Cited()
        # Assigned in the order Wording.finding reads them: cited figures, notes, then the
        # words and hints (a later value for the same key wins there too).
        for key in self.cites:
            if key not in exact_row:
                _store_row_value(key, row, exact_row, rounded_row)
            exact[key], rounded[key] = exact_row[key], rounded_row[key]
        figures: Iterable[str] = self.cites
        if self.notes is not None:
            notes = self.notes(row, flags, policy)
            for key, value in notes.items():
                exact[key], rounded[key] = fmt.stored(value, exact=True), fmt.stored(value)
            figures = dict.fromkeys([*self.cites, *notes])
        for key in self.uses:
            if key not in exact_row:
                _store_row_value(key, row, exact_row, rounded_row)
            exact[key], rounded[key] = exact_row[key], rounded_row[key]
        words: Iterable[str] = self.uses
        if self.hints is not None:
            hints = self.hints(row, flags, policy)
            for key, value in hints.items():
                exact[key], rounded[key] = fmt.stored(value, exact=True), fmt.stored(value)
            words = dict.fromkeys([*self.uses, *hints])
        return self.wording.stored_finding(figures, words, exact, rounded, policy, decisive)


def _store_row_value(
    key: str, row: dict[str, Any], exact_row: dict[str, Any], rounded_row: dict[str, Any]
) -> None:
    value = row.get(key)
    exact_row[key], rounded_row[key] = fmt.stored(value, exact=True), fmt.stored(value)


# --- helper flags: conditions several rules share ------------------------------------------------


def helper_flags(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Conditions shared by several rules, computed once. Comparisons with an unknown figure are
    False: a rule only fires on data that is present."""
    deployed = frame["status"] != "proposed"
    days = frame["days_to_shutdown"]
    flags = pd.DataFrame(index=frame.index)
    flags["deployed"] = deployed
    flags["shutdown_due"] = deployed & (days <= policy.shutdown_warning_days)
    flags["changed_since_training"] = deployed & (frame["task_changes_since_training"] > 0)
    flags["below_target"] = deployed & (frame["tune_score_shortfall"] > policy.quality_tolerance)
    flags["retrain_needed"] = flags[["shutdown_due", "changed_since_training", "below_target"]].any(
        axis=1
    )
    payback, after = frame["retrain_payback_months"], frame["lifetime_after_retraining_months"]
    flags["retrain_known"] = payback.notna() & after.notna()
    flags["retrain_fits"] = flags["retrain_known"] & (payback <= after)
    flags["no_alternative"] = frame["alternative_model_id"].isna().astype(bool)
    return flags.astype(bool)


# --- words shared by several rules ---------------------------------------------------------------

_SAVING = (
    "monthly_net_saving",
    "monthly_queries",
    "alternative_cost_per_query",
    "tune_cost_per_query",
    "monthly_fixed_cost",
)
_RETRAINING = (
    "retrain_cost",
    "retrain_payback_months",
    "lifetime_after_retraining_months",
    "monthly_net_saving",
)
_SHUTDOWN = ("base_model_shutdown_on", "days_to_shutdown")
_CHANGES = ("change_rate_per_quarter", "task_changes_12m")
_RECOVERY = (
    "training_cost",
    "cumulative_net_saving",
    "recovered",
    "break_even_on",
    "payback_months",
)


def model_name(label: object, fallback: str = "the base model") -> str:
    return fallback if fmt.is_missing(label) or not str(label) else f"'{label}'"


def and_list(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def shutdown_words(row: Mapping[str, Any]) -> str:
    days = row["days_to_shutdown"]
    when = fmt.day(row["base_model_shutdown_on"])
    model = model_name(row["base_model_label"])
    if days < 0:
        return f"Base model {model} shut down on {when}, {fmt.count(-days)} days ago"
    if days == 0:
        return f"Base model {model} shuts down today ({when})"
    return f"Base model {model} shuts down on {when}, in {fmt.count(days)} days"


#: What limits a stable lifetime (the ``lifetime_set_by`` hint).
_HORIZON, _CHANGE_RATE, _SHUTDOWN_DAY = "horizon", "change rate", "shutdown"


def _set_by(lifetime_key: str) -> Notes:
    """Which bound sets the lifetime, decided on the unrounded figures and kept with the finding,
    so the message names the same bound when it is worded again from stored figures."""

    def hint(row: dict[str, Any], flags: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
        lifetime, rate = row[lifetime_key], row["change_rate_per_quarter"]
        if fmt.is_missing(lifetime):
            return {}
        if math.isclose(lifetime, policy.horizon_months, abs_tol=1e-6):
            return {"lifetime_set_by": _HORIZON}
        if rate > 0 and math.isclose(lifetime, MONTHS_PER_QUARTER / rate, abs_tol=1e-6):
            return {"lifetime_set_by": _CHANGE_RATE}
        return {"lifetime_set_by": _SHUTDOWN_DAY}

    return hint


def _lifetime_bound(row: Mapping[str, Any], shutdown_key: str, policy: Policy) -> str:
    """What limits a stable lifetime: the horizon, the change rate or a shutdown."""
    bound = row["lifetime_set_by"]
    if bound is None:
        return ""
    if bound == _HORIZON:
        return f"the {fmt.number(policy.horizon_months, 1)}-month horizon"
    if bound == _CHANGE_RATE:
        return f"{fmt.number(row['change_rate_per_quarter'])} task changes per quarter"
    return f"the shutdown on {fmt.day(row[shutdown_key])}"


def _retrain_words(row: Mapping[str, Any]) -> str:
    return (
        f"retraining costs {fmt.usd(row['retrain_cost'])} and "
        f"{fmt.pays_back(row['retrain_payback_months'])} at "
        f"{fmt.per_month(row['monthly_net_saving'])}"
    )


def _after_retraining(row: Mapping[str, Any], policy: Policy) -> tuple[str, str]:
    after = fmt.months(row["lifetime_after_retraining_months"])
    return after, _lifetime_bound(row, "retrain_shutdown_on", policy)


def _changes_in_a_year(row: Mapping[str, Any]) -> str:
    return f"{fmt.plural(row['task_changes_12m'], 'meaningful task change')} in the last 365 days"


# --- messages ------------------------------------------------------------------------------------


def _no_longer_pays_off(row: Mapping[str, Any], policy: Policy) -> str:
    return f"{fmt.sentence(savings_sum(row))}: it no longer pays off."


def _task_changes_too_often(row: Mapping[str, Any], policy: Policy) -> str:
    rate, limit = row["change_rate_per_quarter"], policy.max_changes_per_quarter
    return (
        f"{_changes_in_a_year(row)}, {fmt.number(rate)} per quarter, more than the "
        f"{fmt.number(limit)} maximum: the logic belongs in prompts and retrieval, where changes "
        f"are cheap."
    )


def _prompting_caught_up(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"The best prompt/RAG setup scores {fmt.number(row['baseline_score'], 3)}, reaching the "
        f"{fmt.number(row['target_score'], 3)} target: prompting caught up."
    )


def _retraining_does_not_pay_back(row: Mapping[str, Any], policy: Policy) -> str:
    after, bound = _after_retraining(row, policy)
    return (
        f"A retraining is needed, but {_retrain_words(row)}, longer than the {after} it would "
        f"stay useful (lifetime after retraining, set by {bound})."
    )


def _shutdown_due(row: Mapping[str, Any], policy: Policy) -> str:
    onto = (
        f"retrain on its successor {model_name(row['successor_label'])}"
        if not fmt.is_missing(row["successor_id"])
        else "retrain on a newer model"
    )
    return f"{shutdown_words(row)} (warning window {policy.shutdown_warning_days} days): {onto}."


def _task_changed_since_training(row: Mapping[str, Any], policy: Policy) -> str:
    kind = str(row["latest_task_change_kind"]).replace("_", " ")
    return (
        f"{fmt.plural(row['task_changes_since_training'], 'meaningful task change')} since the "
        f"last training on {fmt.day(row['last_trained_on'])} (latest: {kind} on "
        f"{fmt.day(row['latest_task_change_on'])}): the tune no longer matches the task."
    )


def _tune_below_target(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"The tune scores {fmt.number(row['tune_score'], 3)} against a "
        f"{fmt.number(row['target_score'], 3)} target, "
        f"{fmt.number(row['tune_score_shortfall'], 3)} short (tolerance "
        f"{fmt.number(policy.quality_tolerance, 3)})."
    )


def _retraining_pays_back(row: Mapping[str, Any], policy: Policy) -> str:
    after, bound = _after_retraining(row, policy)
    return (
        f"Worth retraining: {_retrain_words(row)}, within the lifetime after retraining of "
        f"{after} (set by {bound})."
    )


def _payback_beyond_stable_lifetime(row: Mapping[str, Any], policy: Policy) -> str:
    bound = _lifetime_bound(row, "base_model_shutdown_on", policy)
    return (
        f"The {fmt.usd(row['training_cost'])} training cost is not recovered yet "
        f"({fmt.usd(row['unrecovered_cost'])} to go) and it "
        f"{fmt.pays_back(row['payback_months'])}, beyond the expected stable lifetime of "
        f"{fmt.months(row['expected_stable_lifetime_months'])} from the training on "
        f"{fmt.day(row['last_trained_on'])} (set by {bound})."
    )


def _volume_dropped(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"Daily volume fell {fmt.percent(-row['volume_change_30d'])} over the last 30 days "
        f"({fmt.count(row['daily_queries_30d'])}/day against "
        f"{fmt.count(row['daily_queries_prior_60d'])}/day in the 60 days before; watch at "
        f"{fmt.percent(policy.volume_drop_watch)})."
    )


def _usage_stale(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"No usage in the last {fmt.count(row['days_since_last_usage'])} days (last on "
        f"{fmt.day(row['last_usage_on'])}; watch after {policy.stale_usage_days} days)."
    )


def _missing_prices(row: Mapping[str, Any], policy: Policy) -> str:
    alt_label = model_name(row.get("alternative_label"), "the alternative model")
    tune_side = f"the tune's serving price or its base model {model_name(row['base_model_label'])}"
    alt_days, tune_days = row["alternative_missing_days"], row["tune_missing_days"]
    sides = []
    if not alt_days and not tune_days:  # only today's price is missing
        if row["alternative_price_missing"] and not row["no_alternative"]:
            sides.append(f"the alternative model {alt_label}")
        if row["tune_price_missing"]:
            sides.append(tune_side)
        return (
            f"No price in force on {fmt.day(row['as_of'])} for {and_list(sides)}: the cost per "
            f"query can't be computed."
        )
    if alt_days > 0 and not row["no_alternative"]:
        sides.append(f"the alternative model {alt_label} on {fmt.count(alt_days)} usage days")
    if tune_days > 0:
        sides.append(f"{tune_side} on {fmt.count(tune_days)} usage days")
    return (
        f"No price for {and_list(sides)} between {fmt.day(row['first_missing_price_on'])} and "
        f"{fmt.day(row['last_missing_price_on'])}: the costs on those days can't be computed."
    )


def _missing(row: dict[str, Any], named: tuple[tuple[str, str], ...]) -> list[str]:
    return [name for name, key in named if fmt.is_missing(row[key])]


def _missing_scores_list(row: dict[str, Any]) -> list[str]:
    named: tuple[tuple[str, str], ...] = (
        ("target score", "target_score"),
        ("best prompt/RAG score", "baseline_score"),
    )
    if row["status"] != "proposed":
        named = (*named, ("tune score", "tune_score"))
    return _missing(row, named)


def _missing_costs_list(row: dict[str, Any], flags: Mapping[str, Any]) -> list[str]:
    missing = []
    if fmt.is_missing(row["training_cost"]):
        missing.append("upfront cost" if row["status"] == "proposed" else "training cost")
    if fmt.is_missing(row["retrain_cost"]) and flags["retrain_needed"]:
        missing.append("retrain cost")
    return missing


def _missing_usage_list(row: dict[str, Any]) -> list[str]:
    return _missing(
        row,
        (
            ("monthly queries", "expected_monthly_queries"),
            ("input tokens per query", "expected_input_tokens"),
            ("output tokens per query", "expected_output_tokens"),
        ),
    )


def _pays_off(row: Mapping[str, Any], policy: Policy) -> str:
    return f"{fmt.sentence(savings_sum(row))}."


def _training_recovered(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"The {fmt.usd(row['training_cost'])} training cost was recovered on "
        f"{fmt.day(row['break_even_on'])} (net saving since training "
        f"{fmt.usd(row['cumulative_net_saving'])})."
    )


def _training_not_yet_recovered(row: Mapping[str, Any], policy: Policy) -> str:
    if fmt.is_missing(row["break_even_on"]):
        projection = "at the current net saving it never breaks even"
    else:
        projection = (
            f"break-even projected on {fmt.day(row['break_even_on'])} "
            f"(payback {fmt.months(row['payback_months'])})"
        )
    return (
        f"{fmt.usd(row['unrecovered_cost'])} of the {fmt.usd(row['training_cost'])} training "
        f"cost is still to recover; {projection}."
    )


def _prices_moved(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"Prices moved: at the prices in force on {fmt.day(row['as_of'])} the lookback window's "
        f"volume {fmt.nets(row['monthly_net_saving'])}; at each day's own price it "
        f"{fmt.nets(row['monthly_net_saving_at_past_prices'], past=True)} (over the "
        f"{fmt.count(row['lookback_days'])} days from {fmt.day(row['lookback_start'])}). The "
        f"verdict uses today's prices."
    )


def _task_stable(row: Mapping[str, Any], policy: Policy) -> str:
    return (
        f"{_changes_in_a_year(row)} ({fmt.number(row['change_rate_per_quarter'])} per quarter, "
        f"at most {fmt.number(policy.max_changes_per_quarter)})."
    )


def _shutdown_approaching(row: Mapping[str, Any], policy: Policy) -> str:
    if row["status"] == TuneStatus.PROPOSED:
        return (
            f"{shutdown_words(row)}: it bounds the expected stable lifetime; consider a newer "
            f"base model."
        )
    return (
        f"{shutdown_words(row)} (watch window {policy.shutdown_watch_days} days): plan the move "
        f"to a newer model."
    )


def _words(text: str) -> Message:
    """A message that needs no figures."""
    return lambda row, policy: text


# --- conditions that need more than one line -----------------------------------------------------


def _prices_moved_holds(frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.Series:
    now, past = frame["monthly_net_saving"], frame["monthly_net_saving_at_past_prices"]
    return (now - past).abs() > PRICES_MOVED_SHARE * past.abs()


def _shutdown_approaching_holds(
    frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy
) -> pd.Series:
    """Deployed tunes between the warning and the watch window (a shutdown inside the warning
    window is a RETRAIN trigger); proposals anywhere inside the watch window."""
    days = frame["days_to_shutdown"]
    within_watch = days <= policy.shutdown_watch_days
    return within_watch & (~flags["deployed"] | (days > policy.shutdown_warning_days))


def _payback_too_long(frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.Series:
    not_recovered = ~frame["recovered"].astype("boolean").fillna(True).astype(bool)
    return not_recovered & (frame["payback_months"] > frame["expected_stable_lifetime_months"])


def _missing_prices_holds(frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.Series:
    priced_alternative = ~flags["no_alternative"]
    return (
        (frame["alternative_missing_days"] > 0) & priced_alternative
        | (frame["tune_missing_days"] > 0)
        | frame["alternative_price_missing"] & priced_alternative
        | frame["tune_price_missing"]
    )


def _missing_scores_holds(frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.Series:
    proposal_scores = frame[["target_score", "baseline_score"]].isna().any(axis=1)
    return proposal_scores | flags["deployed"] & frame["tune_score"].isna()


def _missing_costs_holds(frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.Series:
    return frame["training_cost"].isna() | (frame["retrain_cost"].isna() & flags["retrain_needed"])


def _expected_usage_missing(frame: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.Series:
    expected = ["expected_monthly_queries", "expected_input_tokens", "expected_output_tokens"]
    return ~flags["deployed"] & frame[expected].isna().any(axis=1)


_ACT, _LOOK, _INFO = Severity.ACTION, Severity.WATCH, Severity.INFO
_RETIRE, _RETRAIN, _WATCH = Verdict.RETIRE, Verdict.RETRAIN, Verdict.WATCH

_FINE_TUNE, _ITERATE = Verdict.FINE_TUNE, Verdict.ITERATE


def _question(
    code: str,
    passes: bool,
    source: Part,
    holds: Condition,
    says: Message,
    short: Message,
    cites: tuple[str, ...],
    notes: Notes | None = None,
) -> Rule:
    """One outcome of one of the four questions: a pass argues for fine-tuning (context), a fail
    for iterating on prompts (action)."""
    verdict, severity = (_FINE_TUNE, _INFO) if passes else (_ITERATE, _ACT)
    return Rule(
        code,
        verdict,
        severity,
        source,
        holds,
        says,
        cites,
        notes,
        applies_to="proposed",
        short=short,
    )


def _anti_pattern(pattern: AntiPattern) -> Rule:
    return Rule(
        pattern.code,
        _ITERATE,
        _ACT,
        Part.NOT_A_REASON,
        lambda frame, flags, policy: frame[pattern.column].astype(bool),
        _words(pattern.message),
        applies_to="proposed",
        short=_words(f"{quoted(Part.NOT_A_REASON)} ({pattern.label})"),
    )


def _claimed(code: str, source: Part, column: str, message: str) -> Rule:
    """Conditions 1 and 3 when claimed: context for the reader, not part of the verdict."""
    return Rule(
        code,
        None,
        _INFO,
        source,
        lambda frame, flags, policy: frame[column].astype(bool),
        _words(message),
        applies_to="proposed",
    )


def _articulable(frame: pd.DataFrame) -> pd.Series:
    return frame["need_is_articulable"].astype(bool)


def _examples_needed(
    row: dict[str, Any], flags: Mapping[str, Any], policy: Policy
) -> dict[str, Any]:
    return {"min_labelled_examples": policy.min_labelled_examples}


_Q1, _Q2, _Q3, _Q4 = (
    Part.WRITTEN_DOWN,
    Part.TASK_CHANGES_RARELY,
    Part.THOUSANDS_OF_EXAMPLES,
    Part.GAP_WORTH_CLOSING,
)
_EXAMPLES = ("labelled_examples",)

#: Every rule, in reading order: the proposals' four questions, anti-patterns and claimed
#: conditions; for deployed tunes RETIRE rules, RETRAIN triggers and their outcome, WATCH rules;
#: the data gaps; then context.
RULES: tuple[Rule, ...] = (
    # --- proposals: each question passes once, or fails with its reasons ---
    _question(
        "q1_not_articulable",
        True,
        _Q1,
        lambda frame, flags, policy: ~_articulable(frame),
        _words(ask.NOT_ARTICULABLE),
        _words("the need can't be written down"),
        ask.SCORES,
    ),
    _question(
        "q1_prompting_hit_ceiling",
        True,
        _Q1,
        lambda frame, flags, policy: _articulable(frame) & ask.prompting_hit_ceiling(frame),
        ask.ceiling,
        lambda row, policy: (
            f"prompting tops out at {fmt.number(row['baseline_score'], 3)} of "
            f"{fmt.number(row['target_score'], 3)}"
        ),
        ask.SCORES,
    ),
    _question(
        "q1_can_be_written_down",
        False,
        _Q1,
        lambda frame, flags, policy: _articulable(frame) & ~ask.prompting_hit_ceiling(frame),
        ask.written_down,
        _words(f"{ask.Q1} (it can be written down)"),
        ask.SCORES,
    ),
    _question(
        "q2_task_stable",
        True,
        _Q2,
        lambda frame, flags, policy: ask.task_stable(frame, policy),
        ask.stable_says,
        lambda row, policy: f"{fmt.number(row['change_rate_per_quarter'])} changes/quarter",
        ask.CHANGES,
    ),
    _question(
        "q2_changes_too_often",
        False,
        _Q2,
        lambda frame, flags, policy: ~ask.task_stable(frame, policy),
        ask.changes_too_often,
        lambda row, policy: (
            f"{ask.Q2} ({fmt.number(row['change_rate_per_quarter'])} task changes per quarter > "
            f"{fmt.number(policy.max_changes_per_quarter)})"
        ),
        ask.CHANGES,
    ),
    _question(
        "q3_enough_examples",
        True,
        _Q3,
        lambda frame, flags, policy: ask.enough_examples(frame, policy),
        ask.enough_examples_says,
        lambda row, policy: f"{fmt.count(row['labelled_examples'])} examples",
        _EXAMPLES,
        _examples_needed,
    ),
    _question(
        "q3_too_few_examples",
        False,
        _Q3,
        lambda frame, flags, policy: ~ask.enough_examples(frame, policy),
        ask.too_few_examples,
        lambda row, policy: (
            f"{ask.Q3} ({fmt.count(row['labelled_examples'])} labelled examples < "
            f"{policy.min_labelled_examples:,})"
        ),
        _EXAMPLES,
        _examples_needed,
    ),
    _question(
        "q4_gap_significant",
        True,
        _Q4,
        lambda frame, flags, policy: (
            ask.gap_significant(frame, policy) & ask.pays_back_in_time(frame)
        ),
        ask.gap_significant_says,
        lambda row, policy: (
            f"gap {fmt.number(row['quality_gap'], 3)}, payback "
            f"{fmt.months(row['payback_months'])} within "
            f"{fmt.months(row['expected_stable_lifetime_months'])}"
        ),
        (*ask.SCORES, *ask.MONEY),
    ),
    _question(
        "q4_gap_unknown",
        False,
        _Q4,
        lambda frame, flags, policy: frame["quality_gap"].isna(),
        _words(ask.GAP_UNKNOWN),
        _words(f"{ask.Q4} (gap unknown)"),
        ask.SCORES,
    ),
    _question(
        "q4_gap_too_small",
        False,
        _Q4,
        lambda frame, flags, policy: (
            frame["quality_gap"].notna() & ~ask.gap_significant(frame, policy)
        ),
        ask.gap_too_small,
        lambda row, policy: (
            f"{ask.Q4} (gap {fmt.number(row['quality_gap'], 3)} < "
            f"{fmt.number(policy.min_quality_gap, 3)})"
        ),
        ask.SCORES,
    ),
    _question(
        "q4_payback_unknown",
        False,
        _Q4,
        lambda frame, flags, policy: ~ask.payback_known(frame),
        _words(ask.PAYBACK_UNKNOWN),
        _words(f"{ask.Q4} (payback unknown)"),
        ask.MONEY,
    ),
    _question(
        "q4_does_not_pay_back",
        False,
        _Q4,
        lambda frame, flags, policy: ask.payback_known(frame) & ~ask.pays_back_in_time(frame),
        ask.does_not_pay_back,
        lambda row, policy: (
            f"{ask.Q4} (payback {fmt.months(row['payback_months'])} > "
            f"{fmt.months(row['expected_stable_lifetime_months'])})"
        ),
        ask.MONEY,
    ),
    *(_anti_pattern(pattern) for pattern in ANTI_PATTERNS),
    _claimed(
        "condition_1_behaviour_unpromptable",
        Part.UNPROMPTABLE_BEHAVIOUR,
        "behaviour_unpromptable",
        ask.UNPROMPTABLE_CLAIMED,
    ),
    _claimed(
        "condition_3_tacit_expertise",
        Part.TACIT_EXPERTISE,
        "tacit_expertise",
        ask.TACIT_CLAIMED,
    ),
    # --- RETIRE ---
    Rule(
        "no_longer_pays_off",
        _RETIRE,
        _ACT,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: frame["monthly_net_saving"] <= 0,
        _no_longer_pays_off,
        _SAVING,
    ),
    Rule(
        "task_changes_too_often",
        _RETIRE,
        _ACT,
        Part.TASK_CHANGES_RARELY,
        lambda frame, flags, policy: (
            frame["change_rate_per_quarter"] > policy.max_changes_per_quarter
        ),
        _task_changes_too_often,
        _CHANGES,
    ),
    Rule(
        "prompting_caught_up",
        _RETIRE,
        _ACT,
        Part.GAP_WORTH_CLOSING,
        lambda frame, flags, policy: frame["quality_gap"] <= 0,
        _prompting_caught_up,
        ("target_score", "baseline_score", "quality_gap"),
    ),
    Rule(
        "retraining_does_not_pay_back",
        _RETIRE,
        _ACT,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: (
            flags["retrain_needed"] & flags["retrain_known"] & ~flags["retrain_fits"]
        ),
        _retraining_does_not_pay_back,
        _RETRAINING,
        uses=("change_rate_per_quarter", "retrain_shutdown_on", "lifetime_set_by"),
        hints=_set_by("lifetime_after_retraining_months"),
    ),
    # --- RETRAIN: triggers, then whether the retraining pays back ---
    Rule(
        "base_model_shut_down",
        _RETRAIN,
        _ACT,
        Part.LIFECYCLE,
        lambda frame, flags, policy: frame["days_to_shutdown"] <= 0,
        _shutdown_due,
        _SHUTDOWN,
        decides=False,
        uses=("base_model_label", "successor_id", "successor_label"),
    ),
    Rule(
        "base_model_shutdown_soon",
        _RETRAIN,
        _ACT,
        Part.LIFECYCLE,
        lambda frame, flags, policy: flags["shutdown_due"] & (frame["days_to_shutdown"] > 0),
        _shutdown_due,
        _SHUTDOWN,
        decides=False,
        uses=("base_model_label", "successor_id", "successor_label"),
    ),
    Rule(
        "task_changed_since_training",
        _RETRAIN,
        _ACT,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: flags["changed_since_training"],
        _task_changed_since_training,
        ("task_changes_since_training", "last_trained_on", "latest_task_change_on"),
        decides=False,
        uses=("latest_task_change_kind",),
    ),
    Rule(
        "tune_below_target",
        _RETRAIN,
        _ACT,
        Part.UNPROMPTABLE_BEHAVIOUR,
        lambda frame, flags, policy: flags["below_target"],
        _tune_below_target,
        ("tune_score", "target_score", "tune_score_shortfall"),
        decides=False,
    ),
    Rule(
        "retraining_pays_back",
        _RETRAIN,
        _ACT,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: flags["retrain_needed"] & flags["retrain_fits"],
        _retraining_pays_back,
        _RETRAINING,
        uses=("change_rate_per_quarter", "retrain_shutdown_on", "lifetime_set_by"),
        hints=_set_by("lifetime_after_retraining_months"),
    ),
    # --- WATCH ---
    Rule(
        "retrain_payback_unknown",
        _WATCH,
        _LOOK,
        Part.DATA,
        lambda frame, flags, policy: flags["retrain_needed"] & ~flags["retrain_known"],
        _words(
            "A retraining is needed, but whether it pays back can't be judged: the net saving "
            "or the retrain cost is unknown (see the missing data)."
        ),
        _RETRAINING,
    ),
    Rule(
        "payback_beyond_stable_lifetime",
        _WATCH,
        _LOOK,
        Part.STABLE_HIGH_VOLUME,
        _payback_too_long,
        _payback_beyond_stable_lifetime,
        (
            "training_cost",
            "unrecovered_cost",
            "payback_months",
            "expected_stable_lifetime_months",
            "last_trained_on",
        ),
        uses=("change_rate_per_quarter", "base_model_shutdown_on", "lifetime_set_by"),
        hints=_set_by("expected_stable_lifetime_months"),
    ),
    Rule(
        "base_model_shutdown_approaching",
        _WATCH,
        _LOOK,
        Part.LIFECYCLE,
        _shutdown_approaching_holds,
        _shutdown_approaching,
        _SHUTDOWN,
        applies_to="all",
        uses=("base_model_label", "status"),
    ),
    Rule(
        "volume_dropped",
        _WATCH,
        _LOOK,
        Part.LIFECYCLE,
        lambda frame, flags, policy: frame["volume_change_30d"] <= -policy.volume_drop_watch,
        _volume_dropped,
        ("volume_change_30d", "daily_queries_30d", "daily_queries_prior_60d"),
    ),
    Rule(
        "usage_stale",
        _WATCH,
        _LOOK,
        Part.LIFECYCLE,
        lambda frame, flags, policy: frame["days_since_last_usage"] >= policy.stale_usage_days,
        _usage_stale,
        ("days_since_last_usage", "last_usage_on"),
    ),
    # --- data gaps: what is missing, in words, never a guess in its place ---
    Rule(
        "no_usage_yet",
        _WATCH,
        _LOOK,
        Part.DATA,
        lambda frame, flags, policy: frame["lookback_start"].isna(),
        lambda row, policy: (
            f"No complete day of usage before {fmt.day(row['as_of'])}: volume, cost per query "
            f"and net saving can't be computed yet."
        ),
        uses=("as_of",),
    ),
    Rule(
        "missing_expected_usage",
        _WATCH,
        _LOOK,
        Part.DATA,
        _expected_usage_missing,
        lambda row, policy: (
            f"No expected {and_list(row['missing'])}: the saving can't be estimated."
        ),
        notes=lambda row, flags, policy: {"missing": _missing_usage_list(row)},
        applies_to="all",
    ),
    Rule(
        "no_alternative_model",
        _WATCH,
        _LOOK,
        Part.DATA,
        lambda frame, flags, policy: flags["no_alternative"],
        _words(
            "No alternative model is set, so the prompt/RAG alternative can't be priced and the "
            "saving is unknown."
        ),
        applies_to="all",
    ),
    Rule(
        "missing_prices",
        _WATCH,
        _LOOK,
        Part.DATA,
        _missing_prices_holds,
        _missing_prices,
        (
            "alternative_missing_days",
            "tune_missing_days",
            "first_missing_price_on",
            "last_missing_price_on",
        ),
        uses=(
            "alternative_price_missing",
            "tune_price_missing",
            "alternative_label",
            "base_model_label",
            "as_of",
            "no_alternative",
        ),
        hints=lambda row, flags, policy: {"no_alternative": flags["no_alternative"]},
        applies_to="all",
    ),
    Rule(
        "missing_scores",
        _WATCH,
        _LOOK,
        Part.DATA,
        _missing_scores_holds,
        lambda row, policy: (
            f"No {and_list(row['missing'])} recorded: can't tell whether prompting "
            f"caught up or the tune falls short of its target."
        ),
        notes=lambda row, flags, policy: {"missing": _missing_scores_list(row)},
        applies_to="all",
    ),
    Rule(
        "no_training_date",
        _WATCH,
        _LOOK,
        Part.DATA,
        lambda frame, flags, policy: frame["last_trained_on"].isna(),
        _words(
            "No training, retraining or deployment date up to the as-of date: the stable "
            "lifetime and the recovery since training can't be computed."
        ),
    ),
    Rule(
        "missing_costs",
        _WATCH,
        _LOOK,
        Part.DATA,
        _missing_costs_holds,
        lambda row, policy: (
            f"No {and_list(row['missing'])} recorded: the payback can't be computed."
        ),
        notes=lambda row, flags, policy: {"missing": _missing_costs_list(row, flags)},
        applies_to="all",
    ),
    # --- context: holds when things are fine, or explains a figure ---
    Rule(
        "pays_off",
        None,
        _INFO,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: frame["monthly_net_saving"] > 0,
        _pays_off,
        _SAVING,
    ),
    Rule(
        "training_recovered",
        None,
        _INFO,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: (
            (frame["monthly_net_saving"] > 0) & frame["recovered"].eq(True)
        ),
        _training_recovered,
        _RECOVERY,
    ),
    Rule(
        "training_not_yet_recovered",
        None,
        _INFO,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: (
            (frame["monthly_net_saving"] > 0) & frame["recovered"].eq(False)
        ),
        _training_not_yet_recovered,
        _RECOVERY,
        uses=("unrecovered_cost",),
    ),
    Rule(
        "recovery_unknown",
        None,
        _INFO,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: (frame["monthly_net_saving"] > 0) & frame["recovered"].isna(),
        _words(
            "Whether the training cost has been recovered can't be computed (see the missing data)."
        ),
        _RECOVERY,
    ),
    Rule(
        "no_successor_model",
        None,
        _INFO,
        Part.DATA,
        lambda frame, flags, policy: flags["shutdown_due"] & frame["successor_id"].isna(),
        lambda row, policy: (
            f"Base model {model_name(row['base_model_label'])} has no successor on record, so "
            f"the lifetime after retraining is not capped by a shutdown date."
        ),
        uses=("base_model_label",),
    ),
    Rule(
        "prices_moved",
        None,
        _INFO,
        Part.STABLE_HIGH_VOLUME,
        _prices_moved_holds,
        _prices_moved,
        (
            "monthly_net_saving",
            "monthly_net_saving_at_past_prices",
            "lookback_start",
            "lookback_days",
        ),
        uses=("as_of",),
    ),
    Rule(
        "task_stable",
        None,
        _INFO,
        Part.STABLE_HIGH_VOLUME,
        lambda frame, flags, policy: (
            frame["change_rate_per_quarter"] <= policy.max_changes_per_quarter
        ),
        _task_stable,
        _CHANGES,
    ),
)

RULE_CODES: frozenset[str] = frozenset(rule.code for rule in RULES)
#: How each rule's finding reads, by code.
RULE_WORDINGS: dict[str, Wording] = {rule.code: rule.wording for rule in RULES}


def rule_flags(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Which rules hold for each tune (one bool column per rule code, plus the helper flags),
    and the verdict they add up to under :data:`PRECEDENCE`."""
    helpers = helper_flags(frame, policy)
    deployed = helpers["deployed"].to_numpy(dtype=bool, na_value=False)
    tunes = {"deployed": deployed, "proposed": ~deployed, "all": np.ones(len(frame), dtype=bool)}
    # As arrays: a Series' bookkeeping per rule would cost more than the rules' own tests.
    held = {
        rule.code: rule.holds(frame, helpers, policy).to_numpy(dtype=bool, na_value=False)
        & tunes[rule.applies_to]
        for rule in RULES
    }
    flags = pd.concat([helpers, pd.DataFrame(held, index=frame.index)], axis=1)

    conditions: list[np.ndarray] = []
    choices: list[Verdict] = []
    for kind, (order, otherwise) in PRECEDENCE.items():
        for verdict in order:
            deciding = [held[r.code] for r in RULES if r.verdict is verdict and r.decides]
            conditions.append(tunes[kind] & np.any(deciding, axis=0))
            choices.append(verdict)
        conditions.append(tunes[kind])
        choices.append(otherwise)
    # np.select takes the first condition that holds.
    flags["verdict"] = np.select(conditions, choices, default=Verdict.KEEP)
    return flags
