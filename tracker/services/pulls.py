"""Nightly pulls from the providers' usage APIs: fetch every page of the period, then import it
like a file of the same format (same source name, so a re-pulled day replaces itself). Each run
is recorded as a :class:`~tracker.models.UsagePull`, failed or not.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from tracker.importers.clients import FETCHERS, Http, PullFailed
from tracker.models import UsagePull
from tracker.services.imports import ImportRefused, usage_import


class SourceNotConfigured(Exception):
    pass


def pull_period(*, today: date, since: date | None = None) -> tuple[date, date]:
    """Whole days only: up to yesterday, from ``since`` or the last ``USAGE_PULL_DAYS`` days."""
    end = today - timedelta(days=1)
    start = since or today - timedelta(days=settings.USAGE_PULL_DAYS)
    return min(start, end), end


def usage_pull(
    *, source: str, since: date | None = None, today: date | None = None, http: Http | None = None
) -> UsagePull:
    config = settings.USAGE_PULL_SOURCES.get(source)
    if source not in FETCHERS:
        raise SourceNotConfigured(f"No pull for {source!r}; one of: {', '.join(FETCHERS)}.")
    if config is None:
        raise SourceNotConfigured(f"{source} has no credentials set (see the README).")
    today = today or timezone.localdate()
    start, end = pull_period(today=today, since=since)
    http = http or Http(
        timeout=settings.USAGE_PULL_TIMEOUT,
        retries=settings.USAGE_PULL_RETRIES,
        backoff=settings.USAGE_PULL_BACKOFF,
    )
    pull = UsagePull.objects.create(
        source=source, period_start=start, period_end=end, started_at=timezone.now()
    )
    try:
        pages = FETCHERS[source](config, start, end, http)
        report = usage_import(format=source, payload=pages, today=today)
    except PullFailed as exc:
        pull.error = str(exc)
    except ImportRefused as exc:
        details = "; ".join(f"{e['field'] or 'payload'}: {e['message']}" for e in exc.errors[:20])
        pull.error = f"{exc} {details}"
    else:
        pull.rows = report.rows_written
        pull.unmatched = report.unmatched
        pull.warnings = report.warnings
    pull.finished_at = timezone.now()
    pull.save()
    return pull
