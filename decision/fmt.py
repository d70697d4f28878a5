"""Plain-words formatting of figures for messages, and JSON-safe conversion of figures.

Messages are read by people deciding about money, so amounts use thousands separators and
infinite paybacks read "never" instead of ``inf``.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas <NA>."""
    if isinstance(value, float):  # the common case first (numpy's float64 too)
        return value != value
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, np.floating):
        return math.isnan(value)
    return False


def usd(value: float) -> str:
    """Whole dollars for amounts of $100 or more, cents below: "$12,400", "-$37.50"."""
    if is_missing(value):
        return "an unknown amount"
    sign = "-" if value < 0 else ""  # "-$240", not "$-240"
    if abs(value) >= 100:
        return f"{sign}${abs(value):,.0f}"
    return f"{sign}${abs(value):,.2f}"


def sentence(text: str) -> str:
    """The text with its first letter capitalised (unlike ``str.capitalize``, the rest stays)."""
    return text[:1].upper() + text[1:]


def nets(value: float, past: bool = False) -> str:
    """A monthly net saving as a verb phrase: "saves $240 a month", "loses $240 a month" (a
    negative saving is a loss, never "saves -$240"), "breaks even"; ``past`` for "saved"/"lost"."""
    if is_missing(value):
        return "had an unknown net saving" if past else "has an unknown net saving"
    if value > 0:
        return f"{'saved' if past else 'saves'} {usd(value)} a month"
    if value < 0:
        return f"{'lost' if past else 'loses'} {usd(-value)} a month"
    return "broke even" if past else "breaks even"


def per_month(value: float) -> str:
    """A monthly net saving as a noun phrase: "a net saving of $240 a month", "a net loss of
    $240 a month"."""
    if is_missing(value):
        return "an unknown net saving"
    if value < 0:
        return f"a net loss of {usd(-value)} a month"
    return f"a net saving of {usd(value)} a month"


def usd_per_query(value: float) -> str:
    """Per-query costs are tiny; four significant digits keep the difference visible."""
    if is_missing(value):
        return "unknown"
    return f"${value:.4g}"


def count(value: float) -> str:
    return "unknown" if is_missing(value) else f"{value:,.0f}"


def plural(value: float, noun: str) -> str:
    """ "1 meaningful task change", "3 meaningful task changes"."""
    return f"{count(value)} {noun}{'' if value == 1 else 's'}"


def number(value: float, digits: int = 2) -> str:
    """A plain number with up to ``digits`` decimals, trailing zeros dropped ("0.05", "1.5")."""
    if is_missing(value):
        return "unknown"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def months(value: float) -> str:
    """ "never" for an infinite payback, else "14.2 months"."""
    if is_missing(value):
        return "an unknown number of months"
    if math.isinf(value):
        return "never"
    return f"{value:,.1f} months"


def pays_back(value: float) -> str:
    """ "pays back in 14.2 months", "never pays back", or "has an unknown payback"."""
    if is_missing(value):
        return "has an unknown payback"
    if math.isinf(value):
        return "never pays back"
    return f"pays back in {months(value)}"


def percent(value: float) -> str:
    return "unknown" if is_missing(value) else f"{value:.0%}"


def day(value: Any) -> str:
    if type(value) is str and _iso_day(value):
        return value  # a stored day (fmt.stored writes them so) reads as it is
    return "no date" if is_missing(value) else pd.Timestamp(value).date().isoformat()


def _iso_day(text: str) -> bool:
    """Whether ``text`` is a day as ``date.isoformat`` writes it, in years ``pd.Timestamp``
    reads whole."""
    try:
        return date.fromisoformat(text).isoformat() == text and "1678" <= text < "2262"
    except ValueError:
        return False


def json_safe(value: object) -> object:
    """Figures as JSON-safe values: finite floats or None, ISO dates, bools, ints, strings."""
    kind = type(value)  # plain values first: a portfolio's results pass through here
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type]
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is pd.Timestamp:
        return value.date().isoformat()  # type: ignore[attr-defined]
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):  # pd.Timestamp too
        return value.date().isoformat()
    if isinstance(value, date | np.datetime64):
        return pd.Timestamp(value).date().isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


#: Significant digits a stored figure keeps: four digits of a per-query cost, well past what
#: any message shows. At and above :data:`WHOLE_CENTS_FROM` a figure keeps its cents instead, so
#: large counts and amounts stay exact.
FIGURE_DIGITS = 7
WHOLE_CENTS_FROM = 100_000


def stored(value: object, exact: bool = False) -> object:
    """A figure as it is stored and cited: JSON-safe (:func:`json_safe`), but an infinite payback
    stays infinite; floats without float noise (``0.30000000000000004``) unless ``exact``."""
    if isinstance(value, np.floating):
        value = float(value)
    # Plain values first: every figure of every finding of a portfolio passes through here.
    if type(value) is float:
        if value != value:  # NaN
            return None
        if exact or math.isinf(value):
            return value
        if abs(value) >= WHOLE_CENTS_FROM:
            return round(value, 2)
        return float(f"{value:.{FIGURE_DIGITS}g}")
    if value is None or type(value) in (str, int, bool):
        return value
    if type(value) is list and all(type(item) is str for item in value):
        return list(value)  # what a finding names (which figures are missing)
    if isinstance(value, dict):
        return {str(k): stored(v, exact) for k, v in value.items()}
    value = json_safe(value)  # dates, numpy scalars; lists and tuples become lists
    if isinstance(value, list):
        return [stored(v, exact) for v in value]
    return value


# A whole column of a portfolio's figures at a time: the same values as a call per figure, without
# the call (the common case, a finite float below WHOLE_CENTS_FROM, inline; the rest through the
# function itself).
_FIGURE_FORMAT = f".{FIGURE_DIGITS}g"


def json_safe_floats(values: list[float]) -> list[float | None]:
    """:func:`json_safe` of each of these plain floats."""
    low, high = -math.inf, math.inf
    return [value if low < value < high else None for value in values]


def stored_floats(values: list[float], exact: bool = False) -> list[object]:
    """:func:`stored` of each of these plain floats."""
    if exact:
        return [None if value != value else value for value in values]
    low, high, spec, inf = -WHOLE_CENTS_FROM, WHOLE_CENTS_FROM, _FIGURE_FORMAT, math.inf
    # A whole number (counts, days, most costs) is its own rounding; NaN and the infinities
    # fail both comparisons.
    return [
        value
        if value.is_integer()
        else float(format(value, spec))
        if low < value < high
        else round(value, 2)
        if -inf < value < inf
        else None
        if value != value
        else value
        for value in values
    ]


def iso_days(values: np.ndarray) -> list[str | None]:
    """:func:`json_safe` (and :func:`stored`) of each of these ``datetime64`` values: the ISO day,
    None for NaT (the day a ``pd.Timestamp`` falls on, as ``date()`` gives it)."""
    days = values.astype("datetime64[D]")
    return [None if text == "NaT" else text for text in days.astype(str).tolist()]


#: How a person reads each figure's name (digest, admin): the figure keys are for machines.
FIGURE_LABELS: dict[str, str] = {
    "monthly_queries": "Queries a month",
    "input_tokens_per_query": "Input tokens per query",
    "output_tokens_per_query": "Output tokens per query",
    "alternative_cost_per_query": "Prompt/RAG cost per query",
    "tune_cost_per_query": "Tune cost per query",
    "monthly_net_saving": "Monthly net saving",
    "monthly_net_saving_at_past_prices": "Monthly net saving at each day's own price",
    "change_rate_per_quarter": "Task changes per quarter",
    "expected_stable_lifetime_months": "Expected stable lifetime",
    "training_cost": "Training cost",
    "payback_months": "Training-cost payback",
    "cumulative_net_saving": "Net saving since training",
    "recovered": "Training cost recovered",
    "break_even_on": "Break-even",
    "unrecovered_cost": "Unrecovered training cost",
    "retrain_payback_months": "Retraining payback",
    "lifetime_after_retraining_months": "Lifetime after retraining",
    "base_model_shutdown_on": "Base-model shutdown",
    "days_to_shutdown": "Days to the shutdown",
    "volume_change_30d": "Volume change, last 30 days",
    "days_since_last_usage": "Days since last usage",
    "quality_gap": "Gap to target (best prompt)",
    "tune_score_shortfall": "Tune's shortfall to target",
    "last_trained_on": "Last trained",
    "lookback_start": "Lookback window from",
    "lookback_days": "Lookback window (days)",
    "task_changes_12m": "Task changes, last 365 days",
    "task_changes_since_training": "Task changes since training",
    "monthly_fixed_cost": "Monthly fixed cost",
    "retrain_cost": "Retrain cost",
    "successor_shutdown_on": "Successor's shutdown",
    "target_score": "Target score",
    "baseline_score": "Best prompt/RAG score",
    "tune_score": "Tune score",
    "daily_queries_30d": "Queries a day, last 30 days",
    "daily_queries_prior_60d": "Queries a day, 60 days before",
    "last_usage_on": "Last usage",
    "latest_task_change_on": "Latest task change",
    "alternative_missing_days": "Usage days without a prompt/RAG price",
    "tune_missing_days": "Usage days without a tune price",
    "first_missing_price_on": "First day without a price",
    "last_missing_price_on": "Last day without a price",
    "labelled_examples": "Labelled examples",
    "min_labelled_examples": "Labelled examples needed",
    "as_of": "As of",
}


#: How a person reads each policy threshold's name (admin, pages).
POLICY_LABELS: dict[str, str] = {
    "lookback_days": "Volume window",
    "min_labelled_examples": "Labelled examples needed",
    "max_changes_per_quarter": "Most task changes a quarter",
    "min_quality_gap": "Smallest quality gap worth training",
    "horizon_months": "Longest useful life",
    "shutdown_warning_days": "Shutdown: retrain or retire within",
    "shutdown_watch_days": "Shutdown: watch within",
    "quality_tolerance": "Quality tolerance below target",
    "volume_drop_watch": "Volume drop that puts on watch",
    "stale_usage_days": "No usage for",
}


def figure_label(key: str) -> str:
    return FIGURE_LABELS.get(key, key.replace("_", " ").capitalize())


def figure_text(key: str, value: Any, saving: float | None = None) -> str:
    """A stored (JSON-safe) figure in words, the way the messages write it. A payback stored as
    None is "never" when the ``saving`` is ≤ 0 (infinite), else unknown."""
    if key.endswith("_months"):
        if value is None and saving is not None and saving <= 0 and "payback" in key:
            return "never"
        return months(value)
    if value is None:
        return "unknown"
    if key in ("monthly_net_saving", "monthly_net_saving_at_past_prices"):
        return nets(float(value))
    if key.endswith("_per_query") and "cost" in key:
        return usd_per_query(float(value))
    if key.endswith("_cost") or key.endswith("_saving"):
        return usd(float(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_score") or key in ("quality_gap", "tune_score_shortfall"):
        return number(float(value), 3)
    if key == "volume_change_30d":
        return percent(float(value))
    if isinstance(value, int | float):
        return number(float(value))
    return str(value)
