"""Writes to the tunes from outside the admin: register, edit, and their serving prices.

Every write validates the whole model (fields, constraints, uniqueness) before saving, so a bad
value is refused with the field it concerns (``django.core.exceptions.ValidationError``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from tracker.models import ENGINE_TUNE_FIELDS, FineTune, Team, TunePrice
from tracker.selectors import access
from tracker.selectors.access import TeamIds

from .catalog import append_price, refuse_fixed_fields

#: Fields a tune's edit may change: its description and every field the engine reads; team and
#: slug are fixed once registered.
EDITABLE_FIELDS = frozenset(
    {"name", "owner", "status", "task_description", "method", *ENGINE_TUNE_FIELDS.values()}
)


@transaction.atomic
def create_tune(**fields: Any) -> FineTune:
    """Register a tune (proposed or deployed). Retiring is :func:`retire_tune`'s job."""
    if fields.get("status") == FineTune.Status.RETIRED:
        raise ValidationError({"status": STATUS_ERRORS["registered retired"]})
    tune = FineTune(**fields)
    tune.full_clean()
    tune.save()
    return tune


def team_owner(*, team: Team, username: str, field: str = "owner") -> Any:
    """The member of ``team`` with this username: a tune's owner must belong to its team."""
    owner = access.team_member(team, username)
    if owner is None:
        raise ValidationError({field: f"No member '{username}' in team {team.slug}."})
    return owner


def registering_team(*, team_ids: TeamIds, key_team: Team | None, slug: str | None) -> Team:
    """The team a new tune belongs to: an API key's own team; else the named team among the
    caller's; else the caller's only team."""
    if key_team is not None:
        if slug is not None and slug != key_team.slug:
            raise ValidationError(
                {"team": f"This API key registers tunes in its own team, {key_team.slug}."}
            )
        return key_team
    if slug is not None:
        team = access.team_by_slug(team_ids, slug)
        if team is None:
            raise ValidationError({"team": f"No team '{slug}' among yours."})
        return team
    teams = list(access.visible_teams(team_ids)[:2])
    if len(teams) != 1:
        raise ValidationError({"team": "Name the team (its slug)."})
    return teams[0]


def register_tune(
    *,
    team_ids: TeamIds,
    key_team: Team | None,
    team_slug: str | None,
    owner_username: str | None,
    caller_username: str | None,
    **fields: Any,
) -> FineTune:
    """Register a tune for a caller: choose its team (:func:`registering_team`), its owner (the
    named member, else the caller when a person registers) and its slug (the name, slugified,
    unless given)."""
    team = registering_team(team_ids=team_ids, key_team=key_team, slug=team_slug)
    username = owner_username if owner_username is not None else caller_username
    if username is None:
        raise ValidationError({"owner": "Required when registering with an API key."})
    owner = team_owner(team=team, username=username)
    fields.setdefault("slug", slugify(fields.get("name", ""))[:160])
    if not fields["slug"]:
        raise ValidationError({"slug": "Give a slug: the name has no letters."})
    return create_tune(team=team, owner=owner, **fields)


STATUS_ERRORS = {
    "registered retired": "A tune is registered proposed or deployed.",
    "unretired": "A retired tune stays retired.",
    "retired by edit": "Retire a tune through its retire action.",
}


def status_change_error(*, current: str, new: str) -> str | None:
    """Why a tune may not move from ``current`` to ``new`` status by an edit, or None: status
    moves between proposed and deployed only (retiring is :func:`retire_tune`)."""
    if new == current:
        return None
    if current == FineTune.Status.RETIRED:
        return STATUS_ERRORS["unretired"]
    if new == FineTune.Status.RETIRED:
        return STATUS_ERRORS["retired by edit"]
    return None


@transaction.atomic
def update_tune(*, tune: FineTune, **fields: Any) -> FineTune:
    """Change some of a tune's fields. Status moves between proposed and deployed only."""
    refuse_fixed_fields(fields, EDITABLE_FIELDS)
    tune = FineTune.objects.select_for_update().get(pk=tune.pk)
    if "status" in fields:
        error = status_change_error(current=tune.status, new=fields["status"])
        if error:
            raise ValidationError({"status": error})
    for name, value in fields.items():
        setattr(tune, name, value)
    tune.full_clean()
    tune.save(update_fields=[*fields, "updated_at"])
    return tune


@transaction.atomic
def add_serving_price(*, tune: FineTune, by: str, **fields: Any) -> TunePrice:
    """Append a serving price; prices are never rewritten, so it must start after the last.
    ``by`` (a username or an API key's label) is kept with it."""
    FineTune.objects.select_for_update().filter(pk=tune.pk).first()
    return append_price(
        TunePrice(tune=tune, created_by=by[:150], **fields), TunePrice.objects.filter(tune=tune)
    )
