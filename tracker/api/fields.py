"""JSON types taken at their word.

DRF is lenient: ``"12"`` passes as an integer, ``1`` as ``true``, ``12`` as a string. The schema
promises JSON types, so input serializers here refuse anything else: what the schema calls
invalid, the API refuses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.models import FIRST_DAY, LAST_DAY
from tracker.services.usage import DAY_PATTERN

NO_NUL_PATTERN = r"^[^\x00]*$"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expected_json_type(field: serializers.Field):
    """(check, description) for the JSON type ``field`` accepts, or None to leave it to DRF."""
    if isinstance(field, serializers.BooleanField):
        return (lambda v: isinstance(v, bool)), "a boolean"
    if isinstance(field, (serializers.IntegerField, serializers.PrimaryKeyRelatedField)):
        return (lambda v: isinstance(v, int) and not isinstance(v, bool)), "an integer"
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return _is_number, "a number"
    if isinstance(
        field,
        (
            serializers.CharField,
            serializers.ChoiceField,
            serializers.DateField,
            serializers.DateTimeField,
            serializers.SlugRelatedField,
        ),
    ):
        return (lambda v: isinstance(v, str)), "a string"
    if isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        return (lambda v: isinstance(v, list)), "an array"
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return (lambda v: isinstance(v, Mapping)), "an object"
    return None


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not pass as an omitted optional field), and
    checks every field's JSON type before DRF's own (lenient) conversion."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            errors = {
                str(name): ["Unknown field."] for name in sorted(set(data) - writable, key=str)
            }
            for name, field in self.fields.items():
                if field.read_only or name not in data or data[name] is None:
                    continue
                expected = expected_json_type(field)
                if expected and not expected[0](data[name]):
                    errors[name] = [f"Must be {expected[1]}."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictMoneyField(serializers.DecimalField):
    """USD as a JSON number, rounded to cents (or the given places); never negative."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("rounding", "ROUND_HALF_EVEN")
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(**kwargs)


EARLIEST_DAY = FIRST_DAY
LATEST_DAY = LAST_DAY
#: How the schema states the range: a day written YYYY-MM-DD, in 2000 to 2099.
DAY_SCHEMA = {"type": "string", "format": "date", "pattern": DAY_PATTERN}


@extend_schema_field(DAY_SCHEMA)
class PlausibleDateField(serializers.DateField):
    """A day in this century: what the portfolio's dates can be (and what the engine can
    compute with)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(self._plausible)

    @staticmethod
    def _plausible(value: date) -> None:
        if not EARLIEST_DAY <= value <= LATEST_DAY:
            raise serializers.ValidationError(f"Must be between {EARLIEST_DAY} and {LATEST_DAY}.")
