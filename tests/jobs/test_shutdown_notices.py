"""Retrain-by dates and the 90/60/30-day shutdown notices (webhooks and digest)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse

from tests.factories import FineTuneFactory
from tests.jobs import portfolio
from tracker import tasks
from tracker.models import ShutdownNotice, WebhookEndpoint
from tracker.selectors import shutdowns as shutdown_selectors
from tracker.selectors.digest import digest_for, digest_recipients
from tracker.services.shutdowns import send_shutdown_notices

SHUTDOWN = date(2026, 9, 30)
RETRAIN_BY = SHUTDOWN - timedelta(days=30)  # 2026-08-31


@pytest.fixture
def ending(db):
    """A deployed tune on a base model shutting down on SHUTDOWN, and a proposal on it."""
    successor = portfolio.catalog_model()
    base = portfolio.catalog_model(shutdown_on=SHUTDOWN, successor=successor)
    deployed = FineTuneFactory(
        name="Ending tune", base_model=base, deployed_on=date(2026, 1, 1),
        last_trained_on=date(2026, 1, 1),
    )  # fmt: skip
    proposal = FineTuneFactory(
        name="Ending proposal", base_model=base, status="proposed", owner=deployed.owner,
        team=deployed.team, deployed_on=None, last_trained_on=None,
    )  # fmt: skip
    return deployed, proposal


def test_the_retrain_by_date_is_the_shutdown_less_the_lead_time(ending, settings):
    assert shutdown_selectors.retrain_by(status="deployed", shutdown_on=SHUTDOWN) == RETRAIN_BY
    annotated = dict(shutdown_selectors.tunes_with_retrain_by().values_list("name", "retrain_by"))
    assert annotated == {"Ending tune": RETRAIN_BY, "Ending proposal": None}
    settings.TUNEFOLIO_RETRAIN_LEAD_DAYS = 45
    annotated = dict(shutdown_selectors.tunes_with_retrain_by().values_list("name", "retrain_by"))
    assert annotated["Ending tune"] == SHUTDOWN - timedelta(days=45)


def test_the_api_and_the_admin_show_the_retrain_by_date(ending, staff_client, staff_user):
    deployed, proposal = ending
    deployed.team.members.add(staff_user)
    body = staff_client.get(f"/api/v1/tunes/{deployed.slug}/").json()
    assert body["retrain_by"] == RETRAIN_BY.isoformat()
    assert staff_client.get(f"/api/v1/tunes/{proposal.slug}/").json()["retrain_by"] is None
    page = staff_client.get(reverse("admin:tracker_finetune_changelist")).content.decode()
    assert "retrain by" in page.lower()
    assert "Aug. 31, 2026" in page or "2026-08-31" in page
    detail = staff_client.get(reverse("admin:tracker_finetune_change", args=[deployed.pk]))
    assert "Aug. 31, 2026" in detail.content.decode() or "2026-08-31" in detail.content.decode()


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [(120, None), (91, None), (90, 90), (61, 90), (60, 60), (31, 60), (30, 30), (0, 30), (-5, 30)],
)
def test_the_tightest_threshold_crossed(days_left, threshold):
    assert shutdown_selectors.notice_threshold(days_left) == threshold


def test_notices_go_out_once_per_threshold(ending, hook, django_capture_on_commit_callbacks):
    deployed, _ = ending
    WebhookEndpoint.objects.create(
        team=deployed.team, name="slack", url=hook.url + "/slack", kind="slack",
        events=["shutdown.notice"],
    )  # fmt: skip

    def run(day: date) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.send_shutdown_notices.delay(day.isoformat()).get()

    assert run(RETRAIN_BY - timedelta(days=91)) == 0
    assert run(RETRAIN_BY - timedelta(days=90)) == 1
    assert run(RETRAIN_BY - timedelta(days=90)) == 0  # the same day again
    assert run(RETRAIN_BY - timedelta(days=75)) == 0
    assert run(RETRAIN_BY - timedelta(days=60)) == 1
    assert run(RETRAIN_BY - timedelta(days=29)) == 1
    assert run(RETRAIN_BY - timedelta(days=1)) == 0
    assert run(RETRAIN_BY + timedelta(days=10)) == 0  # overdue: the 30-day notice was it
    assert sorted(ShutdownNotice.objects.values_list("days_before", flat=True)) == [30, 60, 90]

    messages = [r.json() for r in hook.to("/slack")]
    assert len(messages) == 3
    headers = [m["blocks"][0]["text"]["text"] for m in messages]
    assert headers == [f"Ending tune: retrain by {RETRAIN_BY}"] * 3
    assert "90 days left" in messages[0]["blocks"][1]["text"]["text"]
    assert "29 days left" in messages[2]["blocks"][1]["text"]["text"]


def test_a_tune_first_seen_late_gets_only_the_tightest_notice(ending):
    send_shutdown_notices(today=RETRAIN_BY - timedelta(days=45))
    assert list(ShutdownNotice.objects.values_list("days_before", flat=True)) == [60]


def test_a_new_shutdown_date_starts_the_notices_again(ending):
    deployed, _ = ending
    send_shutdown_notices(today=RETRAIN_BY - timedelta(days=30))
    deployed.base_model.shutdown_on = SHUTDOWN + timedelta(days=180)  # postponed
    deployed.base_model.save()
    new_retrain_by = RETRAIN_BY + timedelta(days=180)
    assert send_shutdown_notices(today=new_retrain_by - timedelta(days=90)) == 1
    assert ShutdownNotice.objects.filter(retrain_by=new_retrain_by, days_before=90).exists()


def test_the_digest_lists_the_notices_of_the_week(ending):
    deployed, _ = ending
    noticed = RETRAIN_BY - timedelta(days=60)
    send_shutdown_notices(today=noticed)
    with time_machine.travel(noticed + timedelta(days=3), tick=False):
        assert deployed.owner_id in digest_recipients(2026, 27)
        digest = digest_for(deployed.owner)
        assert digest.has_news
        [line] = digest.shutdown_notices
        assert line.startswith("Ending tune: retrain on ")
        assert f"evaluate by {RETRAIN_BY} (57 days left)" in line
        from tracker.services.digest import build_message

        message = build_message(digest, 2026, 27)
        assert "RETRAIN-BY DATES COMING UP" in message.body
    with time_machine.travel(noticed + timedelta(days=8), tick=False):
        assert digest_for(deployed.owner).shutdown_notices == ()


def test_shutdown_notice_payloads_name_the_dates(ending):
    deployed, _ = ending
    WebhookEndpoint.objects.create(
        team=deployed.team, name="hook", url="http://127.0.0.1:9/x", kind="generic",
        secret="s", events=["shutdown.notice"],
    )  # fmt: skip
    send_shutdown_notices(today=RETRAIN_BY - timedelta(days=90))
    data = deployed.team.webhook_endpoints.get().deliveries.get().payload
    assert data["retrain_by"] == RETRAIN_BY.isoformat()
    assert data["shutdown_on"] == SHUTDOWN.isoformat()
    assert data["threshold_days"] == 90 and data["days_left"] == 90
