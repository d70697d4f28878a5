"""POST /api/v1/usage/: the batch is validated whole, written in one upsert, all or nothing."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.helpers import error_of, usage_row, usage_table
from tests.factories import FineTuneFactory, UsageRecordFactory
from tracker.models import UsageRecord

URL = "/api/v1/usage/"


def post(client, records, **extra):
    return client.post(URL, {"records": records, **extra}, format="json")


@pytest.mark.django_db
def test_a_batch_is_created_then_replaced_then_unchanged(world):
    client = world.client_a()
    rows = [
        usage_row(day="2025-06-01", cost_usd=12.5, quality_score=0.9),
        usage_row(day="2025-06-02"),
    ]
    first = post(client, rows)
    assert first.status_code == 200, first.content
    assert first.json() == {
        "received": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "warnings": [],
    }
    assert usage_table() == [
        (
            "ticket-triage",
            date(2025, 6, 1),
            "gateway",
            1000,
            800_000,
            150_000,
            Decimal("12.5"),
            0.9,
        ),
        ("ticket-triage", date(2025, 6, 2), "gateway", 1000, 800_000, 150_000, None, None),
    ]

    rows[1]["queries"] = 1234
    second = post(client, rows)
    assert second.json() == {
        "received": 2,
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "warnings": [],
    }
    assert usage_table()[1][3] == 1234
    assert UsageRecord.objects.count() == 2


@pytest.mark.django_db
def test_source_defaults_to_the_batch_source_then_default(world):
    client = world.client_a()
    row = usage_row()
    del row["source"]
    assert post(client, [row], source="billing-export").status_code == 200
    assert post(client, [row]).status_code == 200
    assert sorted(UsageRecord.objects.values_list("source", flat=True)) == [
        "billing-export",
        "default",
    ]


@pytest.mark.django_db
def test_every_error_is_listed_by_row_and_field_and_nothing_is_written(world):
    UsageRecordFactory(tune=world.tune_a, day=date(2025, 5, 1), source="gateway", queries=7)
    before = usage_table()
    rows = [
        usage_row(day="2025-06-01"),  # fine
        usage_row(day="2025-07-02"),  # tomorrow
        usage_row(queries=-1, day="2025-06-03"),
        usage_row(tune="no-such-tune", day="2025-06-04"),
        usage_row(tune="clause-review", day="2025-06-05"),  # team B's
        usage_row(input_tokens=10**13, day="2025-06-06"),
        usage_row(output_tokens=10**30, day="2025-06-07"),
        usage_row(source="gate\x00way", day="2025-06-08"),
        usage_row(day="2025-06-01"),  # duplicate key of row 0
        usage_row(queries="12", day="2025-06-09"),
        usage_row(queries=1.5, day="2025-06-10"),
        usage_row(day="2025-02-30"),
        usage_row(quality_score=1.5, day="2025-06-11"),
        {**usage_row(day="2025-06-12"), "colour": "blue"},
        {"tune": "ticket-triage"},
    ]
    response = post(world.client_a(), rows)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_batch"
    found = {(d["row"], d["field"]) for d in error["details"]}
    assert found == {
        (1, "day"),
        (2, "queries"),
        (3, "tune"),
        (4, "tune"),
        (5, "input_tokens"),
        (6, "output_tokens"),
        (7, "source"),
        (0, None),
        (8, None),
        (9, "queries"),
        (10, "queries"),
        (11, "day"),
        (12, "quality_score"),
        (13, "colour"),
        (14, "day"),
        (14, "queries"),
        (14, "input_tokens"),
        (14, "output_tokens"),
    }
    messages = {(d["row"], d["field"]): d["message"] for d in error["details"]}
    assert messages[(1, "day")] == "In the future (today is 2025-07-01)."
    assert messages[(2, "queries")] == "Cannot be negative."
    assert messages[(4, "tune")] == "No tune with this slug in your team(s)."
    assert messages[(0, None)] == "Same tune, day and source as row 8 of this batch."
    assert messages[(8, None)] == "Same tune, day and source as row 0 of this batch."
    assert usage_table() == before


@pytest.mark.django_db
def test_the_details_are_capped_and_the_message_gives_the_total(world, settings):
    settings.USAGE_MAX_ERROR_DETAILS = 2
    rows = [usage_row(day=f"2025-06-0{d}", queries=-1) for d in range(1, 4)]
    error = error_of(post(world.client_a(), rows))
    assert [d["row"] for d in error["details"]] == [0, 1]
    assert error["message"] == ("3 errors in the batch; nothing written. The first 2 are listed.")


@pytest.mark.django_db
def test_nul_bytes_anywhere_in_the_json_are_refused(world):
    response = post(world.client_a(), [usage_row(), usage_row(tune="ticket\x00triage")])
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_batch"
    assert error["details"] == [{"row": 1, "field": "tune", "message": "Contains a NUL byte."}]
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_ingestion_makes_a_constant_number_of_queries(world):
    client = world.client_a()
    small = [usage_row(day=f"2025-03-{d:02d}") for d in range(1, 3)]
    large = [usage_row(day=f"2025-0{m}-{d:02d}") for m in (4, 5, 6) for d in range(1, 29)]
    counts = []
    # Sent once (new days: inserted), then again (stored days: replaced).
    for rows in (small, large, small, large):
        with CaptureQueriesContext(connection) as queries:
            assert post(client, rows).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[2] == counts[3]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([usage_row()], None),
        ({"records": []}, "records"),
        ({"records": "x"}, "records"),
        ({"records": [usage_row()], "extra": 1}, "extra"),
        ({"records": [usage_row()], "source": ""}, "source"),
    ],
)
def test_malformed_batches_are_refused(world, body, field):
    response = world.client_a().post(URL, body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_batch"
    assert error["details"][0]["field"] == field
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_non_object_records_are_named_by_row(world):
    response = post(world.client_a(), [usage_row(), 5, "x"])
    assert response.status_code == 400
    assert [(d["row"], d["message"]) for d in error_of(response)["details"]] == [
        (1, "Must be an object."),
        (2, "Must be an object."),
    ]


@pytest.mark.django_db
def test_more_rows_than_the_limit_are_refused(world, settings):
    settings.USAGE_BATCH_MAX_ROWS = 3
    rows = [usage_row(day=f"2025-06-{d:02d}") for d in range(1, 5)]
    response = post(world.client_a(), rows)
    assert response.status_code == 400
    assert error_of(response)["details"][0]["message"] == "4 records; at most 3 a request."
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_oversized_bodies_get_413_before_parsing(world, settings):
    settings.API_MAX_BODY_BYTES = 2000
    rows = [usage_row(day=f"2025-06-{d:02d}") for d in range(1, 29)]
    response = post(world.client_a(), rows)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_djangos_own_body_limit_is_also_a_413(world, settings):
    settings.API_MAX_BODY_BYTES = None  # no early check: Django's RequestDataTooBig decides
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    rows = [usage_row(day=f"2025-06-{d:02d}") for d in range(1, 29)]
    response = post(world.client_a(), rows)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_a_full_batch_of_the_longest_rows_fits_the_body_limit(world):
    slug = "t" * 160
    FineTuneFactory(slug=slug, team=world.team_a, owner=world.alice)
    rows = [
        usage_row(
            tune=slug,
            day=f"2025-{m:02d}-{d:02d}",
            source=f"{s:02d}".rjust(64, "s"),
            queries=10**12,
            input_tokens=10**12,
            output_tokens=10**12,
            cost_usd=12345678901.2345,
            quality_score=0.123456789012345,
        )
        for m in range(1, 7)
        for d in range(1, 29)
        for s in range(60)
    ][:10_000]
    body = json.dumps({"records": rows}).encode()
    assert 4_000_000 < len(body) < settings.API_MAX_BODY_BYTES
    response = world.client_a().post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content[:500]
    assert response.json()["created"] == 10_000
    assert UsageRecord.objects.count() == 10_000


# --- Duplicate keys through the batch's source, text the database refuses ------------------------


def _without_source(**overrides) -> dict:
    row = usage_row(**overrides)
    del row["source"]
    return row


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("records", "batch_source"),
    [
        pytest.param([_without_source(), _without_source(queries=5)], None, id="both-omit"),
        pytest.param(
            [_without_source(), usage_row(source="nightly")], "nightly", id="batch-vs-row"
        ),
        pytest.param([usage_row(source="default"), _without_source()], None, id="default-vs-row"),
    ],
)
def test_the_same_key_through_the_batch_source_is_a_duplicate(world, records, batch_source):
    before = usage_table()
    extra = {"source": batch_source} if batch_source else {}
    response = post(world.client_a(), records, **extra)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid_batch"
    assert error["details"] == [
        {"row": 0, "field": None, "message": "Same tune, day and source as row 1 of this batch."},
        {"row": 1, "field": None, "message": "Same tune, day and source as row 0 of this batch."},
    ]
    assert usage_table() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "row", "field"),
    [
        ({"records": [usage_row()], "source": "gate\x00way"}, None, "source"),
        ({"records": [_without_source()], "source": "gate\x00way"}, None, "source"),
        ({"records": [usage_row(source="gate\x00way")]}, 0, "source"),
        ({"records": [usage_row(tune="ticket\x00triage")]}, 0, "tune"),
        ({"records": [usage_row(day="2025-06-01\x00")]}, 0, "day"),
        ({"records": [usage_row()], "source": 5}, None, "source"),
        ({"records": [usage_row()], "source": None}, None, "source"),
        ({"records": [usage_row()], "source": "s" * 65}, None, "source"),
        ({"records": [usage_row()], "sou\x00rce": "x"}, None, "sou\x00rce"),
    ],
)
def test_text_the_database_refuses_is_a_400_naming_the_field(world, body, row, field):
    response = world.client_a().post(URL, body, format="json")
    assert response.status_code == 400, response.content
    details = error_of(response)["details"]
    assert [(d["row"], d["field"]) for d in details] == [(row, field)], details
    assert UsageRecord.objects.count() == 0


# --- Sources that add up --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_source_on_days_other_sources_report_is_written_with_a_warning(world):
    for day in (date(2025, 6, 1), date(2025, 6, 2)):
        for source in ("gateway-eu", "gateway-us"):
            UsageRecordFactory(tune=world.tune_a, day=day, source=source)
    rows = [usage_row(day="2025-06-01"), usage_row(day="2025-06-02"), usage_row(day="2025-06-03")]
    response = post(world.client_a(), rows)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == 3
    assert [
        {k: w[k] for k in ("tune", "source", "other_sources", "days")} for w in body["warnings"]
    ] == [
        {
            "tune": "ticket-triage",
            "source": "gateway",
            "other_sources": ["gateway-eu", "gateway-us"],
            "days": 2,
        }
    ]
    assert "adds up" in body["warnings"][0]["message"]
    assert UsageRecord.objects.filter(source="gateway").count() == 3

    again = post(world.client_a(), rows)  # the source now reports those days: a resend
    assert again.json()["warnings"] == []
    assert again.json()["unchanged"] == 3


@pytest.mark.django_db
def test_the_demo_sources_sent_again_bring_no_warning(world):
    for source in ("gateway-eu", "gateway-us"):
        UsageRecordFactory(tune=world.tune_a, day=date(2025, 6, 1), source=source)
    rows = [usage_row(source="gateway-eu"), usage_row(source="gateway-us")]
    response = post(world.client_a(), rows)
    assert response.status_code == 200
    assert response.json()["warnings"] == []
