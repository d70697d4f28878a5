"""Reads limited to what a caller may see: the teams they belong to (``team_ids``; ``None`` for
every team). The API's lists, details and nested routes all come through here, so a tune of
another team is simply not found.

The catalog (base models and their prices) is the providers' and shared by every team.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from tracker.models import (
    CatalogModel,
    ChangeLogEntry,
    Evaluation,
    FineTune,
    Flag,
    ModelPrice,
    ShutdownDateChange,
    Team,
    TunePrice,
)

from .portfolio import tunes_with_latest_verdict

TeamIds = Collection[int] | None

_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,160}")
_ID = re.compile(r"[1-9][0-9]{0,17}")


def _in_teams(queryset: QuerySet, team_ids: TeamIds, field: str = "team_id") -> QuerySet:
    return queryset if team_ids is None else queryset.filter(**{f"{field}__in": list(team_ids)})


def visible_teams(team_ids: TeamIds) -> QuerySet[Team]:
    return _in_teams(Team.objects.all(), team_ids, "pk").order_by("name")


def team_by_slug(team_ids: TeamIds, slug: str) -> Team | None:
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        return None
    return visible_teams(team_ids).filter(slug=slug).first()


def visible_tunes(team_ids: TeamIds) -> QuerySet[FineTune]:
    """Tunes with ``latest_verdict``/``latest_as_of``, their team, owner and base model."""
    tunes = _in_teams(FineTune.objects.all(), team_ids)
    return tunes_with_latest_verdict(tunes).select_related("team", "owner", "base_model")


def tune_by_slug(team_ids: TeamIds, slug: str) -> FineTune | None:
    """The tune, if the caller may see it (``None`` otherwise, as for a slug that is unknown)."""
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        return None
    return visible_tunes(team_ids).filter(slug=slug).first()


def tune_changes(tune: FineTune) -> QuerySet[ChangeLogEntry]:
    return ChangeLogEntry.objects.filter(tune=tune).order_by("-day", "-id")


def tune_serving_prices(tune: FineTune) -> QuerySet[TunePrice]:
    return TunePrice.objects.filter(tune=tune).order_by("effective_from")


def tune_evaluations(tune: FineTune) -> QuerySet[Evaluation]:
    return Evaluation.objects.filter(tune=tune).select_related("tune", "policy").order_by("-as_of")


def latest_evaluation(tune: FineTune) -> Evaluation | None:
    return tune_evaluations(tune).first()


def _tune_count(team_ids: TeamIds, field: str) -> Coalesce:
    """How many of the caller's tunes point at the outer catalog model through ``field``: a
    correlated count on the foreign key's index, so a page costs the same at any portfolio size
    (joining both relations before counting multiplies the rows)."""
    tunes = _in_teams(FineTune.objects.filter(**{field: OuterRef("pk")}), team_ids)
    counted = tunes.order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def catalog(team_ids: TeamIds) -> QuerySet[CatalogModel]:
    """Every catalog model, with how many of the caller's tunes use it (as base or alternative)."""
    last_change = ShutdownDateChange.objects.filter(model=OuterRef("pk")).order_by(
        "-changed_at", "-id"
    )
    return CatalogModel.objects.annotate(
        tune_count=_tune_count(team_ids, "base_model"),
        alternative_count=_tune_count(team_ids, "alternative"),
        shutdown_on_changed_by=Subquery(last_change.values("changed_by")[:1]),
        shutdown_on_changed_at=Subquery(last_change.values("changed_at")[:1]),
    ).order_by("provider", "name", "version", "pk")


def catalog_model(team_ids: TeamIds, model_id) -> CatalogModel | None:
    if isinstance(model_id, int):
        model_id = str(model_id)
    if not isinstance(model_id, str) or not _ID.fullmatch(model_id):
        return None
    return catalog(team_ids).filter(pk=int(model_id)).first()


def model_prices(model: CatalogModel) -> QuerySet[ModelPrice]:
    return ModelPrice.objects.filter(model=model).order_by("effective_from")


def team_member(team: Team, username: str):
    """The member of ``team`` with this username, or ``None``."""
    if not isinstance(username, str) or "\x00" in username:
        return None
    return team.members.filter(username=username).first()


#: Open flags first, oldest first (the order the flag index keeps).
FLAG_ORDER = ("-resolved_on", "opened_on", "pk")


def visible_flags(team_ids: TeamIds) -> QuerySet[Flag]:
    """Flags on the caller's tunes, with their tune, owner and who acted on them, open ones
    first, oldest first."""
    return (
        _in_teams(Flag.objects.all(), team_ids, "tune__team_id")
        .select_related(
            "tune", "tune__owner", "tune__team", "opened_by", "acknowledged_by", "snoozed_by"
        )
        .order_by(*FLAG_ORDER)
    )


def flag_by_id(team_ids: TeamIds, flag_id) -> Flag | None:
    if isinstance(flag_id, int):
        flag_id = str(flag_id)
    if not isinstance(flag_id, str) or not _ID.fullmatch(flag_id):
        return None
    return visible_flags(team_ids).filter(pk=int(flag_id)).first()
