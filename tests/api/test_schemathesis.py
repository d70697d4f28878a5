"""The OpenAPI schema against what the API really does: schemathesis, every check, on a seeded
database with a valid key holding every scope.

Each operation gets the examples, coverage and fuzzing phases (positive and negative data).
Path parameters are pinned to seeded objects (a tune of the key's team, a catalog model) so the
nested routes are exercised on real data; 404s for unknown or other teams' objects are tested
in ``test_access.py``. A fixed seed keeps CI deterministic; set SCHEMATHESIS_SEED to explore.
Marked slow (about a minute): the quick loop keeps ``test_endpoints.py``'s schema test.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from tests.api.helpers import TODAY
from tests.factories import ChangeLogEntryFactory, ModelPriceFactory, UsageRecordFactory
from tracker.models import ChangeLogEntry, FineTune, Flag, TunePrice
from tracker.services.evaluation import evaluate_portfolio

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20250701"))

#: The one list of operations where schemathesis' positive_data_acceptance check does not apply,
#: each with its reason. Their valid input depends on the database or the date, which a JSON
#: schema cannot say, so schema-valid data is routinely refused with a 400 naming the field (each
#: operation's 400 description in the schema lists these rules). Every other check still runs on
#: them, and positive_data_acceptance runs on every other operation.
_FUTURE = "days must not be in the future (the schema allows up to 2099-12-31)"
POSITIVE_DATA_EXCEPTIONS = {
    ("POST", "/api/v1/tunes/"): "the slug must be new, the owner a member of the team, the "
    "catalog ids must exist",
    ("PATCH", "/api/v1/tunes/{slug}/"): "the owner must be a member, the catalog ids must exist",
    ("POST", "/api/v1/tunes/{slug}/retire/"): _FUTURE,
    ("POST", "/api/v1/tunes/{slug}/changes/"): _FUTURE,
    ("POST", "/api/v1/tunes/{slug}/serving-prices/"): "a price must start after the last one",
    ("POST", "/api/v1/tunes/{slug}/evaluate/"): _FUTURE,
    ("POST", "/api/v1/usage/"): "the tunes named must be the key's team's; " + _FUTURE,
    ("POST", "/api/v1/catalog/"): "provider, name and version must be new; the successor must "
    "exist",
    ("PATCH", "/api/v1/catalog/{model_id}/"): "provider, name and version must be new; the "
    "successor must exist",
    ("POST", "/api/v1/catalog/{model_id}/prices/"): "a price must start after the last one",
    ("POST", "/api/v1/flags/{flag_id}/acknowledge/"): "the flag must exist and be open",
    ("POST", "/api/v1/flags/{flag_id}/snooze/"): "the flag must exist and be open; " + _FUTURE,
    ("POST", "/api/v1/usage/import/"): "the body must be in the shape its ?format= names, and "
    "the model ids must match the key's team's tunes",
    ("POST", "/api/v1/tunes/{slug}/aliases/"): "the provider model id must be new in the team",
}


@pytest.fixture
def seeded(world, settings):
    """The two-team world, plus usage, a change log, prices and evaluations to read back."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        # The fuzzer sends thousands of requests a minute; throttling is tested on its own.
        "DEFAULT_THROTTLE_RATES": {"api_key": "1000000/min", "user": "1000000/min"},
    }
    for tune in (world.tune_a, world.tune_b):
        for offset in range(120):
            UsageRecordFactory(tune=tune, day=TODAY - timedelta(days=offset + 1))
        ChangeLogEntryFactory(tune=tune, day=date(2025, 3, 1))
        ChangeLogEntryFactory(
            tune=tune,
            day=date(2025, 4, 1),
            kind=ChangeLogEntry.Kind.RETRAINING,
            cost=Decimal("4000"),
        )
        TunePrice.objects.create(
            tune=tune,
            effective_from=date(2024, 6, 1),
            input_usd_per_mtok=Decimal("0.30"),
            output_usd_per_mtok=Decimal("1.20"),
        )
    world.base.shutdown_on = date(2025, 9, 1)
    world.base.successor = world.frontier
    world.base.save()
    ModelPriceFactory(model=world.frontier, effective_from=date(2025, 1, 1))
    evaluate_portfolio(as_of=date(2025, 6, 1))
    evaluate_portfolio(as_of=date(2025, 6, 30))
    assert FineTune.objects.count() == 2
    assert Flag.objects.filter(tune=world.tune_a).exists()  # the flag routes get a real flag
    return world


@pytest.fixture
def keep_test_connection():
    """schemathesis calls the WSGI app directly; at the start and end of each request Django would
    close the database connection (and with it the test's transaction). Django's own test client
    disconnects that handler around its requests; do the same for the whole test."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(seeded, keep_test_connection):
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES},
            # Stateful links are not declared; the phase would have nothing to chain.
            "phases": {"stateful": {"enabled": False}},
            "auth": {"openapi": {"ApiKeyAuth": {"api_key": seeded.key_a}}},
            "parameters": {
                "path.slug": seeded.tune_a.slug,
                "path.model_id": seeded.base.pk,
                "path.flag_id": Flag.objects.filter(tune__team=seeded.team_a).first().pk,
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=config)


@pytest.fixture(autouse=True)
def _pytest9_node_id(request):
    """schemathesis 4.32's lazy loader renames the test node through ``node._nodeid``, which
    pytest 9 no longer sets on the node; give it the attribute it expects."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_matches_its_schema(case):
    excluded = []
    if (case.method.upper(), case.path) in POSITIVE_DATA_EXCEPTIONS:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)
