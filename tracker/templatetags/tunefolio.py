"""Numbers as the reasons write them: $1,234 (and -$240), months to one decimal, verdict badges."""

from __future__ import annotations

import math

from django import template
from django.utils.html import format_html

from decision.fmt import figure_label as figure_label_text
from tracker.models import Verdict
from tracker.selectors.digest import months as months_text
from tracker.selectors.digest import usd as usd_text

register = template.Library()

VERDICT_CLASSES = {v.value: v.value.lower().replace("_", "-") for v in Verdict}


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def figure_label(key: str) -> str:
    """A figure's name as the reasons, the admin and the emails write it."""
    return figure_label_text(key)


@register.filter
def usd(value) -> str:
    """Whole dollars with separators; "—" when unknown."""
    number = _number(value)
    return "—" if number is None else usd_text(number)


@register.filter
def usd_per_query(value) -> str:
    """Per-query costs are fractions of a cent: four significant figures."""
    number = _number(value)
    if number is None:
        return "—"
    sign = "-" if number < 0 else ""
    return f"{sign}${abs(number):.4g}"


@register.filter
def months(value) -> str:
    number = _number(value)
    if value == math.inf or (isinstance(value, float) and math.isinf(value)):
        return "never"
    return "—" if number is None else months_text(number)


@register.filter
def count(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:,.0f}"


@register.filter
def verdict_badge(verdict) -> str:
    if not verdict:
        return "—"
    label = Verdict(verdict).label if verdict in Verdict.values else str(verdict)
    return format_html(
        '<span class="badge badge-{}">{}</span>', VERDICT_CLASSES.get(verdict, "none"), label
    )


@register.simple_tag
def age_days(since, today) -> str:
    """Whole days from ``since`` to ``today``: "today", "1 day", "12 days"."""
    if not since or not today:
        return "—"
    days = (today - since).days
    return "today" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
