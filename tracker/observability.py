"""Request ids in every log line, from the web request to the Celery tasks it published.

A request gets an id (the caller's ``X-Request-ID`` when it is a sane token, a new one
otherwise), echoed in the response. It is kept in a context variable that every log record
reads; publishing a task copies it into the message headers, and the worker that runs the
task restores it, so the task's lines (and the tasks it publishes in turn) carry the same id.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from celery.signals import before_task_publish, task_prerun
from django.core.signals import request_finished, request_started
from django.dispatch import receiver

REQUEST_ID_HEADER = "X-Request-ID"
#: The message header a task carries the id in.
TASK_HEADER = "tunefolio_request_id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _id_from(given: str | None) -> str:
    return given if given and _SANE.fullmatch(given) else uuid.uuid4().hex


@receiver(request_started)
def _begin_request(sender=None, environ=None, **kwargs) -> None:
    # Set before the middleware and cleared only when the response is closed, so Django's own
    # lines about the request ("Not Found: ...", logged after the middleware) carry it too.
    request_id.set(_id_from((environ or {}).get("HTTP_X_REQUEST_ID")))


@receiver(request_finished)
def _end_request(sender=None, **kwargs) -> None:
    request_id.set(None)


class RequestIdMiddleware:
    """Echoes the request's id in the response, for the caller to quote."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current = request_id.get()
        if current is None:
            current = _id_from(request.headers.get(REQUEST_ID_HEADER))
            request_id.set(current)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = current
        return response


def install_log_record_factory() -> None:
    """Every log record gets ``request_id`` ("-" outside a request or task), whichever
    handler or formatter ends up writing it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = request_id.get() or "-"
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]  # a marker on the function
    logging.setLogRecordFactory(factory)


@before_task_publish.connect
def _add_request_id_header(sender=None, headers=None, **kwargs) -> None:
    current = request_id.get()
    if current and headers is not None:
        headers.setdefault(TASK_HEADER, current)


@task_prerun.connect
def _restore_request_id(sender=None, task=None, **kwargs) -> None:
    # Eager tasks run inside the request that published them: the id is already there.
    if task is None or task.request.is_eager:
        return
    request_id.set(getattr(task.request, TASK_HEADER, None))
