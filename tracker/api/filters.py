"""Query filters for the lists. Unknown values of a free-text filter match nothing; values of the
wrong type are refused (400), as the schema says."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from tracker.models import ChangeLogEntry, Evaluation, FineTune, Flag, Verdict

from .fields import NO_NUL_PATTERN


class _IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.NumberFilter):
    field_class = _IdField


@extend_schema_field({"type": "string", "maxLength": 200, "pattern": NO_NUL_PATTERN})
class TextFilter(django_filters.CharFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 200)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "boolean"})
class StrictBooleanFilter(django_filters.ChoiceFilter):
    """``true`` or ``false``, nothing else (django-filter's own takes "null", "1", "yes"...)."""

    def __init__(self, *args, **kwargs):
        kwargs["choices"] = [("true", "true"), ("false", "false")]
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return super().filter(qs, value == "true")


class TuneFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=FineTune.Status.choices)
    verdict = django_filters.ChoiceFilter(
        field_name="latest_verdict", choices=Verdict.choices, help_text="The latest verdict."
    )
    team = TextFilter(field_name="team__slug", help_text="Team slug.")
    base_model = IdFilter(field_name="base_model_id", help_text="Catalog model id.")
    method = django_filters.ChoiceFilter(choices=FineTune.Method.choices)
    search = TextFilter(method="filter_search", help_text="In name, slug and task description.")
    ordering = django_filters.OrderingFilter(
        fields=(("name", "name"), ("slug", "slug"), ("updated_at", "updated_at"))
    )

    class Meta:
        model = FineTune
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(slug__icontains=value)
            | Q(task_description__icontains=value)
        )


class ChangeLogFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ChangeLogEntry.Kind.choices)
    meaningful = StrictBooleanFilter()
    since = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = ChangeLogEntry
        fields: list[str] = []


class EvaluationFilter(django_filters.FilterSet):
    since = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)

    class Meta:
        model = Evaluation
        fields: list[str] = []


class FlagFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("snoozed", "snoozed"), ("resolved", "resolved")],
        method="filter_state",
        help_text="open (awake or snoozed), snoozed (until a later day), or resolved.",
    )
    kind = django_filters.ChoiceFilter(choices=Flag.Kind.choices)
    team = TextFilter(field_name="tune__team__slug", help_text="Team slug.")
    tune = TextFilter(field_name="tune__slug", help_text="Tune slug.")
    acknowledged = StrictBooleanFilter(method="filter_acknowledged")
    opened_since = django_filters.DateFilter(field_name="opened_on", lookup_expr="gte")

    class Meta:
        model = Flag
        fields: list[str] = []

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(resolved_on__isnull=True)
        if value == "snoozed":
            return queryset.filter(resolved_on__isnull=True, snoozed_until__gt=timezone.localdate())
        return queryset.filter(resolved_on__isnull=False)

    def filter_acknowledged(self, queryset, name, value):
        return queryset.filter(acknowledged_at__isnull=not value)
