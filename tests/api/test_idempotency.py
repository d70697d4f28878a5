"""The Idempotency-Key rules: a replay returns the first response and writes nothing; the same
key with a different request is refused (422); keys are per team and expire; failures are not
remembered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.helpers import error_of, usage_row
from tracker import tasks
from tracker.models import ChangeLogEntry, IdempotencyRecord, UsageRecord
from tracker.services import idempotency

URL = "/api/v1/usage/"


def post(client, body, key):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_replay_returns_the_first_response_and_writes_nothing(world):
    client = world.client_a()
    body = {"records": [usage_row(day="2025-06-01"), usage_row(day="2025-06-02")]}
    first = post(client, body, "batch-0001")
    assert first.status_code == 200
    assert first.json() == {
        "received": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "warnings": [],
    }
    assert "Idempotent-Replayed" not in first
    UsageRecord.objects.filter(day="2025-06-02").update(queries=5)  # changed since

    replay = post(client, body, "batch-0001")
    assert replay.status_code == 200
    assert replay.json() == first.json()  # the first answer, not "2 unchanged"
    assert replay["Idempotent-Replayed"] == "true"
    assert UsageRecord.objects.get(day="2025-06-02").queries == 5  # not written again
    assert IdempotencyRecord.objects.filter(team=world.team_a, key="batch-0001").count() == 1


@pytest.mark.django_db
def test_key_order_and_whitespace_do_not_make_a_different_request(world):
    client = world.client_a()
    row = usage_row()
    post(client, {"records": [row]}, "k-1")
    reordered = (
        '{"records": [{' + ", ".join(f'"{k}": {v!r}' for k, v in reversed(row.items())) + "}]}"
    ).replace("'", '"')
    replay = client.post(
        URL, reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_a_record_stored_under_the_first_digest_is_still_replayed(world):
    """Records written before the digest changed (text escaped to ASCII, exponents as the
    standard library writes them) replay their retries; another body is still refused."""
    client = world.client_a()
    body = {"records": [usage_row(source="passerelle-été", cost_usd=1e-05)]}
    assert idempotency.request_hash("POST", URL, body) != idempotency.legacy_request_hash(
        "POST", URL, body
    )
    first = post(client, body, "before-the-change")
    record = IdempotencyRecord.objects.get(key="before-the-change")
    record.request_hash = idempotency.legacy_request_hash("POST", URL, body)
    record.save()
    replay = post(client, body, "before-the-change")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (200, "true")
    assert replay.json() == first.json()
    other = {"records": [usage_row(source="passerelle-été", cost_usd=2e-05)]}
    assert post(client, other, "before-the-change").status_code == 422


def test_the_digest_of_a_body_beyond_64_bit_integers_is_the_first_one():
    body = {"records": [usage_row(queries=2**64)]}
    assert idempotency.request_hash("POST", URL, body) == idempotency.legacy_request_hash(
        "POST", URL, body
    )


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_422_and_writes_nothing(world):
    client = world.client_a()
    post(client, {"records": [usage_row(day="2025-06-01")]}, "batch-0002")
    response = post(client, {"records": [usage_row(day="2025-06-03")]}, "batch-0002")
    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert [str(day) for day in UsageRecord.objects.values_list("day", flat=True)] == ["2025-06-01"]


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_422(world):
    client = world.client_a()
    post(client, {"records": [usage_row()]}, "shared-key")
    response = client.post(
        "/api/v1/tunes/ticket-triage/changes/",
        {"day": "2025-06-01", "kind": "note", "summary": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared-key",
    )
    assert response.status_code == 422
    assert ChangeLogEntry.objects.count() == 0


@pytest.mark.django_db
def test_keys_are_per_team(world):
    body_a = {"records": [usage_row(tune="ticket-triage")]}
    body_b = {"records": [usage_row(tune="clause-review")]}
    assert post(world.client_a(), body_a, "nightly").status_code == 200
    response = post(world.client_b(), body_b, "nightly")
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert UsageRecord.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_request_is_not_remembered(world):
    client = world.client_a()
    bad = post(client, {"records": [usage_row(queries=-1)]}, "retry-me")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    good = post(client, {"records": [usage_row()]}, "retry-me")
    assert good.status_code == 200
    assert UsageRecord.objects.count() == 1


@pytest.mark.django_db
def test_keys_expire(world, frozen_today):
    client = world.client_a()
    post(client, {"records": [usage_row()]}, "daily")
    frozen_today.shift(timedelta(hours=25))
    response = post(client, {"records": [usage_row(queries=9)]}, "daily")
    assert response.status_code == 200
    assert response.json()["updated"] == 1
    assert UsageRecord.objects.get().queries == 9


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "naïve"])
def test_malformed_keys_are_refused(world, key):
    response = post(world.client_a(), {"records": [usage_row()]}, key)
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "Idempotency-Key"
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_a_concurrent_winner_is_replayed(world, monkeypatch):
    """Two requests with one key: the loser finds the winner's record at insert time (the unique
    constraint), rolls back its own writes and replays the winner's response."""
    client = world.client_a()
    body = {"records": [usage_row()]}
    assert post(client, body, "race").status_code == 200
    # The second request does not see the record up front (as if both started together).
    monkeypatch.setattr(idempotency, "_stored", lambda team_id, key: None)
    UsageRecord.objects.all().delete()
    response = post(client, body, "race")
    assert response.status_code == 200
    assert response["Idempotent-Replayed"] == "true"
    assert response.json()["created"] == 1
    assert UsageRecord.objects.count() == 0  # the loser's write was rolled back


@pytest.mark.django_db
def test_people_have_keys_of_their_own(world, client):
    client.force_login(world.alice)
    body = {"records": [usage_row()]}
    assert post(world.client_a(), body, "same").status_code == 200
    response = client.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert response.json()["unchanged"] == 1
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {
        "same",
        f"user:{world.alice.pk}:same",
    }


@pytest.mark.django_db
def test_expired_records_are_purged(world, frozen_today):
    post(world.client_a(), {"records": [usage_row()]}, "old")
    frozen_today.shift(timedelta(hours=23))
    post(world.client_a(), {"records": [usage_row(day="2025-06-02")]}, "new")
    assert idempotency.purge_expired() == 0
    frozen_today.shift(timedelta(hours=2))
    assert tasks.purge_idempotency_records() == 1  # what beat runs every hour
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
