"""The tune list's verdict filter reads each tune's latest day, not the last one written."""

from datetime import date

from tests.factories import EvaluationFactory


def test_the_verdict_filter_reads_the_latest_day_after_a_backfill(world):
    EvaluationFactory(tune=world.tune_a, as_of=date(2025, 7, 1), verdict="RETIRE")
    EvaluationFactory(tune=world.tune_a, as_of=date(2025, 6, 1), verdict="KEEP")  # a backfill
    api = world.client_a()
    retire = api.get("/api/v1/tunes/?verdict=RETIRE").json()["results"]
    keep = api.get("/api/v1/tunes/?verdict=KEEP").json()["results"]
    assert [t["slug"] for t in retire] == [world.tune_a.slug]
    assert retire[0]["latest_as_of"] == "2025-07-01"
    assert keep == []
