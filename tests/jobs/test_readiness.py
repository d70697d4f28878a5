"""/healthz and /readyz: liveness without dependencies, readiness naming each dependency."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from tests.jobs import portfolio
from tracker import tasks
from tracker.models import NightlyRun

DAY = date(2026, 3, 2)
RUN_AT = datetime(2026, 3, 2, 2, 5, tzinfo=UTC)


def frozen(moment: datetime):
    return time_machine.travel(moment, tick=False)


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_before_the_first_nightly_run(client):
    response = client.get(reverse("readyz"))
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "nightly_run"}
    assert all(check["state"] == "ok" for check in body["checks"].values())
    assert "no nightly run completed yet" in body["checks"]["nightly_run"]["detail"]


@pytest.mark.django_db
def test_the_nightly_run_is_recorded_and_readiness_fails_26_hours_after_it(
    client, django_capture_on_commit_callbacks
):
    portfolio.build(DAY, ("keep", "retire"))
    with frozen(RUN_AT), django_capture_on_commit_callbacks(execute=True):
        tasks.reevaluate_portfolio.delay()
    run = NightlyRun.objects.get()
    assert (run.as_of, run.completed_at) == (DAY, RUN_AT)

    with frozen(RUN_AT + timedelta(hours=25, minutes=59)):
        response = client.get(reverse("readyz"))
    assert response.status_code == 200, response.json()

    with frozen(RUN_AT + timedelta(hours=26, minutes=1)):
        response = client.get(reverse("readyz"))
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "not ready"
    assert body["checks"]["nightly_run"]["state"] == "failing"
    assert "26.0 h ago" in body["checks"]["nightly_run"]["detail"]
    assert body["checks"]["database"]["state"] == body["checks"]["broker"]["state"] == "ok"


@pytest.mark.django_db
def test_a_nightly_run_whose_chunks_have_not_all_finished_is_not_completed(
    django_capture_on_commit_callbacks,
):
    portfolio.build(DAY, ("keep", "retire"))
    with frozen(RUN_AT), django_capture_on_commit_callbacks(execute=False):
        tasks.reevaluate_portfolio.delay()  # queued, but no chunk ran
    assert not NightlyRun.objects.exists()
    # A second tick the same night finishes the work and completes the run once.
    later = RUN_AT + timedelta(hours=1)
    with frozen(later), django_capture_on_commit_callbacks(execute=True):
        tasks.reevaluate_portfolio.delay()
    assert NightlyRun.objects.get().completed_at == later


@pytest.mark.django_db
@pytest.mark.redis
def test_readiness_flips_to_503_with_the_broker_stopped_and_back(client, own_redis, settings):
    settings.CELERY_BROKER_URL = own_redis.url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

    assert client.get(reverse("readyz")).status_code == 200

    own_redis.stop()
    started = time.monotonic()
    response = client.get(reverse("readyz"))
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["state"] == "failing"
    assert body["checks"]["database"]["state"] == "ok"
    assert elapsed < 5, f"readiness took {elapsed:.1f}s with the broker down"

    own_redis.start()
    response = client.get(reverse("readyz"))
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_a_broker_that_accepts_but_never_answers_fails_within_the_timeout(client, settings):
    # A socket that listens and never speaks: the TCP handshake succeeds, the PING hangs.
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
        started = time.monotonic()
        response = client.get(reverse("readyz"))
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["state"] == "failing"
    assert body["checks"]["broker"]["seconds"] < 2, body["checks"]["broker"]
    assert elapsed < 5


def test_docker_compose_checks_the_web_service_through_readyz():
    from tests.test_compose import SERVICES

    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])
