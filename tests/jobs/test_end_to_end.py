"""End to end, against the real things: a Redis broker, real ``celery worker`` processes (not
eager), the test's own database (committed rows: ``transaction=True``), and an SMTP server in the
test whose mailbox we read.

The as-of day is passed to the tasks explicitly (as ``as_of``/``week``): the worker processes run
on the real clock, and a test must not depend on today's date. That the nightly task defaults to
``timezone.localdate()`` at run time is tested in-process with a frozen clock (test_tasks.py).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from tests.factories import UserFactory
from tests.jobs import portfolio
from tests.services import require_redis
from tracker.models import DigestDelivery, DigestPreference, Evaluation, FineTune, Flag
from tracker.services import evaluate_portfolio

from .conftest import (
    SMTPServer,
    Worker,
    new_queue,
    publish,
    wait_until,
    web_app_on,
    worker_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis]

DAY = date(2026, 3, 2)
WEEK = "2026-W10"
SEVEN = ("keep", "keep-2", "retire", "retrain", "watch", "ready", "brand")


def results(worker: Worker, task: str, since: int = 0) -> list[str]:
    """What each run of ``task`` returned, from the worker's log."""
    pattern = re.compile(rf"Task tracker\.tasks\.{task}\[[^\]]+\] succeeded in [^:]+: (.*)")
    return pattern.findall(worker.text()[since:])


def received(worker: Worker, task: str, since: int = 0) -> int:
    return len(
        re.findall(rf"Task tracker\.tasks\.{task}\[[^\]]+\] received", worker.text()[since:])
    )


@dataclass
class Shared:
    """One worker for the module on the shared test Redis, its own queue, SMTP at hand."""

    broker: str
    queue: str
    worker: Worker
    smtp: SMTPServer

    def send(self, task: str, **kwargs) -> None:
        publish(self.broker, self.queue, f"tracker.tasks.{task}", **kwargs)

    def mark(self) -> int:
        return len(self.worker.text())


@pytest.fixture(scope="module")
def shared(django_db_setup, smtp_server, tmp_path_factory):
    broker = require_redis()
    queue = new_queue()
    env = worker_env(
        broker,
        queue,
        smtp_server,
        TUNEFOLIO_PORTFOLIO_LEADS="lead@example.com",
        TUNEFOLIO_EVALUATION_CHUNK_SIZE=3,
        TUNEFOLIO_DIGEST_RETRY_BACKOFF=1,
    )
    worker = Worker(env, queue, tmp_path_factory.mktemp("worker") / "worker.log", concurrency=3)
    try:
        worker.start()
        yield Shared(broker, queue, worker, smtp_server)
    finally:
        worker.stop()
        import redis

        client = redis.Redis.from_url(broker)
        client.delete(queue)
        client.close()


@pytest.fixture
def mailbox(shared):
    shared.smtp.mailbox.reset()
    yield shared.smtp.mailbox
    shared.smtp.mailbox.reset()


def evaluations_on(day: date) -> Counter:
    return Counter(Evaluation.objects.filter(as_of=day).values_list("tune_id", flat=True))


# --- The nightly re-evaluation ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_reevaluation_writes_an_evaluation_for_every_tune(shared):
    p = portfolio.build(DAY, SEVEN)
    since = shared.mark()
    shared.send("reevaluate_portfolio", as_of=DAY.isoformat())
    wait_until(lambda: len(evaluations_on(DAY)) == 7, 60, "seven evaluations")
    wait_until(lambda: len(results(shared.worker, "evaluate_tunes", since)) == 3, 30, "3 chunks")

    assert results(shared.worker, "reevaluate_portfolio", since) == ["3"]  # 7 tunes, chunks of 3
    assert sorted(results(shared.worker, "evaluate_tunes", since)) == ["1", "3", "3"]
    verdicts = dict(Evaluation.objects.filter(as_of=DAY).values_list("tune_id", "verdict"))
    assert {key: verdicts[t.pk] for key, t in p.tunes.items()} == {
        "keep": "KEEP",
        "keep-2": "KEEP",
        "retire": "RETIRE",
        "retrain": "RETRAIN",
        "watch": "WATCH",
        "ready": "FINE_TUNE",
        "brand": "ITERATE",
    }
    open_flags = set(Flag.objects.filter(resolved_on__isnull=True).values_list("tune_id", "kind"))
    assert open_flags == {
        (p["retire"].pk, "RETIRE"),
        (p["retrain"].pk, "RETRAIN"),
        (p["ready"].pk, "FINE_TUNE"),
    }

    # The same tick again (beat twice, a restart): it decides from the database, queues nothing.
    written = dict(Evaluation.objects.values_list("pk", "created_at"))
    since = shared.mark()
    shared.send("reevaluate_portfolio", as_of=DAY.isoformat())
    wait_until(lambda: results(shared.worker, "reevaluate_portfolio", since), 30, "the rerun")
    assert results(shared.worker, "reevaluate_portfolio", since) == ["0"]
    assert received(shared.worker, "evaluate_tunes", since) == 0
    assert dict(Evaluation.objects.values_list("pk", "created_at")) == written
    assert Flag.objects.count() == 3


# --- The weekly digest --------------------------------------------------------------------------


def digest_scene():
    """Alice and Bob own tunes that need action, Dan only one that pays, Erin opted out, and the
    lead (TUNEFOLIO_PORTFOLIO_LEADS in the worker) gets the whole portfolio."""
    users = {
        name: UserFactory(username=name, email=f"{name}@example.com")
        for name in ("alice", "bob", "dan", "erin", "lead")
    }
    portfolio.build(DAY, ("retire", "watch"), owner=users["alice"])
    portfolio.build(DAY, ("retrain",), owner=users["bob"])
    portfolio.build(DAY, ("keep",), owner=users["dan"])
    portfolio.build(DAY, ("retire",), owner=users["erin"])
    DigestPreference.objects.create(user=users["erin"], weekly_digest=False)
    evaluate_portfolio(as_of=DAY)
    return users


@pytest.mark.django_db(transaction=True)
def test_three_digest_runs_at_once_send_exactly_one_message_per_recipient(shared, mailbox):
    users = digest_scene()
    recipients = ["alice", "bob", "lead"]
    since = shared.mark()
    # Three runs at once (two beats, a manual run) and the worst case of their fan-out: three
    # send tasks per recipient racing in three worker processes.
    for _ in range(3):
        shared.send("send_weekly_digests", week=WEEK)
    for name in recipients:
        for _ in range(3):
            shared.send("send_digest", recipient_id=users[name].pk, iso_year=2026, iso_week=10)

    def settled():
        fanned_out = results(shared.worker, "send_weekly_digests", since)
        if len(fanned_out) < 3:
            return False
        expected = 9 + sum(int(n) for n in fanned_out)
        return len(results(shared.worker, "send_digest", since)) == expected

    wait_until(settled, 60, "every digest task to finish")
    outcomes = Counter(results(shared.worker, "send_digest", since))
    assert outcomes["'sent'"] == 3, outcomes
    assert set(outcomes) <= {"'sent'", "'already handled'"}

    for name in recipients:
        [message] = mailbox.to(f"{name}@example.com")
        assert message["X-Tunefolio-Week"].strip() == WEEK
    assert mailbox.count() == 3
    assert mailbox.to("dan@example.com") == [] and mailbox.to("erin@example.com") == []
    deliveries = DigestDelivery.objects.order_by("recipient__username")
    assert [(d.recipient.username, d.status, d.attempts) for d in deliveries] == [
        ("alice", "sent", 1),
        ("bob", "sent", 1),
        ("lead", "sent", 1),
    ]
    [lead] = mailbox.to("lead@example.com")
    assert lead["Subject"].strip() == "[Tunefolio] 3 fine-tunes need action, 1 on watch — 2026-W10"
    body = lead.get_body(("plain",)).get_content()
    assert "owner bob@example.com" in body and "owner erin@example.com" in body

    # A second run in the same week sends nothing, even when told to send to Alice again.
    since = shared.mark()
    shared.send("send_weekly_digests", week=WEEK)
    shared.send("send_digest", recipient_id=users["alice"].pk, iso_year=2026, iso_week=10)
    wait_until(lambda: results(shared.worker, "send_digest", since), 30, "the second run")
    wait_until(lambda: results(shared.worker, "send_weekly_digests", since), 30, "the rerun")
    assert results(shared.worker, "send_weekly_digests", since) == ["0"]
    assert results(shared.worker, "send_digest", since) == ["'already handled'"]
    assert mailbox.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_refused_recipient_is_recorded_and_the_others_are_still_served(
    shared, mailbox, staff_client
):
    users = digest_scene()
    mailbox.refuse.add("bob@example.com")  # 550: the mailbox does not exist
    mailbox.defer_once.add("alice@example.com")  # 451 once: retried with backoff
    shared.send("send_weekly_digests", week=WEEK)

    def done():
        statuses = dict(DigestDelivery.objects.values_list("recipient__username", "status"))
        return (
            statuses if set(statuses.values()) <= {"sent", "failed"} and len(statuses) == 3 else {}
        )

    assert wait_until(done, 60, "three finished deliveries") == {
        "alice": "sent",
        "bob": "failed",
        "lead": "sent",
    }
    bob = DigestDelivery.objects.get(recipient=users["bob"])
    assert "550" in bob.error and "bob@example.com" in bob.error
    assert bob.sent_at is None
    alice = DigestDelivery.objects.get(recipient=users["alice"])
    assert alice.attempts == 2 and alice.error == ""  # deferred once, then delivered
    assert mailbox.deferred == ["alice@example.com"]
    assert len(mailbox.to("alice@example.com")) == 1
    assert len(mailbox.to("lead@example.com")) == 1
    assert mailbox.to("bob@example.com") == []

    page = staff_client.get(reverse("admin:tracker_digestdelivery_changelist"))
    assert page.status_code == 200
    assert b"Failed" in page.content and b"550 5.1.1 No such mailbox here" in page.content


# --- A worker killed mid-evaluation -------------------------------------------------------------


@contextmanager
def database_write_lock():
    """Hold the test database's write lock from a connection of our own, so a worker's
    evaluation blocks mid-task; released on exit."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        lock = sqlite3.connect(settings["NAME"], timeout=5, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lock.rollback()
            lock.close()
    else:
        import psycopg

        lock = psycopg.connect(
            dbname=settings["NAME"],
            user=settings.get("USER") or None,
            password=settings.get("PASSWORD") or None,
            host=settings.get("HOST") or "127.0.0.1",
            port=settings.get("PORT") or 5432,
        )
        lock.execute("LOCK TABLE tracker_evaluation IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            lock.rollback()
            lock.close()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_reevaluation_leaves_exactly_one_evaluation_per_tune(
    broker, clean_queues, workers, tmp_path
):
    p = portfolio.build(DAY, ("keep", "keep-2", "keep-3", "retire", "retrain", "watch"))
    queue = new_queue()
    clean_queues.append(queue)
    env = worker_env(
        broker,
        queue,
        TUNEFOLIO_EVALUATION_CHUNK_SIZE=2,
        # Small, so the test sees the redelivery; the time limits stay below it, as in production.
        CELERY_VISIBILITY_TIMEOUT=10,
        CELERY_TASK_TIME_LIMIT=8,
        CELERY_TASK_SOFT_TIME_LIMIT=6,
        CELERY_BROKER_TRANSPORT_OPTIONS='{"unacked_restore_interval": 1, '
        '"unacked_restore_throttle": 1}',
    )
    first = Worker(env, queue, tmp_path / "first.log")
    workers.append(first)
    with database_write_lock():
        first.start()
        publish(broker, queue, "tracker.tasks.reevaluate_portfolio", as_of=DAY.isoformat())
        wait_until(lambda: received(first, "evaluate_tunes"), 30, "the first chunk to start")
        time.sleep(1.5)  # inside evaluate_tunes now, waiting for the database
        assert results(first, "reevaluate_portfolio") == ["3"]
        assert results(first, "evaluate_tunes") == []
        first.kill()  # SIGKILL, worker and pool: no goodbye, no acknowledgement
    assert not first.running
    assert Evaluation.objects.count() == 0  # the chunk in flight died with its worker

    second = Worker(env, queue, tmp_path / "second.log")
    workers.append(second)
    second.start()
    wait_until(lambda: len(evaluations_on(DAY)) == 6, 60, "every tune to be evaluated")
    wait_until(lambda: len(results(second, "evaluate_tunes")) >= 3, 30, "all three chunks")
    time.sleep(1)  # anything still redelivered would show up now
    per_tune = evaluations_on(DAY)
    assert per_tune == Counter({tune_id: 1 for tune_id in p.ids})
    assert Evaluation.objects.count() == 6
    # The chunk that was in flight came back (Redis redelivered it after the visibility
    # timeout): three chunks ran in the second worker, the first one's included.
    assert received(second, "evaluate_tunes") == 3


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_heals_on_the_next_catch_up_tick(own_redis, workers, tmp_path):
    """Production's visibility timeout (an hour): the chunk in flight does not come back during
    the test. The hourly catch-up tick, not the redelivery, evaluates the tunes it held."""
    p = portfolio.build(DAY, ("keep", "keep-2", "keep-3", "retire", "retrain", "watch"))
    queue = new_queue()
    env = worker_env(own_redis.url, queue, TUNEFOLIO_EVALUATION_CHUNK_SIZE=2)
    first = Worker(env, queue, tmp_path / "first.log")
    workers.append(first)
    with database_write_lock():
        first.start()
        publish(own_redis.url, queue, "tracker.tasks.reevaluate_portfolio", as_of=DAY.isoformat())
        wait_until(lambda: received(first, "evaluate_tunes"), 30, "the first chunk to start")
        time.sleep(1.5)  # inside evaluate_tunes now, waiting for the database
        first.kill()  # SIGKILL, worker and pool: no goodbye, no acknowledgement
    assert Evaluation.objects.count() == 0

    second = Worker(env, queue, tmp_path / "second.log")
    workers.append(second)
    second.start()
    client = own_redis.client()
    # The second worker takes what was still queued; what the first one held stays unacknowledged.
    wait_until(
        lambda: (
            client.llen(queue) == 0
            and received(second, "evaluate_tunes") == len(results(second, "evaluate_tunes"))
        ),
        60,
        "the second worker to drain the queue",
    )
    time.sleep(1)
    left = len(evaluations_on(DAY))
    assert left < 6, "the killed chunk came back by itself; the test shows nothing"

    publish(own_redis.url, queue, "tracker.tasks.catch_up_evaluations", as_of=DAY.isoformat())
    wait_until(lambda: len(evaluations_on(DAY)) == 6, 60, "the catch-up to evaluate the rest")
    wait_until(lambda: results(second, "catch_up_evaluations"), 30, "the catch-up to finish")
    time.sleep(1)  # a duplicate evaluation would show up now
    assert evaluations_on(DAY) == Counter({tune_id: 1 for tune_id in p.ids})
    assert Evaluation.objects.count() == 6


# --- Redis down across a scheduled time ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_redis_down_across_a_scheduled_time_heals_on_the_next_tick(
    own_redis, workers, tmp_path, staff_client, settings
):
    p = portfolio.build(DAY, ("keep", "retire", "retrain"), usage_until=DAY + timedelta(days=5))
    queue = new_queue()
    worker = Worker(worker_env(own_redis.url, queue), queue, tmp_path / "worker.log")
    workers.append(worker)
    worker.start()

    def tick(day: date) -> None:
        """What beat does at the scheduled time: publish the nightly task."""
        publish(own_redis.url, queue, "tracker.tasks.reevaluate_portfolio", as_of=day.isoformat())

    tick(DAY)
    wait_until(lambda: len(evaluations_on(DAY)) == 3, 60, "the first night")

    own_redis.stop()
    missed = DAY + timedelta(days=1)
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        tick(missed)  # the scheduled time passes while Redis is down: nothing is queued

    # Meanwhile the web app keeps working: the admin and the health check (the usage API: below).
    added = portfolio.build(missed, ("keep",))["keep"]
    with web_app_on(own_redis.url, settings):
        assert staff_client.get(reverse("admin:tracker_finetune_changelist")).status_code == 200
        flags = staff_client.get(reverse("admin:tracker_flag_changelist"), follow=True)
        assert flags.status_code == 200
        assert staff_client.get(reverse("healthz")).json() == {"status": "ok"}
        response = staff_client.post(
            reverse("admin:tracker_finetune_changelist"),
            {"action": "reevaluate_now", "_selected_action": [str(added.pk)]},
            follow=True,
        )
        assert response.status_code == 200
        messages = [str(m) for m in get_messages(response.wsgi_request)]
        assert any("Nothing was queued" in m for m in messages), messages
    assert worker.running  # waiting for its broker, not dead

    own_redis.start()
    next_tick = DAY + timedelta(days=2)
    wait_until(lambda: worker.count("Connected to redis://") >= 2, 60, "the worker to reconnect")
    tick(next_tick)
    wait_until(lambda: len(evaluations_on(next_tick)) == 4, 60, "the next night")
    assert evaluations_on(next_tick) == Counter({t: 1 for t in [*p.ids, added.pk]})
    assert not Evaluation.objects.filter(as_of=missed).exists()
    assert Evaluation.objects.count() == 3 + 4


@pytest.mark.django_db(transaction=True)
def test_the_usage_api_keeps_working_while_redis_is_down(own_redis, settings):
    """Broker and cache on a Redis that is down, as in production when Redis stops: a usage
    batch is still taken (rate limiting must not take the API down with it)."""
    from tests.api.helpers import key_client, make_key

    tune = portfolio.build(DAY, ("keep",))["keep"]
    client = key_client(make_key(tune.team))
    record = {
        "tune": tune.slug,
        "day": DAY.isoformat(),
        "source": "billing-export",  # a new record, not one the portfolio already has
        "queries": 1234,
        "input_tokens": 987_200,
        "output_tokens": 185_100,
    }
    own_redis.stop()
    # The API refuses days in the future: this process's clock is set after the day.
    with web_app_on(own_redis.url, settings), time_machine.travel(DAY + timedelta(days=3)):
        response = client.post("/api/v1/usage/", {"records": [record]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    assert tune.usage.get(day=DAY, source="billing-export").queries == 1234


# --- The embedded transport ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_embedded_filesystem_broker_runs_the_same_tasks_with_beat(workers, tmp_path):
    """What bin/run starts: ``worker --beat`` on ``filesystem://``, folders created on start."""
    p = portfolio.build(DAY, ("keep", "retire"))
    folders = {
        "data_folder_in": str(tmp_path / "broker" / "queue"),
        "data_folder_out": str(tmp_path / "broker" / "queue"),
        "processed_folder": str(tmp_path / "broker" / "processed"),
        "control_folder": str(tmp_path / "broker" / "control"),
    }
    import json

    queue = new_queue()
    env = worker_env("filesystem://", queue, CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(folders))
    worker = Worker(env, queue, tmp_path / "worker.log", beat=True)
    workers.append(worker)
    worker.start()
    assert (tmp_path / "broker" / "queue").is_dir()  # created by config/celery_app.py
    assert (tmp_path / "broker" / "control").is_dir()
    wait_until(lambda: "beat: Starting..." in worker.text(), 30, "beat to start")

    publish(
        "filesystem://",
        queue,
        "tracker.tasks.reevaluate_portfolio",
        transport_options=folders,
        as_of=DAY.isoformat(),
    )
    wait_until(lambda: len(evaluations_on(DAY)) == 2, 60, "the evaluations")
    assert evaluations_on(DAY) == Counter({t: 1 for t in p.ids})
    assert FineTune.objects.count() == 2
