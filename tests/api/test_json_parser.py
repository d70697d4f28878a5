"""The JSON parser's checks of what a body holds: nesting, and text no database stores. The
checks that skip a look at each value (no escaped surrogate in the body; a level without
containers) must find what the full walk finds."""

from __future__ import annotations

import pytest

from tests.api.helpers import error_of, usage_row
from tracker.api.parsers import MAX_DEPTH, nested_too_deep, text_problems
from tracker.models import UsageRecord


def nest(depth: int, kind: str):
    value: object = 1
    for level in range(depth):
        if kind == "lists":
            value = [value]
        elif kind == "dicts":
            value = {"k": value, "other": 1}
        else:  # alternating, with scalars beside the containers
            value = {"k": [value, "x"]} if level % 2 else [{"k": value}, 2]
    return value


@pytest.mark.parametrize("kind", ["lists", "dicts", "mixed"])
@pytest.mark.parametrize("depth", [0, 1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 5])
def test_the_nesting_check_agrees_with_the_full_walk(depth, kind):
    data = nest(depth, kind)
    too_deep = any("Nested deeper" in p["message"] for p in text_problems(data))
    assert nested_too_deep(data) == too_deep
    assert nested_too_deep({"records": [{"tune": "a"}] * 3, "source": "x"}) is False


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_field_name_is_refused_with_its_row(world):
    body = '{"records": [{"tune": "ticket-triage"}, {"\\udc00": 1}]}'
    response = world.client_a().post("/api/v1/usage/", body, content_type="application/json")
    assert response.status_code == 400
    assert [d["row"] for d in error_of(response)["details"]] == [1]
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_an_escaped_backslash_before_u_is_text_not_a_surrogate(world):
    # JSON "\\ud800" is a backslash and "ud800": ordinary text, refused only as a source name
    # would be for its content, never as a broken character.
    source = "gate\\ud800way"
    response = world.client_a().post(
        "/api/v1/usage/", {"records": [usage_row(source=source)]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert UsageRecord.objects.get().source == source
