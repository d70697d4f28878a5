"""The tasks in-process (eager) with a frozen clock: what the nightly run decides from the
database, the chunked fan-out published on commit, retries, the schedule and its settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import OperationalError
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerError

from config.celery_app import app
from tests.jobs import portfolio
from tracker import tasks
from tracker.models import Evaluation, FineTune
from tracker.services import jobs

from .conftest import BASE_DIR

DAY = date(2026, 3, 2)


def frozen(day: date, hour: int = 2):
    return time_machine.travel(datetime.combine(day, time(hour, 0), tzinfo=UTC), tick=False)


def record_publications(monkeypatch, task) -> list[dict]:
    """Record the arguments of every publication of ``task`` (and still run it, eagerly)."""
    calls: list[dict] = []
    original = task.apply_async

    def record(*args, **kwargs):
        calls.append(kwargs["kwargs"])
        return original(*args, **kwargs)

    monkeypatch.setattr(task, "apply_async", record)
    return calls


@pytest.fixture
def published(monkeypatch):
    """Record every evaluate_tunes publication (and still run it, eagerly)."""
    return record_publications(monkeypatch, tasks.evaluate_tunes)


@pytest.mark.django_db
def test_the_nightly_run_evaluates_as_of_the_day_it_runs_and_only_once(
    django_capture_on_commit_callbacks, published, settings
):
    settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE = 2
    p = portfolio.build(DAY, ("keep", "keep-2", "retire", "retrain", "watch"))

    with frozen(DAY), django_capture_on_commit_callbacks(execute=True):
        queued = tasks.reevaluate_portfolio.delay().get()
    assert queued == 3  # five tunes in chunks of two
    assert [c["tune_ids"] for c in published] == [p.ids[0:2], p.ids[2:4], p.ids[4:5]]
    assert {c["as_of"] for c in published} == {DAY.isoformat()}  # the whole fan-out: one day
    assert sorted(Evaluation.objects.filter(as_of=DAY).values_list("tune_id", flat=True)) == p.ids
    first = dict(Evaluation.objects.values_list("pk", "created_at"))

    # A second run the same day (beat twice, or a restart) queues nothing and writes nothing.
    published.clear()
    with frozen(DAY, hour=9), django_capture_on_commit_callbacks(execute=True):
        assert tasks.reevaluate_portfolio.delay().get() == 0
    assert published == []
    assert dict(Evaluation.objects.values_list("pk", "created_at")) == first


@pytest.mark.django_db
def test_a_missed_night_heals_on_the_next_tick(django_capture_on_commit_callbacks):
    p = portfolio.build(DAY, ("keep", "retire"), usage_until=DAY + timedelta(days=5))
    with frozen(DAY), django_capture_on_commit_callbacks(execute=True):
        tasks.reevaluate_portfolio.delay()
    # Nothing ran on DAY + 1 and DAY + 2 (broker down). A tune was added meanwhile.
    late = portfolio.build(DAY + timedelta(days=1), ("keep",))["keep"]
    retired = portfolio.build(DAY, ("keep",))["keep"]
    FineTune.objects.filter(pk=retired.pk).update(status=FineTune.Status.RETIRED)
    next_tick = DAY + timedelta(days=3)
    with frozen(next_tick), django_capture_on_commit_callbacks(execute=True):
        tasks.reevaluate_portfolio.delay()
    assert sorted(Evaluation.objects.filter(as_of=next_tick).values_list("tune_id", flat=True)) == (
        sorted([*p.ids, late.pk])
    )
    assert not Evaluation.objects.filter(tune=retired).exists()
    assert Evaluation.objects.count() == 2 + 3


@pytest.mark.django_db
def test_the_hourly_catch_up_queues_only_what_the_nightly_run_left_and_only_after_it(
    django_capture_on_commit_callbacks, published, settings
):
    settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE = 2
    p = portfolio.build(DAY, ("keep", "retire", "watch"))
    # Before the nightly time the catch-up leaves the day to the nightly run.
    with frozen(DAY, hour=1), django_capture_on_commit_callbacks(execute=True):
        assert tasks.catch_up_evaluations.delay().get() == 0
    assert published == []
    assert not Evaluation.objects.exists()

    # The nightly run evaluated one tune before its worker died.
    jobs.evaluate_tunes(tune_ids=[p["keep"].pk], as_of=DAY)
    kept = Evaluation.objects.get(tune=p["keep"])
    with frozen(DAY, hour=2), django_capture_on_commit_callbacks(execute=True):
        assert tasks.catch_up_evaluations.delay().get() == 1
    assert published == [
        {"tune_ids": [p["retire"].pk, p["watch"].pk], "as_of": DAY.isoformat(), "only_due": True}
    ]
    assert sorted(Evaluation.objects.filter(as_of=DAY).values_list("tune_id", flat=True)) == p.ids
    assert Evaluation.objects.get(tune=p["keep"]).created_at == kept.created_at

    # The next tick of the day finds nothing left.
    published.clear()
    with frozen(DAY, hour=3), django_capture_on_commit_callbacks(execute=True):
        assert tasks.catch_up_evaluations.delay().get() == 0
    assert published == []
    assert Evaluation.objects.count() == 3


@pytest.mark.django_db
def test_tasks_are_published_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks, published
):
    p = portfolio.build(DAY, ("keep",))
    with frozen(DAY), django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert jobs.enqueue_evaluation(p.ids) == 1
        assert published == []  # not yet: the transaction is still open
    assert len(callbacks) == 1
    assert not Evaluation.objects.exists()
    with frozen(DAY):
        callbacks[0]()
    assert published == [{"tune_ids": p.ids, "as_of": None, "only_due": False}]
    assert Evaluation.objects.filter(as_of=DAY).count() == 1  # as of the day the task ran


@pytest.mark.django_db
def test_a_redelivered_or_repeated_chunk_leaves_one_evaluation_per_tune_and_day():
    p = portfolio.build(DAY, ("keep", "retire"))
    for _ in range(3):
        tasks.evaluate_tunes.delay(p.ids, DAY.isoformat())
    tasks.evaluate_tunes.delay(p.ids, DAY.isoformat(), only_due=True)
    assert Evaluation.objects.filter(as_of=DAY).count() == 2
    assert Evaluation.objects.count() == 2


@pytest.mark.django_db
def test_a_transient_database_error_is_retried(monkeypatch):
    p = portfolio.build(DAY, ("keep",))
    real = jobs.evaluate_portfolio
    attempts = []

    def flaky(*, as_of, tune_ids):
        attempts.append(as_of)
        if len(attempts) == 1:
            raise OperationalError("database is locked")
        return real(as_of=as_of, tune_ids=tune_ids)

    monkeypatch.setattr(jobs, "evaluate_portfolio", flaky)
    # throw=False: eager mode would otherwise re-raise the Retry instead of retrying.
    result = tasks.evaluate_tunes.apply(args=(p.ids, DAY.isoformat()), throw=False)
    assert result.get() == 1
    assert attempts == [DAY, DAY]
    assert Evaluation.objects.filter(as_of=DAY).count() == 1


def test_tasks_are_acknowledged_late_retry_transient_errors_and_stay_inside_the_visibility():
    for task in (
        tasks.reevaluate_portfolio,
        tasks.catch_up_evaluations,
        tasks.evaluate_tunes,
        tasks.send_weekly_digests,
        tasks.send_digest,
    ):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
        assert OperationalError in task.autoretry_for
        assert task.retry_backoff
        assert task.max_retries and task.max_retries <= 10
        hard = task.time_limit or app.conf.task_time_limit
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        assert 0 < soft < hard <= 600
        # Retries wait in the worker; they must come back before Redis would redeliver.
        assert (task.retry_backoff_max or 600) < 3600
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]


def settings_in_subprocess(**env) -> subprocess.CompletedProcess:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'opts': s.CELERY_BROKER_TRANSPORT_OPTIONS, "
        "'beat': {k: [sorted(getattr(v['schedule'], f)) for f in ('day_of_week', 'hour', "
        "'minute')] for k, v in s.CELERY_BEAT_SCHEDULE.items()}}))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "TUNEFOLIO_", "DJANGO_"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean | {"DJANGO_SETTINGS_MODULE": "config.settings.local", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_a_time_limit_at_or_above_the_visibility_timeout():
    redis = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}
    ok = settings_in_subprocess(**redis)
    assert ok.returncode == 0, ok.stderr
    assert '"visibility_timeout": 3600' in ok.stdout
    # A hung Redis fails a publish in about a second: the broker's own options say so.
    opts = json.loads(ok.stdout.strip().splitlines()[-1])["opts"]
    assert opts["socket_timeout"] <= 1 and opts["socket_connect_timeout"] <= 1
    assert opts["max_retries"] <= 3
    refused = settings_in_subprocess(**redis, CELERY_VISIBILITY_TIMEOUT="300")
    assert refused.returncode != 0
    assert "visibility timeout" in refused.stderr


def test_the_schedule_lives_in_settings_with_expiries_and_times_from_the_environment():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["nightly-reevaluation"]["task"] == tasks.reevaluate_portfolio.name
    assert schedule["weekly-digest"]["task"] == tasks.send_weekly_digests.name
    assert schedule["hourly-idempotency-purge"]["task"] == tasks.purge_idempotency_records.name
    catch_up = schedule["hourly-catch-up-reevaluation"]
    assert catch_up["task"] == tasks.catch_up_evaluations.name
    assert len(catch_up["schedule"].hour) == 24 and len(catch_up["schedule"].minute) == 1
    for entry in schedule.values():
        assert entry["task"] in app.tasks
        assert 0 < entry["options"]["expires"] <= 24 * 3600
        assert isinstance(entry["schedule"], crontab)
    nightly, weekly = (schedule[k]["schedule"] for k in ("nightly-reevaluation", "weekly-digest"))
    assert nightly.hour == {2} and nightly.minute == {0} and len(nightly.day_of_week) == 7
    assert weekly.day_of_week == {1} and weekly.hour == {7}  # Monday morning
    assert settings.CELERY_TIMEZONE == "UTC"
    moved = settings_in_subprocess(TUNEFOLIO_REEVALUATE_AT="03:15", TUNEFOLIO_DIGEST_AT="tue 06:30")
    assert moved.returncode == 0, moved.stderr
    beat = json.loads(moved.stdout.strip().splitlines()[-1])["beat"]
    assert beat["nightly-reevaluation"] == [list(range(7)), [3], [15]]
    assert beat["weekly-digest"] == [[2], [6], [30]]  # Tuesday 06:30 UTC


# --- The admin's "Re-evaluate now" ------------------------------------------------------------


def admin_action(client, ids):
    return client.post(
        reverse("admin:tracker_finetune_changelist"),
        {"action": "reevaluate_now", "_selected_action": [str(i) for i in ids]},
        follow=True,
    )


@pytest.mark.django_db(transaction=True)  # as in production: the request is not in a transaction
def test_reevaluate_now_queues_the_same_task_for_the_selected_tunes(staff_client, published):
    p = portfolio.build(DAY, ("keep", "retire", "watch"))
    selected = [p["keep"].pk, p["retire"].pk]
    with frozen(DAY, hour=14):
        response = admin_action(staff_client, selected)
    assert response.status_code == 200
    assert published == [{"tune_ids": sorted(selected), "as_of": None, "only_due": False}]
    assert sorted(Evaluation.objects.values_list("tune_id", flat=True)) == sorted(selected)
    assert Evaluation.objects.filter(as_of=DAY).count() == 2
    text = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("2 tune(s) queued" in m for m in text), text


@pytest.mark.django_db(transaction=True)
def test_reevaluate_now_says_so_when_the_queue_is_down(staff_client, monkeypatch):
    p = portfolio.build(DAY, ("keep",))

    def down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr(tasks.evaluate_tunes, "apply_async", down)
    response = admin_action(staff_client, p.ids)
    assert response.status_code == 200
    text = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Nothing was queued" in m and "Connection refused" in m for m in text), text
    assert not Evaluation.objects.exists()


@pytest.mark.django_db
def test_a_completed_night_stores_the_realised_savings_once(
    django_capture_on_commit_callbacks, settings, monkeypatch
):
    from tracker.models import TuneMonthSaving

    settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE = 2
    p = portfolio.build(DAY, ("keep", "retire", "watch"))
    refreshes = record_publications(monkeypatch, tasks.refresh_savings)
    with frozen(DAY), django_capture_on_commit_callbacks(execute=True):
        tasks.reevaluate_portfolio.delay()
    deployed = sorted(FineTune.objects.filter(status="deployed").values_list("pk", flat=True))
    assert deployed and set(deployed) <= set(p.ids)
    # Queued once, when the last chunk completed the night, in the evaluation's chunks.
    chunks = [deployed[i : i + 2] for i in range(0, len(deployed), 2)]
    assert [c["tune_ids"] for c in refreshes] == chunks
    assert {c["as_of"] for c in refreshes} == {DAY.isoformat()}
    assert set(TuneMonthSaving.objects.values_list("tune_id", flat=True)) == set(deployed)
    assert set(TuneMonthSaving.objects.values_list("as_of", flat=True)) == {DAY}

    refreshes.clear()
    with frozen(DAY, hour=9), django_capture_on_commit_callbacks(execute=True):
        tasks.catch_up_evaluations.delay()
    assert refreshes == []  # the night was already complete
