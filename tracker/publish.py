"""Handing work to the task queue: the one place that publishes tasks, and only after commit.

Publishing goes through ``transaction.on_commit``: a task never runs before the rows it needs
are committed, and a rolled-back transaction publishes nothing. Services call
:func:`publish_after_commit` with a task's name; they never import ``tracker.tasks`` or Celery
(the tasks import the services, so the task is looked up only when it is published).
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The broker refused or could not be reached: nothing (or not everything) was queued."""


def publish_after_commit(
    task_name: str, calls: list[dict[str, Any]], *, robust: bool = False
) -> int:
    """Queue ``tracker.tasks.<task_name>`` once per keyword-argument dict in ``calls``, once the
    current transaction commits (at once outside one). Returns how many tasks are queued.

    Raises :class:`QueueUnavailable` when the broker cannot be reached and publishing is not
    deferred to a commit (in an atomic block the error surfaces when it commits). With
    ``robust`` the error is only logged: for work that a periodic sweep queues again anyway.
    """

    def publish() -> None:
        task = getattr(import_module("tracker.tasks"), task_name)
        for kwargs in calls:
            try:
                task.apply_async(kwargs=kwargs)
            except (BrokerError, OSError) as exc:
                raise QueueUnavailable(f"the task queue is unavailable: {exc}") from exc
        logger.info("Queued %d %s task(s)", len(calls), task_name)

    if calls:
        transaction.on_commit(publish, robust=robust)
    return len(calls)
