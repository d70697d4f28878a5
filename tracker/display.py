"""Figures and policy as people read them: a label and a formatted value for every key the
engine stores ($ with separators, months to one decimal, dates, per-query costs to 4 figures)."""

from __future__ import annotations

import math
from collections.abc import Callable

from decision.fmt import POLICY_LABELS, figure_label
from tracker.selectors.digest import usd


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def money(value) -> str:
    number = _number(value)
    return "—" if number is None else usd(number)


def per_query(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{'-' if number < 0 else ''}${abs(number):.4g}"


def months(value) -> str:
    number = _number(value)
    return (
        "never"
        if number is None and value is not None
        else ("—" if number is None else f"{number:,.1f} months")
    )


def count(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:,.0f}"


def decimal(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:,.2f}"


def percent(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:+.0%}"


def day(value) -> str:
    return str(value)[:10] if value else "—"


def yes_no(value) -> str:
    return "—" if value is None else ("yes" if value else "no")


def days(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:,.0f} days"


#: Engine figure → formatter, in the order the reasons use them.
FORMATS: dict[str, Callable] = {
    "monthly_queries": count,
    "input_tokens_per_query": count,
    "output_tokens_per_query": count,
    "alternative_cost_per_query": per_query,
    "tune_cost_per_query": per_query,
    "monthly_net_saving": money,
    "monthly_net_saving_at_past_prices": money,
    "monthly_fixed_cost": money,
    "training_cost": money,
    "payback_months": months,
    "cumulative_net_saving": money,
    "recovered": yes_no,
    "break_even_on": day,
    "unrecovered_cost": money,
    "expected_stable_lifetime_months": months,
    "change_rate_per_quarter": decimal,
    "task_changes_12m": count,
    "task_changes_since_training": count,
    "last_trained_on": day,
    "retrain_cost": money,
    "retrain_payback_months": months,
    "lifetime_after_retraining_months": months,
    "base_model_shutdown_on": day,
    "days_to_shutdown": days,
    "successor_shutdown_on": day,
    "volume_change_30d": percent,
    "days_since_last_usage": days,
    "quality_gap": decimal,
    "tune_score_shortfall": decimal,
    "lookback_start": day,
    "lookback_days": days,
}
#: Policy threshold → formatter.
POLICY_FORMATS: dict[str, Callable] = {
    "lookback_days": days,
    "min_labelled_examples": count,
    "max_changes_per_quarter": decimal,
    "min_quality_gap": decimal,
    "horizon_months": months,
    "shutdown_warning_days": days,
    "shutdown_watch_days": days,
    "quality_tolerance": decimal,
    "volume_drop_watch": lambda v: percent(-float(v)),
    "stale_usage_days": days,
}

# The labels are the engine's own, so a figure reads the same here as in the reasons and emails.
FIGURES: dict[str, tuple[str, Callable]] = {
    key: (figure_label(key), formatter) for key, formatter in FORMATS.items()
}
POLICY: dict[str, tuple[str, Callable]] = {
    key: (POLICY_LABELS[key], formatter) for key, formatter in POLICY_FORMATS.items()
}


def rows(values: dict, spec: dict[str, tuple[str, Callable]]) -> list[tuple[str, str]]:
    """(label, formatted value) for every key, known ones first in order, then any others."""
    values = values or {}
    known = [(label, fmt(values.get(key))) for key, (label, fmt) in spec.items() if key in values]
    extra = [(key.replace("_", " "), str(v)) for key, v in values.items() if key not in spec]
    return known + extra
