"""Webhooks and Slack, against a real HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import TeamFactory
from tests.jobs import portfolio
from tracker import tasks
from tracker.models import Evaluation, FineTune, WebhookDelivery, WebhookEndpoint
from tracker.services import evaluate_portfolio
from tracker.services import webhooks as webhook_services

from .conftest import HookRequest

DAY = date(2026, 3, 2)
SECRET = "whsec-test"


@pytest.fixture(autouse=True)
def retries_run_inline():
    """Eager tasks retry inline only when their errors do not propagate (as in a worker)."""
    from config.celery_app import app

    saved = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        app.conf.task_eager_propagates = saved


def endpoint(team, url, kind="generic", events=None, **extra) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        team=team,
        name=url.rsplit("/", 1)[-1],
        url=url,
        kind=kind,
        secret=SECRET if kind == "generic" else "",
        events=events or webhook_services.WebhookEvent.values,
        **extra,
    )


def evaluate(as_of: date, ids, capture) -> None:
    with capture(execute=True):
        evaluate_portfolio(as_of=as_of, tune_ids=ids)


def verify(received: HookRequest) -> dict:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Tunefolio-Signature"], expected)
    return received.json()


@pytest.mark.django_db
def test_events_reach_slack_and_generic_endpoints_once(
    hook, django_capture_on_commit_callbacks, settings
):
    settings.TUNEFOLIO_SITE_URL = settings.SITE_URL = "https://tunefolio.example"
    p = portfolio.build(DAY, ("keep",))
    tune = p["keep"]
    generic = endpoint(tune.team, hook.url + "/generic")
    slack = endpoint(tune.team, hook.url + "/slack", kind="slack")
    endpoint(TeamFactory(), hook.url + "/other-team")  # hears nothing of this team

    evaluate(DAY, p.ids, django_capture_on_commit_callbacks)  # KEEP, the first verdict
    assert hook.received == []

    # The fixed cost jumps: the next day's verdict is RETIRE, and a RETIRE flag opens.
    FineTune.objects.filter(pk=tune.pk).update(monthly_fixed_cost=Decimal(5000))
    day2 = DAY + timedelta(days=1)
    evaluate(day2, p.ids, django_capture_on_commit_callbacks)
    events = sorted(verify(r)["event"] for r in hook.to("/generic"))
    assert events == ["flag.opened", "verdict.changed"]
    changed = next(
        verify(r) for r in hook.to("/generic") if verify(r)["event"] == "verdict.changed"
    )
    data = changed["data"]
    assert data["previous_verdict"] == "KEEP"
    assert data["evaluation"]["verdict"] == "RETIRE"
    assert data["evaluation"]["as_of"] == day2.isoformat()
    assert data["evaluation"]["monthly_net_saving_usd"] < 0
    stored = Evaluation.objects.get(tune=tune, as_of=day2)
    assert data["evaluation"]["reason"] == stored.reason != ""
    assert data["evaluation"]["figures"] == stored.figures
    assert data["tune"]["slug"] == tune.slug
    assert data["tune"]["url"].startswith("https://tunefolio.example/admin/")
    assert hook.to("/other-team") == []

    slack_bodies = [r.json() for r in hook.to("/slack")]
    assert len(slack_bodies) == 2
    for body in slack_bodies:
        assert body["text"]
        types = [block["type"] for block in body["blocks"]]
        assert types == ["header", "section", "section", "context"]
        assert body["blocks"][0]["text"]["type"] == "plain_text"
        assert tune.name in body["blocks"][0]["text"]["text"]
        assert "X-Tunefolio-Signature" not in hook.to("/slack")[0].headers
    header = next(b for b in slack_bodies if "→" in b["blocks"][0]["text"]["text"])
    assert header["blocks"][0]["text"]["text"] == f"{tune.name}: KEEP → RETIRE"
    assert "<https://tunefolio.example/admin/" in header["blocks"][3]["elements"][0]["text"]
    assert any("Verdict*\nRETIRE" in f["text"] for f in header["blocks"][2]["fields"])

    # Re-evaluating the same day again sends nothing new.
    evaluate(day2, p.ids, django_capture_on_commit_callbacks)
    assert len(hook.received) == 4
    assert WebhookDelivery.objects.count() == 4
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"sent"}
    assert WebhookDelivery.objects.filter(endpoint=generic).count() == 2
    assert WebhookDelivery.objects.filter(endpoint=slack).count() == 2

    # Back to KEEP: the verdict change and the resolved flag go out.
    FineTune.objects.filter(pk=tune.pk).update(monthly_fixed_cost=Decimal(500))
    evaluate(day2 + timedelta(days=1), p.ids, django_capture_on_commit_callbacks)
    later = sorted(verify(r)["event"] for r in hook.to("/generic")[2:])
    assert later == ["flag.resolved", "verdict.changed"]


@pytest.mark.django_db
def test_an_endpoint_hears_only_the_events_it_chose(hook, django_capture_on_commit_callbacks):
    p = portfolio.build(DAY, ("retrain",))
    endpoint(p["retrain"].team, hook.url + "/flags", events=["flag.opened"])
    endpoint(p["retrain"].team, hook.url + "/off", active=False)
    evaluate(DAY, p.ids, django_capture_on_commit_callbacks)
    assert [verify(r)["event"] for r in hook.to("/flags")] == ["flag.opened"]
    assert hook.to("/off") == []


def one_delivery(hook, path: str, capture) -> WebhookDelivery:
    p = portfolio.build(DAY, ("retrain",))
    endpoint(p["retrain"].team, hook.url + path, events=["flag.opened"])
    evaluate(DAY, p.ids, capture)
    return WebhookDelivery.objects.get()


@pytest.mark.django_db
def test_a_4xx_fails_at_once_and_is_never_retried(hook, django_capture_on_commit_callbacks):
    hook.script["/gone"] = [410]
    delivery = one_delivery(hook, "/gone", django_capture_on_commit_callbacks)
    assert len(hook.to("/gone")) == 1
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 410)
    assert "HTTP 410" in delivery.error and "bad channel" in delivery.error


@pytest.mark.django_db
def test_a_5xx_is_retried_until_it_is_taken(hook, django_capture_on_commit_callbacks):
    hook.script["/flaky"] = [503, 502, 200]
    delivery = one_delivery(hook, "/flaky", django_capture_on_commit_callbacks)
    assert len(hook.to("/flaky")) == 3
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("sent", 3, 200)
    assert delivery.error == ""
    bodies = {r.body for r in hook.to("/flaky")}
    assert len(bodies) == 1  # the same event each time, same id, same signature


@pytest.mark.django_db
def test_a_timeout_is_retried(hook, django_capture_on_commit_callbacks, settings):
    settings.TUNEFOLIO_WEBHOOK_TIMEOUT = 0.5
    hook.script["/slow"] = [("sleep", 1.5, 200), 200]
    delivery = one_delivery(hook, "/slow", django_capture_on_commit_callbacks)
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(hook.to("/slow")) == 2


@pytest.mark.django_db
def test_an_endpoint_that_keeps_failing_is_given_up_with_its_error(
    hook, django_capture_on_commit_callbacks
):
    hook.script["/down"] = [500]
    delivery = one_delivery(hook, "/down", django_capture_on_commit_callbacks)
    attempts = tasks.deliver_webhook.max_retries + 1
    assert (delivery.status, delivery.attempts) == ("failed", attempts)
    assert len(hook.to("/down")) == attempts
    assert "HTTP 500" in delivery.error and "gave up" in delivery.error


@pytest.mark.django_db
def test_a_delivery_is_sent_at_most_once(hook, django_capture_on_commit_callbacks):
    delivery = one_delivery(hook, "/once", django_capture_on_commit_callbacks)
    assert delivery.status == "sent"
    assert webhook_services.deliver_webhook(delivery_id=delivery.pk) == "already handled"
    assert tasks.deliver_webhook.delay(delivery.pk).get() == "already handled"
    assert len(hook.to("/once")) == 1


@pytest.mark.django_db
def test_the_admin_lists_deliveries_and_resends_one(
    hook, django_capture_on_commit_callbacks, staff_client
):
    hook.script["/fixed-later"] = [404, 200]
    delivery = one_delivery(hook, "/fixed-later", django_capture_on_commit_callbacks)
    assert delivery.status == "failed"

    page = staff_client.get(reverse("admin:tracker_webhookdelivery_changelist"))
    assert page.status_code == 200
    assert "HTTP 404" in page.content.decode()
    assert "Failed" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:tracker_webhookdelivery_changelist"),
            {"action": "resend", "_selected_action": [delivery.pk]},
            follow=True,
        )
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.error) == ("sent", 200, "")
    assert len(hook.to("/fixed-later")) == 2


@pytest.mark.django_db
def test_the_admin_adds_an_endpoint_and_a_generic_one_needs_a_secret(staff_client):
    team = TeamFactory()
    url = reverse("admin:tracker_webhookendpoint_add")
    form = {
        "team": team.pk,
        "name": "#ml-oncall",
        "kind": "generic",
        "url": "https://hooks.example.com/tunefolio",
        "events": ["flag.opened", "verdict.changed"],
        "secret": "",
        "active": "on",
    }
    refused = staff_client.post(url, form)
    assert refused.status_code == 200
    assert "needs a secret" in refused.content.decode()
    assert not WebhookEndpoint.objects.exists()
    created = staff_client.post(url, form | {"secret": SECRET})
    assert created.status_code == 302, created.content.decode()[:2000]
    assert WebhookEndpoint.objects.get().events == ["flag.opened", "verdict.changed"]


@pytest.mark.django_db(transaction=True)
def test_events_recorded_while_the_broker_is_down_go_out_later(hook, own_redis, settings):
    from tests.jobs.test_end_to_end import web_app_on

    p = portfolio.build(DAY, ("retrain",))
    endpoint(p["retrain"].team, hook.url + "/later", events=["flag.opened"])
    own_redis.stop()
    with web_app_on(own_redis.url, settings):
        run = evaluate_portfolio(
            as_of=DAY, tune_ids=p.ids
        )  # commits; publishing fails and is logged
    assert len(run.evaluations) == 1  # the evaluation is not held up by the queue
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert hook.received == []

    assert webhook_services.requeue_pending(older_than=timedelta(hours=1)) == 0  # not stale yet
    assert webhook_services.requeue_pending(older_than=timedelta(0)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert len(hook.to("/later")) == 1
