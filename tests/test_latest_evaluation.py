"""``FineTune.latest_evaluation``: kept by the evaluation service, only ever forward in days,
filled by the migration for stored history, and right after pruning and deletions."""

from datetime import date, timedelta
from importlib import import_module

import pytest
from django.apps import apps

from tracker import services
from tracker.models import Evaluation, FineTune
from tracker.services import retention

from .factories import EvaluationFactory, FineTuneFactory
from .test_evaluation_service import AS_OF, portfolio

pytestmark = pytest.mark.django_db


def pointers() -> dict[int, date | None]:
    return {
        pk: day
        for pk, day in FineTune.objects.values_list("pk", "latest_evaluation__as_of").order_by("pk")
    }


def latest_by_day() -> dict[int, date | None]:
    return {
        t.pk: Evaluation.objects.filter(tune=t)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
        for t in FineTune.objects.order_by("pk")
    }


def test_the_pointer_follows_the_latest_day_and_never_goes_back():
    tunes = portfolio(3)
    assert set(pointers().values()) == {None}
    run = services.evaluate_portfolio(as_of=AS_OF)
    first_ids = {e.tune_id: e.pk for e in run.evaluations}
    assert dict(FineTune.objects.values_list("pk", "latest_evaluation_id")) == first_ids

    # A backfill of an older day writes its evaluations but leaves the pointer.
    services.evaluate_portfolio(as_of=AS_OF - timedelta(days=10))
    assert set(pointers().values()) == {AS_OF}

    # The same day again: the upserted rows keep their ids, and the pointer stays on them.
    services.evaluate_portfolio(as_of=AS_OF)
    assert dict(FineTune.objects.values_list("pk", "latest_evaluation_id")) == first_ids

    # A later day moves it, for the tunes evaluated only.
    services.evaluate_portfolio(as_of=AS_OF + timedelta(days=1), tune_ids=[tunes[0].pk])
    assert pointers() == {
        tunes[0].pk: AS_OF + timedelta(days=1),
        tunes[1].pk: AS_OF,
        tunes[2].pk: AS_OF,
    }
    assert pointers() == latest_by_day()


def test_an_evaluation_saved_on_its_own_moves_the_pointer_forward_only():
    tune = FineTuneFactory()
    newer = EvaluationFactory(tune=tune, as_of=date(2025, 6, 30))
    EvaluationFactory(tune=tune, as_of=date(2025, 6, 1))
    tune.refresh_from_db()
    assert tune.latest_evaluation_id == newer.pk


def test_the_migration_points_every_tune_at_its_latest_evaluation():
    with_history, without = FineTuneFactory(), FineTuneFactory()
    for day in (date(2025, 5, 1), date(2025, 7, 1), date(2025, 6, 1)):
        EvaluationFactory(tune=with_history, as_of=day)
    FineTune.objects.update(latest_evaluation=None)
    migration = import_module("tracker.migrations.0010_latest_evaluation_on_tune")
    migration.point_at_latest(apps, None)
    assert pointers() == {with_history.pk: date(2025, 7, 1), without.pk: None}


def test_pruning_keeps_the_pointer_and_deleting_a_tune_takes_its_evaluations():
    tune = FineTuneFactory()
    today = date(2026, 3, 4)
    for n in range(200):
        EvaluationFactory(tune=tune, as_of=today - timedelta(days=n))
    assert retention.prune_evaluations(today=today) > 0
    tune.refresh_from_db()
    assert tune.latest_evaluation is not None and tune.latest_evaluation.as_of == today
    tune.delete()
    assert not Evaluation.objects.exists()
