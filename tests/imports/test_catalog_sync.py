"""The catalog sync from LiteLLM's model map: matching, per-token → per-1M prices as exact
decimals, provenance, hand-set values kept, a URL served by a real local server."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tests.factories import CatalogModelFactory, ModelPriceFactory
from tests.imports.provider_server import Answer, ProviderServer
from tracker.importers.catalog import per_million
from tracker.models import CatalogModel, ModelPrice
from tracker.services import evaluate_portfolio
from tracker.services.catalog import update_catalog_model
from tracker.services.catalog_sync import catalog_sync

MAP = {
    "sample_spec": {"litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
    "gpt-4o-mini": {"litellm_provider": "openai", "input_cost_per_token": 9e-07},
    "gpt-4o-mini-2024-07-18": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 1.5e-07,
        "output_cost_per_token": 6e-07,
        "deprecation_date": "2025-09-15",
    },
    "gpt-4o-2024-08-06": {
        "litellm_provider": "openai",
        "input_cost_per_token": 2.5e-06,
        "output_cost_per_token": 1e-05,
    },
    "claude-3-5-sonnet-20240620": {
        "litellm_provider": "anthropic",
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "deprecation_date": "2025-10-22",
    },
    "azure/gpt-4o-2024-08-06": {"litellm_provider": "azure", "deprecation_date": "2025-08-01"},
}


@pytest.fixture
def map_file(tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(MAP))
    return str(path)


def test_per_token_prices_become_exact_prices_per_million():
    assert per_million(1.5e-07) == Decimal("0.1500")
    assert per_million(Decimal("0.0000025")) == Decimal("2.5000")
    assert per_million(-1) is None and per_million(True) is None


def test_sync_fills_dates_and_prices_with_provenance_and_keeps_hand_set_ones(world, map_file):
    claude = CatalogModelFactory(
        provider="anthropic",
        name="claude-3-5-sonnet",
        version="20240620",
        shutdown_on=date(2025, 10, 1),  # set by hand
    )
    report = catalog_sync(location=map_file, today=date(2025, 7, 1))
    base = CatalogModel.objects.get(pk=world.base.pk)
    assert base.shutdown_on == date(2025, 9, 15)
    assert base.shutdown_source == f"{map_file}#gpt-4o-mini-2024-07-18"
    claude.refresh_from_db()
    assert claude.shutdown_on == date(2025, 10, 1) and claude.shutdown_source == ""
    assert ("openai gpt-4o-mini 2024-07-18", "gpt-4o-mini-2024-07-18") in report.matched
    # The world's prices were typed by hand: kept, and said so.
    assert any("set by hand kept" in k and "gpt-4o-mini" in k for k in report.kept)
    assert ModelPrice.objects.filter(model=world.base).count() == 1
    new_price = ModelPrice.objects.get(model=claude)
    assert (new_price.input_usd_per_mtok, new_price.output_usd_per_mtok) == (
        Decimal("3.0000"),
        Decimal("15.0000"),
    )
    assert new_price.effective_from == date(2025, 7, 1) and new_price.source.endswith(
        "#claude-3-5-sonnet-20240620"
    )
    assert sorted(report.changes) == [
        "anthropic claude-3-5-sonnet 20240620: price from 2025-07-01 3.0000 in / 15.0000 out "
        "USD per 1M tokens.",
        "openai gpt-4o-mini 2024-07-18: shutdown none → 2025-09-15.",
    ]
    # Run again: nothing changes.
    assert catalog_sync(location=map_file, today=date(2025, 7, 1)).changes == []


def test_synced_values_follow_the_catalog_until_someone_sets_them(world, map_file, tmp_path):
    catalog_sync(location=map_file, today=date(2025, 7, 1))
    moved = {**MAP, "gpt-4o-mini-2024-07-18": {**MAP["gpt-4o-mini-2024-07-18"]}}
    moved["gpt-4o-mini-2024-07-18"]["deprecation_date"] = "2025-12-01"
    path = tmp_path / "moved.json"
    path.write_text(json.dumps(moved))
    report = catalog_sync(location=str(path), today=date(2025, 7, 8))
    assert "openai gpt-4o-mini 2024-07-18: shutdown 2025-09-15 → 2025-12-01." in report.changes
    update_catalog_model(
        model=CatalogModel.objects.get(pk=world.base.pk), by="admin", shutdown_on=date(2026, 1, 1)
    )
    assert catalog_sync(location=map_file, today=date(2025, 7, 15)).changes == []
    assert CatalogModel.objects.get(pk=world.base.pk).shutdown_on == date(2026, 1, 1)


def test_synced_price_is_appended_when_the_catalog_changes(db, tmp_path):
    model = CatalogModelFactory(provider="openai", name="gpt-4o", version="2024-08-06")
    ModelPriceFactory(
        model=model,
        effective_from=date(2025, 1, 1),
        input_usd_per_mtok=Decimal("5"),
        output_usd_per_mtok=Decimal("15"),
        source="earlier sync",
    )
    path = tmp_path / "map.json"
    path.write_text(json.dumps(MAP))
    report = catalog_sync(location=str(path), today=date(2025, 7, 1))
    assert len(report.changes) == 1
    prices = list(
        model.prices.order_by("effective_from").values_list(
            "effective_from", "input_usd_per_mtok", "output_usd_per_mtok"
        )
    )
    assert prices[-1] == (date(2025, 7, 1), Decimal("2.5000"), Decimal("10.0000"))
    assert len(prices) == 2  # the old one stays: past days keep their price


def test_a_synced_shutdown_shows_in_the_next_evaluation(world, map_file):
    evaluate_portfolio(as_of=date(2025, 7, 1))
    before = world.tune_a.evaluations.get(as_of=date(2025, 7, 1))
    assert "2025-09-15" not in json.dumps(before.findings)
    catalog_sync(location=map_file, today=date(2025, 7, 1))
    evaluate_portfolio(as_of=date(2025, 7, 2))
    after = world.tune_a.evaluations.get(as_of=date(2025, 7, 2))
    assert "2025-09-15" in json.dumps(after.findings, default=str)


def test_command_from_a_url_on_a_local_server(world):
    server = ProviderServer().start()
    try:
        server.on("/model_prices_and_context_window.json", Answer(MAP))
        url = f"{server.url}/model_prices_and_context_window.json"
        out = io.StringIO()
        call_command("sync_catalog", url, "--dry-run", stdout=out)
        assert "would change: openai gpt-4o-mini 2024-07-18: shutdown none" in out.getvalue()
        assert "matched openai gpt-4o-mini 2024-07-18 → gpt-4o-mini-2024-07-18" in out.getvalue()
        assert CatalogModel.objects.get(pk=world.base.pk).shutdown_on is None  # dry run
        call_command("sync_catalog", url, stdout=io.StringIO())
        assert CatalogModel.objects.get(pk=world.base.pk).shutdown_on == date(2025, 9, 15)
        server.on("/broken.json", Answer({"error": "gone"}, status=404))
        with pytest.raises(CommandError, match="404"):
            call_command("sync_catalog", f"{server.url}/broken.json")
    finally:
        server.stop()
