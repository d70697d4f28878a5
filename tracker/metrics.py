"""Prometheus metrics: the usual request and database metrics of each process, and the
portfolio's figures read from the database at scrape time.

Why this split: request and query metrics live in the process that served them, so under
gunicorn they use the client library's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set up
by ``gunicorn.conf.py``) and every worker's samples are summed at scrape time. The
``tunefolio_*`` figures are facts about the portfolio that any web or Celery worker may have
changed; reading them from the database when scraped makes them right whichever process
answers, with nothing to aggregate. The one counter among them (usage rows ingested) is kept
in the database for the same reason.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from django.conf import settings
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from tracker.selectors import operations

REQUESTS = Counter("http_requests", "HTTP requests answered.", ["method", "view", "status"])
REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "view"]
)
QUERIES = Counter("db_queries", "Database queries run.", ["alias", "vendor"])
QUERY_ERRORS = Counter("db_query_errors", "Database queries that raised.", ["alias", "vendor"])
QUERY_SECONDS = Histogram(
    "db_query_duration_seconds", "Time a database query took.", ["alias", "vendor"]
)


class MetricsMiddleware:
    """Counts and times every request, labelled by the URL pattern's name (never the raw path,
    which would make a series per tune)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "<unmatched>"
        REQUEST_SECONDS.labels(request.method, view).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


@receiver(connection_created)
def _time_queries(sender, connection, **kwargs) -> None:
    """Every database connection this process opens counts and times its queries."""

    def wrapper(execute, sql, params, many, context):
        labels = (connection.alias, connection.vendor)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception:
            QUERY_ERRORS.labels(*labels).inc()
            raise
        finally:
            QUERIES.labels(*labels).inc()
            QUERY_SECONDS.labels(*labels).observe(time.perf_counter() - started)

    connection.execute_wrappers.append(wrapper)


class PortfolioCollector:
    """The ``tunefolio_*`` metrics, read from the database on every scrape."""

    def collect(self):
        figures = operations.portfolio_figures()
        tunes = GaugeMetricFamily(
            "tunefolio_tunes", "Tunes by status and latest verdict.", labels=["status", "verdict"]
        )
        for (status, verdict), count in sorted(figures.tunes.items()):
            tunes.add_metric([status, verdict], count)
        yield tunes
        flags = GaugeMetricFamily("tunefolio_open_flags", "Open flags by kind.", labels=["kind"])
        for kind, count in sorted(figures.open_flags.items()):
            flags.add_metric([kind], count)
        yield flags
        yield GaugeMetricFamily(
            "tunefolio_capital_at_risk_usd",
            "Training cost not yet paid back on flagged tunes.",
            value=figures.capital_at_risk_usd,
        )
        yield GaugeMetricFamily(
            "tunefolio_monthly_net_saving_usd",
            "What the deployed tunes save a month, net of their fixed costs.",
            value=figures.monthly_net_saving_usd,
        )
        last = figures.last_reevaluation
        yield GaugeMetricFamily(
            "tunefolio_last_reevaluation_timestamp_seconds",
            "When the last nightly re-evaluation completed (Unix time; 0 before the first).",
            value=last.timestamp() if last else 0.0,
        )
        ingested = CounterMetricFamily(
            "tunefolio_usage_rows_ingested",
            "Usage rows accepted, by source.",
            labels=["source"],
        )
        for source, count in sorted(figures.usage_rows_ingested.items()):
            ingested.add_metric([source], count)
        yield ingested
        digests = GaugeMetricFamily(
            "tunefolio_digest_deliveries", "Weekly digest deliveries by status.", labels=["status"]
        )
        for status, count in sorted(figures.digest_deliveries.items()):
            digests.add_metric([status], count)
        yield digests


def exposition() -> bytes:
    """The text exposition: this process's (or, under gunicorn, every worker's) request and
    query metrics, then the portfolio's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process = CollectorRegistry()
        MultiProcessCollector(process)
    else:
        process = REGISTRY
    portfolio = CollectorRegistry()
    portfolio.register(PortfolioCollector())
    return generate_latest(process) + generate_latest(portfolio)


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def scrape_allowed(request: HttpRequest) -> bool:
    """With a token configured, only ``Authorization: Bearer <token>``; without one, only
    requests from loopback (a sidecar or an SSH tunnel), so nothing is open by accident."""
    token = settings.TUNEFOLIO_METRICS_TOKEN
    if not token:
        return _loopback(request.META.get("REMOTE_ADDR"))
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def metrics_response() -> HttpResponse:
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
