"""Figures and policy as people read them: a label and a formatted value for every key the
engine stores ($ with separators, months to one decimal, dates, per-query costs to 4 figures)."""

from __future__ import annotations

import math
from collections.abc import Callable

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


#: Engine figure → (label, formatter), in the order the reasons use them.
FIGURES: dict[str, tuple[str, Callable]] = {
    "monthly_queries": ("Queries a month", count),
    "input_tokens_per_query": ("Input tokens / query", count),
    "output_tokens_per_query": ("Output tokens / query", count),
    "alternative_cost_per_query": ("Cost / query: best prompt/RAG", per_query),
    "tune_cost_per_query": ("Cost / query: tune", per_query),
    "monthly_net_saving": ("Monthly net saving", money),
    "monthly_fixed_cost": ("Monthly fixed cost", money),
    "training_cost": ("Training cost", money),
    "payback_months": ("Payback", months),
    "cumulative_net_saving": ("Net saving since training", money),
    "recovered": ("Training cost recovered", yes_no),
    "break_even_on": ("Break-even", day),
    "unrecovered_cost": ("Unrecovered training cost", money),
    "expected_stable_lifetime_months": ("Expected stable lifetime", months),
    "change_rate_per_quarter": ("Task changes a quarter", decimal),
    "task_changes_12m": ("Task changes, last 12 months", count),
    "task_changes_since_training": ("Task changes since training", count),
    "last_trained_on": ("Last trained", day),
    "retrain_cost": ("Retrain cost", money),
    "retrain_payback_months": ("Retraining payback", months),
    "lifetime_after_retraining_months": ("Lifetime after retraining", months),
    "base_model_shutdown_on": ("Base-model shutdown", day),
    "days_to_shutdown": ("Days to shutdown", days),
    "successor_shutdown_on": ("Successor shutdown", day),
    "volume_change_30d": ("Volume change, 30 days", percent),
    "days_since_last_usage": ("Days since last usage", days),
    "quality_gap": ("Target − best prompt score", decimal),
    "tune_score_shortfall": ("Target − tune score", decimal),
    "lookback_start": ("Volume measured from", day),
    "lookback_days": ("Volume window", days),
}

POLICY: dict[str, tuple[str, Callable]] = {
    "lookback_days": ("Volume window", days),
    "min_labelled_examples": ("Labelled examples needed", count),
    "max_changes_per_quarter": ("Most task changes a quarter", decimal),
    "min_quality_gap": ("Smallest quality gap worth training", decimal),
    "horizon_months": ("Longest useful life", months),
    "shutdown_warning_days": ("Shutdown: retrain or retire within", days),
    "shutdown_watch_days": ("Shutdown: watch within", days),
    "quality_tolerance": ("Quality tolerance below target", decimal),
    "volume_drop_watch": ("Volume drop that puts on watch", lambda v: percent(-float(v))),
    "stale_usage_days": ("No usage for", days),
}


def rows(values: dict, spec: dict[str, tuple[str, Callable]]) -> list[tuple[str, str]]:
    """(label, formatted value) for every key, known ones first in order, then any others."""
    values = values or {}
    known = [(label, fmt(values.get(key))) for key, (label, fmt) in spec.items() if key in values]
    extra = [(key.replace("_", " "), str(v)) for key, v in values.items() if key not in spec]
    return known + extra
