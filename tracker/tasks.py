"""Celery tasks: thin entry points that take ids and ISO dates and call services and selectors.

Every task is idempotent (running it twice, or in two workers at once, leaves the same rows), is
acknowledged late and rejected back to the queue when its worker dies (Redis hands it to another
worker after the visibility timeout), retries transient database errors with exponential
backoff, and runs under the global time limits, which settings keep below the visibility
timeout. The day a task works on is ``timezone.localdate()`` (UTC) when it runs, unless it is
given one.

Schedule (``CELERY_BEAT_SCHEDULE`` in settings): ``reevaluate_portfolio`` nightly,
``catch_up_evaluations`` hourly, ``send_weekly_digests`` every Monday morning,
``purge_idempotency_records`` hourly, ``prune_evaluations`` weekly, ``send_shutdown_notices``
daily, ``requeue_webhook_deliveries`` every ten minutes. ``refresh_savings`` follows each
completed nightly run.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from tracker.selectors import digest as digest_selectors
from tracker.services import (
    catalog_sync,
    idempotency,
    jobs,
    pulls,
    retention,
    savings,
    shutdowns,
    webhooks,
)
from tracker.services import digest as digest_services

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
    return jobs.start_nightly_run(as_of=_day(as_of))


@shared_task(**RELIABLE)
def catch_up_evaluations(as_of: str | None = None) -> int:
    """Hourly: once the day's nightly run is due, queue the tunes it has not evaluated yet (the
    same database-driven query), so a run whose worker was killed heals within the hour.
    Before the nightly time it queues nothing: the nightly run stays the one that evaluates."""
    day = _day(as_of)
    if timezone.now() < jobs.nightly_run_at(day):
        return 0
    return jobs.start_nightly_run(as_of=day)


@shared_task(**RELIABLE)
def evaluate_tunes(tune_ids: list[int], as_of: str | None = None, only_due: bool = False) -> int:
    """Evaluate one chunk of tunes (one evaluation per tune and day; a rerun replaces it)."""
    return jobs.evaluate_tunes(tune_ids=tune_ids, as_of=_day(as_of), only_due=only_due)


@shared_task(**RELIABLE)
def refresh_savings(tune_ids: list[int], as_of: str | None = None) -> int:
    """Store one chunk of tunes' realised net saving per month (queued when a nightly run
    completes); returns the rows written."""
    return savings.refresh_savings(tune_ids=tune_ids, as_of=_day(as_of)).rows


@shared_task(**RELIABLE)
def send_weekly_digests(week: str | None = None) -> int:
    """Queue one ``send_digest`` per recipient for the ISO week (``"2026-W10"``; the current
    week when omitted). Recipients already handled this week are left out; the claim in
    ``send_digest`` is what makes a second or concurrent run harmless."""
    iso_year, iso_week = (
        digest_services.parse_week(week) if week else digest_services.current_week()
    )
    recipients = digest_selectors.digest_recipients(iso_year, iso_week)
    return digest_services.enqueue_digests(
        recipient_ids=recipients, iso_year=iso_year, iso_week=iso_week
    )


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
def prune_evaluations() -> int:
    """Weekly: thin old evaluation history (see services.retention)."""
    return retention.prune_evaluations()


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(*TRANSIENT_DB_ERRORS, webhooks.TransientWebhookError),
    retry_backoff=settings.TUNEFOLIO_WEBHOOK_RETRY_BACKOFF,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=settings.TUNEFOLIO_WEBHOOK_MAX_RETRIES,
)
def deliver_webhook(self, delivery_id: int) -> str:
    """Send one webhook outbox row, at most once (see services.webhooks)."""
    final = self.request.retries >= self.max_retries
    return str(webhooks.deliver_webhook(delivery_id=delivery_id, final_attempt=final))


@shared_task(**RELIABLE)
def send_shutdown_notices(as_of: str | None = None) -> int:
    """Daily: record the 90/60/30-day retrain-by notices due and send them to the webhooks."""
    return shutdowns.send_shutdown_notices(today=_day(as_of))


@shared_task(**RELIABLE)
def requeue_webhook_deliveries() -> int:
    """Every ten minutes: queue webhook rows left pending while the broker was down."""
    return webhooks.requeue_pending()


@shared_task(**RELIABLE)
def pull_usage(source: str) -> int:
    """Nightly, before the re-evaluation: re-pull the last days from one provider (each run is
    recorded, failed or not). Returns the rows written."""
    return pulls.usage_pull(source=source).rows


@shared_task(**RELIABLE)
def sync_catalog(location: str) -> int:
    """Weekly: fill shutdown dates and prices from the catalog file or URL. Returns changes."""
    return len(catalog_sync.catalog_sync(location=location).changes)
