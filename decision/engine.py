"""Assembles every figure for every tune in one pass of whole-column pandas operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from . import economics, lifecycle, stability
from .economics import tidy
from .inputs import TUNE_COLUMNS, Policy, Portfolio, as_day, lookup, normalise

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
    "monthly_net_saving_at_past_prices",
)


#: The working columns the rules read besides the tune's inputs and the figures: the contract
#: between this module and ``rules.py``/``verdict.py``, checked where the frame is built.
WORKING_COLUMNS: dict[str, str] = {
    "as_of": "the as-of day",
    "first_usage_on": "first day with queries up to the as-of date",
    "last_usage_on": "last day with queries up to the as-of date",
    "past_alternative_cost_per_query": "alternative cost per query at each window day's price",
    "past_tune_cost_per_query": "tune cost per query at each window day's price",
    "latest_task_change_on": "day of the latest meaningful task change since training",
    "latest_task_change_kind": "its kind",
    "base_model_label": "the base model's label",
    "successor_id": "the base model's successor, if any",
    "successor_label": "the successor's label",
    "alternative_label": "the alternative model's label",
    "retrain_shutdown_on": "the shutdown that bounds a retraining",
    "daily_queries_30d": "mean daily queries over the last 30 days",
    "daily_queries_prior_60d": "mean daily queries over the 60 days before",
    "alternative_missing_days": "usage days without an alternative price (window or history)",
    "tune_missing_days": "usage days without a tune price (window or history)",
    "first_missing_price_on": "first of those days",
    "last_missing_price_on": "last of those days",
    "alternative_price_missing": "no alternative price in force on the as-of date",
    "tune_price_missing": "no tune price in force on the as-of date",
    "estimated_queries": "queries in the lookback window estimated from tokens",
    "window_queries": "queries in the lookback window",
    "billed_cost": "what the sources that report a cost billed over the lookback window",
    "computed_cost": "the same tokens at the catalog (or serving) prices",
}

#: Every column of the frame, in order: the tune's inputs, the figures, the working columns.
FRAME_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys([*TUNE_COLUMNS, *FIGURE_KEYS, *WORKING_COLUMNS])
)


def check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with exactly :data:`FRAME_COLUMNS`, in order; a missing or undeclared column is
    a programming error, caught here rather than as a KeyError deep inside a rule."""
    missing = [name for name in FRAME_COLUMNS if name not in frame.columns]
    undeclared = [name for name in frame.columns if name not in FRAME_COLUMNS]
    if missing or undeclared:
        raise AssertionError(f"figures frame: missing {missing}, undeclared {undeclared}")
    return frame.loc[:, list(FRAME_COLUMNS)]


#: Reads the single days of the given spans (``tune_id``, ``day``, ``last_day``: every usage
#: row of that tune from ``day`` to ``last_day``) as ``usage`` rows.
DaysReader = Callable[[pd.DataFrame], pd.DataFrame]


def build_frame(
    portfolio: Portfolio, policy: Policy, as_of: date, read_days: DaysReader | None = None
) -> pd.DataFrame:
    """All figures plus the working columns the rules need, one row per non-retired tune.

    With ``usage_spans``, the days the figures need (:func:`days_needed`) are read through
    ``read_days``; without it they must already be given as ``usage`` (ValueError otherwise).
    """
    day = as_day(as_of)
    normalised = normalise(portfolio)
    frame, break_even, other, priced = _figures_and_splits(normalised, policy, day)
    needed = _needed(pd.concat([break_even, other]))
    if needed.empty:
        return frame
    if read_days is None:
        raise ValueError(f"usage spans need their single days: {len(needed)} spans")
    days = normalise(Portfolio(usage=read_days(needed))).usage
    spans = normalised.usage_spans
    kept = ~_among(spans, needed)
    refined = replace(
        normalised,
        usage=pd.concat([normalised.usage, days], ignore_index=True),
        usage_spans=spans[kept],
    )
    if not _needed(other).empty:
        return _figures_and_splits(refined, policy, day)[0]
    # Only break-even days were missing: every other figure already stands, and so does each
    # span's cost (a span's cost is its own) but those read day by day. The days, given or read,
    # are priced again together, summed per day as the first pass summed them.
    ids = pd.Index(needed["tune_id"].unique())
    read = pd.concat([needed[["tune_id", "day"]], refined.usage[["tune_id", "day"]]])
    kept_spans = priced["tune_id"].isin(ids).to_numpy() & ~_among(priced, read)
    priced_days = economics.price_usage(
        economics.usage_spans(refined.usage, spans.iloc[:0], ids, day),
        refined.tunes.loc[ids],
        refined,
    )
    priced = pd.concat([priced[kept_spans], priced_days])
    priced = priced.sort_values(["tune_id", "day"], kind="mergesort").reset_index(drop=True)
    rows = frame.loc[ids]
    recovery, _ = economics.recovery(
        priced,
        rows["last_trained_on"],
        rows["training_cost"],
        rows["monthly_fixed_cost"],
        rows["monthly_net_saving"],
        day,
    )
    frame.loc[ids, "break_even_on"] = recovery["break_even_on"]
    return frame


def _among(rows: pd.DataFrame, others: pd.DataFrame) -> np.ndarray:
    """Whether each row's (``tune_id``, ``day``) is one of ``others``'."""
    ids = [rows["tune_id"].to_numpy("int64"), others["tune_id"].to_numpy("int64")]
    known = np.unique(np.concatenate(ids))
    # Each pair as one number: the tune's rank among the ids, then the day.
    keys = [
        (np.searchsorted(known, i) << 32) + frame["day"].to_numpy("datetime64[D]").astype("int64")
        for i, frame in zip(ids, (rows, others), strict=True)
    ]
    return np.isin(keys[0], keys[1])


def days_needed(portfolio: Portfolio, policy: Policy, as_of: date) -> pd.DataFrame:
    """The spans of ``portfolio.usage_spans`` whose single days a figure needs, one row per span
    (``tune_id``, ``day``, ``last_day``), sorted. Give those days as ``usage`` instead of the
    spans and the figures are what the same usage given day by day yields; when this is empty,
    they already are.

    A span is needed when the break-even day could lie inside it, when it hides how many days a
    price was missing, or when it holds a young tune's first usage day (where its lookback
    window starts).
    """
    _, break_even, other, _ = _figures_and_splits(normalise(portfolio), policy, as_day(as_of))
    return _needed(pd.concat([break_even, other]))


def _needed(splits: pd.DataFrame) -> pd.DataFrame:
    splits = splits[splits["last_day"] > splits["day"]].drop_duplicates(["tune_id", "day"])
    return splits.sort_values(["tune_id", "day"]).reset_index(drop=True)


def span_starts(portfolio: Portfolio, policy: Policy, as_of: date) -> pd.DataFrame:
    """The days where each tune's spans of usage must start (``tune_id``, ``day``), sorted:
    usage summed from one of a tune's days up to the day before its next (``usage_spans``)
    never hides a day its figures treat apart.

    A tune's days are those where one of its prices takes effect (its own serving price, its
    base and alternative models' prices), its last training, and, as for every tune, the as-of
    day, the starts of the lookback and volume windows and the first of every month (so a span
    the engine needs day by day is at most a month long). Another tune's training or price never
    cuts its spans: however many days the portfolio's tunes were trained on, each keeps about a
    span a month. ``portfolio.usage`` is not read.
    """
    day = as_day(as_of)
    p = normalise(replace(portfolio, usage=Portfolio().usage, usage_spans=Portfolio().usage_spans))
    tunes = p.tunes
    trained = stability.last_training(tunes, p.changes, day)["last_trained_on"]
    own = pd.concat(
        [
            pd.DataFrame({"tune_id": tunes.index, "day": trained.to_numpy()}),
            p.tune_prices[["tune_id", "effective_from"]].set_axis(["tune_id", "day"], axis=1),
            _price_days(tunes["alternative_model_id"], p.model_prices),
            _price_days(tunes["base_model_id"], p.model_prices),
        ],
        ignore_index=True,
    )
    own = own[own["tune_id"].isin(tunes.index) & (own["day"] <= day)]
    recent_from = day - pd.Timedelta(days=lifecycle.RECENT_DAYS - 1)
    fixed = pd.DatetimeIndex(
        [
            day,
            day - pd.Timedelta(days=policy.lookback_days),
            recent_from,
            recent_from - pd.Timedelta(days=lifecycle.EARLIER_DAYS),
        ]
    )
    # Months from the earliest training on: a catalog price years old would give every tune a
    # start each month since, and before its training a tune's spans need only its prices.
    first = min(fixed.min(), trained.min()) if trained.notna().any() else fixed.min()
    shared = fixed.union(pd.date_range(first.to_period("M").to_timestamp(), day, freq="MS"))
    # Every tune's shared days and its own, as numbers sorted by tune then day, without repeats:
    # a chunk's tens of thousands of rows in a few array operations.
    ids = np.concatenate(
        [
            np.repeat(tunes.index.to_numpy(dtype="int64"), len(shared)),
            own["tune_id"].to_numpy("int64"),
        ]
    )
    days = np.concatenate(
        [
            np.tile(shared.to_numpy("datetime64[ns]"), len(tunes)),
            own["day"].to_numpy("datetime64[ns]"),
        ]
    )
    order = np.lexsort((days, ids))
    ids, days = ids[order], days[order]
    new_row = np.ones(len(ids), dtype=bool)
    new_row[1:] = (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])
    return pd.DataFrame({"tune_id": ids[new_row], "day": days[new_row]})


def usage_needed_from(portfolio: Portfolio, policy: Policy, as_of: date) -> pd.Series:
    """The first day of usage each tune's figures read, by tune id: its last training as
    ``stability.last_training`` finds it on ``as_of`` (retrainings logged up to that day
    included), or, when that is later or there is none, the day the rule windows reach back to:
    the lookback or the volume trend's 30 + 60 days, whichever is longer. ``portfolio.usage`` is
    not read."""
    day = as_day(as_of)
    p = normalise(Portfolio(tunes=portfolio.tunes, changes=portfolio.changes))
    trained = stability.last_training(p.tunes, p.changes, day)["last_trained_on"]
    longest = max(policy.lookback_days, lifecycle.RECENT_DAYS + lifecycle.EARLIER_DAYS)
    window = day - pd.Timedelta(days=longest)
    return trained.where(trained < window, window)


def _price_days(models: pd.Series, prices: pd.DataFrame) -> pd.DataFrame:
    """The days a price of each tune's model (``models``: model id by tune id) takes effect
    (``tune_id``, ``day``)."""
    pairs = pd.DataFrame({"tune_id": models.index, "model_id": models.to_numpy()}).dropna()
    found = pairs.merge(prices[["model_id", "effective_from"]], on="model_id")
    return found[["tune_id", "effective_from"]].set_axis(["tune_id", "day"], axis=1)


def _figures_and_splits(
    normalised: Portfolio, policy: Policy, day: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The figures frame, the spans the break-even day needs day by day, those other figures
    need, and the usage priced span by span (``economics.price_usage``)."""
    tunes = normalised.tunes[normalised.tunes["status"] != "retired"]
    ids = tunes.index
    proposed = tunes["status"] == "proposed"

    # --- economics ------------------------------------------------------------------------
    # History (cumulative saving, break-even) prices each day at that day's price; the figures
    # about the future price the lookback window's volume and tokens at today's prices.
    daily = economics.usage_spans(normalised.usage, normalised.usage_spans, ids, day)
    priced = economics.price_usage(daily, tunes, normalised)
    used = economics.usage_days(daily, ids)
    complete_days = priced[priced["day"] < day]
    first_complete = economics.usage_days(complete_days, ids)["first_usage_on"]
    window = economics.lookback_window(first_complete, day, policy.lookback_days)
    # A young tune's window starts on its first usage day: a span holding it must start there.
    starts_window = lookup(window["lookback_start"], complete_days["tune_id"])
    holds_start = (complete_days["used_from"] == starts_window) & (
        complete_days["day"] < starts_window
    )
    in_window = economics.sums_from(complete_days, window["lookback_start"], ids)
    past = economics.window_volume(window, in_window)
    monthly_queries = past["monthly_queries"].where(~proposed, tunes["expected_monthly_queries"])
    tokens_in = past["input_tokens_per_query"].where(~proposed, tunes["expected_input_tokens"])
    tokens_out = past["output_tokens_per_query"].where(~proposed, tunes["expected_output_tokens"])
    today = economics.costs_at_todays_prices(tunes, tokens_in, tokens_out, normalised, day)
    volume = pd.DataFrame(
        {
            "monthly_queries": monthly_queries,
            "input_tokens_per_query": tokens_in,
            "output_tokens_per_query": tokens_out,
            "alternative_cost_per_query": today["alternative_cost_per_query"],
            "tune_cost_per_query": today["tune_cost_per_query"],
            "past_alternative_cost_per_query": past["past_alternative_cost_per_query"],
            "past_tune_cost_per_query": past["past_tune_cost_per_query"],
        }
    )
    billing = economics.billed_versus_computed(
        daily, tunes, normalised, window["lookback_start"], day
    )

    # --- stability ------------------------------------------------------------------------
    task_log = stability.task_changes(normalised.changes, day)
    rate = stability.change_rate(task_log, ids, day)
    training = stability.last_training(tunes, normalised.changes, day)
    since_training = stability.changes_since(task_log, training["last_trained_on"])

    # --- lifecycle ------------------------------------------------------------------------
    shutdown = lifecycle.base_model_shutdown(tunes, normalised.models, day)
    volume_trend = lifecycle.volume_change_30d(daily, used["first_usage_on"], day)

    # The effective last training (with logged retrainings) replaces the tune record's field.
    frame = pd.concat(
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
    frame["as_of"] = day
    frame["monthly_net_saving"] = economics.monthly_net_saving(
        frame["monthly_queries"],
        frame["alternative_cost_per_query"],
        frame["tune_cost_per_query"],
        frame["monthly_fixed_cost"],
    )
    frame["monthly_net_saving_at_past_prices"] = economics.monthly_net_saving(
        frame["monthly_queries"],
        frame["past_alternative_cost_per_query"],
        frame["past_tune_cost_per_query"],
        frame["monthly_fixed_cost"],
    ).where(~proposed)
    frame["payback_months"] = economics.payback_months(
        frame["training_cost"], frame["monthly_net_saving"]
    )

    # Deployed tunes count their stable lifetime from the last training; a proposal from today.
    start = frame["last_trained_on"].where(~proposed, day)
    frame["expected_stable_lifetime_months"] = stability.stable_lifetime(
        start,
        frame["base_model_shutdown_on"],
        frame["change_rate_per_quarter"],
        policy.horizon_months,
    )
    frame["retrain_payback_months"] = economics.payback_months(
        frame["retrain_cost"], frame["monthly_net_saving"]
    ).where(~proposed)
    retrain_shutdown = lifecycle.shutdown_for_retraining(shutdown, policy.shutdown_warning_days)
    frame["retrain_shutdown_on"] = retrain_shutdown
    frame["alternative_label"] = lookup(normalised.models["label"], frame["alternative_model_id"])
    frame["lifetime_after_retraining_months"] = stability.stable_lifetime(
        pd.Series(day, index=ids),
        retrain_shutdown,
        frame["change_rate_per_quarter"],
        policy.horizon_months,
    ).where(~proposed)

    deployed_ids = ids[~proposed]
    recovery, break_even_spans = economics.recovery(
        priced[priced["tune_id"].isin(deployed_ids)],
        frame.loc[~proposed, "last_trained_on"],
        frame.loc[~proposed, "training_cost"],
        frame.loc[~proposed, "monthly_fixed_cost"],
        frame.loc[~proposed, "monthly_net_saving"],
        day,
    )
    frame = frame.join(recovery)

    # Missing prices matter on any day the figures use: the lookback window or since training.
    relevant_from = pd.concat([window["lookback_start"], frame["last_trained_on"]], axis=1).min(
        axis=1
    )
    gaps = economics.sums_from(priced, relevant_from, ids)
    for name in ("alternative_missing_days", "tune_missing_days"):
        frame[name] = gaps[name].where(~proposed, 0.0)
    for name in ("first_missing_price_on", "last_missing_price_on"):
        frame[name] = gaps[name].where(~proposed)
    # Today's price matters wherever there is volume to price (a proposal's is expected).
    needs_price = proposed | (frame["monthly_queries"] > 0)
    frame["alternative_price_missing"] = today["alternative_price_missing"] & needs_price
    frame["tune_price_missing"] = today["tune_price_missing"] & needs_price

    frame["days_since_last_usage"] = lifecycle.days_since(frame["last_usage_on"], day)
    frame["quality_gap"] = tidy(frame["target_score"] - frame["baseline_score"], 10)
    frame["tune_score_shortfall"] = tidy(frame["target_score"] - frame["tune_score"], 10)

    # Usage-history figures mean nothing for a proposal.
    not_for_proposals = [
        "cumulative_net_saving",
        "break_even_on",
        "unrecovered_cost",
        "days_since_last_usage",
        "volume_change_30d",
        "lookback_start",
        "lookback_days",
        "monthly_net_saving_at_past_prices",
        "task_changes_since_training",
        "tune_score_shortfall",
    ]
    frame[not_for_proposals] = frame[not_for_proposals].where(~proposed)
    frame["recovered"] = frame["recovered"].astype("boolean")
    other = pd.concat(
        [
            economics.spans_to_split(priced, tunes),
            complete_days.loc[holds_start, ["tune_id", "day", "last_day"]],
        ]
    )
    return check_frame(frame.sort_index()), break_even_spans, other, priced


def compute_figures(
    portfolio: Portfolio, policy: Policy, as_of: date, read_days: DaysReader | None = None
) -> pd.DataFrame:
    """Every figure for every non-retired tune on ``as_of``, one row per tune (index tune_id).

    Columns are :data:`FIGURE_KEYS`. Payback is ``inf`` when the net saving is ≤ 0; unknown
    figures (missing data) are NaN/NaT/<NA>. Nothing here reads today's date.
    """
    return build_frame(portfolio, policy, as_of, read_days).loc[:, list(FIGURE_KEYS)]
