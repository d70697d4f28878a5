"""What can break a tune that paid off: its base model going away, and its traffic fading.

The article: every base-model upgrade risks breaking the fine-tune, and the savings only exist
while the volume does.
"""

from __future__ import annotations

import pandas as pd

from .economics import tidy
from .inputs import lookup

RECENT_DAYS = 30  # "the last 30 days' daily volume ..."
EARLIER_DAYS = 60  # "... against the 60 days before"


def base_model_shutdown(
    tunes: pd.DataFrame, models: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """The base model's shutdown date, days to it (negative once past), and its successor."""
    base_id = tunes["base_model_id"]
    successor_id = lookup(models["successor_id"], base_id).astype("Int64")
    shutdown = lookup(models["shutdown_on"], base_id).astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "base_model_label": lookup(models["label"], base_id),
            "base_model_shutdown_on": shutdown,
            "days_to_shutdown": (shutdown - as_of).dt.days.astype("float64"),
            "successor_id": successor_id,
            "successor_label": lookup(models["label"], successor_id),
            "successor_shutdown_on": lookup(models["shutdown_on"], successor_id).astype(
                "datetime64[ns]"
            ),
        },
        index=tunes.index,
    )


def shutdown_for_retraining(shutdown: pd.DataFrame, warning_days: int) -> pd.Series:
    """The shutdown that bounds a retraining: the successor's when the base model is within the
    warning window (the retraining moves to it), else the base model's own. An unknown successor
    leaves no bound, since the engine cannot know its date."""
    moving = shutdown["days_to_shutdown"] <= warning_days
    return shutdown["base_model_shutdown_on"].where(~moving, shutdown["successor_shutdown_on"])


def volume_change_30d(
    daily: pd.DataFrame, first_usage_on: pd.Series, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Mean daily queries over the last 30 days against the 60 days before, as a fraction
    (negative = a drop). Both windows start no earlier than the first usage day; when the earlier
    window is empty (a tune younger than 30 days) or had no queries, the change is unknown."""
    recent_from = as_of - pd.Timedelta(days=RECENT_DAYS - 1)
    earlier_from = recent_from - pd.Timedelta(days=EARLIER_DAYS)
    recent = daily["day"] >= recent_from
    earlier = (daily["day"] >= earlier_from) & ~recent
    queries = daily["queries"]
    recent_sum = queries[recent].groupby(daily["tune_id"][recent]).sum()
    earlier_sum = queries[earlier].groupby(daily["tune_id"][earlier]).sum()
    index = first_usage_on.index
    recent_sum = recent_sum.reindex(index, fill_value=0.0)
    earlier_sum = earlier_sum.reindex(index, fill_value=0.0)

    def days(start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        begin = first_usage_on.where(first_usage_on > start, start)
        elapsed: pd.Series = ((end - begin).dt.days + 1).clip(lower=0).astype("float64")
        return elapsed

    recent_days = days(recent_from, as_of)
    earlier_days = days(earlier_from, recent_from - pd.Timedelta(days=1))
    recent_mean = recent_sum / recent_days.where(recent_days > 0)
    earlier_mean = earlier_sum / earlier_days.where(earlier_days > 0)
    change = recent_mean / earlier_mean.where(earlier_mean > 0) - 1.0
    return pd.DataFrame(
        {
            "daily_queries_30d": recent_mean,
            "daily_queries_prior_60d": earlier_mean,
            "volume_change_30d": tidy(change, 10),
        }
    )


def days_since(last_usage_on: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """Whole days since the last day with queries (0 = used on the as-of day)."""
    days: pd.Series = (as_of - last_usage_on).dt.days.astype("float64")
    return days
