"""Writes to the base-model catalog, shared by every team: models and their list prices.

Prices are effective-dated and appended, never rewritten: a new price must start after the last
one, so the price that applied on any past day stays what it was.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from tracker.models import CatalogModel, ModelPrice, Price, ShutdownDateChange

EDITABLE_FIELDS = frozenset(
    {"provider", "name", "version", "released_on", "shutdown_on", "successor"}
)


@transaction.atomic
def create_catalog_model(*, by: str, **fields: Any) -> CatalogModel:
    """Add a model; ``by`` (a username or an API key's label) is recorded with its shutdown date."""
    model = CatalogModel(**fields)
    model.full_clean()
    model.save()
    if model.shutdown_on is not None:
        record_shutdown_change(model=model, previous=None, by=by)
    return model


@transaction.atomic
def update_catalog_model(*, model: CatalogModel, by: str, **fields: Any) -> CatalogModel:
    """Record what a provider announces later: a shutdown date (who set it is kept), a successor."""
    refuse_fixed_fields(fields, EDITABLE_FIELDS)
    model = CatalogModel.objects.select_for_update().get(pk=model.pk)
    previous = model.shutdown_on
    for name, value in fields.items():
        setattr(model, name, value)
    if "shutdown_on" in fields:  # set by hand now: a catalog sync leaves it alone
        model.shutdown_source = ""
        fields = {**fields, "shutdown_source": ""}
    successor = fields.get("successor")
    if successor is not None and successor.pk == model.pk:
        raise ValidationError({"successor": "A model cannot be its own successor."})
    model.full_clean()
    model.save(update_fields=list(fields))
    if model.shutdown_on != previous:
        record_shutdown_change(model=model, previous=previous, by=by)
    return model


def record_shutdown_change(
    *, model: CatalogModel, previous: date | None, by: str
) -> ShutdownDateChange:
    """One row per shutdown-date change (the caller holds the transaction)."""
    return ShutdownDateChange.objects.create(
        model=model, previous=previous, shutdown_on=model.shutdown_on, changed_by=by[:150]
    )


@transaction.atomic
def add_model_price(*, model: CatalogModel, by: str, **fields: Any) -> ModelPrice:
    CatalogModel.objects.select_for_update().filter(pk=model.pk).first()
    return append_price(
        ModelPrice(model=model, created_by=by[:150], **fields),
        ModelPrice.objects.filter(model=model),
    )


def refuse_fixed_fields(fields: dict, editable: frozenset[str]) -> None:
    """An edit may only change ``editable`` fields; name every other one it tries."""
    fixed = set(fields) - editable
    if fixed:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(fixed)})


PriceT = TypeVar("PriceT", bound=Price)


def append_price(price: PriceT, existing: QuerySet[PriceT]) -> PriceT:
    """Save ``price`` if it starts after every existing one of the same owner."""
    error = price_start_error(effective_from=price.effective_from, existing=existing)
    if error:
        raise ValidationError({"effective_from": error})
    price.full_clean()
    price.save()
    return price


def price_start_error(*, effective_from: date | None, existing: QuerySet[PriceT]) -> str | None:
    """Why a new price may not start on ``effective_from``, or None: prices are appended, so a
    new one starts after every existing one of the same owner."""
    last = existing.order_by("-effective_from").first()
    if effective_from is None or last is None or effective_from > last.effective_from:
        return None
    return (
        f"Prices are appended, never rewritten: the last price starts on {last.effective_from}, "
        "so a new one must start after it."
    )
