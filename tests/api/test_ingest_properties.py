"""Properties of usage ingestion, over generated batches (through the API, as clients see it):
a batch sent twice equals it sent once; the order of its rows never matters; one invalid row at
any index is refused with that index named, and the table is left as it was."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import TODAY, error_of, usage_table
from tests.factories import FineTuneFactory, UsageRecordFactory
from tracker.models import UsageRecord

URL = "/api/v1/usage/"
TUNES = ("ticket-triage", "reply-drafts")
SOURCES = ("gateway", "billing-export", "cron")

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

counts = st.integers(min_value=0, max_value=10**12)
rows = st.fixed_dictionaries(
    {
        "tune": st.sampled_from(TUNES),
        "day": st.dates(TODAY - timedelta(days=60), TODAY).map(date.isoformat),
        "source": st.sampled_from(SOURCES),
        "queries": counts,
        "input_tokens": counts,
        "output_tokens": counts,
    },
    optional={
        "cost_usd": st.none() | st.integers(0, 10**6) | st.floats(0, 10**6, allow_nan=False),
        "quality_score": st.none() | st.floats(0, 1),
    },
)
batches = st.lists(
    rows, min_size=1, max_size=25, unique_by=lambda r: (r["tune"], r["day"], r["source"])
)

#: Ways to spoil one row, and the field the error must name.
SPOILERS = {
    "future day": (lambda r: {**r, "day": (TODAY + timedelta(days=1)).isoformat()}, "day"),
    "bad day": (lambda r: {**r, "day": "2025-13-01"}, "day"),
    "negative queries": (lambda r: {**r, "queries": -1}, "queries"),
    "absurd tokens": (lambda r: {**r, "input_tokens": 10**12 + 1}, "input_tokens"),
    "beyond bigint": (lambda r: {**r, "output_tokens": 2**64}, "output_tokens"),
    "unknown tune": (lambda r: {**r, "tune": "no-such-tune"}, "tune"),
    "other team's tune": (lambda r: {**r, "tune": "clause-review"}, "tune"),
    "nul byte": (lambda r: {**r, "source": "gate\x00way"}, "source"),
    "text number": (lambda r: {**r, "queries": "12"}, "queries"),
    "fraction": (lambda r: {**r, "queries": 0.5}, "queries"),
    "score above 1": (lambda r: {**r, "quality_score": 1.01}, "quality_score"),
    "missing field": (
        lambda r: {k: v for k, v in r.items() if k != "output_tokens"},
        "output_tokens",
    ),
}


@pytest.fixture
def client(world):
    FineTuneFactory(slug="reply-drafts", team=world.team_a, owner=world.alice)
    return world.client_a()


def send(client, batch):
    return client.post(URL, {"records": batch}, format="json")


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(batch=batches)
def test_a_batch_sent_twice_equals_it_sent_once(client, batch):
    UsageRecord.objects.all().delete()
    first = send(client, batch)
    assert first.status_code == 200, first.json()
    assert first.json()["created"] == len(batch)
    once = usage_table()
    assert len(once) == len(batch)

    second = send(client, batch)
    assert second.status_code == 200
    assert second.json() == {
        "received": len(batch),
        "created": 0,
        "updated": 0,
        "unchanged": len(batch),
        "warnings": [],  # every source of the batch now reports its days
    }
    assert usage_table() == once


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(batch=batches, data=st.data())
def test_row_order_never_matters(client, batch, data):
    shuffled = data.draw(st.permutations(batch))
    UsageRecord.objects.all().delete()
    in_order = send(client, batch)
    expected = usage_table()
    UsageRecord.objects.all().delete()
    out_of_order = send(client, shuffled)
    assert out_of_order.json() == in_order.json()
    assert usage_table() == expected


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(batch=batches, data=st.data(), spoiler=st.sampled_from(sorted(SPOILERS)))
def test_one_invalid_row_is_named_and_nothing_is_written(client, world, batch, data, spoiler):
    UsageRecord.objects.all().delete()
    UsageRecordFactory(tune=world.tune_a, day=TODAY - timedelta(days=1), source="gateway")
    before = usage_table()
    index = data.draw(st.integers(0, len(batch) - 1), label="index")
    spoil, field = SPOILERS[spoiler]
    batch = [*batch[:index], spoil(batch[index]), *batch[index + 1 :]]

    response = send(client, batch)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_batch"
    assert {(d["row"], d["field"]) for d in error["details"]} == {(index, field)}
    assert usage_table() == before


def _mixed(row: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        name: st.just(value) for name, value in row.items() if name != "source"
    }
    fields["queries"] = st.sampled_from([row["queries"], float(row["queries"] // 1000)])
    fields["input_tokens"] = st.sampled_from([row["input_tokens"], np.int64(row["input_tokens"])])
    return st.fixed_dictionaries(fields, optional={"source": st.sampled_from(SOURCES) | st.none()})


#: Rows mixing what the quick path takes with what only the full checks take (whole floats as
#: counts, a missing source), and NumPy integers, which both take.
mixed_rows = rows.flatmap(_mixed)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(batch=batches, mixed=st.lists(mixed_rows, min_size=1, max_size=8), data=st.data())
def test_a_plainly_valid_batch_is_cleaned_as_the_full_checks_clean_it(
    client, world, monkeypatch, batch, mixed, data
):
    """The quick path for the usual batch (every value plainly valid) answers exactly what the
    full checks answer, and leaves every other batch to them."""
    from tracker.services import usage

    records = data.draw(st.sampled_from([batch, mixed, batch + mixed]))
    frame = usage.frame_from_records(records)
    teams = [world.team_a.pk]

    def cleaned(quick: bool):
        with monkeypatch.context() as patch:
            if not quick:
                patch.setattr(usage, "_plainly_valid", lambda frame, **kwargs: None)
            try:
                return usage.validate_usage(frame, team_ids=teams, today=TODAY)
            except usage.UsageBatchInvalid as exc:
                return exc.errors

    quick, full = cleaned(True), cleaned(False)
    if isinstance(full, list):
        assert quick == full
    else:
        pd.testing.assert_frame_equal(quick, full)
        assert all(type(day) is date for day in quick["day"])
