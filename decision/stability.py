"""Condition 2's stability side and Q2: how often the task changes, and how long a training lasts.

The article: each retraining resets the clock, fine-tuning only pays for tasks that have not
changed meaningfully for a long while, and more than one change a quarter is too many.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .economics import tidy
from .inputs import DAYS_PER_MONTH, RETRAINING_KIND, TASK_CHANGE_KINDS, lookup

CHANGE_RATE_WINDOW_DAYS = 365
QUARTERS_PER_YEAR = 4.0
MONTHS_PER_QUARTER = 3.0


def task_changes(changes: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Meaningful task changes up to ``as_of``: task specification, new category, business rule.
    Retraining, base-model, data, baseline and note entries are not task changes."""
    mask = changes["kind"].isin(TASK_CHANGE_KINDS) & changes["meaningful"]
    return changes[mask & (changes["day"] <= as_of)]


def change_rate(task_log: pd.DataFrame, tune_ids: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """Meaningful task changes in the 365 days up to ``as_of`` (inclusive), and that count ÷ 4
    as changes per quarter."""
    since = as_of - pd.Timedelta(days=CHANGE_RATE_WINDOW_DAYS)
    recent = task_log[task_log["day"] > since]
    counts = recent.groupby("tune_id").size().reindex(tune_ids, fill_value=0).astype("float64")
    return pd.DataFrame(
        {"task_changes_12m": counts, "change_rate_per_quarter": counts / QUARTERS_PER_YEAR}
    )


def last_training(tunes: pd.DataFrame, changes: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """When the current training happened and what it cost.

    The last training is the later of the tune's ``last_trained_on`` and its latest retraining
    entry, both up to ``as_of`` (a logged retraining restarts the clock even if the tune record
    was not updated). A deployed tune with neither falls back to its deployment day: it was
    trained by then, and no usage can precede it. The training cost is the latest retraining's
    logged cost (else the tune's retrain cost), or the upfront cost when it was never retrained.
    """
    retrainings = changes[(changes["kind"] == RETRAINING_KIND) & (changes["day"] <= as_of)]
    latest = retrainings.groupby("tune_id").tail(1).set_index("tune_id")  # log is day-sorted
    latest = latest.reindex(tunes.index)
    recorded = tunes["last_trained_on"].where(tunes["last_trained_on"] <= as_of)
    deployed = tunes["deployed_on"].where(tunes["deployed_on"] <= as_of)
    trained = pd.concat([recorded, latest["day"]], axis=1).max(axis=1)
    trained = trained.fillna(deployed).where(tunes["status"] != "proposed")
    retrained = latest["day"].notna()
    cost = latest["cost"].fillna(tunes["retrain_cost"]).where(retrained, tunes["upfront_cost"])
    return pd.DataFrame(
        {"last_trained_on": trained.astype("datetime64[ns]"), "training_cost": cost},
        index=tunes.index,
    )


def changes_since(task_log: pd.DataFrame, since: pd.Series) -> pd.DataFrame:
    """Meaningful task changes dated strictly after each tune's last training (a change logged
    on the training day is taken to be in that training)."""
    after = task_log[task_log["day"] > lookup(since, task_log["tune_id"])]
    grouped = after.groupby("tune_id")
    latest = grouped.tail(1).set_index("tune_id").reindex(since.index)
    return pd.DataFrame(
        {
            "task_changes_since_training": grouped.size()
            .reindex(since.index, fill_value=0)
            .astype("float64"),
            "latest_task_change_on": latest["day"],
            "latest_task_change_kind": latest["kind"],
        }
    )


def months_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Months from ``start`` to ``end`` (NaN when either is missing)."""
    return (end - start).dt.days / DAYS_PER_MONTH


def stable_lifetime(
    start: pd.Series, shutdown_on: pd.Series, rate: pd.Series, horizon_months: float
) -> pd.Series:
    """Expected stable lifetime in months counted from ``start``: the smallest of the horizon,
    the months until the base model's shutdown (if dated), and 3 ÷ change rate (if > 0), i.e.
    the months one change per that many quarters leaves. Never negative. NaN when ``start`` is
    unknown and a shutdown date would bound it."""
    horizon = pd.Series(float(horizon_months), index=start.index)
    to_shutdown = months_between(start, shutdown_on).clip(lower=0.0)
    to_shutdown = to_shutdown.where(shutdown_on.notna(), np.inf)
    between_changes = (MONTHS_PER_QUARTER / rate.where(rate > 0)).fillna(np.inf)
    lifetime = pd.concat([horizon, to_shutdown, between_changes], axis=1).min(axis=1, skipna=False)
    return tidy(lifetime, 9)
