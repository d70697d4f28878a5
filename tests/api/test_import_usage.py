"""manage.py import_usage: the API's ingestion path for CSV billing exports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.factories import UsageRecordFactory
from tracker.models import UsageRecord

DATA = Path(__file__).parent / "data"


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_usage", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_the_sample_billing_export_is_imported(world):
    out, _ = run(DATA / "billing_export.csv")
    assert "Ignoring columns: model." in out
    assert "Imported 60 rows from billing_export.csv: 60 new, 0 replaced, 0 unchanged." in out
    assert UsageRecord.objects.count() == 60
    first = UsageRecord.objects.get(tune=world.tune_a, day=date(2025, 6, 1))
    assert (first.source, first.queries, first.input_tokens, first.output_tokens) == (
        "billing-export",
        1612,
        1_271_868,
        245_024,
    )
    assert first.cost_usd == Decimal("0.6756")
    assert UsageRecord.objects.filter(tune=world.tune_b).count() == 30

    out, _ = run(DATA / "billing_export.csv")
    assert "60 rows from billing_export.csv: 0 new, 0 replaced, 60 unchanged." in out
    assert UsageRecord.objects.count() == 60


@pytest.mark.django_db
def test_a_bad_export_reports_every_error_by_line_and_writes_nothing(world):
    UsageRecordFactory(tune=world.tune_a, day=date(2025, 5, 1), source="gateway")
    with pytest.raises(CommandError, match=r"^8 errors in billing_export_bad.csv; nothing"):
        run(DATA / "billing_export_bad.csv")
    assert UsageRecord.objects.count() == 1


@pytest.mark.django_db
def test_the_error_lines_name_the_file_line_and_field(world):
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_usage", str(DATA / "billing_export_bad.csv"), stderr=err, verbosity=0)
    assert err.getvalue().splitlines() == [
        "billing_export_bad.csv: line 2: Same tune, day and source as line 10 of this batch.",
        "billing_export_bad.csv: line 7, day: In the future (today is 2025-07-01).",
        "billing_export_bad.csv: line 8, queries: Cannot be negative.",
        "billing_export_bad.csv: line 9, tune: No tune with this slug in your team(s).",
        "billing_export_bad.csv: line 10: Same tune, day and source as line 2 of this batch.",
        "billing_export_bad.csv: line 11, queries: Must be a number.",
        "billing_export_bad.csv: line 13, input_tokens: This field is required.",
        "billing_export_bad.csv: line 14, cost_usd: Cannot be negative.",
    ]


@pytest.mark.django_db
def test_source_option_fills_rows_without_one(world, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("tune,day,queries,input_tokens,output_tokens\nticket-triage,2025-06-01,5,50,5\n")
    run(csv, "--source", "nightly-cron")
    assert list(UsageRecord.objects.values_list("source", "queries")) == [("nightly-cron", 5)]


@pytest.mark.django_db
def test_team_option_refuses_other_teams_tunes(world):
    with pytest.raises(CommandError, match="30 errors"):
        run(DATA / "billing_export.csv", "--team", "support")
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_missing_columns_are_named(world, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("tune,day,queries\nticket-triage,2025-06-01,5\n")
    with pytest.raises(CommandError, match="Missing columns: input_tokens, output_tokens"):
        run(csv)


@pytest.mark.django_db
def test_a_file_without_a_source_column_needs_the_source_option(world, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("tune,day,queries,input_tokens,output_tokens\nticket-triage,2025-06-01,5,50,5\n")
    with pytest.raises(CommandError, match=r"no source column: .* --source NAME"):
        run(csv)
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_blank_sources_need_the_source_option(world, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text(
        "tune,day,source,queries,input_tokens,output_tokens\n"
        "ticket-triage,2025-06-01,gw,5,50,5\n"
        "ticket-triage,2025-06-02,,5,50,5\n"
    )
    with pytest.raises(CommandError, match="1 errors"):
        run(csv)
    assert UsageRecord.objects.count() == 0
    run(csv, "--source", "gw")
    assert sorted(UsageRecord.objects.values_list("source", flat=True)) == ["gw", "gw"]


@pytest.mark.django_db
def test_duplicate_days_without_a_source_column_are_reported_by_line(world, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text(
        "tune,day,queries,input_tokens,output_tokens\n"
        "ticket-triage,2025-06-01,5,50,5\n"
        "ticket-triage,2025-06-02,5,50,5\n"
        "ticket-triage,2025-06-01,7,70,7\n"
    )
    err = StringIO()
    with pytest.raises(CommandError, match=r"2 errors in export\.csv; nothing was imported"):
        call_command("import_usage", str(csv), "--source", "gw", stdout=StringIO(), stderr=err)
    assert [line for line in err.getvalue().splitlines() if line.startswith("export")] == [
        "export.csv: line 2: Same tune, day and source as line 4 of this batch.",
        "export.csv: line 4: Same tune, day and source as line 2 of this batch.",
    ]
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_a_new_source_on_days_other_sources_report_is_a_warning(world, tmp_path):
    UsageRecordFactory(tune=world.tune_a, day=date(2025, 6, 1), source="gateway-eu")
    csv = tmp_path / "export.csv"
    csv.write_text("tune,day,queries,input_tokens,output_tokens\nticket-triage,2025-06-01,5,50,5\n")
    out, err = run(csv, "--source", "gateway")
    assert "Imported 1 rows" in out
    assert "Source 'gateway' is new for ticket-triage on 1 day that 'gateway-eu'" in err
    assert UsageRecord.objects.count() == 2
