"""Reads. Everything the admin, API, tasks and emails show comes through here.

One module per concern; the common entry points are re-exported here.
"""

from .portfolio import (
    any_tune_due,
    catalog_with_tune_counts,
    current_policy,
    engine_policy,
    evaluable_tunes,
    evaluation_inputs,
    ids_in,
    portfolio_inputs,
    tunes_due_for_evaluation,
    tunes_with_latest_verdict,
    usage_days,
)
from .summary import portfolio_summary
from .usage import usage_by_period

__all__ = [
    "any_tune_due",
    "catalog_with_tune_counts",
    "current_policy",
    "engine_policy",
    "evaluable_tunes",
    "evaluation_inputs",
    "ids_in",
    "portfolio_inputs",
    "portfolio_summary",
    "tunes_due_for_evaluation",
    "tunes_with_latest_verdict",
    "usage_by_period",
    "usage_days",
]
