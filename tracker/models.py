"""The portfolio: teams, the base-model catalog and its prices, fine-tunes, their change log and
usage, and what the evaluations, flags and digests record. Models hold data and small invariants;
writes go through ``tracker.services``, reads through ``tracker.selectors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, F, Q
from rest_framework_api_key.models import AbstractAPIKey

from decision import vocabulary

from . import stored

SCORE_HELP = "On one eval scale from 0 to 1, the same for target, baseline and the tune."
SCORE_VALIDATORS = [MinValueValidator(0.0), MaxValueValidator(1.0)]
MONEY: dict[str, Any] = {
    "max_digits": 14,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal(0))],
}
#: Days outside this range are typing mistakes, and pandas can't hold days before 1677.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
DAY_VALIDATORS = [
    MinValueValidator(FIRST_DAY, "Enter a day in 2000 or later."),
    MaxValueValidator(LAST_DAY, "Enter a day before 2100."),
]
PRICE: dict[str, Any] = {
    "max_digits": 12,
    "decimal_places": 4,
    "validators": [MinValueValidator(Decimal(0))],
}


def score_between_0_and_1(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | (Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 1})),
        name=f"%(app_label)s_%(class)s_{field}_between_0_and_1",
        violation_error_message=f"{field} must be between 0 and 1.",
    )


def not_negative(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0}),
        name=f"%(app_label)s_%(class)s_{field}_not_negative",
        violation_error_message=f"{field} cannot be negative.",
    )


def choices_from(words: type[StrEnum], labels: Mapping[Any, str]) -> Any:
    """Django choices for one of the engine's vocabularies (``decision.vocabulary``), so the
    database and the engine can't disagree about a verdict, status or change kind."""
    members = [(word.name, (word.value, labels[word])) for word in words]
    return models.TextChoices(words.__name__, members)  # type: ignore[call-overload]


#: The engine's tune columns and the model fields they are read from (the same name, except
#: the two catalog links).
ENGINE_TUNE_FIELDS: dict[str, str] = {
    column: {"base_model_id": "base_model", "alternative_model_id": "alternative"}.get(
        column, column
    )
    for column in vocabulary.tune_fields()
}


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="teams",
        blank=True,
        help_text="People who see and edit this team's tunes through the admin and the API.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CatalogModel(models.Model):
    """A base model version offered by a provider: what tunes are trained on, and what the best
    prompt/RAG alternative runs on."""

    provider = models.CharField(max_length=80, help_text="Who serves it, e.g. openai, anthropic.")
    name = models.CharField(max_length=120, help_text="Model family, e.g. gpt-4o-mini.")
    version = models.CharField(max_length=80, help_text="Dated or numbered version.")
    released_on = models.DateField(null=True, blank=True, validators=DAY_VALIDATORS)
    shutdown_on = models.DateField(
        null=True,
        blank=True,
        db_index=True,
        validators=DAY_VALIDATORS,
        help_text="Announced shutdown (deprecation) date. A tune on this base must be retrained "
        "on the successor before then, or retired.",
    )
    shutdown_source = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where the shutdown date came from (the catalog sync fills it); blank: set by "
        "hand, and a sync never changes it.",
    )
    successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="predecessors",
        help_text="The version the provider recommends moving to.",
    )

    class Meta:
        verbose_name = "catalog model"
        ordering = ["provider", "name", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name", "version"], name="tracker_catalogmodel_unique_version"
            ),
            models.CheckConstraint(
                condition=~Q(successor=F("id")),
                name="tracker_catalogmodel_successor_not_itself",
                violation_error_message="A model cannot be its own successor.",
            ),
            models.CheckConstraint(
                condition=Q(shutdown_on__isnull=True)
                | Q(released_on__isnull=True)
                | Q(shutdown_on__gte=F("released_on")),
                name="tracker_catalogmodel_shutdown_after_release",
                violation_error_message="The shutdown date cannot come before the release date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.name} {self.version}"


class Price(models.Model):
    """USD per million tokens from ``effective_from`` until the next price of the same owner."""

    effective_from = models.DateField(
        help_text="The price applies from this day on.", validators=DAY_VALIDATORS
    )
    input_usd_per_mtok = models.DecimalField(
        "input USD / 1M tokens", help_text="USD per million input tokens.", **PRICE
    )
    output_usd_per_mtok = models.DecimalField(
        "output USD / 1M tokens", help_text="USD per million output tokens.", **PRICE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(
        max_length=150,
        blank=True,
        help_text='Who added it: a username, or "api key" and the key\'s name.',
    )

    class Meta:
        abstract = True
        ordering = ["effective_from"]
        constraints = [
            not_negative("input_usd_per_mtok"),
            not_negative("output_usd_per_mtok"),
        ]


class ShutdownDateChange(models.Model):
    """Every change of a catalog model's shutdown date, and who made it: the catalog is shared,
    and a shutdown date moves every team's verdicts."""

    model = models.ForeignKey(
        CatalogModel, on_delete=models.CASCADE, related_name="shutdown_changes"
    )
    previous = models.DateField(null=True, blank=True, help_text="The shutdown date before.")
    shutdown_on = models.DateField(null=True, blank=True, help_text="The shutdown date after.")
    changed_by = models.CharField(
        max_length=150, help_text='A username, or "api key" and the key\'s name.'
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model}: {self.previous or '—'} → {self.shutdown_on or '—'}"


class ModelPrice(Price):
    model = models.ForeignKey(CatalogModel, on_delete=models.CASCADE, related_name="prices")
    source = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where the price came from (the catalog sync fills it); blank: set by hand.",
    )

    class Meta(Price.Meta):
        constraints = [
            *Price.Meta.constraints,
            models.UniqueConstraint(
                fields=["model", "effective_from"], name="tracker_modelprice_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from}"


class FineTune(models.Model):
    Status = choices_from(vocabulary.TuneStatus, vocabulary.STATUS_LABELS)

    class Method(models.TextChoices):
        LORA = "lora", "LoRA"
        QLORA = "qlora", "QLoRA"
        FULL = "full", "Full fine-tune"
        OTHER = "other", "Other"

    name = models.CharField(max_length=160)
    slug = models.SlugField(max_length=160, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="tunes")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_tunes",
        help_text="Gets the weekly digest about this tune. Needs an email address.",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROPOSED, db_index=True
    )
    task_description = models.TextField(blank=True, help_text="What the tune does, in a sentence.")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.LORA)
    base_model = models.ForeignKey(
        CatalogModel,
        on_delete=models.PROTECT,
        related_name="tunes",
        help_text="The catalog model this tune is (or would be) trained on.",
    )
    alternative = models.ForeignKey(
        CatalogModel,
        on_delete=models.PROTECT,
        related_name="alternative_for",
        null=True,
        blank=True,
        help_text="The model your best prompt/RAG setup runs on — what you would use instead of "
        "the tune. Its price is what the tune saves against.",
    )
    extra_prompt_tokens = models.PositiveIntegerField(
        default=0,
        help_text="Tokens the alternative adds to every query (instructions, few-shot examples) "
        "that the tune no longer needs.",
    )

    # The article's questions and conditions.
    need_is_articulable = models.BooleanField(
        "need can be written down",
        default=True,
        help_text="Could the behaviour or knowledge be specified in words? If so, prompting and "
        "retrieval come first (“need can't be written down”).",
    )
    behaviour_unpromptable = models.BooleanField(
        "behaviour prompting can't hold",
        default=False,
        help_text="“behaviour prompting can't hold”: the model must follow a pattern, tone or "
        "refusal style consistently, and prompting only gets it right most of the time.",
    )
    tacit_expertise = models.BooleanField(
        "tacit expertise",
        default=False,
        help_text="“tacit expertise”: the judgement lives in practitioners' heads, not in any "
        "prompt or retrieval store.",
    )
    adds_knowledge = models.BooleanField(
        "purpose: add new knowledge",
        default=False,
        help_text="“not a reason to fine-tune”: new knowledge belongs in a retrieval store, not "
        "in weights.",
    )
    fixes_formatting = models.BooleanField(
        "purpose: better formatting",
        default=False,
        help_text="“not a reason to fine-tune”: formatting is fixed with instructions and "
        "validation rules.",
    )
    few_edge_cases = models.BooleanField(
        "purpose: a few edge cases",
        default=False,
        help_text="“not a reason to fine-tune”: a handful of exceptions belong in prompt examples "
        "or the corpus.",
    )
    brand_tone = models.BooleanField(
        "purpose: sound like the brand",
        default=False,
        help_text="“not a reason to fine-tune”: a few sentences of voice guidance do more than a "
        "training run.",
    )
    labelled_examples = models.PositiveIntegerField(
        default=0, help_text="High-quality labelled examples available to train on."
    )
    target_score = models.FloatField(
        null=True,
        blank=True,
        validators=SCORE_VALIDATORS,
        help_text="The quality the task needs. " + SCORE_HELP,
    )
    baseline_score = models.FloatField(
        "best prompt/RAG score",
        null=True,
        blank=True,
        validators=SCORE_VALIDATORS,
        help_text="What the best prompt/RAG setup on the alternative scores. " + SCORE_HELP,
    )
    tune_score = models.FloatField(
        null=True,
        blank=True,
        validators=SCORE_VALIDATORS,
        help_text="What the tune scores now. " + SCORE_HELP,
    )

    # Economics.
    upfront_cost = models.DecimalField(
        "upfront cost (USD)",
        default=Decimal(0),
        help_text="First training: compute, data labelling and engineering time.",
        **MONEY,
    )
    retrain_cost = models.DecimalField(
        "retrain cost (USD)", default=Decimal(0), help_text="What one retraining costs.", **MONEY
    )
    monthly_fixed_cost = models.DecimalField(
        "monthly fixed cost (USD)",
        default=Decimal(0),
        help_text="Hosting, monitoring and upkeep per month, whatever the volume.",
        **MONEY,
    )
    deployed_on = models.DateField(null=True, blank=True, validators=DAY_VALIDATORS)
    last_trained_on = models.DateField(
        null=True,
        blank=True,
        validators=DAY_VALIDATORS,
        help_text="The economic clock starts here. Recording a retraining in the change log "
        "moves it.",
    )
    expected_monthly_queries = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="For proposals: queries a month you expect."
    )
    expected_input_tokens = models.PositiveIntegerField(
        "expected input tokens / query", null=True, blank=True, help_text="For proposals."
    )
    expected_output_tokens = models.PositiveIntegerField(
        "expected output tokens / query", null=True, blank=True, help_text="For proposals."
    )
    latest_evaluation = models.ForeignKey(
        "Evaluation",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        # Rewritten for every tune every night: with no index on it (nothing looks tunes up by
        # their evaluation but the rare prune, which never deletes a latest one) and room left
        # on each page (migration 0013), PostgreSQL updates the row in place, without a new
        # entry in each of the tune's other indexes.
        db_index=False,
        help_text="The evaluation of the latest day: lists and the summary read the latest "
        "verdict through it. Moves only forward (evaluating an older day leaves it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "fine-tune"
        # The id breaks ties between equal names, so pages of a list neither repeat nor skip.
        ordering = ["name", "pk"]
        indexes = [
            models.Index(fields=["team", "status"], name="tracker_tune_team_status"),
            # Lists read a page in these orders without sorting every tune.
            models.Index(fields=["name", "id"], name="tracker_tune_by_name"),
            models.Index(fields=["updated_at"], name="tracker_tune_by_update"),
        ]
        constraints = [
            score_between_0_and_1("target_score"),
            score_between_0_and_1("baseline_score"),
            score_between_0_and_1("tune_score"),
            not_negative("upfront_cost"),
            not_negative("retrain_cost"),
            not_negative("monthly_fixed_cost"),
            models.CheckConstraint(
                condition=~Q(status="deployed")
                | (Q(deployed_on__isnull=False) & Q(last_trained_on__isnull=False)),
                name="tracker_finetune_deployed_has_dates",
                violation_error_message="A deployed tune needs a deployed date and a last "
                "trained date.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.owner_id and not self.owner.email:
            raise ValidationError(
                {"owner": "The owner needs an email address: the weekly digest goes there."}
            )


class TunePrice(Price):
    """What serving the tune costs, when it differs from its base model's list price."""

    tune = models.ForeignKey(FineTune, on_delete=models.CASCADE, related_name="serving_prices")

    class Meta(Price.Meta):
        verbose_name = "serving price"
        constraints = [
            *Price.Meta.constraints,
            models.UniqueConstraint(
                fields=["tune", "effective_from"], name="tracker_tuneprice_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tune} serving from {self.effective_from}"


class ChangeLogEntry(models.Model):
    Kind = choices_from(vocabulary.ChangeKind, vocabulary.CHANGE_KIND_LABELS)

    #: Kinds that change the task itself; only these count against stability.
    TASK_CHANGE_KINDS = tuple(sorted(str(kind) for kind in vocabulary.TASK_CHANGE_KINDS))

    tune = models.ForeignKey(FineTune, on_delete=models.CASCADE, related_name="changes")
    day = models.DateField(validators=DAY_VALIDATORS)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    meaningful = models.BooleanField(
        default=True,
        help_text="Would the tune, trained before this change, now answer wrongly? Tick it for "
        "changes that need a retraining to follow (new rules, new categories, a changed spec); "
        "leave it clear for wording fixes and notes. Only meaningful task changes count against "
        "stability.",
    )
    summary = models.CharField(max_length=500)
    author = models.CharField(max_length=150, blank=True, help_text="Who or what recorded it.")
    cost = models.DecimalField(
        "cost (USD)",
        null=True,
        blank=True,
        help_text="For a retraining: what it cost. It becomes the training cost to pay back.",
        **MONEY,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "change-log entry"
        verbose_name_plural = "change log"
        ordering = ["-day", "-id"]
        indexes = [models.Index(fields=["tune", "day"], name="tracker_change_tune_day")]
        constraints = [not_negative("cost")]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()}: {self.summary[:60]}"


class UsageRecord(models.Model):
    # No index of its own: the unique (tune, day, source) index serves lookups by tune, and one
    # index fewer to maintain makes ingestion faster.
    tune = models.ForeignKey(
        FineTune, on_delete=models.CASCADE, related_name="usage", db_index=False
    )
    day = models.DateField(validators=DAY_VALIDATORS)
    source = models.CharField(
        max_length=64, default="default", help_text="Which gateway or export sent it."
    )
    queries = models.PositiveBigIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    cost_usd = models.DecimalField(
        "actual cost (USD)", null=True, blank=True, max_digits=16, decimal_places=4
    )
    quality_score = models.FloatField(null=True, blank=True, validators=SCORE_VALIDATORS)
    estimated = models.BooleanField(
        default=False,
        db_default=False,  # bulk writes (COPY … INSERT) that leave it out get False too
        help_text="The source had no request count: queries were estimated from the tune's "
        "tokens per query.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            # On PostgreSQL its index also carries the usage values (migration 0014): the
            # evaluation sums a tune's rows from the index alone, in (tune, day) order, however
            # the rows lie in the table (day by day, as they arrive), where it would otherwise
            # fetch them from a page per day. Declared here without them, so SQLite keeps the
            # constraint (it can't build such an index and would leave the constraint out).
            # Removing one of those columns drops the index, and the constraint with it: a
            # migration that does must build the constraint again.
            models.UniqueConstraint(
                fields=["tune", "day", "source"], name="tracker_usage_one_per_tune_day_source"
            ),
            not_negative("queries"),
            not_negative("input_tokens"),
            not_negative("output_tokens"),
            not_negative("cost_usd"),
            score_between_0_and_1("quality_score"),
        ]

    def __str__(self) -> str:
        return f"{self.tune} {self.day} {self.source}: {self.queries} queries"


Verdict = choices_from(vocabulary.Verdict, vocabulary.VERDICT_LABELS)


class DecisionPolicy(models.Model):
    """The thresholds every evaluation uses. There is one policy; evaluations keep a copy."""

    lookback_days = models.PositiveIntegerField(
        default=90, help_text="Days of usage that make the monthly volume."
    )
    min_labelled_examples = models.PositiveIntegerField(
        default=1000, help_text="“examples: thousands needed”: the fewest high-quality examples."
    )
    max_changes_per_quarter = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0)],
        help_text="“task changes rarely”: above this many meaningful task changes a quarter, the "
        "logic "
        "belongs in prompts.",
    )
    min_quality_gap = models.FloatField(
        default=0.05,
        validators=SCORE_VALIDATORS,
        help_text="“gap worth closing”: the smallest target − best prompt gap worth a training "
        "run.",
    )
    horizon_months = models.FloatField(
        default=24.0,
        validators=[MinValueValidator(0.1)],
        help_text="The longest a tune is expected to stay useful, whatever else holds.",
    )
    shutdown_warning_days = models.PositiveIntegerField(
        default=90, help_text="A base model shutting down this soon means retrain or retire."
    )
    shutdown_watch_days = models.PositiveIntegerField(
        default=180, help_text="A base model shutting down this soon puts the tune on watch."
    )
    quality_tolerance = models.FloatField(
        default=0.02,
        validators=SCORE_VALIDATORS,
        help_text="How far below target the tune may score before it needs retraining.",
    )
    volume_drop_watch = models.FloatField(
        default=0.30,
        validators=SCORE_VALIDATORS,
        help_text="A drop in daily volume (last 30 days against the 60 before) this large puts "
        "the tune on watch.",
    )
    stale_usage_days = models.PositiveIntegerField(
        default=7, help_text="No usage for this many days puts a deployed tune on watch."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "decision policy"
        verbose_name_plural = "decision policy"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="tracker_policy_single_row"),
            models.CheckConstraint(
                condition=Q(max_changes_per_quarter__gte=0),
                name="tracker_policy_changes_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(horizon_months__gt=0), name="tracker_policy_horizon_positive"
            ),
            models.CheckConstraint(
                condition=Q(shutdown_watch_days__gte=F("shutdown_warning_days")),
                name="tracker_policy_watch_after_warning",
                violation_error_message="The shutdown watch window must be at least as long as "
                "the warning window.",
            ),
            *(
                score_between_0_and_1(f)
                for f in ("min_quality_gap", "quality_tolerance", "volume_drop_watch")
            ),
        ]

    def __str__(self) -> str:
        return "Decision policy"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # one policy for the whole portfolio
        super().save(*args, **kwargs)


class PolicyVersion(models.Model):
    """The thresholds as they were when evaluations used them, stored once per distinct set and
    referred to by every evaluation that used it."""

    values = models.JSONField(help_text="The thresholds, by name.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the values.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Policy {self.digest[:12]}"


class StoredJSONField(models.JSONField):
    """JSON kept as text (PostgreSQL ``json``, not ``jsonb``): written every night for every
    tune and never queried inside, and as text its numbers take about a third less room."""

    def db_type(self, connection):
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        if value is not None and not isinstance(value, str):
            return value  # the driver parsed ``json`` already (Django reads only jsonb as text)
        return super().from_db_value(value, expression, connection)


class FiguresField(StoredJSONField):
    """An evaluation's figures: full keys in Python, short keys in the database
    (``tracker.stored``)."""

    def from_db_value(self, value, expression, connection):
        figures = super().from_db_value(value, expression, connection)
        return stored.unpack_figures(figures) if isinstance(figures, dict) else figures

    def get_prep_value(self, value):
        return super().get_prep_value(
            stored.pack_figures(value) if isinstance(value, dict) else value
        )


class Evaluation(models.Model):
    """One tune's verdict as of one day, with the numbers and findings that led to it."""

    # No index of its own: the one-a-day constraint's (tune, as_of) index serves lookups by tune.
    tune = models.ForeignKey(
        FineTune, on_delete=models.CASCADE, related_name="evaluations", db_index=False
    )
    as_of = models.DateField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices, db_index=True)
    reason = models.TextField(help_text="The deciding reason, with its numbers.")
    monthly_net_saving = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    unrecovered_cost = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    figures = FiguresField(default=dict)
    stored_findings = StoredJSONField(
        default=list, help_text="Each finding by its code and the figures it adds (see findings)."
    )
    policy = models.ForeignKey(
        PolicyVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evaluations",
        help_text="The thresholds in force.",
    )
    engine_version = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "tune_id"]
        get_latest_by = "as_of"
        constraints = [
            models.UniqueConstraint(fields=["tune", "as_of"], name="tracker_one_evaluation_a_day")
        ]
        # Newest first in the default order: a page without sorting a whole day's evaluations.
        indexes = [models.Index(fields=["-as_of", "tune_id"], name="tracker_evaluation_newest")]

    def __str__(self) -> str:
        return f"{self.tune} {self.as_of}: {self.verdict}"

    def save(self, *args, **kwargs) -> None:
        """Saved on its own (evaluations are written in bulk by the evaluation service, which
        moves the pointer itself), the tune's ``latest_evaluation`` follows when no later day
        is evaluated."""
        super().save(*args, **kwargs)
        later = Evaluation.objects.filter(tune_id=self.tune_id, as_of__gt=self.as_of)
        FineTune.objects.filter(pk=self.tune_id).exclude(Exists(later)).update(
            latest_evaluation=self
        )

    @property
    def policy_values(self) -> dict:
        """The thresholds in force, by name (empty when not recorded)."""
        return self.policy.values if self.policy is not None else {}

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The findings as the engine wrote them (code, source, severity, message, decisive,
        figures), their messages worded from the stored figures under the policy in force."""
        return stored.unpack_findings(
            self.stored_findings,
            self.figures,
            stored.policy_of(self.policy_values),
            proposal=self.verdict in stored.PROPOSAL_VERDICTS,
        )


class TuneMonthSaving(models.Model):
    """A deployed tune's realised net saving in one calendar month: every day's queries priced
    as the engine prices them, less the fixed cost of the days deployed. Written for every
    deployed tune after each nightly run (``services.savings``); the overview sums these rows
    instead of pricing every tune's history on each request."""

    # No index of its own: the one-a-month constraint's (tune, month) index serves it.
    tune = models.ForeignKey(
        FineTune, on_delete=models.CASCADE, related_name="month_savings", db_index=False
    )
    month = models.DateField(help_text="The month's first day.")
    net_saving = models.FloatField(help_text="USD; negative when the tune cost more.")
    as_of = models.DateField(help_text="Usage up to this day is counted.")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "realised monthly saving"
        ordering = ["tune_id", "month"]
        constraints = [
            models.UniqueConstraint(fields=["tune", "month"], name="tracker_one_saving_a_month")
        ]
        indexes = [models.Index(fields=["month"], name="tracker_saving_by_month")]

    def __str__(self) -> str:
        return f"{self.tune} {self.month:%Y-%m}: {self.net_saving:,.2f}"


class Flag(models.Model):
    """A tune that needs action, open from the evaluation that raised it until one no longer
    supports it."""

    class Kind(models.TextChoices):
        RETRAIN = "RETRAIN", "Retrain"
        RETIRE = "RETIRE", "Retire"
        FINE_TUNE = "FINE_TUNE", "Ready to fine-tune"

    tune = models.ForeignKey(FineTune, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    opened_by = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="opened_flags")
    opened_on = models.DateField()
    resolved_by = models.ForeignKey(
        Evaluation, on_delete=models.SET_NULL, null=True, blank=True, related_name="resolved_flags"
    )
    resolved_on = models.DateField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(
        null=True, blank=True, help_text="When someone said they are on it."
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    snoozed_until = models.DateField(
        null=True,
        blank=True,
        help_text="Kept out of the digest until this day; it comes back on the day itself.",
    )
    snoozed_at = models.DateTimeField(null=True, blank=True)
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(blank=True, help_text="Why it was acknowledged or snoozed.")

    class Meta:
        ordering = ["-opened_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["tune", "kind"],
                condition=Q(resolved_on__isnull=True),
                name="tracker_one_open_flag_per_tune_and_kind",
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("opened_on")),
                name="tracker_flag_resolved_after_opened",
            ),
        ]
        # Open flags first, oldest first (the lists' order; PostgreSQL puts NULLs first in DESC).
        indexes = [
            models.Index(fields=["-resolved_on", "opened_on", "id"], name="tracker_flag_open_first")
        ]

    def __str__(self) -> str:
        state = f"resolved {self.resolved_on}" if self.resolved_on else "open"
        return f"{self.tune}: {self.get_kind_display()} ({state})"


class DigestDelivery(models.Model):
    """One recipient's digest for one ISO week: claimed before sending, so it goes out once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_deliveries"
    )
    iso_year = models.PositiveSmallIntegerField()
    iso_week = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(53)]
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    email = models.EmailField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    tune_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "digest deliveries"
        ordering = ["-iso_year", "-iso_week", "recipient_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "iso_year", "iso_week"], name="tracker_one_digest_a_week"
            ),
            models.CheckConstraint(
                condition=Q(iso_week__gte=1) & Q(iso_week__lte=53),
                name="tracker_digest_iso_week_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.iso_year}-W{self.iso_week:02d}: {self.status}"


class DigestPreference(models.Model):
    """A person's choice about the weekly digest; no row means they get it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_preference"
    )
    weekly_digest = models.BooleanField(default=True, help_text="Send me the weekly digest.")

    def __str__(self) -> str:
        return f"{self.user}: {'on' if self.weekly_digest else 'off'}"


class TeamAPIKey(AbstractAPIKey):
    """A machine's key: hashed at rest, shown once, limited to one team and to its scopes."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    can_ingest = models.BooleanField(
        "scope: ingest", default=True, help_text="May send usage records."
    )
    can_read = models.BooleanField(
        "scope: read", default=True, help_text="May read the team's portfolio and evaluations."
    )
    can_write = models.BooleanField(
        "scope: write",
        default=False,
        help_text="May create and change the team's tunes, change-log entries and serving prices.",
    )
    can_edit_catalog = models.BooleanField(
        "scope: catalog",
        default=False,
        help_text="May add and change catalog models and their list prices, which every team's "
        "verdicts use. Only a superuser can grant it.",
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "team API key"
        verbose_name_plural = "team API keys"

    def scopes(self) -> set[str]:
        return {
            scope
            for scope, allowed in (
                ("ingest", self.can_ingest),
                ("read", self.can_read),
                ("write", self.can_write),
                ("catalog", self.can_edit_catalog),
            )
            if allowed
        }


class IdempotencyRecord(models.Model):
    """The first response to a request sent with an ``Idempotency-Key``, replayed to retries."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="tracker_idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.key}"


# --- Operations -----------------------------------------------------------------------------------


class NightlyRun(models.Model):
    """A night's re-evaluation, recorded when it completes: when no tune is left due for the
    day. Readiness and the metrics read the last one."""

    as_of = models.DateField(unique=True)
    completed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"Nightly run {self.as_of}, completed {self.completed_at:%Y-%m-%d %H:%M}"


class OperationsCounter(models.Model):
    """A monotonic counter kept in the database, so every web and worker process adds to the
    same number (``tunefolio_usage_rows_ingested_total{source}``)."""

    USAGE_ROWS_INGESTED = "usage_rows_ingested"

    name = models.CharField(max_length=100)
    label = models.CharField(max_length=100, blank=True)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "label"], name="tracker_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.label}}} = {self.value}"


class WebhookEvent(models.TextChoices):
    FLAG_OPENED = "flag.opened", "A flag opened"
    FLAG_RESOLVED = "flag.resolved", "A flag resolved"
    VERDICT_CHANGED = "verdict.changed", "A deployed tune's verdict changed"
    SHUTDOWN_NOTICE = "shutdown.notice", "A retrain-by date is 90, 60 or 30 days away"


def all_webhook_events() -> list[str]:
    return [event.value for event in WebhookEvent]


class WebhookEndpoint(models.Model):
    """Where a team's events go: a Slack incoming webhook, or any HTTPS endpoint that checks the
    signature."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack incoming webhook"
        GENERIC = "generic", "Generic JSON (signed)"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_endpoints")
    name = models.CharField(max_length=120, help_text="e.g. #ml-oncall")
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SLACK)
    events = models.JSONField(
        default=all_webhook_events,
        help_text="Event names to send: " + ", ".join(all_webhook_events()) + ".",
    )
    secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="For generic endpoints: the body is signed with HMAC-SHA256 under this secret "
        "in the X-Tunefolio-Signature header.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["team", "name"]

    def __str__(self) -> str:
        return f"{self.team}: {self.name}"

    def clean(self) -> None:
        unknown = set(self.events or []) - set(all_webhook_events())
        if not isinstance(self.events, list) or unknown:
            raise ValidationError({"events": f"Use a list of: {', '.join(all_webhook_events())}."})
        if self.kind == self.Kind.GENERIC and not self.secret:
            raise ValidationError({"secret": "A generic endpoint needs a secret to sign with."})


class WebhookDelivery(models.Model):
    """One event for one endpoint (the outbox): created with the change that caused it, claimed
    before sending, so it goes out at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    event_key = models.CharField(
        max_length=200, help_text="What happened, once: the same change never makes two rows."
    )
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_key"], name="tracker_webhook_once_per_endpoint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}: {self.status}"


class ShutdownNotice(models.Model):
    """A deployed tune's retrain-by date came within 90, 60 or 30 days: recorded once per
    threshold, then sent through the webhooks and listed in the digest."""

    tune = models.ForeignKey(FineTune, on_delete=models.CASCADE, related_name="shutdown_notices")
    retrain_by = models.DateField()
    days_before = models.PositiveSmallIntegerField(help_text="The threshold crossed: 90, 60, 30.")
    noticed_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-noticed_on", "tune_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tune", "retrain_by", "days_before"],
                name="tracker_one_shutdown_notice_per_threshold",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tune}: retrain by {self.retrain_by} ({self.days_before} days' notice)"


class TuneAlias(models.Model):
    """A provider model id under which a tune's usage is reported: an exact id or a glob pattern
    (``ft:gpt-4o-mini-2024-07-18:acme:triage:*``). Unique within a team; an exact alias beats a
    pattern when both match."""

    tune = models.ForeignKey(FineTune, on_delete=models.CASCADE, related_name="aliases")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", editable=False)
    model_id = models.CharField(
        "provider model id",
        max_length=255,
        help_text="Exactly as the provider reports it, or a pattern with * and ? wildcards.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "provider model id"
        ordering = ["model_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "model_id"], name="tracker_alias_unique_in_team"
            )
        ]

    def __str__(self) -> str:
        return self.model_id

    def save(self, *args, **kwargs) -> None:
        self.team_id = self.tune.team_id  # uniqueness is per team, so the team is kept here
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # The team is not on the forms, so their own uniqueness check skips it: check here.
        if self.tune_id:
            taken = TuneAlias.objects.filter(team_id=self.tune.team_id, model_id=self.model_id)
            other = taken.exclude(pk=self.pk).select_related("tune").first()
            if other is not None:
                raise ValidationError(
                    {"model_id": f"Already a model id of {other.tune.slug} in this team."}
                )

    @property
    def is_pattern(self) -> bool:
        from tracker.importers.aliases import is_pattern

        return is_pattern(self.model_id)


class UsagePull(models.Model):
    """One run of a nightly pull from a provider's usage API: what it asked for and got."""

    source = models.CharField(max_length=64, db_index=True)
    period_start = models.DateField()
    period_end = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0, help_text="Daily usage rows written.")
    unmatched = models.JSONField(
        default=list, help_text="Model ids that matched no tune: model id, days, tokens."
    )
    warnings = models.JSONField(default=list)
    error = models.TextField(blank=True, help_text="Why nothing was written, if it failed.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        state = "failed" if self.error else f"{self.rows} rows"
        return f"{self.source} {self.period_start}..{self.period_end}: {state}"
