"""Celery tasks: thin entry points that take ids and ISO dates and call services and selectors.

Every task is idempotent (running it twice, or in two workers at once, leaves the same rows), is
acknowledged late and rejected back to the queue when its worker dies (Redis hands it to another
worker after the visibility timeout), retries transient database errors with exponential
backoff, and runs under the global time limits, which settings keep below the visibility
timeout. The day a task works on is ``timezone.localdate()`` (UTC) when it runs, unless it is
given one.

Schedule (``CELERY_BEAT_SCHEDULE`` in settings): ``reevaluate_portfolio`` nightly,
``send_weekly_digests`` every Monday morning, ``purge_idempotency_records`` hourly.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from tracker import selectors
from tracker.selectors import digest as digest_selectors
from tracker.services import digest as digest_services
from tracker.services import idempotency, jobs

#: Errors that go away on their own: a locked SQLite file, a dropped or deadlocked connection.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
RELIABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_DB_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


def _day(as_of: str | None) -> date:
    return date.fromisoformat(as_of) if as_of else timezone.localdate()


@shared_task(**RELIABLE)
def reevaluate_portfolio(as_of: str | None = None) -> int:
    """The nightly run: evaluate every tune whose latest evaluation is older than the day.

    Decided from the database, not from the schedule: a night missed while the broker or beat
    was down heals on the next tick, and a second run the same day queues nothing. Fans out
    ``evaluate_tunes`` in chunks of ``TUNEFOLIO_EVALUATION_CHUNK_SIZE``; returns how many.
    """
    day = _day(as_of)
    due = selectors.tunes_due_for_evaluation(day)
    return jobs.enqueue_evaluation(due, day, only_due=True)


@shared_task(**RELIABLE)
def evaluate_tunes(tune_ids: list[int], as_of: str | None = None, only_due: bool = False) -> int:
    """Evaluate one chunk of tunes (one evaluation per tune and day; a rerun replaces it)."""
    return jobs.evaluate_tunes(tune_ids, _day(as_of), only_due=only_due)


@shared_task(**RELIABLE)
def send_weekly_digests(week: str | None = None) -> int:
    """Queue one ``send_digest`` per recipient for the ISO week (``"2026-W10"``; the current
    week when omitted). Recipients already handled this week are left out; the claim in
    ``send_digest`` is what makes a second or concurrent run harmless."""
    iso_year, iso_week = (
        digest_services.parse_week(week) if week else digest_services.current_week()
    )
    recipients = digest_selectors.digest_recipients(iso_year, iso_week)
    return digest_services.enqueue_digests(recipients, iso_year, iso_week)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(*TRANSIENT_DB_ERRORS, digest_services.TransientDeliveryError),
    retry_backoff=settings.TUNEFOLIO_DIGEST_RETRY_BACKOFF,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def send_digest(self, recipient_id: int, iso_year: int, iso_week: int) -> str:
    """Send one recipient's digest for the week, at most once (see services.digest)."""
    final = self.request.retries >= self.max_retries
    return str(
        digest_services.deliver_digest(recipient_id, iso_year, iso_week, final_attempt=final)
    )


@shared_task(**RELIABLE)
def purge_idempotency_records() -> int:
    """Hourly: forget the ``Idempotency-Key`` responses no retry can use any more."""
    return idempotency.purge_expired()


@shared_task(**RELIABLE)
def pull_usage(source: str) -> int:
    """Nightly, before the re-evaluation: re-pull the last days from one provider (each run is
    recorded, failed or not). Returns the rows written."""
    from tracker.services.pulls import usage_pull

    return usage_pull(source=source).rows


@shared_task(**RELIABLE)
def sync_catalog(location: str) -> int:
    """Weekly: fill shutdown dates and prices from the catalog file or URL. Returns changes."""
    from tracker.services.catalog_sync import catalog_sync

    return len(catalog_sync(location=location).changes)
