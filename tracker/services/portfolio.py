"""Writes to the tunes from outside the admin: register, edit, and their serving prices.

Every write validates the whole model (fields, constraints, uniqueness) before saving, so a bad
value is refused with the field it concerns (``django.core.exceptions.ValidationError``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tracker.models import ENGINE_TUNE_FIELDS, FineTune, TunePrice

from .catalog import append_price, refuse_fixed_fields

#: Fields a tune's edit may change: its description and every field the engine reads; team and
#: slug are fixed once registered.
EDITABLE_FIELDS = frozenset(
    {"name", "owner", "status", "task_description", "method", *ENGINE_TUNE_FIELDS.values()}
)


@transaction.atomic
def create_tune(**fields) -> FineTune:
    """Register a tune (proposed or deployed). Retiring is :func:`retire_tune`'s job."""
    if fields.get("status") == FineTune.Status.RETIRED:
        raise ValidationError({"status": "A tune is registered proposed or deployed."})
    tune = FineTune(**fields)
    tune.full_clean()
    tune.save()
    return tune


@transaction.atomic
def update_tune(tune: FineTune, **fields) -> FineTune:
    """Change some of a tune's fields. Status moves between proposed and deployed only."""
    refuse_fixed_fields(fields, EDITABLE_FIELDS)
    tune = FineTune.objects.select_for_update().get(pk=tune.pk)
    if "status" in fields and fields["status"] != tune.status:
        if tune.status == FineTune.Status.RETIRED:
            raise ValidationError({"status": "A retired tune stays retired."})
        if fields["status"] == FineTune.Status.RETIRED:
            raise ValidationError({"status": "Retire a tune through its retire action."})
    for name, value in fields.items():
        setattr(tune, name, value)
    tune.full_clean()
    tune.save(update_fields=[*fields, "updated_at"])
    return tune


@transaction.atomic
def add_serving_price(tune: FineTune, **fields) -> TunePrice:
    """Append a serving price; prices are never rewritten, so it must start after the last."""
    FineTune.objects.select_for_update().filter(pk=tune.pk).first()
    return append_price(TunePrice(tune=tune, **fields), TunePrice.objects.filter(tune=tune))
