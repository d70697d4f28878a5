"""/metrics: Prometheus text format, read back with the client library's own parser."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import time_machine
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import UserFactory
from tests.jobs import portfolio
from tracker.models import DigestDelivery, Flag
from tracker.selectors import portfolio_summary
from tracker.selectors.summary import UNEVALUATED
from tracker.services import ingest_usage

from .conftest import BASE_DIR, database_url, free_port, wait_until

DAY = date(2026, 3, 2)
URL = "/metrics"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}, parsed by prometheus_client."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **headers) -> dict:
    response = client.get(URL, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


@pytest.mark.django_db
def test_the_portfolio_metrics_match_the_database(client, django_capture_on_commit_callbacks):
    p = portfolio.build(DAY, ("keep", "retire", "retrain", "watch", "ready"))
    with time_machine.travel(datetime(2026, 3, 2, 2, 5, tzinfo=UTC), tick=False):
        from tracker import tasks

        with django_capture_on_commit_callbacks(execute=True):
            tasks.reevaluate_portfolio.delay()
        rows = [
            {"tune": p["keep"].slug, "day": "2026-03-01", "source": "litellm", "queries": 5,
             "input_tokens": 50, "output_tokens": 5},
            {"tune": p["keep"].slug, "day": "2026-02-28", "source": "litellm", "queries": 5,
             "input_tokens": 50, "output_tokens": 5},
            {"tune": p["retire"].slug, "day": "2026-03-01", "source": "helicone", "queries": 1,
             "input_tokens": 10, "output_tokens": 1},
        ]  # fmt: skip
        ingest_usage(pd.DataFrame(rows))
        ingest_usage(pd.DataFrame(rows[:1]))  # a resend still counts as rows ingested
        user = UserFactory()
        DigestDelivery.objects.create(recipient=user, iso_year=2026, iso_week=9, status="sent")
        DigestDelivery.objects.create(
            recipient=UserFactory(), iso_year=2026, iso_week=9, status="failed"
        )
        got = scrape(client)

    assert got[("tunefolio_tunes", (("status", "deployed"), ("verdict", "KEEP")))] == 1
    assert got[("tunefolio_tunes", (("status", "deployed"), ("verdict", "RETIRE")))] == 1
    assert got[("tunefolio_tunes", (("status", "deployed"), ("verdict", "RETRAIN")))] == 1
    assert got[("tunefolio_tunes", (("status", "deployed"), ("verdict", "WATCH")))] == 1
    assert got[("tunefolio_tunes", (("status", "proposed"), ("verdict", "FINE_TUNE")))] == 1
    assert got[("tunefolio_tunes", (("status", "retired"), ("verdict", UNEVALUATED)))] == 0
    open_flags = {
        kind: Flag.objects.filter(kind=kind, resolved_on__isnull=True).count()
        for kind in Flag.Kind.values
    }
    assert open_flags == {"RETRAIN": 1, "RETIRE": 1, "FINE_TUNE": 1}
    for kind, count in open_flags.items():
        assert got[("tunefolio_open_flags", (("kind", kind),))] == count

    summary = portfolio_summary(None, DAY)
    assert got[("tunefolio_capital_at_risk_usd", ())] == pytest.approx(
        float(summary["unrecovered_training_cost_of_flagged_usd"])
    )
    assert got[("tunefolio_monthly_net_saving_usd", ())] == pytest.approx(
        float(summary["realised_monthly_saving_usd"])
    )
    assert got[("tunefolio_capital_at_risk_usd", ())] > 0
    assert (
        got[("tunefolio_last_reevaluation_timestamp_seconds", ())]
        == datetime(2026, 3, 2, 2, 5, tzinfo=UTC).timestamp()
    )
    assert got[("tunefolio_usage_rows_ingested_total", (("source", "litellm"),))] == 3
    assert got[("tunefolio_usage_rows_ingested_total", (("source", "helicone"),))] == 1
    assert got[("tunefolio_digest_deliveries", (("status", "sent"),))] == 1
    assert got[("tunefolio_digest_deliveries", (("status", "failed"),))] == 1
    assert got[("tunefolio_digest_deliveries", (("status", "pending"),))] == 0


@pytest.mark.django_db
def test_request_and_database_metrics_count_what_happened(client):
    def requests_for(view: str, got: dict) -> float:
        key = ("http_requests_total", (("method", "GET"), ("status", "200"), ("view", view)))
        return got.get(key, 0.0)

    before = scrape(client)
    for _ in range(3):
        client.get(reverse("healthz"))
    after = scrape(client)
    assert requests_for("healthz", after) - requests_for("healthz", before) == 3
    queries = ("db_queries_total", (("alias", "default"), ("vendor", before_vendor())))
    assert after[queries] > before.get(queries, 0)  # the first scrape read the portfolio
    assert (
        after[("http_request_duration_seconds_count", (("method", "GET"), ("view", "healthz")))]
        >= 3
    )


def before_vendor() -> str:
    from django.db import connection

    return connection.vendor


@pytest.mark.django_db
def test_without_a_token_only_loopback_may_scrape(client, settings):
    settings.TUNEFOLIO_METRICS_TOKEN = ""
    assert client.get(URL, REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get(URL, REMOTE_ADDR="::1").status_code == 200
    refused = client.get(URL, REMOTE_ADDR="10.1.2.3")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_with_a_token_every_scrape_needs_it_even_from_loopback(client, settings):
    settings.TUNEFOLIO_METRICS_TOKEN = "s3cret-token"
    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Basic s3cret-token").status_code == 401
    ok = client.get(URL, HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="10.1.2.3")
    assert ok.status_code == 200
    assert ("tunefolio_capital_at_risk_usd", ()) in samples(ok.content.decode())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_several_gunicorn_workers_report_one_sum(tmp_path):
    """Three gunicorn workers (multiprocess mode through gunicorn.conf.py) answer the requests
    between them; every scrape, whichever worker answers it, counts them all."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))} | {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", "3",
         "--bind", f"127.0.0.1:{port}", "--config", str(BASE_DIR / "gunicorn.conf.py")],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> str:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            return response.read().decode()

    def answers() -> bool:
        with contextlib.suppress(OSError):
            return get("/healthz") is not None
        return False

    try:
        wait_until(answers, 60, "gunicorn to serve")
        before = samples(get("/metrics"))
        # A client that has sent only part of its request holds the sync worker that accepted
        # it (the first to accept takes the oldest connection), so the requests that follow go
        # to the others, and more than one worker has served some however fast each answers
        # (else the test would prove nothing about summing).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
            held.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            with ThreadPoolExecutor(max_workers=10) as pool:
                list(pool.map(lambda _: get("/healthz"), range(30)))
            held.sendall(b"Connection: close\r\n\r\n")
            assert held.makefile("rb").readline().startswith(b"HTTP/1.1 200")
        sent = 31
        assert len(list((tmp_path / "prometheus").glob("counter_*.db"))) >= 2
        key = ("http_requests_total", (("method", "GET"), ("status", "200"), ("view", "healthz")))
        totals = {samples(get("/metrics")).get(key, 0) - before.get(key, 0) for _ in range(6)}
        assert totals == {sent}
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


def test_the_image_ships_the_gunicorn_config_that_sums_the_workers():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "COPY gunicorn.conf.py ./" in dockerfile
    assert "WORKDIR /app" in dockerfile  # gunicorn looks for ./gunicorn.conf.py
