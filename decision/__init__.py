"""Tunefolio's decision engine: when is a fine-tune worth it, and does it still pay?

Pure Python and pandas, no Django: build a :class:`Portfolio`, pick a :class:`Policy`, call
:func:`evaluate`. See ``decision/README.md`` for how each rule maps to the article.
"""

from __future__ import annotations

from datetime import date

from .engine import (
    FIGURE_KEYS,
    DaysReader,
    build_frame,
    compute_figures,
    days_needed,
    span_starts,
    usage_needed_from,
)
from .history import daily_savings
from .inputs import DAYS_PER_MONTH, Policy, Portfolio
from .results import ENGINE_VERSION, Finding, Severity, TuneResult, Verdict
from .verdict import decide


def evaluate(
    portfolio: Portfolio, policy: Policy, as_of: date, read_days: DaysReader | None = None
) -> list[TuneResult]:
    """One :class:`TuneResult` per non-retired tune on ``as_of``, sorted by tune id.

    Deployed tunes get KEEP, WATCH, RETRAIN or RETIRE; proposals FINE_TUNE or ITERATE. Every
    rule that holds is a finding; the deciding ones are marked ``decisive``. The result depends
    only on the inputs and ``as_of`` (data dated after it is ignored; today's date is never read).
    Usage given as ``usage_spans`` needs ``read_days`` for the days a figure needs one by one.
    """
    return decide(build_frame(portfolio, policy, as_of, read_days), policy)


__all__ = [
    "DAYS_PER_MONTH",
    "ENGINE_VERSION",
    "FIGURE_KEYS",
    "DaysReader",
    "Finding",
    "Policy",
    "Portfolio",
    "Severity",
    "TuneResult",
    "Verdict",
    "compute_figures",
    "daily_savings",
    "days_needed",
    "evaluate",
    "span_starts",
    "usage_needed_from",
]
