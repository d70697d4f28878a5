"""JSON logs with a request id that follows the tasks a request publishes; Sentry when (and only
when) a DSN is set — against a real worker and a real HTTP server standing in for Sentry."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib

import pytest
from django.urls import reverse

from tests.jobs import portfolio
from tracker import observability

from .conftest import (
    BASE_DIR,
    Worker,
    new_queue,
    publish,
    wait_until,
    worker_env,
)
from .test_readiness import DAY


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_request_gets_an_id_that_every_log_line_carries(client, db, caplog):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.request_id == request_id


def test_a_sane_incoming_request_id_is_kept_and_a_wild_one_replaced(client, db):
    kept = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="lb-1234.abc")
    assert kept["X-Request-ID"] == "lb-1234.abc"
    replaced = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="<script>" * 20)
    assert replaced["X-Request-ID"] != "<script>" * 20
    assert len(replaced["X-Request-ID"]) == 32


def test_json_format_gives_one_object_per_line():
    script = (
        "import logging; log = logging.getLogger('tracker.test');"
        "log.info('first %s', 1); log.warning('second, with \"quotes\"\\nand a newline')"
    )
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DJANGO_LOG_FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]
    assert [o["message"] for o in objects] == ["first 1", 'second, with "quotes"\nand a newline']
    assert {o["level"] for o in objects} == {"INFO", "WARNING"}
    assert all(o["request_id"] == "-" and o["logger"] == "tracker.test" for o in objects)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_request_id_reaches_the_tasks_it_published_and_theirs(
    broker, clean_queues, workers, tmp_path
):
    portfolio.build(DAY, ("keep", "retire"))
    queue = new_queue()
    clean_queues.append(queue)
    worker = Worker(
        worker_env(broker, queue, DJANGO_LOG_FORMAT="json"), queue, tmp_path / "worker.log"
    )
    workers.append(worker)
    worker.start()

    token = observability.request_id.set("req-e2e-42")  # as the middleware does for a request
    try:
        publish(broker, queue, "tracker.tasks.reevaluate_portfolio", as_of=DAY.isoformat())
    finally:
        observability.request_id.reset(token)

    def evaluated_lines():
        lines = json_lines(worker.text())
        done = [line for line in lines if "evaluate_tunes" in line["message"]]
        return lines if any("succeeded" in line["message"] for line in done) else None

    lines = wait_until(evaluated_lines, 60, "the fanned-out chunk to finish")
    queued = [line for line in lines if line["message"].startswith("Queued 1 evaluate_tunes task")]
    assert [line["request_id"] for line in queued] == ["req-e2e-42"]
    chunk = [
        line
        for line in lines
        if "evaluate_tunes" in line["message"] and "succeeded" in line["message"]
    ]
    assert {line["request_id"] for line in chunk} == {"req-e2e-42"}  # a task the task published


# --- Sentry ---------------------------------------------------------------------------------------


def envelopes(hook) -> list[str]:
    """The bodies Sentry's SDK posted, decompressed."""
    bodies = []
    for request in hook.received:
        body = request.body
        encoding = request.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        bodies.append(body.decode(errors="replace"))
    return bodies


WEB_ERROR = """
import django, sentry_sdk
django.setup()
from django.test import Client
from tracker import views
def broken():
    raise RuntimeError("readiness broke for the test")
views.operations.readiness = broken  # any bug in a view
status = Client(raise_request_exception=False).get("/readyz").status_code
from sentry_sdk.integrations.celery import CeleryIntegration
client = sentry_sdk.get_client()
integration = client.get_integration(CeleryIntegration)
print(status, client.is_active(), bool(integration and integration.monitor_beat_tasks))
sentry_sdk.flush(5)
"""


def run_web_error(extra_env: dict) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"} | {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        **extra_env,
    }
    done = subprocess.run(
        [sys.executable, "-c", WEB_ERROR], cwd=BASE_DIR, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_with_a_dsn_web_errors_reach_sentry_and_beat_is_monitored(hook):
    dsn = hook.url.replace("http://", "http://publickey@") + "/42"
    status, active, monitors_beat = run_web_error({"SENTRY_DSN": dsn})
    assert (status, active, monitors_beat) == ("500", "True", "True")
    wait_until(lambda: hook.to("/api/42/envelope/"), 10, "the error to reach Sentry")
    assert any("readiness broke for the test" in body for body in envelopes(hook))


def test_without_a_dsn_nothing_is_sent(hook):
    status, active, _ = run_web_error({})
    assert (status, active) == ("500", "False")
    assert hook.received == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_a_dsn_a_failing_task_in_a_worker_reaches_sentry(
    hook, broker, clean_queues, workers, tmp_path
):
    queue = new_queue()
    clean_queues.append(queue)
    dsn = hook.url.replace("http://", "http://publickey@") + "/7"
    worker = Worker(worker_env(broker, queue, SENTRY_DSN=dsn), queue, tmp_path / "worker.log")
    workers.append(worker)
    worker.start()
    publish(broker, queue, "tracker.tasks.evaluate_tunes", tune_ids=["not-a-number"])
    wait_until(lambda: hook.to("/api/7/envelope/"), 60, "the task's error to reach Sentry")
    assert any("not-a-number" in body and "ValueError" in body for body in envelopes(hook))
