"""Assembles every figure for every tune in one pass of whole-column pandas operations."""

from __future__ import annotations

from datetime import date

import pandas as pd

from . import economics, lifecycle, stability
from .economics import tidy
from .inputs import Policy, Portfolio, as_day, lookup, normalise

#: The figures every result carries, in a stable order (see decision/README.md for formulas).
FIGURE_KEYS: tuple[str, ...] = (
    "monthly_queries",
    "input_tokens_per_query",
    "output_tokens_per_query",
    "alternative_cost_per_query",
    "tune_cost_per_query",
    "monthly_net_saving",
    "change_rate_per_quarter",
    "expected_stable_lifetime_months",
    "training_cost",
    "payback_months",
    "cumulative_net_saving",
    "recovered",
    "break_even_on",
    "unrecovered_cost",
    "retrain_payback_months",
    "lifetime_after_retraining_months",
    "base_model_shutdown_on",
    "days_to_shutdown",
    "volume_change_30d",
    "days_since_last_usage",
    "quality_gap",
    "tune_score_shortfall",
    # Supporting figures: the inputs the formulas above used, so a reader can redo the sums.
    "last_trained_on",
    "lookback_start",
    "lookback_days",
    "task_changes_12m",
    "task_changes_since_training",
    "monthly_fixed_cost",
    "retrain_cost",
    "successor_shutdown_on",
)


def build_frame(portfolio: Portfolio, policy: Policy, as_of: date) -> pd.DataFrame:
    """All figures plus the working columns the rules need, one row per non-retired tune."""
    day = as_day(as_of)
    p = normalise(portfolio)
    tunes = p.tunes[p.tunes["status"] != "retired"]
    ids = tunes.index
    proposed = tunes["status"] == "proposed"

    # --- economics: usage priced at each day's prices ---------------------------------------
    daily = economics.daily_usage(p.usage, ids, day)
    priced = economics.price_usage(daily, tunes, p)
    used = economics.usage_days(daily, ids)
    window = economics.lookback_window(used, day, policy.lookback_days)
    in_window = economics.sums_from(priced, window["lookback_start"], ids)
    actual = economics.volume_and_costs(window, in_window)
    expected = economics.proposal_volume_and_costs(tunes, p, day)
    billing = economics.billed_versus_computed(p.usage, tunes, p, window["lookback_start"], day)
    volume = actual.where(~proposed, expected[actual.columns])

    # --- stability ------------------------------------------------------------------------
    task_log = stability.task_changes(p.changes, day)
    rate = stability.change_rate(task_log, ids, day)
    training = stability.last_training(tunes, p.changes, day)
    since_training = stability.changes_since(task_log, training["last_trained_on"])

    # --- lifecycle ------------------------------------------------------------------------
    shutdown = lifecycle.base_model_shutdown(tunes, p.models, day)
    volume_trend = lifecycle.volume_change_30d(daily, used["first_usage_on"], day)

    # The effective last training (with logged retrainings) replaces the tune record's field.
    f = pd.concat(
        [
            tunes.drop(columns="last_trained_on"),
            used,
            window,
            volume,
            rate,
            training,
            since_training,
            shutdown,
            volume_trend,
            billing,
        ],
        axis=1,
    )
    f["as_of"] = day
    f["monthly_net_saving"] = economics.monthly_net_saving(
        f["monthly_queries"],
        f["alternative_cost_per_query"],
        f["tune_cost_per_query"],
        f["monthly_fixed_cost"],
    )
    f["payback_months"] = economics.payback_months(f["training_cost"], f["monthly_net_saving"])

    # Deployed tunes count their stable lifetime from the last training; a proposal from today.
    start = f["last_trained_on"].where(~proposed, day)
    f["expected_stable_lifetime_months"] = stability.stable_lifetime(
        start, f["base_model_shutdown_on"], f["change_rate_per_quarter"], policy.horizon_months
    )
    f["retrain_payback_months"] = economics.payback_months(
        f["retrain_cost"], f["monthly_net_saving"]
    ).where(~proposed)
    retrain_shutdown = lifecycle.shutdown_for_retraining(shutdown, policy.shutdown_warning_days)
    f["retrain_shutdown_on"] = retrain_shutdown
    f["alternative_label"] = lookup(p.models["label"], f["alternative_model_id"])
    f["lifetime_after_retraining_months"] = stability.stable_lifetime(
        pd.Series(day, index=ids),
        retrain_shutdown,
        f["change_rate_per_quarter"],
        policy.horizon_months,
    ).where(~proposed)

    deployed_ids = ids[~proposed]
    recovery = economics.recovery(
        priced[priced["tune_id"].isin(deployed_ids)],
        f.loc[~proposed, "last_trained_on"],
        f.loc[~proposed, "training_cost"],
        f.loc[~proposed, "monthly_fixed_cost"],
        f.loc[~proposed, "monthly_net_saving"],
        day,
    )
    f = f.join(recovery)

    # Missing prices matter on any day the figures use: the lookback window or since training.
    relevant_from = pd.concat([window["lookback_start"], f["last_trained_on"]], axis=1).min(axis=1)
    gaps = economics.sums_from(priced, relevant_from, ids)
    for name in ("alternative_missing_days", "tune_missing_days"):
        f[name] = gaps[name].where(~proposed, 0.0)
    for name in ("first_missing_price_on", "last_missing_price_on"):
        f[name] = gaps[name].where(~proposed)
    f["alternative_price_missing"] = expected["alternative_price_missing"] & proposed
    f["tune_price_missing"] = expected["tune_price_missing"] & proposed

    f["days_since_last_usage"] = lifecycle.days_since(f["last_usage_on"], day)
    f["quality_gap"] = tidy(f["target_score"] - f["baseline_score"], 10)
    f["tune_score_shortfall"] = tidy(f["target_score"] - f["tune_score"], 10)

    # Usage-history figures mean nothing for a proposal.
    not_for_proposals = [
        "cumulative_net_saving",
        "break_even_on",
        "unrecovered_cost",
        "days_since_last_usage",
        "volume_change_30d",
        "lookback_start",
        "lookback_days",
        "task_changes_since_training",
        "tune_score_shortfall",
    ]
    f[not_for_proposals] = f[not_for_proposals].where(~proposed)
    f["recovered"] = f["recovered"].astype("boolean")
    return f.sort_index()


def compute_figures(portfolio: Portfolio, policy: Policy, as_of: date) -> pd.DataFrame:
    """Every figure for every non-retired tune on ``as_of``, one row per tune (index tune_id).

    Columns are :data:`FIGURE_KEYS`. Payback is ``inf`` when the net saving is ≤ 0; unknown
    figures (missing data) are NaN/NaT/<NA>. Nothing here reads today's date.
    """
    return build_frame(portfolio, policy, as_of).loc[:, list(FIGURE_KEYS)]
