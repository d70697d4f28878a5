"""The weekly digest in-process: what it says, to whom, at most once a week, through a real
SMTP server that refuses or defers, the one-click unsubscribe, the command and the admin."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.jobs import portfolio
from tracker import tasks
from tracker.models import DigestDelivery, DigestPreference, Evaluation, FineTune
from tracker.selectors import digest as digest_selectors
from tracker.services import digest as digest_services
from tracker.services import evaluate_portfolio

from .conftest import free_port

DAY = date(2026, 3, 2)  # a Monday
WEEK = (2026, 10)
LAST_WEEK = DAY - timedelta(days=7)


def set_fixed_cost(tune: FineTune, amount: int) -> None:
    FineTune.objects.filter(pk=tune.pk).update(monthly_fixed_cost=Decimal(amount))


@pytest.fixture(scope="module")
def scene_rows(module_transaction, django_db_blocker):
    """Alice owns a bit of everything; Bob only a tune that pays; Carol opted out; a lead.

    A week ago Alice's "keep" tune still paid and "keep-2" did not; now it is the other way
    round. Built once for the module (two evaluations of the portfolio).
    """
    with django_db_blocker.unblock():
        alice = UserFactory(username="alice", email="alice@example.com", first_name="Alice")
        bob = UserFactory(username="bob", email="bob@example.com")
        carol = UserFactory(username="carol", email="carol@example.com")
        lead = UserFactory(username="lead", email="lead@example.com")
        kinds = ("keep", "keep-2", "retire", "retrain", "watch", "ready", "brand")
        a = portfolio.build(DAY, kinds, owner=alice)
        b = portfolio.build(DAY, ("keep",), owner=bob)
        c = portfolio.build(DAY, ("retire",), owner=carol)
        DigestPreference.objects.create(user=carol, weekly_digest=False)
        set_fixed_cost(a["keep-2"], 5000)
        evaluate_portfolio(as_of=LAST_WEEK)
        set_fixed_cost(a["keep"], 5000)
        set_fixed_cost(a["keep-2"], 500)
        evaluate_portfolio(as_of=DAY)
    return SimpleNamespace(alice=alice, bob=bob, carol=carol, lead=lead, a=a, b=b, c=c)


@pytest.fixture
def scene(scene_rows, db, settings):
    """The module's scene, its rows as built (each test's changes are rolled back) and its
    objects copied, so no test sees another's changes to them in memory."""
    settings.TUNEFOLIO_PORTFOLIO_LEADS = ["Lead@Example.com"]
    return copy.deepcopy(scene_rows)


def only_message_to(address: str):
    messages = [m for m in mail.outbox if address in m.to]
    assert len(messages) == 1, [m.to for m in mail.outbox]
    return messages[0]


def test_the_digest_lists_what_needs_action_with_the_reasons_numbers_and_changes(scene):
    a = scene.a
    assert digest_services.deliver_digest(scene.alice.pk, *WEEK) == "sent"
    message = only_message_to("alice@example.com")
    assert message.subject == "[Tunefolio] 4 fine-tunes need action, 1 on watch — 2026-W10"
    text = message.body
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"

    # Listed: no longer pays off (keep, retire), RETRAIN, ready to fine-tune, WATCH. Not listed:
    # a tune that pays (keep-2) and a proposal that should iterate (brand).
    for key in ("keep", "retire", "retrain", "ready", "watch"):
        evaluation = Evaluation.objects.get(tune=a[key], as_of=DAY)
        assert evaluation.reason in text, key
        assert a[key].name in html
        assert f"http://127.0.0.1:8000/admin/tracker/finetune/{a[key].pk}/change/" in html
    for key in ("keep-2", "brand"):
        assert f"* {a[key].name}" not in text
    assert text.index("NEEDS ACTION (4)") < text.index("Retrain tune") < text.index("ON WATCH (1)")
    assert text.index("ON WATCH (1)") < text.index("Watch tune")

    # The deciding numbers, as the engine computed them.
    retrain = text[text.index("* Retrain tune") : text.index("* Ready proposal")]
    assert "Monthly net saving: $1,198" in retrain
    assert "Training-cost payback: 16.7 months" in retrain
    assert "Break-even: 2027-04-13" in retrain
    assert "Expected stable lifetime: 4.3 months" in retrain
    assert "Base-model shutdown: 2026-04-01" in retrain
    assert "Open flag: Retrain since 2026-02-23 (7 days)" in retrain
    # The figures the reason cites, labelled, as the reason words them.
    reason = Evaluation.objects.get(tune=a["retrain"], as_of=DAY).reason
    for label, key in (
        ("Retraining payback", "retrain_payback_months"),
        ("Lifetime after retraining", "lifetime_after_retraining_months"),
    ):
        figure = Evaluation.objects.get(tune=a["retrain"], as_of=DAY).figures[key]
        assert f"{label}: {figure:,.1f} months" in retrain
        assert f"{figure:,.1f} months" in reason
    keep = text[text.index("* Keep tune") : text.index("* Retire tune")]
    assert "Retire, no longer pays off" in keep
    assert "Monthly net loss: $3,302" in keep  # a loss reads as a loss, never "-$3,302"
    assert "Training-cost payback: never" in keep and "Break-even: never at this rate" in keep

    # What changed since last week.
    assert "Verdict changed from Keep on 2026-02-23 to Retire." in keep
    assert "Monthly net saving $1,198 → -$3,302 (-$4,500)." in keep
    assert "Retire flag opened on 2026-03-02." in keep
    assert "Same verdict as on 2026-02-23." in retrain
    assert f"{a['keep-2'].name}: Retire flag resolved on 2026-03-02: now Keep." in text

    # Totals: March so far is two days of 10,000 queries for each of the five deployed tunes at
    # $0.00558 saved a query, less two days of $5,000 + $5,000 + 3 × $500 fixed a month.
    realised = 5 * 2 * 10_000 * portfolio.SAVING_PER_QUERY - 11_500 * 2 / 30.4375
    assert f"since 2026-03-01): -${abs(realised):,.0f}" in text
    listed = [a[k] for k in ("keep", "retire", "retrain", "watch")]
    unrecovered = sum(
        float(e.unrecovered_cost) for e in Evaluation.objects.filter(tune__in=listed, as_of=DAY)
    )
    assert f"Unrecovered training cost of the tunes listed above: ${unrecovered:,.0f}" in text
    assert "Tunes evaluated: 7" in text

    # One-click unsubscribe, and one Message-ID for the week whatever the attempt.
    headers = message.extra_headers
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/digest/unsubscribe/")
    assert headers["Message-ID"] == f"<digest.2026-W10.{scene.alice.pk}@127.0.0.1>"
    assert DigestDelivery.objects.get().tune_count == 5


def test_nothing_is_sent_to_an_owner_with_nothing_to_act_on_or_who_opted_out(scene):
    assert digest_services.deliver_digest(scene.bob.pk, *WEEK) == "nothing to send"
    assert digest_services.deliver_digest(scene.carol.pk, *WEEK) == "opted out"
    assert mail.outbox == []
    assert not DigestDelivery.objects.exists()
    assert digest_selectors.digest_recipients(*WEEK) == sorted([scene.alice.pk, scene.lead.pk])


def test_a_portfolio_lead_gets_the_whole_portfolio(scene):
    assert digest_services.deliver_digest(scene.lead.pk, *WEEK) == "sent"
    message = only_message_to("lead@example.com")
    # Alice's five and Carol's one (Carol opted out of her own digest, not out of the portfolio).
    assert message.subject == "[Tunefolio] 5 fine-tunes need action, 1 on watch — 2026-W10"
    assert "whole portfolio" in message.body
    assert f"{scene.c['retire'].name} (Team" in message.body
    assert "owner carol@example.com" in message.body
    assert "Tunes evaluated: 9" in message.body  # every tune that is not retired


def test_at_most_one_digest_per_recipient_and_week(scene):
    assert digest_services.deliver_digest(scene.alice.pk, *WEEK) == "sent"
    assert digest_services.deliver_digest(scene.alice.pk, *WEEK) == "already handled"
    assert len(mail.outbox) == 1
    delivery = DigestDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.email) == ("sent", 1, "alice@example.com")
    # The next week is another delivery.
    assert digest_services.deliver_digest(scene.alice.pk, 2026, 11) == "sent"
    assert len(mail.outbox) == 2


def test_the_claim_is_a_conditional_update_only_one_caller_wins(scene):
    delivery = DigestDelivery.objects.create(recipient=scene.alice, iso_year=2026, iso_week=10)
    fields = {"email": "alice@example.com", "subject": "s", "tune_count": 1}
    assert digest_services.claim(delivery_id=delivery.pk, **fields) is True
    assert digest_services.claim(delivery_id=delivery.pk, **fields) is False
    # Its worker died mid-send: the row stays "sending" and nothing goes out again on its own.
    assert digest_services.deliver_digest(scene.alice.pk, *WEEK) == "already handled"
    assert mail.outbox == []


def test_the_weekly_task_fans_out_one_task_per_recipient_and_a_rerun_sends_nothing(
    scene, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_weekly_digests.delay("2026-W10").get() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "lead@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_weekly_digests.delay("2026-W10").get() == 0
    assert len(mail.outbox) == 2


# --- Through a real SMTP server -------------------------------------------------------------------


@pytest.fixture
def via_smtp(settings, smtp):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp.host
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_TIMEOUT = 5
    return smtp


def test_a_permanent_refusal_is_recorded_and_the_others_are_still_served(
    scene, via_smtp, django_capture_on_commit_callbacks
):
    via_smtp.mailbox.refuse.add("alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_weekly_digests.delay("2026-W10")
    assert via_smtp.mailbox.refused == ["alice@example.com"]
    assert via_smtp.mailbox.to("alice@example.com") == []
    [lead_message] = via_smtp.mailbox.to("lead@example.com")
    assert lead_message["Subject"].strip().startswith("[Tunefolio] 5 fine-tunes need action")
    failed = DigestDelivery.objects.get(recipient=scene.alice)
    assert failed.status == "failed"
    assert "550" in failed.error and "alice@example.com" in failed.error
    assert DigestDelivery.objects.get(recipient=scene.lead).status == "sent"
    # Failed is final for the week: a rerun does not try again.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_weekly_digests.delay("2026-W10").get() == 0
    assert via_smtp.mailbox.count() == 1


def test_a_deferred_message_is_retried_and_delivered_once(scene, via_smtp):
    via_smtp.mailbox.defer_once.add("alice@example.com")
    kwargs = {"recipient_id": scene.alice.pk, "iso_year": 2026, "iso_week": 10}
    result = tasks.send_digest.apply(kwargs=kwargs, throw=False)  # eager: retries inline
    assert result.get() == "sent"
    assert via_smtp.mailbox.deferred == ["alice@example.com"]
    assert len(via_smtp.mailbox.to("alice@example.com")) == 1
    delivery = DigestDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, "")


def test_a_deferral_on_the_last_attempt_is_recorded_as_failed(scene, via_smtp):
    via_smtp.mailbox.defer_once.add("alice@example.com")
    outcome = digest_services.deliver_digest(scene.alice.pk, *WEEK, final_attempt=True)
    assert outcome == "failed"
    delivery = DigestDelivery.objects.get()
    assert delivery.status == "failed"
    assert "451" in delivery.error and "gave up" in delivery.error


def test_an_unreachable_mail_server_leaves_the_delivery_pending_for_a_retry(scene, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(digest_services.TransientDeliveryError):
        digest_services.deliver_digest(scene.alice.pk, *WEEK, final_attempt=False)
    delivery = DigestDelivery.objects.get()
    assert delivery.status == "pending"
    assert "unreachable" in delivery.error
    assert delivery.attempts == 1


def test_the_message_arrives_as_multipart_with_the_unsubscribe_header(scene, via_smtp):
    digest_services.deliver_digest(scene.alice.pk, *WEEK)
    [message] = via_smtp.mailbox.to("alice@example.com")
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert "NEEDS ACTION (4)" in parts["text/plain"]
    assert "<h2" in parts["text/html"] and "Needs action (4)" in parts["text/html"]
    # (long headers are folded: a client unfolds them to the value plus leading white space)
    assert (
        message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/digest/unsubscribe/")
    )
    assert message["List-Unsubscribe-Post"].strip() == "List-Unsubscribe=One-Click"


# --- Unsubscribing --------------------------------------------------------------------------------


def test_one_click_unsubscribe_from_the_header_turns_the_digest_off(scene):
    digest_services.deliver_digest(scene.alice.pk, *WEEK)
    url = only_message_to("alice@example.com").extra_headers["List-Unsubscribe"].strip("<>")
    path = urlparse(url).path
    client = Client(enforce_csrf_checks=True)  # mail clients send no CSRF token

    page = client.get(path)  # a link scanner opening it changes nothing
    assert page.status_code == 200 and b"alice@example.com" in page.content
    assert digest_selectors.wants_digest(scene.alice)

    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"will no longer get" in done.content
    assert DigestPreference.objects.get(user=scene.alice).weekly_digest is False
    assert digest_services.deliver_digest(scene.alice.pk, 2026, 11) == "opted out"
    assert scene.alice.pk not in digest_selectors.digest_recipients(2026, 11)


def test_a_tampered_unsubscribe_link_is_refused(scene):
    token = digest_services.unsubscribe_token(scene.alice.pk)
    forged = token.replace(f"{scene.alice.pk}:", f"{scene.bob.pk}:")
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("digest-unsubscribe", args=[forged])).status_code == 404
    assert client.post(reverse("digest-unsubscribe", args=["nonsense"])).status_code == 404
    assert not DigestPreference.objects.filter(weekly_digest=False).exclude(user=scene.carol)


# --- The command ----------------------------------------------------------------------------------


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("send_digest", *args, stdout=out)
    return out.getvalue()


def test_send_digest_dry_run_prints_what_would_go_to_whom_and_sends_nothing(scene):
    out = run("--week", "2026-W10", "--dry-run")
    assert "to alice@example.com (own tunes): [Tunefolio] 4 fine-tunes need action" in out
    assert "to lead@example.com (whole portfolio): [Tunefolio] 5 fine-tunes need action" in out
    assert "  - Retrain tune: Retrain — Base model" in out
    assert "bob@example.com" not in out and "carol@example.com" not in out
    assert "2 digest(s) would be sent (dry run, none sent)" in out
    assert mail.outbox == []
    assert not DigestDelivery.objects.exists()


def test_send_digest_sends_once_per_week(scene):
    out = run("--week", "2026-W10")
    assert "alice@example.com: sent" in out and "lead@example.com: sent" in out
    assert len(mail.outbox) == 2
    again = run("--week", "2026-W10")
    assert "skip alice@example.com: already sent for 2026-W10" in again
    assert "nobody to send to" in again
    assert len(mail.outbox) == 2


def test_send_digest_refuses_a_malformed_week(db):
    with pytest.raises(CommandError, match="not an ISO week"):
        run("--week", "2026-10")
    with pytest.raises(CommandError):
        run("--week", "2025-W53")  # 2025 has 52 ISO weeks


@pytest.mark.parametrize(
    ("text", "week"),
    [("2026-W10", (2026, 10)), ("2020-w53", (2020, 53)), (" 2027-W01 ", (2027, 1))],
)
def test_parse_week(text, week):
    assert digest_services.parse_week(text) == week


# --- The admin ------------------------------------------------------------------------------------


def test_the_admin_shows_a_failed_delivery_with_its_error_and_can_release_it(scene, staff_client):
    failed = DigestDelivery.objects.create(
        recipient=scene.alice,
        iso_year=2026,
        iso_week=10,
        status="failed",
        email="alice@example.com",
        error="recipient refused: alice@example.com: 550 5.1.1 No such mailbox here",
    )
    page = staff_client.get(reverse("admin:tracker_digestdelivery_changelist"))
    assert page.status_code == 200
    assert b"Failed" in page.content and b"550 5.1.1 No such mailbox here" in page.content
    failed_only = staff_client.get(
        reverse("admin:tracker_digestdelivery_changelist") + "?status__exact=failed"
    )
    assert b"alice@example.com" in failed_only.content

    response = staff_client.post(
        reverse("admin:tracker_digestdelivery_changelist"),
        {"action": "allow_resend", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert any("1 delivery will go out" in str(m) for m in get_messages(response.wsgi_request))
    failed.refresh_from_db()
    assert failed.status == "pending"
    assert digest_services.deliver_digest(scene.alice.pk, *WEEK) == "sent"
    assert len(mail.outbox) == 1
