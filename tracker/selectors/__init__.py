"""Reads. Everything the admin, API, tasks and emails show comes through here.

One module per concern; the common entry points are re-exported here.
"""

from .portfolio import (
    catalog_with_tune_counts,
    current_policy,
    engine_policy,
    portfolio_inputs,
    tunes_due_for_evaluation,
    tunes_with_latest_verdict,
)

__all__ = [
    "catalog_with_tune_counts",
    "current_policy",
    "engine_policy",
    "portfolio_inputs",
    "tunes_due_for_evaluation",
    "tunes_with_latest_verdict",
]
