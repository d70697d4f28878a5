"""Tunes as CSV: from the API (``?format=csv``) and the admin, streamed."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import FineTuneFactory, UserFactory
from tests.jobs import portfolio
from tracker.models import Evaluation, FineTune
from tracker.selectors.export import COLUMNS, tune_rows
from tracker.services import evaluate_portfolio

DAY = date(2026, 3, 2)


def read(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def evaluated(db, staff_user):
    p = portfolio.build(DAY, ("keep", "retire", "retrain", "ready"))
    evaluate_portfolio(as_of=DAY, tune_ids=p.ids)
    for tune in p.tunes.values():
        tune.team.members.add(staff_user)
    return p


def test_the_api_streams_every_tune_with_its_latest_verdict(evaluated, staff_client):
    response = staff_client.get("/api/v1/tunes/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read(response)
    assert list(rows[0]) == COLUMNS
    by_slug = {row["slug"]: row for row in rows}
    assert set(by_slug) == {t.slug for t in evaluated.tunes.values()}
    for tune in evaluated.tunes.values():
        latest = Evaluation.objects.get(tune=tune, as_of=DAY)
        row = by_slug[tune.slug]
        assert row["latest_verdict"] == latest.verdict
        assert row["latest_as_of"] == DAY.isoformat()
        assert row["reason"].lstrip("'") == latest.reason
        if latest.monthly_net_saving is not None:
            assert float(row["monthly_net_saving_usd"]) == float(latest.monthly_net_saving)
    retrain = by_slug[evaluated["retrain"].slug]
    shutdown = evaluated["retrain"].base_model.shutdown_on
    assert retrain["base_model_shutdown_on"] == shutdown.isoformat()
    assert retrain["retrain_by"] == (shutdown - timedelta(days=30)).isoformat()
    assert by_slug[evaluated["ready"].slug]["retrain_by"] == ""


def test_the_csv_follows_the_list_filters_and_the_callers_teams(evaluated, client):
    member = UserFactory()
    evaluated["keep"].team.members.add(member)
    evaluated["ready"].team.members.add(member)
    client.force_login(member)
    rows = read(client.get("/api/v1/tunes/?format=csv&status=proposed"))
    assert [row["slug"] for row in rows] == [evaluated["ready"].slug]
    rows = read(client.get("/api/v1/tunes/?format=csv"))
    visible = {evaluated["keep"].slug, evaluated["ready"].slug}
    assert {row["slug"] for row in rows} == visible


def test_json_stays_the_default(evaluated, staff_client):
    response = staff_client.get("/api/v1/tunes/")
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["count"] == 4


def test_spreadsheet_formulas_are_neutralised(db):
    FineTuneFactory(name='=HYPERLINK("http://evil")', slug="formula")
    [_, row] = list(tune_rows(FineTune.objects.all()))
    assert row[COLUMNS.index("name")] == '\'=HYPERLINK("http://evil")'


def test_the_export_makes_the_same_queries_for_5_or_60_tunes(db):
    counts = []
    for n in (5, 60):
        FineTune.objects.all().delete()
        FineTuneFactory.create_batch(n)
        with CaptureQueriesContext(connection) as queries:
            rows = list(tune_rows(FineTune.objects.all()))
        assert len(rows) == n + 1
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_admin_exports_the_selected_tunes(evaluated, staff_client):
    chosen = [evaluated["keep"].pk, evaluated["retire"].pk]
    response = staff_client.post(
        reverse("admin:tracker_finetune_changelist"),
        {"action": "export_csv", "_selected_action": chosen},
    )
    assert response.status_code == 200
    rows = read(response)
    assert sorted(row["slug"] for row in rows) == sorted(
        [evaluated["keep"].slug, evaluated["retire"].slug]
    )
    assert {row["latest_verdict"] for row in rows} == {"KEEP", "RETIRE"}


def test_a_bad_filter_with_csv_gets_the_json_error_envelope(evaluated, staff_client):
    response = staff_client.get("/api/v1/tunes/?format=csv&verdict=AAA")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["details"][0]["field"] == "verdict"
