"""Writes. Views, admin actions, commands and tasks call these; nothing else saves models.

One module per concern; the common entry points are re-exported here.
"""

from .errors import Conflict, TuneRetired
from .evaluation import EvaluationRun, evaluate_portfolio
from .tunes import change_delete, change_update, evaluate_tune, record_change, retire_tune
from .usage import IngestResult, UsageBatchInvalid, ingest_usage

__all__ = [
    "Conflict",
    "EvaluationRun",
    "IngestResult",
    "TuneRetired",
    "UsageBatchInvalid",
    "change_delete",
    "change_update",
    "evaluate_portfolio",
    "evaluate_tune",
    "ingest_usage",
    "record_change",
    "retire_tune",
]
