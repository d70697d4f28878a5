"""The demo portfolio: believable, complete, and loading it twice changes nothing."""

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core import serializers
from django.core.management import call_command
from django.db.models import Max, Min

from tracker.models import CatalogModel, ChangeLogEntry, FineTune, ModelPrice, Team, UsageRecord

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 3, 2)


def load(as_of=AS_OF):
    call_command("load_demo", as_of=as_of, stdout=open("/dev/null", "w"))  # noqa: SIM115


def snapshot() -> dict[str, str]:
    return {
        model._meta.label: serializers.serialize("json", model.objects.order_by("pk"))
        for model in apps.get_app_config("tracker").get_models()
    }


def test_loading_twice_changes_nothing():
    load()
    first = snapshot()
    load()
    assert snapshot() == first


def test_the_demo_is_a_believable_portfolio():
    load()
    assert Team.objects.count() == 3
    tunes = FineTune.objects.all()
    assert tunes.count() >= 12
    assert {t.status for t in tunes} == {"deployed", "proposed"}
    assert set(tunes.values_list("team__slug", flat=True)) == {"support", "risk", "growth"}

    span = UsageRecord.objects.aggregate(first=Min("day"), last=Max("day"))
    assert span["last"] == AS_OF
    assert (span["last"] - span["first"]).days >= 547  # 18 months of daily usage

    # A base model shutting down within 60 days, with a successor that tunes can move to.
    soon = CatalogModel.objects.filter(
        shutdown_on__gt=AS_OF, shutdown_on__lte=AS_OF + timedelta(days=60)
    )
    assert soon.filter(successor__isnull=False, tunes__status="deployed").exists()

    # A frontier price cut part-way through the history.
    prices = ModelPrice.objects.filter(model__name="gpt-4o").order_by("effective_from")
    assert prices.count() == 2
    assert prices[1].input_usd_per_mtok < prices[0].input_usd_per_mtok
    assert span["first"] < prices[1].effective_from < span["last"]

    # One task that changes every month.
    monthly = (
        ChangeLogEntry.objects.filter(meaningful=True, kind__in=ChangeLogEntry.TASK_CHANGE_KINDS)
        .values("tune")
        .annotate(n=Max("id"))
    )
    assert any(
        ChangeLogEntry.objects.filter(tune=row["tune"], meaningful=True).count() >= 10
        for row in monthly
    )
    # A proposal that is really about brand tone.
    assert FineTune.objects.filter(status="proposed", brand_tone=True).exists()
    assert all(t.owner.email for t in tunes)
