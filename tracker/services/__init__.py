"""Writes. Views, admin actions, commands and tasks call these; nothing else saves models.

One module per concern; the common entry points are re-exported here.
"""

from .evaluation import EvaluationRun, evaluate_portfolio
from .tunes import after_change_saved, record_change, retire_tune

__all__ = [
    "EvaluationRun",
    "after_change_saved",
    "evaluate_portfolio",
    "record_change",
    "retire_tune",
]
