"""Ingestion on the database itself. The whole suite runs on SQLite and on PostgreSQL (CI runs it
twice); these tests look at what reaches the database, and at concurrent senders, which only
PostgreSQL runs truly side by side."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from tests.api.helpers import TODAY, usage_row
from tracker.models import IdempotencyRecord, UsageRecord

URL = "/api/v1/usage/"


def batch(days: int, **overrides) -> dict:
    return {
        "records": [
            usage_row(day=(TODAY - timedelta(days=n + 1)).isoformat(), **overrides)
            for n in range(days)
        ]
    }


@pytest.mark.django_db
def test_the_write_is_one_statement_new_days_or_sent_again(world):
    writes = []
    for values in ({"queries": 10}, {"queries": 11}):  # new days, then the same days changed
        with CaptureQueriesContext(connection) as queries:
            response = world.client_a().post(URL, batch(300, **values), format="json")
        assert response.status_code == 200
        statements = [q["sql"].replace('"', "").upper() for q in queries]
        usage_writes = [
            sql
            for sql in statements
            if sql.startswith(
                ("INSERT INTO TRACKER_USAGERECORD", "COPY TRACKER_USAGERECORD", "MERGE INTO")
            )
            or (sql.startswith("WITH") and "INSERT INTO TRACKER_USAGERECORD" in sql)
        ]
        assert len(usage_writes) == 1
        writes.append(usage_writes[0])
    if connection.vendor == "postgresql":  # new days copied in, days sent again merged
        assert writes[0].startswith("COPY TRACKER_USAGERECORD")
        assert writes[1].startswith("MERGE INTO TRACKER_USAGERECORD")
    else:
        assert "ON CONFLICT" in writes[1]
    assert response.json()["updated"] == 300
    assert set(UsageRecord.objects.values_list("queries", flat=True)) == {11}


@pytest.mark.django_db
def test_only_changed_rows_are_rewritten_in_chunks(world):
    from tracker.services.usage import frame_from_records, ingest_usage

    rows = [
        usage_row(
            tune=tune, day=(TODAY - timedelta(days=n + 1)).isoformat(), cost_usd=0.25, source=src
        )
        for n in range(30)
        for tune in ("ticket-triage", "clause-review")
        for src in ('b, "quoted"', "a")
    ]
    with time_machine.travel(datetime.combine(TODAY, time(1), tzinfo=UTC), tick=False):
        first = ingest_usage(frame_from_records(rows[::-1]), chunk_size=7)
    assert (first.created, first.updated, first.unchanged) == (120, 0, 0)
    stamps = dict(UsageRecord.objects.values_list("pk", "updated_at"))
    rows[5] = {**rows[5], "quality_score": 0.5}
    rows[6] = {**rows[6], "cost_usd": 0.2501}
    written: list[int] = []
    with time_machine.travel(datetime.combine(TODAY, time(2), tzinfo=UTC), tick=False):
        again = ingest_usage(frame_from_records(rows), chunk_size=50, progress=written.append)
    assert (again.created, again.updated, again.unchanged) == (0, 2, 118)
    assert written == [50, 50, 20]
    changed = {
        pk for pk, at in UsageRecord.objects.values_list("pk", "updated_at") if at != stamps[pk]
    }
    assert len(changed) == 2
    stored = UsageRecord.objects.get(quality_score=0.5)
    assert (stored.source, stored.cost_usd) == (rows[5]["source"], Decimal("0.2500"))
    assert UsageRecord.objects.get(cost_usd=Decimal("0.2501")).source == rows[6]["source"]


@pytest.mark.django_db
def test_extreme_but_valid_values_round_trip(world):
    row = usage_row(
        queries=10**12,
        input_tokens=10**12,
        output_tokens=0,
        cost_usd=99_999_999_999.9999,
        quality_score=1.0,
        source="s" * 64,
    )
    response = world.client_a().post(URL, {"records": [row]}, format="json")
    assert response.status_code == 200, response.content
    stored = UsageRecord.objects.get()
    assert (stored.queries, stored.input_tokens, stored.output_tokens) == (10**12, 10**12, 0)
    assert stored.cost_usd == Decimal("99999999999.9999")
    too_costly = {"records": [usage_row(day="2025-06-02", cost_usd=10**11)]}
    assert world.client_a().post(URL, too_costly, format="json").status_code == 400
    assert stored.day == date(2025, 6, 1)


@pytest.mark.django_db
def test_rows_of_every_shape_are_stored_as_sent(world):
    """Sources of different lengths (and non-ASCII), costs and scores present or missing, in
    one batch of new days and then sent again changed: every row reads back as sent."""
    sources = ("gw", "passerelle-été", "s" * 64)
    costs = (None, 0, 0.0001, 1.5, 12_345_678.9012, 99_999_999_999.9999)
    scores = (None, 0.0, 0.25, 1)
    rows = [
        usage_row(
            day=(TODAY - timedelta(days=1 + n // 3)).isoformat(),
            source=sources[n % 3],
            queries=n,
            cost_usd=costs[n % len(costs)],
            quality_score=scores[n % len(scores)],
        )
        for n in range(60)
    ]
    rows[7].pop("cost_usd")
    rows[9].pop("source")  # the default source, on a day without one
    for batch_rows in (rows, [{**row, "queries": row["queries"] + 100} for row in rows]):
        response = world.client_a().post(URL, {"records": batch_rows}, format="json")
        assert response.status_code == 200, response.content
        stored = {
            (tune, day.isoformat(), source): (queries, cost, score)
            for tune, day, source, queries, cost, score in UsageRecord.objects.values_list(
                "tune__slug", "day", "source", "queries", "cost_usd", "quality_score"
            )
        }
        sent = {
            (row["tune"], row["day"], row.get("source", "default")): (
                row["queries"],
                None if row.get("cost_usd") is None else Decimal(str(row["cost_usd"])),
                None if row["quality_score"] is None else float(row["quality_score"]),
            )
            for row in batch_rows
        }
        assert stored == sent
    assert response.json()["updated"] == 60


def _send_concurrently(secret: str, bodies: list[dict], headers: dict | None = None) -> list:
    from tests.api.helpers import key_client

    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def send(i: int) -> None:
        try:
            client = key_client(secret)
            barrier.wait(timeout=10)
            results[i] = client.post(URL, bodies[i], format="json", **(headers or {}))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "concurrent writers need PostgreSQL: SQLite runs one writer at a time "
            "(this test runs in CI's PostgreSQL pass)"
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_write_each_row_once(world):
    _require_postgres()
    bodies = [batch(200), batch(200, queries=7)]
    responses = _send_concurrently(world.key_a, bodies)
    assert [r.status_code for r in responses] == [200, 200]
    assert UsageRecord.objects.count() == 200
    assert set(UsageRecord.objects.values_list("queries", flat=True)) in ({1000}, {7})
    for response in responses:
        counts = response.json()
        assert counts["received"] == 200
        assert counts["created"] + counts["updated"] + counts["unchanged"] == 200


@pytest.mark.django_db
def test_keys_written_by_another_batch_after_the_check_are_replaced(world, monkeypatch):
    """The plain insert of new days meets keys a concurrent batch wrote after the check for
    stored rows: the batch is then upserted, in the same transaction."""
    _require_postgres()
    from tracker.services import usage

    client = world.client_a()
    assert client.post(URL, batch(50), format="json").status_code == 200
    monkeypatch.setattr(usage, "_stored_in_range", lambda cursor, part: False)
    response = client.post(URL, batch(60, queries=7), format="json")
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"]) == (10, 50)
    assert set(UsageRecord.objects.values_list("queries", flat=True)) == {7}


@pytest.mark.django_db
def test_keys_inserted_by_another_batch_during_the_merge_are_upserted(world, monkeypatch):
    """``MERGE`` does not wait for keys a concurrent batch inserts meanwhile (a unique
    violation): the batch is then upserted, in the same transaction."""
    _require_postgres()
    from django.db import IntegrityError

    from tracker.services import usage

    client = world.client_a()
    assert client.post(URL, batch(50), format="json").status_code == 200

    def merge_meets_a_key(cursor):
        cursor.execute(usage._MERGE_STAGED)  # written, then undone with its savepoint
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(usage, "_merge_staged", merge_meets_a_key)
    response = client.post(URL, batch(60, queries=7), format="json")
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"]) == (10, 50)
    assert set(UsageRecord.objects.values_list("queries", flat=True)) == {7}
    assert UsageRecord.objects.count() == 60


@pytest.mark.django_db
def test_the_merge_leaves_the_join_settings_as_they_were(world):
    """The merge turns hash and merge joins off for itself only: the rest of the transaction
    plans as before."""
    _require_postgres()
    from django.db import transaction

    from tracker.services.usage import frame_from_records, ingest_usage

    client = world.client_a()
    assert client.post(URL, batch(20), format="json").status_code == 200
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_mergejoin = off")
        result = ingest_usage(frame_from_records(batch(30, queries=3)["records"]))
        cursor.execute(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
        )
        assert cursor.fetchone() == ("on", "off")
    assert (result.created, result.updated) == (10, 20)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_write_once(world):
    _require_postgres()
    body = batch(100)
    responses = _send_concurrently(
        world.key_a, [body, body, body], headers={"HTTP_IDEMPOTENCY_KEY": "nightly-2025-07-01"}
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json() for r in responses] == [
        {"received": 100, "created": 100, "updated": 0, "unchanged": 0, "warnings": []}
    ] * 3
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 2
    assert IdempotencyRecord.objects.count() == 1
    assert UsageRecord.objects.count() == 100


@pytest.mark.django_db(transaction=True)
def test_twenty_overlapping_batches_half_reversed_never_fail(world):
    """The load that deadlocked: 20 concurrent batches of 400 to 3,000 rows whose keys overlap,
    half of them in reverse order. Every request succeeds, and every stored row holds the
    values of exactly one request that sent its key."""
    _require_postgres()
    import random

    rng = random.Random(8)
    keys = [
        (TODAY - timedelta(days=1 + n // 2), ("gateway-eu", "gateway-us")[n % 2])
        for n in range(3000)
    ]
    bodies, sent = [], []
    for i in range(20):
        size = rng.randint(400, 3000)
        start = rng.randint(0, len(keys) - size)
        window = keys[start : start + size]
        if i % 2:
            window = window[::-1]
        sent.append(set(window))
        bodies.append(
            {
                "records": [
                    usage_row(
                        day=day.isoformat(),
                        source=source,
                        queries=i + 1,
                        input_tokens=(i + 1) * 1000,
                        output_tokens=(i + 1) * 10,
                    )
                    for day, source in window
                ]
            }
        )

    from tests.api.helpers import key_client

    barrier = threading.Barrier(len(bodies))
    statuses: list = [None] * len(bodies)

    def send(i: int) -> None:
        try:
            client = key_client(world.key_a)
            client.raise_request_exception = False  # a failure is a 500, as a client sees it
            barrier.wait(timeout=60)
            statuses[i] = client.post(URL, bodies[i], format="json").status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert statuses == [200] * len(bodies)

    stored = list(
        UsageRecord.objects.values_list("day", "source", "queries", "input_tokens", "output_tokens")
    )
    assert {(day, source) for day, source, *_ in stored} == set().union(*sent)
    for day, source, queries, input_tokens, output_tokens in stored:
        writer = queries - 1
        assert (input_tokens, output_tokens) == (queries * 1000, queries * 10)
        assert (day, source) in sent[writer]
