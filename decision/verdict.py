"""Turns the figures into verdicts and findings, in the rule order of the specification.

Deployed tunes: the first rule that fires decides (RETIRE, RETRAIN, WATCH, else KEEP), but every
rule that holds is reported as a finding. Proposals: FINE_TUNE or ITERATE from the four questions.
The rule flags are computed as whole columns; only the final per-tune objects are assembled in a
loop over already-computed rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import fmt
from .engine import FIGURE_KEYS
from .inputs import Policy
from .readiness import condition_findings, question_findings, question_flags, savings_sum
from .results import ENGINE_VERSION, Finding, Severity, TuneResult, Verdict
from .sources import source_findings
from .stability import MONTHS_PER_QUARTER


def rule_flags(f: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Which rules hold for each tune, and the verdict they add up to.

    Comparisons with an unknown figure are False: a rule only fires on data that is present.
    A deployed tune with a data gap gets WATCH unless a RETIRE or RETRAIN rule still fires.
    """
    deployed = f["status"] != "proposed"
    saving = f["monthly_net_saving"]
    days = f["days_to_shutdown"]
    x = pd.DataFrame(index=f.index)
    # 1. RETIRE
    x["no_longer_pays_off"] = saving <= 0
    x["task_changes_too_often"] = f["change_rate_per_quarter"] > policy.max_changes_per_quarter
    x["prompting_caught_up"] = f["quality_gap"] <= 0  # best prompt score reaches the target
    # 2. RETRAIN: what calls for a retraining, and whether one would pay back in time.
    x["shutdown_due"] = days <= policy.shutdown_warning_days
    x["changed_since_training"] = f["task_changes_since_training"] > 0
    x["below_target"] = f["tune_score_shortfall"] > policy.quality_tolerance
    x["retrain_needed"] = x[["shutdown_due", "changed_since_training", "below_target"]].any(axis=1)
    retrain_payback, lifetime_after = (
        f["retrain_payback_months"],
        f["lifetime_after_retraining_months"],
    )
    known = retrain_payback.notna() & lifetime_after.notna()
    x["retrain_fits"] = known & (retrain_payback <= lifetime_after)
    x["retrain_too_slow"] = x["retrain_needed"] & known & (retrain_payback > lifetime_after)
    x["retrain_unknown"] = x["retrain_needed"] & ~known
    # 3. WATCH
    recovered = f["recovered"].astype("boolean")
    not_recovered = ~recovered.fillna(True).astype(bool)  # unknown is not "not recovered"
    x["payback_too_long"] = not_recovered & (
        f["payback_months"] > f["expected_stable_lifetime_months"]
    )
    x["shutdown_approaching"] = (days > policy.shutdown_warning_days) & (
        days <= policy.shutdown_watch_days
    )
    x["volume_dropped"] = f["volume_change_30d"] <= -policy.volume_drop_watch
    x["usage_stale"] = f["days_since_last_usage"] >= policy.stale_usage_days
    x = x.where(deployed, False).astype(bool)  # the deployed rules say nothing about proposals
    # Data gaps (what is missing is named in the findings); proposals have their own inputs.
    x["gap_no_usage"] = deployed & f["first_usage_on"].isna()
    x["gap_no_alternative"] = f["alternative_model_id"].isna().astype(bool)
    priced_alternative = ~x["gap_no_alternative"]
    x["gap_prices"] = (
        (f["alternative_missing_days"] > 0) & priced_alternative
        | (f["tune_missing_days"] > 0)
        | f["alternative_price_missing"] & priced_alternative
        | f["tune_price_missing"]
    )
    x["gap_scores"] = (
        f[["target_score", "baseline_score"]].isna().any(axis=1) | deployed & f["tune_score"].isna()
    )
    x["gap_training_date"] = deployed & f["last_trained_on"].isna()
    x["gap_costs"] = f["training_cost"].isna() | (f["retrain_cost"].isna() & x["retrain_needed"])
    expected = ["expected_monthly_queries", "expected_input_tokens", "expected_output_tokens"]
    x["gap_expected_usage"] = ~deployed & f[expected].isna().any(axis=1)
    gaps = [c for c in x.columns if c.startswith("gap_")]

    retire = x[
        ["no_longer_pays_off", "task_changes_too_often", "prompting_caught_up", "retrain_too_slow"]
    ].any(axis=1)
    retrain = ~retire & x["retrain_needed"] & x["retrain_fits"]
    watch_rules = ["payback_too_long", "shutdown_approaching", "volume_dropped", "usage_stale"]
    watch = ~retire & ~retrain & x[[*watch_rules, *gaps, "retrain_unknown"]].any(axis=1)

    questions = question_flags(f, policy)
    x = x.join(questions)
    x["verdict"] = np.select(
        [~deployed & questions["fine_tune"], ~deployed, retire, retrain, watch],
        [Verdict.FINE_TUNE, Verdict.ITERATE, Verdict.RETIRE, Verdict.RETRAIN, Verdict.WATCH],
        default=Verdict.KEEP,
    )
    return x


# --- messages ------------------------------------------------------------------------------


def _pick(row: dict, *keys: str) -> dict:
    return {k: fmt.json_safe(row.get(k)) for k in keys}


_SAVING_KEYS = (
    "monthly_net_saving",
    "monthly_queries",
    "alternative_cost_per_query",
    "tune_cost_per_query",
    "monthly_fixed_cost",
)


def _model(label: object, fallback: str = "the base model") -> str:
    return fallback if fmt.is_missing(label) or not str(label) else f"'{label}'"


def _lifetime_bound(row: dict, lifetime_key: str, shutdown_key: str, policy: Policy) -> str:
    """What limits a stable lifetime: the horizon, the change rate or a shutdown."""
    lifetime, rate = row[lifetime_key], row["change_rate_per_quarter"]
    if fmt.is_missing(lifetime):
        return ""
    if math.isclose(lifetime, policy.horizon_months, abs_tol=1e-6):
        return f"the {fmt.number(policy.horizon_months, 1)}-month horizon"
    if rate > 0 and math.isclose(lifetime, MONTHS_PER_QUARTER / rate, abs_tol=1e-6):
        return f"{fmt.number(rate)} task changes per quarter"
    return f"the shutdown on {fmt.day(row[shutdown_key])}"


def _retrain_words(row: dict) -> str:
    return (
        f"retraining costs {fmt.usd(row['retrain_cost'])} and "
        f"{fmt.pays_back(row['retrain_payback_months'])} at {fmt.usd(row['monthly_net_saving'])}"
        f"/month"
    )


def _shutdown_words(row: dict) -> str:
    days = row["days_to_shutdown"]
    when = fmt.day(row["base_model_shutdown_on"])
    model = _model(row["base_model_label"])
    if days < 0:
        return f"Base model {model} shut down on {when}, {fmt.count(-days)} days ago"
    if days == 0:
        return f"Base model {model} shuts down today ({when})"
    return f"Base model {model} shuts down on {when}, in {fmt.count(days)} days"


def _deployed_findings(
    row: dict, x: dict, policy: Policy
) -> tuple[list[Finding], list[Finding], list[Finding], list[Finding], list[Finding]]:
    """Findings grouped as (retire, retrain triggers, retrain outcome, watch + data, info)."""
    retire: list[Finding] = []
    triggers: list[Finding] = []
    outcome: list[Finding] = []
    watch: list[Finding] = []
    info: list[Finding] = []
    act, look = Severity.ACTION, Severity.WATCH

    # 1. RETIRE
    if x["no_longer_pays_off"]:
        retire.append(
            Finding(
                "no_longer_pays_off",
                "condition 2",
                act,
                f"Saves {savings_sum(row)}: it no longer pays off.",
                figures=_pick(row, *_SAVING_KEYS),
            )
        )
    rate, limit = row["change_rate_per_quarter"], policy.max_changes_per_quarter
    if x["task_changes_too_often"]:
        retire.append(
            Finding(
                "task_changes_too_often",
                "Q2",
                act,
                f"{fmt.plural(row['task_changes_12m'], 'meaningful task change')} in the last "
                f"365 days, {fmt.number(rate)} per quarter, more than the {fmt.number(limit)} "
                f"maximum: the logic belongs in prompts and retrieval, where changes are cheap.",
                figures=_pick(row, "change_rate_per_quarter", "task_changes_12m"),
            )
        )
    if x["prompting_caught_up"]:
        retire.append(
            Finding(
                "prompting_caught_up",
                "Q4",
                act,
                f"The best prompt/RAG setup scores {fmt.number(row['baseline_score'], 3)}, "
                f"reaching the {fmt.number(row['target_score'], 3)} target: prompting caught up.",
                figures=_pick(row, "target_score", "baseline_score", "quality_gap"),
            )
        )
    retrain_figures = _pick(
        row,
        "retrain_cost",
        "retrain_payback_months",
        "lifetime_after_retraining_months",
        "monthly_net_saving",
    )
    after = row["lifetime_after_retraining_months"]
    bound = _lifetime_bound(row, "lifetime_after_retraining_months", "retrain_shutdown_on", policy)
    if x["retrain_too_slow"]:
        retire.append(
            Finding(
                "retraining_does_not_pay_back",
                "condition 2",
                act,
                f"A retraining is needed, but {_retrain_words(row)}, longer than the "
                f"{fmt.months(after)} it would stay useful (lifetime after retraining, set by "
                f"{bound}).",
                figures=retrain_figures,
            )
        )

    # 2. RETRAIN triggers
    if x["shutdown_due"]:
        code = (
            "base_model_shut_down" if row["days_to_shutdown"] <= 0 else "base_model_shutdown_soon"
        )
        successor = row["successor_label"]
        onto = (
            f"retrain on its successor {_model(successor)}"
            if not fmt.is_missing(row["successor_id"])
            else "retrain on a newer model"
        )
        triggers.append(
            Finding(
                code,
                "lifecycle",
                act,
                f"{_shutdown_words(row)} (warning window {policy.shutdown_warning_days} days): "
                f"{onto}.",
                figures=_pick(row, "base_model_shutdown_on", "days_to_shutdown"),
            )
        )
        if fmt.is_missing(row["successor_id"]):
            info.append(
                Finding(
                    "no_successor_model",
                    "data",
                    Severity.INFO,
                    f"Base model {_model(row['base_model_label'])} has no successor on record, "
                    f"so the lifetime after retraining is not capped by a shutdown date.",
                )
            )
    if x["changed_since_training"]:
        n = row["task_changes_since_training"]
        kind = str(row["latest_task_change_kind"]).replace("_", " ")
        triggers.append(
            Finding(
                "task_changed_since_training",
                "condition 2",
                act,
                f"{fmt.plural(n, 'meaningful task change')} since the last "
                f"training on {fmt.day(row['last_trained_on'])} (latest: {kind} on "
                f"{fmt.day(row['latest_task_change_on'])}): the tune no longer matches the task.",
                figures={
                    **_pick(row, "task_changes_since_training", "last_trained_on"),
                    "latest_task_change_on": fmt.json_safe(row["latest_task_change_on"]),
                },
            )
        )
    if x["below_target"]:
        triggers.append(
            Finding(
                "tune_below_target",
                "condition 1",
                act,
                f"The tune scores {fmt.number(row['tune_score'], 3)} against a "
                f"{fmt.number(row['target_score'], 3)} target, "
                f"{fmt.number(row['tune_score_shortfall'], 3)} short (tolerance "
                f"{fmt.number(policy.quality_tolerance, 3)}).",
                figures=_pick(row, "tune_score", "target_score", "tune_score_shortfall"),
            )
        )
    if x["retrain_needed"] and x["retrain_fits"]:
        outcome.append(
            Finding(
                "retraining_pays_back",
                "condition 2",
                act,
                f"Worth retraining: {_retrain_words(row)}, within the lifetime after "
                f"retraining of {fmt.months(after)} (set by {bound}).",
                figures=retrain_figures,
            )
        )
    if x["retrain_unknown"]:
        watch.append(
            Finding(
                "retrain_payback_unknown",
                "data",
                look,
                "A retraining is needed, but whether it pays back can't be judged: the net "
                "saving or the retrain cost is unknown (see the missing data).",
                figures=retrain_figures,
            )
        )

    # 3. WATCH
    if x["payback_too_long"]:
        lifetime = row["expected_stable_lifetime_months"]
        stable_bound = _lifetime_bound(
            row, "expected_stable_lifetime_months", "base_model_shutdown_on", policy
        )
        watch.append(
            Finding(
                "payback_beyond_stable_lifetime",
                "condition 2",
                look,
                f"The {fmt.usd(row['training_cost'])} training cost is not recovered yet "
                f"({fmt.usd(row['unrecovered_cost'])} to go) and it "
                f"{fmt.pays_back(row['payback_months'])}, beyond the expected "
                f"stable lifetime of {fmt.months(lifetime)} from the training on "
                f"{fmt.day(row['last_trained_on'])} (set by "
                f"{stable_bound}).",
                figures=_pick(
                    row,
                    "training_cost",
                    "unrecovered_cost",
                    "payback_months",
                    "expected_stable_lifetime_months",
                    "last_trained_on",
                ),
            )
        )
    if x["shutdown_approaching"]:
        watch.append(
            Finding(
                "base_model_shutdown_approaching",
                "lifecycle",
                look,
                f"{_shutdown_words(row)} (watch window {policy.shutdown_watch_days} days): "
                f"plan the move to a newer model.",
                figures=_pick(row, "base_model_shutdown_on", "days_to_shutdown"),
            )
        )
    if x["volume_dropped"]:
        watch.append(
            Finding(
                "volume_dropped",
                "lifecycle",
                look,
                f"Daily volume fell {fmt.percent(-row['volume_change_30d'])} over the last 30 "
                f"days ({fmt.count(row['daily_queries_30d'])}/day against "
                f"{fmt.count(row['daily_queries_prior_60d'])}/day in the 60 days before; watch "
                f"at {fmt.percent(policy.volume_drop_watch)}).",
                figures=_pick(
                    row, "volume_change_30d", "daily_queries_30d", "daily_queries_prior_60d"
                ),
            )
        )
    if x["usage_stale"]:
        watch.append(
            Finding(
                "usage_stale",
                "lifecycle",
                look,
                f"No usage in the last {fmt.count(row['days_since_last_usage'])} days (last on "
                f"{fmt.day(row['last_usage_on'])}; watch after {policy.stale_usage_days} days).",
                figures=_pick(row, "days_since_last_usage", "last_usage_on"),
            )
        )
    watch.extend(_data_findings(row, x))

    # Context that holds when things are fine.
    if not fmt.is_missing(row["monthly_net_saving"]) and row["monthly_net_saving"] > 0:
        info.insert(
            0,
            Finding(
                "pays_off",
                "condition 2",
                Severity.INFO,
                f"Saves {savings_sum(row)}.",
                figures=_pick(row, *_SAVING_KEYS),
            ),
        )
        info.insert(1, _recovery_finding(row))
    if rate <= limit:
        info.append(
            Finding(
                "task_stable",
                "condition 2",
                Severity.INFO,
                f"{fmt.plural(row['task_changes_12m'], 'meaningful task change')} in the last "
                f"365 days ({fmt.number(rate)} per quarter, at most {fmt.number(limit)}).",
                figures=_pick(row, "change_rate_per_quarter", "task_changes_12m"),
            )
        )
    return retire, triggers, outcome, watch, info


def _recovery_finding(row: dict) -> Finding:
    figures = _pick(
        row,
        "training_cost",
        "cumulative_net_saving",
        "recovered",
        "break_even_on",
        "payback_months",
    )
    if row["recovered"] is True:
        return Finding(
            "training_recovered",
            "condition 2",
            Severity.INFO,
            f"The {fmt.usd(row['training_cost'])} training cost was recovered on "
            f"{fmt.day(row['break_even_on'])} (net saving since training "
            f"{fmt.usd(row['cumulative_net_saving'])}).",
            figures=figures,
        )
    if row["recovered"] is False:
        return Finding(
            "training_not_yet_recovered",
            "condition 2",
            Severity.INFO,
            f"{fmt.usd(row['unrecovered_cost'])} of the {fmt.usd(row['training_cost'])} "
            f"training cost is still to recover; {_projection(row)}.",
            figures=figures,
        )
    return Finding(
        "recovery_unknown",
        "condition 2",
        Severity.INFO,
        "Whether the training cost has been recovered can't be computed (see the missing data).",
        figures=figures,
    )


def _projection(row: dict) -> str:
    if fmt.is_missing(row["break_even_on"]):
        return "at the current net saving it never breaks even"
    return (
        f"break-even projected on {fmt.day(row['break_even_on'])} "
        f"(payback {fmt.months(row['payback_months'])})"
    )


def _data_findings(row: dict, x: dict) -> list[Finding]:
    """What is missing, in words; never a guess in its place."""
    out: list[Finding] = []
    look = Severity.WATCH
    as_of = fmt.day(row["as_of"])
    if x["gap_no_usage"]:
        out.append(
            Finding(
                "no_usage_yet",
                "data",
                look,
                f"No usage recorded up to {as_of}: volume, cost per query and net saving can't "
                f"be computed yet.",
            )
        )
    if x["gap_expected_usage"]:
        out.extend(_proposal_data_findings(row))
    if x["gap_no_alternative"]:
        out.append(
            Finding(
                "no_alternative_model",
                "data",
                look,
                "No alternative model is set, so the prompt/RAG alternative can't be priced and "
                "the saving is unknown.",
            )
        )
    if x["gap_prices"]:
        out.append(_missing_prices(row, x))
    missing_scores = [
        name
        for name, key in (
            ("target score", "target_score"),
            ("best prompt/RAG score", "baseline_score"),
            ("tune score", "tune_score"),
        )
        if fmt.is_missing(row[key]) and (key != "tune_score" or row["status"] != "proposed")
    ]
    if x["gap_scores"] and missing_scores:
        out.append(
            Finding(
                "missing_scores",
                "data",
                look,
                f"No {_and(missing_scores)} recorded: can't tell whether prompting caught up or "
                f"the tune falls short of its target.",
                figures={"missing": missing_scores},
            )
        )
    if x["gap_training_date"]:
        out.append(
            Finding(
                "no_training_date",
                "data",
                look,
                "No training, retraining or deployment date up to the as-of date: the stable "
                "lifetime and the recovery since training can't be computed.",
            )
        )
    if x["gap_costs"]:
        missing = []
        if fmt.is_missing(row["training_cost"]):
            missing.append("upfront cost" if row["status"] == "proposed" else "training cost")
        if fmt.is_missing(row["retrain_cost"]) and x["retrain_needed"]:
            missing.append("retrain cost")
        out.append(
            Finding(
                "missing_costs",
                "data",
                look,
                f"No {_and(missing)} recorded: the payback can't be computed.",
                figures={"missing": missing},
            )
        )
    return out


def _missing_prices(row: dict, x: dict) -> Finding:
    alt_label = _model(row.get("alternative_label"), "the alternative model")
    tune_side = f"the tune's serving price or its base model {_model(row['base_model_label'])}"
    if row["status"] == "proposed":
        sides = []
        if row["alternative_price_missing"] and not x["gap_no_alternative"]:
            sides.append(f"the alternative model {alt_label}")
        if row["tune_price_missing"]:
            sides.append(tune_side)
        message = (
            f"No price in force on {fmt.day(row['as_of'])} for {_and(sides)}: the cost per "
            f"query can't be computed."
        )
        figures = _pick(row, "as_of")
    else:
        sides = []
        if row["alternative_missing_days"] > 0 and not x["gap_no_alternative"]:
            sides.append(
                f"the alternative model {alt_label} on "
                f"{fmt.count(row['alternative_missing_days'])} usage days"
            )
        if row["tune_missing_days"] > 0:
            sides.append(f"{tune_side} on {fmt.count(row['tune_missing_days'])} usage days")
        message = (
            f"No price for {_and(sides)} between {fmt.day(row['first_missing_price_on'])} and "
            f"{fmt.day(row['last_missing_price_on'])}: the costs on those days can't be computed."
        )
        figures = _pick(
            row,
            "alternative_missing_days",
            "tune_missing_days",
            "first_missing_price_on",
            "last_missing_price_on",
        )
    return Finding("missing_prices", "data", Severity.WATCH, message, figures=figures)


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _proposal_data_findings(row: dict) -> list[Finding]:
    out: list[Finding] = []
    missing_usage = [
        name
        for name, key in (
            ("monthly queries", "expected_monthly_queries"),
            ("input tokens per query", "expected_input_tokens"),
            ("output tokens per query", "expected_output_tokens"),
        )
        if fmt.is_missing(row[key])
    ]
    if missing_usage:
        out.append(
            Finding(
                "missing_expected_usage",
                "data",
                Severity.WATCH,
                f"No expected {_and(missing_usage)}: the saving can't be estimated.",
                figures={"missing": missing_usage},
            )
        )
    return out


# --- assembly ------------------------------------------------------------------------------


def _figures(row: dict) -> dict:
    return {key: fmt.json_safe(row[key]) for key in FIGURE_KEYS}


def _with_decisive(findings: list[Finding], decisive: list[Finding]) -> tuple[Finding, ...]:
    chosen = {id(f) for f in decisive}
    return tuple(
        Finding(f.code, f.source, f.severity, f.message, True, f.figures) if id(f) in chosen else f
        for f in findings
    )


def _more(message: str, others: int) -> str:
    if not others:
        return message
    return f"{message.rstrip('.')} (and {others} more reason{'s' if others > 1 else ''} below)."


def deployed_result(row: dict, x: dict, policy: Policy) -> TuneResult:
    retire, triggers, outcome, watch, info = _deployed_findings(row, x, policy)
    verdict = Verdict(x["verdict"])
    if verdict is Verdict.RETIRE:
        decisive = retire
        reason = _more(retire[0].message, len(retire) - 1)
    elif verdict is Verdict.RETRAIN:
        decisive = [*triggers, *outcome]
        first = _more(triggers[0].message, len(triggers) - 1).rstrip(".")
        reason = f"{first}; {outcome[0].message[0].lower()}{outcome[0].message[1:]}"
    elif verdict is Verdict.WATCH:
        decisive = watch
        reason = _more(watch[0].message, len(watch) - 1)
    else:
        decisive = [f for f in info if f.code == "pays_off"]
        reason = _keep_reason(row)
    findings = [*retire, *triggers, *outcome, *watch, *info, *source_findings(row)]
    return TuneResult(
        tune_id=int(row["tune_id"]),
        verdict=verdict,
        reason=reason,
        figures=_figures(row),
        findings=_with_decisive(findings, decisive),
        engine_version=ENGINE_VERSION,
    )


def _keep_reason(row: dict) -> str:
    if row["recovered"] is True:
        recovery = f"training cost recovered on {fmt.day(row['break_even_on'])}"
    else:
        recovery = (
            f"it {fmt.pays_back(row['payback_months'])}, within the expected stable lifetime "
            f"of {fmt.months(row['expected_stable_lifetime_months'])}"
        )
    return f"Still pays off: saves {savings_sum(row)}; {recovery}."


def proposal_result(row: dict, x: dict, policy: Policy) -> TuneResult:
    answered = question_findings(row, x, policy)
    data = _data_findings(row, x)
    lifecycle = _proposal_lifecycle(row, policy)
    findings = [f for f, _ in answered]
    if x["verdict"] == Verdict.FINE_TUNE:
        decisive = findings
        shorts = "; ".join(short for _, short in answered)
        reason = f"All four questions pass and no anti-pattern applies: {shorts}."
    else:
        failed = [(f, short) for f, short in answered if f.severity is Severity.ACTION]
        decisive = [f for f, _ in failed]
        reason = f"Keep improving prompts and retrieval: fails {_and([s for _, s in failed])}."
    everything = [*findings, *data, *lifecycle, *condition_findings(row)]
    return TuneResult(
        tune_id=int(row["tune_id"]),
        verdict=Verdict(x["verdict"]),
        reason=reason,
        figures=_figures(row),
        findings=_with_decisive(everything, decisive),
        engine_version=ENGINE_VERSION,
    )


def _proposal_lifecycle(row: dict, policy: Policy) -> list[Finding]:
    days = row["days_to_shutdown"]
    if fmt.is_missing(days) or days > policy.shutdown_watch_days:
        return []
    return [
        Finding(
            "base_model_shutdown_approaching",
            "lifecycle",
            Severity.WATCH,
            f"{_shutdown_words(row)}: it bounds the expected stable lifetime; consider a newer "
            f"base model.",
            figures=_pick(row, "base_model_shutdown_on", "days_to_shutdown"),
        )
    ]


def decide(frame: pd.DataFrame, policy: Policy) -> list[TuneResult]:
    """One result per row of the figures frame, sorted by tune id."""
    flags = rule_flags(frame, policy)
    rows = frame.assign(tune_id=frame.index).to_dict("index")
    marks = flags.to_dict("index")
    results = []
    for tune_id in sorted(rows):
        row = {k: _plain(v) for k, v in rows[tune_id].items()}
        x = marks[tune_id]
        build = proposal_result if row["status"] == "proposed" else deployed_result
        results.append(build(row, x, policy))
    return results


def _plain(value: object) -> object:
    """pandas scalars to plain Python so ``is True`` and formatting behave."""
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
