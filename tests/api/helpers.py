"""Helpers for the API tests: keys, clients, usage rows, the error envelope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from rest_framework.test import APIClient

from tracker.models import TeamAPIKey, UsageRecord

TODAY = date(2025, 7, 1)
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def make_key(team, *, ingest=True, read=True, write=True, catalog=False, name="ci") -> str:
    """A key for ``team`` with the given scopes; returns the secret (shown once)."""
    _, secret = TeamAPIKey.objects.create_key(
        name=name,
        team=team,
        can_ingest=ingest,
        can_read=read,
        can_write=write,
        can_edit_catalog=catalog,
    )
    return secret


def key_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


@dataclass
class World:
    team_a: object
    team_b: object
    alice: object  # member of A
    bob: object  # member of B
    base: object
    frontier: object
    tune_a: object
    tune_b: object
    key_a: str  # every scope, team A (the catalog's too)
    key_b: str  # every team scope, team B (not the catalog's)

    def client_a(self) -> APIClient:
        return key_client(self.key_a)

    def client_b(self) -> APIClient:
        return key_client(self.key_b)


def usage_row(tune="ticket-triage", day="2025-06-01", **overrides) -> dict:
    row = {
        "tune": tune,
        "day": day,
        "source": "gateway",
        "queries": 1000,
        "input_tokens": 800_000,
        "output_tokens": 150_000,
    }
    row.update(overrides)
    return row


def error_of(response) -> dict:
    """The envelope's body, after checking the envelope's shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def usage_table() -> list[tuple]:
    """Every usage row, sorted: compare before and after to see what a request wrote."""
    return sorted(
        UsageRecord.objects.values_list(
            "tune__slug",
            "day",
            "source",
            "queries",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "quality_score",
        )
    )
