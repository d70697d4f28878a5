"""The weekly digest: at most one per recipient and ISO week, whatever runs how often.

How a digest goes out (``deliver_digest``):

1. The recipient's digest is read (``selectors.digest``) and rendered. Nothing listed: nothing
   is sent and nothing is recorded.
2. The delivery row for (recipient, ISO year, ISO week) is fetched or created; a unique
   constraint makes it one row however many workers race for it.
3. The row is **claimed** with a conditional update, ``pending → sending``; only the worker whose
   update changed a row sends. SQLite has no ``SELECT ... FOR UPDATE``; the single UPDATE works
   on both databases.
4. The message goes to the mail server. Accepted: ``sent``. Refused for good (5xx): ``failed``
   with the server's answer, shown in the admin. Deferred (4xx, server unreachable): the claim
   is released (``pending``) with the error, and the task retries with backoff; the last
   attempt records ``failed``. A connection lost while the message was in flight may or may not
   have delivered it: ``failed``, never retried.

A worker that dies between claim and answer leaves the row ``sending``: it is not sent again
(a person can release it in the admin after checking the mail log). That is the price of
"at most once".
"""

from __future__ import annotations

import logging
import smtplib
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from urllib.parse import urlparse

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tracker.models import DigestDelivery, DigestPreference
from tracker.publish import publish_after_commit
from tracker.selectors import digest as digest_selectors

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "tracker.digest.unsubscribe"
#: A claim older than this with no answer is stuck (its worker died); only a person releases it.
STUCK_AFTER = timedelta(hours=1)
Status = DigestDelivery.Status


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    NOTHING_TO_SEND = "nothing to send"
    OPTED_OUT = "opted out"
    NO_ADDRESS = "no address"
    ALREADY_HANDLED = "already handled"


class DeliveryError(Exception):
    """The mail server did not take the message."""


class PermanentDeliveryError(DeliveryError):
    """Refused for good (5xx): retrying will not help."""


class TransientDeliveryError(DeliveryError):
    """Deferred (4xx) or unreachable, and certainly not delivered: safe to retry."""


class UncertainDeliveryError(DeliveryError):
    """The connection broke while the message was in flight: it may have been delivered."""


# --- ISO weeks ------------------------------------------------------------------------------------


def parse_week(text: str) -> tuple[int, int]:
    """``"2026-W10"`` → ``(2026, 10)``; raises ValueError for anything else."""
    year, sep, week = text.strip().upper().partition("-W")
    if not sep or not year.isdigit() or not week.isdigit():
        raise ValueError(f"{text!r} is not an ISO week like 2026-W10")
    date.fromisocalendar(int(year), int(week), 1)  # raises for week 53 in a 52-week year
    return int(year), int(week)


def current_week(today: date | None = None) -> tuple[int, int]:
    iso = (today or timezone.localdate()).isocalendar()
    return iso.year, iso.week


def week_label(iso_year: int, iso_week: int) -> str:
    return f"{iso_year}-W{iso_week:02d}"


# --- Unsubscribing --------------------------------------------------------------------------------


def unsubscribe_token(user_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(user_id))


def unsubscribe_url(user_id: int) -> str:
    path = reverse("digest-unsubscribe", args=[unsubscribe_token(user_id)])
    return settings.SITE_URL + path


def user_id_from_token(token: str) -> int | None:
    """The user id an unsubscribe token was signed for, or None when it was tampered with."""
    try:
        return int(signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def set_weekly_digest(*, user_id: int, enabled: bool) -> DigestPreference:
    preference, _ = DigestPreference.objects.update_or_create(
        user_id=user_id, defaults={"weekly_digest": enabled}
    )
    return preference


# --- Rendering ------------------------------------------------------------------------------------


def subject_for(digest: digest_selectors.Digest, label: str) -> str:
    action, watch = len(digest.action_items), len(digest.watch_items)
    if action:
        head = f"{action} fine-tunes need action" if action > 1 else "1 fine-tune needs action"
    else:
        head = "No fine-tune needs action"
    tail = f", {watch} on watch" if watch else ""
    return f"[Tunefolio] {head}{tail} — {label}"


def build_message(
    digest: digest_selectors.Digest, iso_year: int, iso_week: int
) -> EmailMultiAlternatives:
    """The digest as a multipart email (text and HTML from templates) with a one-click
    List-Unsubscribe header and a Message-ID that is the same for every attempt of the week."""
    label = week_label(iso_year, iso_week)
    context = {
        "digest": digest,
        "week": label,
        "subject": subject_for(digest, label),
        "site_url": settings.SITE_URL,
        "unsubscribe_url": unsubscribe_url(digest.recipient_id),
        "flags_url": settings.SITE_URL + reverse("admin:tracker_flag_changelist") + "?state=open",
    }
    text = render_to_string("tracker/email/digest.txt", context)
    html = render_to_string("tracker/email/digest.html", context)
    domain = urlparse(settings.SITE_URL).hostname or "tunefolio.localhost"
    message = EmailMultiAlternatives(
        subject=context["subject"],
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.email],
        headers={
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Message-ID": f"<digest.{label}.{digest.recipient_id}@{domain}>",
            "X-Tunefolio-Week": label,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# --- Claiming and sending -------------------------------------------------------------------------


def claim(*, delivery_id: int, email: str, subject: str, tune_count: int) -> bool:
    """Take the delivery for sending: True for exactly one caller while it is pending."""
    return (
        DigestDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
            status=Status.SENDING,
            claimed_at=timezone.now(),
            attempts=F("attempts") + 1,
            email=email,
            subject=subject[:255],
            tune_count=tune_count,
        )
        == 1
    )


def _finish(delivery_id: int, status: str, **fields) -> None:
    DigestDelivery.objects.filter(pk=delivery_id, status=Status.SENDING).update(
        status=status, **fields
    )


def _by_code(code: int, exc: Exception) -> DeliveryError:
    cls = PermanentDeliveryError if code >= 500 else TransientDeliveryError
    return cls(f"{exc.__class__.__name__}: {exc}")


def _text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _refusals(exc: smtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(
        f"{address}: {code} {_text(message)}" for address, (code, message) in exc.recipients.items()
    )


def send(message: EmailMultiAlternatives) -> None:
    """Hand the message to the configured backend, sorting failures into permanent,
    transient (not delivered) and uncertain (maybe delivered)."""
    connection = get_connection(fail_silently=False)
    try:
        try:
            connection.open()
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"mail server unreachable: {exc}") from exc
        try:
            connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            cls = (
                PermanentDeliveryError
                if codes and all(c >= 500 for c in codes)
                else TransientDeliveryError
            )
            raise cls(f"recipient refused: {_refusals(exc)}") from exc
        except smtplib.SMTPResponseException as exc:  # sender or message refused: not accepted
            raise _by_code(exc.smtp_code, exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise UncertainDeliveryError(
                f"connection lost while sending ({exc}); the message may have been delivered, "
                "so it is not retried"
            ) from exc
    finally:
        with suppress(Exception):
            connection.close()


@dataclass(frozen=True)
class Prepared:
    digest: digest_selectors.Digest
    message: EmailMultiAlternatives


def prepare(*, user, iso_year: int, iso_week: int) -> Prepared | None:
    """The digest and its message for ``user``, or None when there is nothing to act on."""
    digest = digest_selectors.digest_for(user)
    if not digest.has_news:
        return None
    return Prepared(digest, build_message(digest, iso_year, iso_week))


def deliver_digest(
    recipient_id: int, iso_year: int, iso_week: int, *, final_attempt: bool = True
) -> Outcome:
    """Send ``recipient_id`` their digest for the week unless it was already handled.

    Raises :class:`TransientDeliveryError` (after releasing the claim) when the mail server
    deferred the message and this is not the ``final_attempt``: the caller retries later.
    """
    user = digest_selectors.digest_recipient(recipient_id)
    if user is None or not user.email:
        return Outcome.NO_ADDRESS
    if not digest_selectors.wants_digest(user):
        return Outcome.OPTED_OUT
    prepared = prepare(user=user, iso_year=iso_year, iso_week=iso_week)
    if prepared is None:
        return Outcome.NOTHING_TO_SEND
    delivery, _ = DigestDelivery.objects.get_or_create(
        recipient_id=user.pk, iso_year=iso_year, iso_week=iso_week
    )
    message = prepared.message
    if not claim(
        delivery_id=delivery.pk,
        email=user.email,
        subject=str(message.subject),
        tune_count=len(prepared.digest.items),
    ):
        return Outcome.ALREADY_HANDLED
    try:
        send(message)
    except TransientDeliveryError as exc:
        if final_attempt:
            _finish(delivery.pk, Status.FAILED, error=f"{exc} (gave up, last attempt)")
            logger.warning("Digest %s for user %s failed: %s", delivery.pk, user.pk, exc)
            return Outcome.FAILED
        _finish(delivery.pk, Status.PENDING, error=str(exc))
        raise
    except DeliveryError as exc:
        _finish(delivery.pk, Status.FAILED, error=str(exc))
        logger.warning("Digest %s for user %s failed: %s", delivery.pk, user.pk, exc)
        return Outcome.FAILED
    except Exception as exc:  # a bug or a time limit mid-send: maybe delivered, never resent
        _finish(delivery.pk, Status.FAILED, error=f"{exc.__class__.__name__}: {exc}")
        raise
    _finish(delivery.pk, Status.SENT, sent_at=timezone.now(), error="")
    logger.info("Digest %s sent to %s", delivery.pk, user.email)
    return Outcome.SENT


def enqueue_digests(*, recipient_ids: list[int], iso_year: int, iso_week: int) -> int:
    """Queue one ``send_digest`` task per recipient once the transaction commits."""
    calls = [
        {"recipient_id": recipient_id, "iso_year": iso_year, "iso_week": iso_week}
        for recipient_id in sorted({int(i) for i in recipient_ids})
    ]
    return publish_after_commit("send_digest", calls)


def release_deliveries(*, delivery_ids: list[int]) -> int:
    """Let failed deliveries, and claims stuck in ``sending`` for over an hour, go out again on
    the next run for their week. For a person who checked the mail log: it may send a second
    copy of a message that did arrive."""
    stuck = Q(status=Status.SENDING, claimed_at__lt=timezone.now() - STUCK_AFTER)
    return (
        DigestDelivery.objects.filter(pk__in=delivery_ids)
        .filter(Q(status=Status.FAILED) | stuck)
        .update(status=Status.PENDING)
    )
