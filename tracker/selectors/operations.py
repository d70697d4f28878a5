"""What on-call needs to know: is this process ready to serve, and the portfolio's figures for
the metrics endpoint. Every figure is read from the database (or the broker) when asked, so
it is the same whichever web or worker process answers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone
from kombu import Connection

from tracker.models import DigestDelivery, FineTune, Flag, NightlyRun, OperationsCounter

from .portfolio import tunes_with_latest_verdict
from .summary import UNEVALUATED, portfolio_summary


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "state": "ok" if self.ok else "failing",
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


def _timed(name: str, probe) -> Check:
    started = time.monotonic()
    try:
        ok, detail = probe()
    except Exception as exc:  # any failure of a dependency is "not ready", never a 500
        ok, detail = False, f"{exc.__class__.__name__}: {exc}"
    return Check(name, ok, detail, time.monotonic() - started)


def _database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, f"{connection.vendor} answers"


def _broker() -> tuple[bool, str]:
    timeout = settings.TUNEFOLIO_READINESS_BROKER_TIMEOUT
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "socket_timeout": timeout}
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options
    ) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        client: Any = getattr(broker.default_channel, "client", None)
        if hasattr(client, "ping"):  # Redis: the connection pool connects lazily
            client.ping()
        return True, f"{broker.transport_cls} answers"


def last_completed_nightly_run() -> datetime | None:
    return NightlyRun.objects.aggregate(last=Max("completed_at"))["last"]


def _nightly_run(now: datetime) -> tuple[bool, str]:
    last = last_completed_nightly_run()
    if last is None:
        return True, "no nightly run completed yet"
    limit = timedelta(hours=settings.TUNEFOLIO_READINESS_MAX_NIGHTLY_AGE_HOURS)
    age = now - last
    hours = age.total_seconds() / 3600
    if age > limit:
        return False, f"last completed {last.isoformat()}, {hours:.1f} h ago (limit {limit})"
    return True, f"last completed {last.isoformat()}, {hours:.1f} h ago"


def readiness(now: datetime | None = None) -> tuple[bool, dict[str, dict]]:
    """Each dependency's state: the database, the broker (bounded by a short timeout) and the
    age of the last completed nightly run."""
    now = now or timezone.now()
    checks = [_timed("database", _database), _timed("broker", _broker)]
    database_ok = checks[0].ok
    checks.append(
        _timed("nightly_run", lambda: _nightly_run(now))
        if database_ok
        else Check("nightly_run", False, "unknown: the database does not answer", 0.0)
    )
    return all(c.ok for c in checks), {c.name: c.as_dict() for c in checks}


# --- Metrics --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortfolioFigures:
    tunes: dict[tuple[str, str], int]  # (status, latest verdict) → count
    open_flags: dict[str, int]
    capital_at_risk_usd: float
    monthly_net_saving_usd: float
    last_reevaluation: datetime | None
    usage_rows_ingested: dict[str, int]
    digest_deliveries: dict[str, int]


def portfolio_figures() -> PortfolioFigures:
    """The figures behind the ``tunefolio_*`` metrics, a fixed number of queries."""
    tunes = {
        (status, verdict or UNEVALUATED): n
        for status, verdict, n in tunes_with_latest_verdict()
        .order_by()
        .values_list("status", "latest_verdict")
        .annotate(n=Count("pk"))
    }
    for status in FineTune.Status.values:
        tunes.setdefault((status, UNEVALUATED), 0)
    open_flags = {kind: 0 for kind in Flag.Kind.values} | dict(
        Flag.objects.filter(resolved_on__isnull=True)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    summary = portfolio_summary(None, timezone.localdate())
    digests = {status: 0 for status in DigestDelivery.Status.values} | dict(
        DigestDelivery.objects.order_by().values_list("status").annotate(n=Count("pk"))
    )
    ingested = dict(
        OperationsCounter.objects.filter(name=OperationsCounter.USAGE_ROWS_INGESTED).values_list(
            "label", "value"
        )
    )
    return PortfolioFigures(
        tunes=tunes,
        open_flags=open_flags,
        capital_at_risk_usd=float(summary["unrecovered_training_cost_of_flagged_usd"]),
        monthly_net_saving_usd=float(summary["realised_monthly_saving_usd"]),
        last_reevaluation=last_completed_nightly_run(),
        usage_rows_ingested=ingested,
        digest_deliveries=digests,
    )
