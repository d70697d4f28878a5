"""The database itself refuses bad values, whatever path they come by."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from tracker.models import DecisionPolicy, Flag, UsageRecord

from .factories import FineTuneFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db


def refused(**fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageRecord.objects.create(**fields)


def test_negative_queries_refused():
    tune = FineTuneFactory()
    refused(tune=tune, day=date(2025, 1, 1), queries=-1, input_tokens=0, output_tokens=0)


def test_negative_tokens_refused():
    tune = FineTuneFactory()
    refused(tune=tune, day=date(2025, 1, 1), queries=1, input_tokens=-5, output_tokens=0)


def test_quality_score_above_one_refused():
    tune = FineTuneFactory()
    refused(
        tune=tune,
        day=date(2025, 1, 1),
        queries=1,
        input_tokens=1,
        output_tokens=1,
        quality_score=1.5,
    )


def test_duplicate_usage_key_refused():
    record = UsageRecordFactory()
    refused(
        tune=record.tune,
        day=record.day,
        source=record.source,
        queries=1,
        input_tokens=1,
        output_tokens=1,
    )
    # Another source on the same day is a different record.
    UsageRecordFactory(tune=record.tune, day=record.day, source="billing-export")
    assert UsageRecord.objects.filter(tune=record.tune, day=record.day).count() == 2


@pytest.mark.parametrize("field", ["target_score", "baseline_score", "tune_score"])
def test_tune_scores_outside_zero_one_refused(field):
    with pytest.raises(IntegrityError), transaction.atomic():
        FineTuneFactory(**{field: 1.5})


@pytest.mark.parametrize("field", ["upfront_cost", "retrain_cost", "monthly_fixed_cost"])
def test_negative_costs_refused(field):
    with pytest.raises(IntegrityError), transaction.atomic():
        FineTuneFactory(**{field: -1})


def test_deployed_tune_needs_its_dates():
    with pytest.raises(IntegrityError), transaction.atomic():
        FineTuneFactory(status="deployed", last_trained_on=None)
    FineTuneFactory(status="proposed", deployed_on=None, last_trained_on=None)


def test_duplicate_slug_refused():
    FineTuneFactory(slug="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        FineTuneFactory(slug="same")


def test_one_open_flag_per_tune_and_kind():
    from tracker.models import Evaluation

    tune = FineTuneFactory()
    evaluation = Evaluation.objects.create(
        tune=tune, as_of=date(2025, 6, 1), verdict="RETIRE", reason="r", engine_version="t"
    )
    Flag.objects.create(tune=tune, kind="RETIRE", opened_by=evaluation, opened_on=evaluation.as_of)
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(
            tune=tune, kind="RETIRE", opened_by=evaluation, opened_on=evaluation.as_of
        )
    # Once resolved, a new one may open.
    Flag.objects.filter(tune=tune).update(resolved_on=date(2025, 6, 2))
    Flag.objects.create(tune=tune, kind="RETIRE", opened_by=evaluation, opened_on=date(2025, 6, 3))
    assert Flag.objects.filter(tune=tune).count() == 2


def test_one_evaluation_per_tune_and_day():
    from tracker.models import Evaluation

    tune = FineTuneFactory()
    Evaluation.objects.create(
        tune=tune, as_of=date(2025, 6, 1), verdict="KEEP", reason="r", engine_version="t"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Evaluation.objects.create(
            tune=tune, as_of=date(2025, 6, 1), verdict="WATCH", reason="r", engine_version="t"
        )


def test_policy_is_a_single_row():
    DecisionPolicy().save()
    DecisionPolicy(lookback_days=30).save()  # save() pins it to the one row
    assert DecisionPolicy.objects.count() == 1
    assert DecisionPolicy.objects.get().lookback_days == 30
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionPolicy.objects.bulk_create([DecisionPolicy(id=2)])


def test_the_usage_key_index_carries_the_values_on_postgresql():
    """The evaluation reads each tune's usage from the unique index alone (migration 0014); other
    databases keep the plain key (``test_duplicate_usage_key_refused``)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the values ride in the index on PostgreSQL only (this runs in CI's pass)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(conindid), c.reloptions FROM pg_constraint "
            "JOIN pg_class c ON c.oid = conrelid "
            "WHERE conname = 'tracker_usage_one_per_tune_day_source' AND contype = 'u'"
        )
        definition, options = cursor.fetchone()
    assert "(tune_id, day, source) INCLUDE (queries, input_tokens, output_tokens" in definition
    assert "autovacuum_vacuum_insert_scale_factor=0" in options
