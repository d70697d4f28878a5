"""Reads for usage imports: the aliases that tie provider model ids to tunes, and each tune's
tokens per query (to estimate queries where a source has no request count)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, timedelta
from typing import cast

from django.db.models import F, Sum

from tracker.models import FineTune, TuneAlias, UsageRecord

#: Days of measured usage that make a tune's tokens per query.
TOKENS_PER_QUERY_DAYS = 90


def alias_pairs(team_ids: Collection[int] | None) -> list[tuple[str, str]]:
    """(alias, tune slug) for the teams' tunes (every team when ``None``)."""
    aliases = TuneAlias.objects.all()
    if team_ids is not None:
        aliases = aliases.filter(team_id__in=list(team_ids))
    return list(aliases.values_list("model_id", "tune__slug"))


def tokens_per_query(slugs: Collection[str], today: date) -> dict[str, float]:
    """Each tune's recent measured tokens per query (counted requests only, never estimates),
    else its expected input + output tokens per query. Tunes with neither are left out."""
    since = today - timedelta(days=TOKENS_PER_QUERY_DAYS)
    measured = (
        UsageRecord.objects.filter(
            tune__slug__in=list(slugs), estimated=False, day__gte=since, day__lte=today
        )
        .values("tune__slug")
        .annotate(tokens=Sum(F("input_tokens") + F("output_tokens")), queries=Sum("queries"))
    )
    found = {r["tune__slug"]: r["tokens"] / r["queries"] for r in measured if r["queries"]}
    # The filter leaves out tunes missing either expectation: both counts are ints.
    expected = cast(
        Iterable[tuple[str, int, int]],
        FineTune.objects.filter(
            slug__in=[s for s in slugs if s not in found],
            expected_input_tokens__isnull=False,
            expected_output_tokens__isnull=False,
        ).values_list("slug", "expected_input_tokens", "expected_output_tokens"),
    )
    for slug, input_tokens, output_tokens in expected:
        if input_tokens + output_tokens > 0:
            found[slug] = float(input_tokens + output_tokens)
    return found
