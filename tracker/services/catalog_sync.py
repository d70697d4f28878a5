"""The catalog fills its own shutdown dates and prices from LiteLLM's model map (a file or URL;
matching in ``tracker.importers.catalog``). Dates and prices set by hand are never overwritten:
a hand-set value has no source. Synced values record where they came from. Prices are appended
(effective today), never rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracker.importers.catalog import CatalogInvalid, match, read_catalog
from tracker.importers.clients import Http, PullFailed
from tracker.models import CatalogModel, ModelPrice


class CatalogSyncFailed(Exception):
    pass


@dataclass
class SyncReport:
    matched: list[tuple[str, str]] = field(default_factory=list)  # (catalog model, entry key)
    changes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # hand-set values the sync left alone
    unmatched: list[str] = field(default_factory=list)


def load(location: str) -> str | object:
    if location.startswith(("http://", "https://")):
        http = Http(
            timeout=settings.USAGE_PULL_TIMEOUT,
            retries=settings.USAGE_PULL_RETRIES,
            backoff=settings.USAGE_PULL_BACKOFF,
        )
        try:
            with httpx.Client() as client:
                return http.get_json(client, location, None)
        except PullFailed as exc:
            raise CatalogSyncFailed(str(exc)) from exc
    try:
        return Path(location).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogSyncFailed(f"Cannot read {location}: {exc}") from exc


def catalog_sync(*, location: str, today: date | None = None, dry_run: bool = False) -> SyncReport:
    today = today or timezone.localdate()
    raw = load(location)
    try:
        entries = read_catalog(raw if isinstance(raw, (str, bytes)) else json.dumps(raw))
    except CatalogInvalid as exc:
        raise CatalogSyncFailed(f"{location}: {exc}") from exc
    report = SyncReport()
    with transaction.atomic():
        for model in CatalogModel.objects.select_for_update().prefetch_related("prices"):
            entry = match(entries, model.provider, model.name, model.version)
            if entry is None:
                report.unmatched.append(str(model))
                continue
            report.matched.append((str(model), entry.key))
            source = f"{location}#{entry.key}"
            _sync_shutdown(model, entry, source, report)
            _sync_price(model, entry, source, today, report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def _sync_shutdown(model: CatalogModel, entry, source: str, report: SyncReport) -> None:
    new = entry.deprecation_date
    if new is None or new == model.shutdown_on:
        return
    if model.shutdown_on is not None and not model.shutdown_source:
        report.kept.append(
            f"{model}: shutdown {model.shutdown_on} set by hand kept (catalog says {new})."
        )
        return
    old = model.shutdown_on
    model.shutdown_on, model.shutdown_source = new, source
    try:
        model.full_clean()
    except ValidationError as exc:
        report.kept.append(f"{model}: catalog shutdown {new} refused: {exc.messages[0]}")
        return
    model.save(update_fields=["shutdown_on", "shutdown_source"])
    report.changes.append(f"{model}: shutdown {old or 'none'} → {new}.")


def _sync_price(model: CatalogModel, entry, source: str, today: date, report) -> None:
    new = (entry.input_usd_per_mtok, entry.output_usd_per_mtok)
    if None in new:
        return
    prices = sorted(model.prices.all(), key=lambda p: p.effective_from)
    last = prices[-1] if prices else None
    if last is not None and (last.input_usd_per_mtok, last.output_usd_per_mtok) == new:
        return
    if last is not None and not last.source:
        report.kept.append(
            f"{model}: price {last.input_usd_per_mtok}/{last.output_usd_per_mtok} set by hand "
            f"kept (catalog says {new[0]}/{new[1]})."
        )
        return
    if last is not None and last.effective_from >= today:
        report.kept.append(f"{model}: a price already starts {last.effective_from}.")
        return
    ModelPrice.objects.create(
        model=model,
        effective_from=today,
        input_usd_per_mtok=new[0],
        output_usd_per_mtok=new[1],
        source=source,
    )
    report.changes.append(
        f"{model}: price from {today} {new[0]} in / {new[1]} out USD per 1M tokens."
    )
