"""Writes. Views, admin actions, commands and tasks call these; nothing else saves models.

One module per concern; the common entry points are re-exported here.
"""

from .evaluation import EvaluationRun, evaluate_portfolio
from .tunes import after_change_saved, record_change, retire_tune
from .usage import IngestResult, UsageBatchInvalid, ingest_usage

__all__ = [
    "EvaluationRun",
    "IngestResult",
    "UsageBatchInvalid",
    "after_change_saved",
    "evaluate_portfolio",
    "ingest_usage",
    "record_change",
    "retire_tune",
]
