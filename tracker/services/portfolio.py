"""Writes to the tunes from outside the admin: register, edit, and their serving prices.

Every write validates the whole model (fields, constraints, uniqueness) before saving, so a bad
value is refused with the field it concerns (``django.core.exceptions.ValidationError``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tracker.models import FineTune, TunePrice

from .catalog import append_price, refuse_fixed_fields

#: Fields a tune's edit may change; team and slug are fixed once registered.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "owner",
        "status",
        "task_description",
        "method",
        "base_model",
        "alternative",
        "extra_prompt_tokens",
        "need_is_articulable",
        "behaviour_unpromptable",
        "tacit_expertise",
        "adds_knowledge",
        "fixes_formatting",
        "few_edge_cases",
        "brand_tone",
        "labelled_examples",
        "target_score",
        "baseline_score",
        "tune_score",
        "upfront_cost",
        "retrain_cost",
        "monthly_fixed_cost",
        "deployed_on",
        "last_trained_on",
        "expected_monthly_queries",
        "expected_input_tokens",
        "expected_output_tokens",
    }
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
def add_serving_price(tune: FineTune, *, by: str, **fields) -> TunePrice:
    """Append a serving price; prices are never rewritten, so it must start after the last.
    ``by`` (a username or an API key's label) is kept with it."""
    FineTune.objects.select_for_update().filter(pk=tune.pk).first()
    return append_price(
        TunePrice(tune=tune, created_by=by[:150], **fields), TunePrice.objects.filter(tune=tune)
    )
