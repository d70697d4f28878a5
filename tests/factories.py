"""factory_boy factories for the portfolio: sensible defaults, override what a test is about."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from tracker import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"owner{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class CatalogModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CatalogModel

    provider = "openai"
    name = factory.Sequence(lambda n: f"model-{n}")
    version = "2024-01-01"
    released_on = date(2024, 1, 1)


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModelPrice

    model = factory.SubFactory(CatalogModelFactory)
    effective_from = date(2024, 1, 1)
    input_usd_per_mtok = Decimal("2.50")
    output_usd_per_mtok = Decimal("10.00")


class FineTuneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.FineTune

    name = factory.Sequence(lambda n: f"Tune {n}")
    slug = factory.Sequence(lambda n: f"tune-{n}")
    team = factory.SubFactory(TeamFactory)
    owner = factory.SubFactory(UserFactory)
    status = models.FineTune.Status.DEPLOYED
    base_model = factory.SubFactory(CatalogModelFactory)
    alternative = factory.SubFactory(CatalogModelFactory)
    extra_prompt_tokens = 1000
    need_is_articulable = False
    behaviour_unpromptable = True
    labelled_examples = 5000
    target_score = 0.9
    baseline_score = 0.8
    tune_score = 0.91
    upfront_cost = Decimal("20000")
    retrain_cost = Decimal("5000")
    monthly_fixed_cost = Decimal("500")
    deployed_on = date(2025, 1, 1)
    last_trained_on = date(2025, 1, 1)


class UsageRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.UsageRecord

    tune = factory.SubFactory(FineTuneFactory)
    day = date(2025, 6, 1)
    source = "gateway"
    queries = 1000
    input_tokens = 800_000
    output_tokens = 150_000


class ChangeLogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ChangeLogEntry

    tune = factory.SubFactory(FineTuneFactory)
    day = date(2025, 6, 1)
    kind = models.ChangeLogEntry.Kind.TASK_SPEC
    meaningful = True
    summary = "Spec changed"


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PolicyVersion
        django_get_or_create = ["digest"]

    values = factory.LazyFunction(lambda: {"lookback_days": 30})
    digest = "0" * 64


class EvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Evaluation

    tune = factory.SubFactory(FineTuneFactory)
    as_of = date(2025, 6, 30)
    verdict = models.Verdict.KEEP
    reason = "Saves money."
    monthly_net_saving = Decimal("1200.00")
    unrecovered_cost = Decimal("4000.00")
    figures = factory.LazyFunction(lambda: {"payback_months": 3.5})
    policy = factory.SubFactory(PolicyVersionFactory)
    engine_version = "test"


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Flag

    opened_by = factory.SubFactory(EvaluationFactory, verdict=models.Verdict.RETIRE)
    tune = factory.SelfAttribute("opened_by.tune")
    kind = models.Flag.Kind.RETIRE
    opened_on = factory.SelfAttribute("opened_by.as_of")


class TunePriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TunePrice

    tune = factory.SubFactory(FineTuneFactory)
    effective_from = date(2025, 1, 1)
    input_usd_per_mtok = Decimal("0.30")
    output_usd_per_mtok = Decimal("1.20")


class TuneAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TuneAlias

    tune = factory.SubFactory(FineTuneFactory)
    model_id = factory.Sequence(lambda n: f"ft:gpt-4o-mini:acme:{n}")
