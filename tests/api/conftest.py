"""The API's fixtures: two teams with a tune each, a shared catalog, keys and clients.

"Today" is frozen on 2025-07-01 for every API test: future-day validation, default dates and
evaluations never depend on the real date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from tests.api.helpers import NOW, World, make_key
from tests.factories import (
    CatalogModelFactory,
    FineTuneFactory,
    ModelPriceFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def clean_throttles():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db) -> World:
    team_a = TeamFactory(name="Support", slug="support")
    team_b = TeamFactory(name="Legal", slug="legal")
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    team_a.members.add(alice)
    team_b.members.add(bob)
    base = CatalogModelFactory(provider="openai", name="gpt-4o-mini", version="2024-07-18")
    frontier = CatalogModelFactory(provider="openai", name="gpt-4o", version="2024-08-06")
    ModelPriceFactory(
        model=base,
        effective_from=date(2024, 1, 1),
        input_usd_per_mtok=Decimal("0.30"),
        output_usd_per_mtok=Decimal("1.20"),
    )
    ModelPriceFactory(
        model=frontier,
        effective_from=date(2024, 1, 1),
        input_usd_per_mtok=Decimal("2.50"),
        output_usd_per_mtok=Decimal("10.00"),
    )
    tune_a = FineTuneFactory(
        name="Ticket triage",
        slug="ticket-triage",
        team=team_a,
        owner=alice,
        base_model=base,
        alternative=frontier,
    )
    tune_b = FineTuneFactory(
        name="Clause review",
        slug="clause-review",
        team=team_b,
        owner=bob,
        base_model=base,
        alternative=frontier,
    )
    return World(
        team_a=team_a,
        team_b=team_b,
        alice=alice,
        bob=bob,
        base=base,
        frontier=frontier,
        tune_a=tune_a,
        tune_b=tune_b,
        key_a=make_key(team_a, name="team A", catalog=True),
        key_b=make_key(team_b, name="team B"),
    )
