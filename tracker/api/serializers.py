"""What goes in and out of the API. Input serializers check shape and JSON types; services do
the writes and the model-level validation. Output serializers describe what the selectors read.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.models import (
    ENGINE_TUNE_FIELDS,
    CatalogModel,
    ChangeLogEntry,
    Evaluation,
    FineTune,
    ModelPrice,
    Team,
    TuneAlias,
    TunePrice,
    Verdict,
)
from tracker.selectors import access
from tracker.selectors.shutdowns import retrain_by
from tracker.selectors.summary import UNEVALUATED
from tracker.services import usage

from .fields import (
    DAY_SCHEMA,
    NO_NUL_PATTERN,
    PlausibleDateField,
    StrictInputSerializer,
    StrictMoneyField,
)

SLUG_PATTERN = usage.SLUG_PATTERN

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _text(max_length: int, **kwargs) -> serializers.CharField:
    kwargs.setdefault("trim_whitespace", False)
    return serializers.CharField(max_length=max_length, **kwargs)


def _count(maximum: int = INT32_MAX, **kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=maximum, **kwargs)


def _score(**kwargs) -> serializers.FloatField:
    return serializers.FloatField(min_value=0.0, max_value=1.0, allow_null=True, **kwargs)


def _model_id(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=INT64_MAX, **kwargs)


# --- Teams ---------------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name"]


# --- Catalog -------------------------------------------------------------------------------------


class CatalogModelSerializer(serializers.ModelSerializer):
    tune_count = serializers.IntegerField(
        read_only=True, help_text="Your tunes trained on this model."
    )
    alternative_count = serializers.IntegerField(
        read_only=True, help_text="Your tunes whose prompt/RAG alternative runs on this model."
    )
    shutdown_on_changed_by = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text='Who last set or changed the shutdown date (a username, or "api key" and the '
        "key's name); null if it was never set.",
    )
    shutdown_on_changed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = CatalogModel
        fields = [
            "id",
            "provider",
            "name",
            "version",
            "released_on",
            "shutdown_on",
            "successor",
            "tune_count",
            "alternative_count",
            "shutdown_on_changed_by",
            "shutdown_on_changed_at",
        ]


def catalog_model_or_error(model_id: int | None) -> CatalogModel | None:
    """The catalog model with this id (the catalog is shared), or a field error."""
    if model_id is None:
        return None
    model = access.catalog_model(None, model_id)
    if model is None:
        raise serializers.ValidationError(f"No catalog model with id {model_id}.")
    return model


class CatalogModelInputSerializer(StrictInputSerializer):
    provider = _text(80, min_length=1)
    name = _text(120, min_length=1)
    version = _text(80, min_length=1)
    released_on = PlausibleDateField(required=False, allow_null=True)
    shutdown_on = PlausibleDateField(required=False, allow_null=True)
    successor = _model_id(required=False, allow_null=True)

    def validate_successor(self, value):
        return catalog_model_or_error(value)


class ModelPriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelPrice
        fields = [
            "id",
            "effective_from",
            "input_usd_per_mtok",
            "output_usd_per_mtok",
            "created_at",
            "created_by",
        ]


class TunePriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = TunePrice
        fields = [
            "id",
            "effective_from",
            "input_usd_per_mtok",
            "output_usd_per_mtok",
            "created_at",
            "created_by",
        ]


class PriceInputSerializer(StrictInputSerializer):
    effective_from = PlausibleDateField(help_text="The price applies from this day on.")
    input_usd_per_mtok = StrictMoneyField(max_digits=12, decimal_places=4)
    output_usd_per_mtok = StrictMoneyField(max_digits=12, decimal_places=4)


# --- Tunes ---------------------------------------------------------------------------------------


class TuneSerializer(serializers.ModelSerializer):
    team: Any = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner: Any = serializers.SlugRelatedField(slug_field="username", read_only=True)
    base_model_shutdown_on = serializers.DateField(
        source="base_model.shutdown_on", read_only=True, allow_null=True
    )
    latest_verdict = serializers.ChoiceField(
        choices=Verdict.choices, read_only=True, allow_null=True
    )
    latest_as_of = serializers.DateField(read_only=True, allow_null=True)
    retrain_by = serializers.SerializerMethodField(
        help_text="Deployed tunes on a base model with a shutdown date: retrain on the successor "
        "and evaluate by this day (the shutdown less the lead time)."
    )

    class Meta:
        model = FineTune
        fields = [
            "id",
            "slug",
            "name",
            "team",
            "owner",
            "status",
            "task_description",
            "method",
            "base_model",
            "base_model_shutdown_on",
            "retrain_by",
            "alternative",
            *(
                f
                for f in ENGINE_TUNE_FIELDS.values()
                if f not in {"status", "base_model", "alternative"}
            ),
            "latest_verdict",
            "latest_as_of",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_retrain_by(self, tune: FineTune):
        return retrain_by(status=tune.status, shutdown_on=tune.base_model.shutdown_on)


class TuneFieldsSerializer(StrictInputSerializer):
    """The fields both registering and editing a tune take."""

    name = _text(160, min_length=1)
    owner = _text(
        150,
        required=False,
        help_text="Username of a member of the tune's team with an email address; gets the "
        "digest. Defaults to you when you are signed in.",
    )
    status = serializers.ChoiceField(
        choices=[
            (FineTune.Status.PROPOSED.value, FineTune.Status.PROPOSED.label),
            (FineTune.Status.DEPLOYED.value, FineTune.Status.DEPLOYED.label),
        ],
        required=False,
        help_text="Proposed or deployed; retire through the retire action.",
    )
    task_description = _text(10_000, required=False, allow_blank=True)
    method = serializers.ChoiceField(choices=FineTune.Method.choices, required=False)
    base_model = _model_id(help_text="Catalog model id the tune is trained on.")
    alternative = _model_id(
        required=False, allow_null=True, help_text="Catalog model id of the prompt/RAG setup."
    )
    extra_prompt_tokens = _count(required=False)
    need_is_articulable = serializers.BooleanField(required=False)
    behaviour_unpromptable = serializers.BooleanField(required=False)
    tacit_expertise = serializers.BooleanField(required=False)
    adds_knowledge = serializers.BooleanField(required=False)
    fixes_formatting = serializers.BooleanField(required=False)
    few_edge_cases = serializers.BooleanField(required=False)
    brand_tone = serializers.BooleanField(required=False)
    labelled_examples = _count(required=False)
    target_score = _score(required=False)
    baseline_score = _score(required=False)
    tune_score = _score(required=False)
    upfront_cost = StrictMoneyField(required=False)
    retrain_cost = StrictMoneyField(required=False)
    monthly_fixed_cost = StrictMoneyField(required=False)
    deployed_on = PlausibleDateField(required=False, allow_null=True)
    last_trained_on = PlausibleDateField(required=False, allow_null=True)
    expected_monthly_queries = _count(INT64_MAX, required=False, allow_null=True)
    expected_input_tokens = _count(required=False, allow_null=True)
    expected_output_tokens = _count(required=False, allow_null=True)

    def validate_base_model(self, value):
        return catalog_model_or_error(value)

    def validate_alternative(self, value):
        return catalog_model_or_error(value)


class TuneCreateSerializer(TuneFieldsSerializer):
    slug = serializers.RegexField(
        SLUG_PATTERN, max_length=160, required=False, help_text="Defaults to the name, slugified."
    )
    team = serializers.RegexField(
        SLUG_PATTERN,
        max_length=120,
        required=False,
        help_text="Team slug. An API key's tunes belong to its team; a person in several teams "
        "must name one.",
    )


class TuneUpdateSerializer(TuneFieldsSerializer):
    pass


class RetireSerializer(StrictInputSerializer):
    on = PlausibleDateField(required=False, help_text="Defaults to today; not in the future.")


# --- Change log ----------------------------------------------------------------------------------


class ChangeLogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = ChangeLogEntry
        fields = ["id", "day", "kind", "meaningful", "summary", "author", "cost", "created_at"]


class ChangeLogEntryInputSerializer(StrictInputSerializer):
    day = PlausibleDateField(help_text="Not in the future.")
    kind = serializers.ChoiceField(choices=ChangeLogEntry.Kind.choices)
    meaningful = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Would the tune, trained before this change, now answer wrongly?",
    )
    summary = _text(500, min_length=1)
    author = _text(150, required=False, help_text="Defaults to you, or the API key's name.")
    cost = StrictMoneyField(
        required=False, allow_null=True, help_text="For a retraining: what it cost (USD)."
    )


# --- Evaluations ---------------------------------------------------------------------------------


class EvaluationSerializer(serializers.ModelSerializer):
    tune: Any = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    figures = serializers.DictField(read_only=True)
    findings = serializers.ListField(child=serializers.DictField(), read_only=True)
    policy = serializers.DictField(source="policy_values", read_only=True)

    class Meta:
        model = Evaluation
        fields = [
            "tune",
            "as_of",
            "verdict",
            "reason",
            "monthly_net_saving",
            "unrecovered_cost",
            "figures",
            "findings",
            "policy",
            "engine_version",
            "created_at",
        ]


class EvaluateSerializer(StrictInputSerializer):
    as_of = PlausibleDateField(required=False, help_text="Defaults to today; not in the future.")


# --- Usage ---------------------------------------------------------------------------------------


@extend_schema_field(DAY_SCHEMA)
class UsageDayField(serializers.DateField):
    pass


def _source(help_text: str) -> serializers.RegexField:
    return serializers.RegexField(
        NO_NUL_PATTERN,
        min_length=1,
        max_length=usage.SOURCE_MAX_LENGTH,
        required=False,
        help_text=help_text,
    )


class UsageRecordInputSerializer(serializers.Serializer):
    """One day of one tune from one source. Documentation only: batches are validated as a
    whole by ``tracker.services.usage``, whose constants this schema is built from (and which
    checks what a schema cannot say: the tune must be yours, the day not in the future, keys
    unique in the batch)."""

    tune = serializers.RegexField(
        usage.SLUG_PATTERN, max_length=usage.SLUG_MAX_LENGTH, help_text="The tune's slug."
    )
    day = UsageDayField(help_text=f"Not in the future, not before {usage.EARLIEST_DAY}.")
    # A field named "source" shadows Field.source (a str in the stubs).
    source = _source(  # type: ignore[assignment]
        "Which gateway or export sent it; the batch's source (or "
        f"'{usage.DEFAULT_SOURCE}') if left out. Usage from different sources adds up."
    )
    queries = _count(usage.MAX_DAILY_COUNT)
    input_tokens = _count(usage.MAX_DAILY_COUNT)
    output_tokens = _count(usage.MAX_DAILY_COUNT)
    cost_usd = serializers.FloatField(
        min_value=0,
        max_value=float(usage.MAX_COST_USD),
        allow_null=True,
        required=False,
        help_text="The actual cost that day (USD), rounded to 4 decimals.",
    )
    quality_score = _score(required=False, help_text="On the eval scale, 0 to 1.")


class UsageBatchInputSerializer(serializers.Serializer):
    # A field named "source" shadows Field.source; many=True passes the lengths on to the
    # ListSerializer, whose keyword arguments the stubs do not know.
    source = _source(f"Source of the records that name none (default '{usage.DEFAULT_SOURCE}').")  # type: ignore[assignment]
    records = UsageRecordInputSerializer(  # type: ignore[call-arg]
        many=True, min_length=usage.BATCH_MIN_RECORDS, max_length=usage.batch_max_records()
    )


class SourceWarningSerializer(serializers.Serializer):
    tune = serializers.CharField()
    # A field named "source" shadows Field.source (a str in the stubs).
    source = serializers.CharField(help_text="The source new to this tune on these days.")  # type: ignore[assignment]
    other_sources = serializers.ListField(
        child=serializers.CharField(), help_text="Sources already reporting those days."
    )
    days = serializers.IntegerField(help_text="Days of the batch the other sources report.")
    message = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Records in the batch.")
    created = serializers.IntegerField(help_text="New (tune, day, source) rows.")
    updated = serializers.IntegerField(help_text="Existing rows whose values were replaced.")
    unchanged = serializers.IntegerField(help_text="Existing rows sent again with equal values.")
    warnings = SourceWarningSerializer(
        many=True,
        help_text="Sources new to a tune on days other sources already report. The batch was "
        "written: two gateways are real, but their usage adds up.",
    )


class UsageQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "week", "month"], default="day")
    start = serializers.DateField(required=False, help_text="Defaults to 365 days before end.")
    end = serializers.DateField(required=False, help_text="Defaults to today.")


class UsagePeriodSerializer(serializers.Serializer):
    period_start = serializers.DateField(help_text="The day, the week's Monday, or the 1st.")
    queries = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    quality_score = serializers.FloatField(allow_null=True)
    sources = serializers.IntegerField(help_text="How many sources reported in the period.")


class UsageTotalsSerializer(serializers.Serializer):
    queries = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)


class UsageSeriesSerializer(serializers.Serializer):
    tune = serializers.CharField()
    period = serializers.ChoiceField(choices=["day", "week", "month"])
    start = serializers.DateField()
    end = serializers.DateField()
    rows = UsagePeriodSerializer(many=True)
    totals = UsageTotalsSerializer()


# --- Summary -------------------------------------------------------------------------------------


class ModelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label: Any = serializers.CharField()
    shutdown_on = serializers.DateField(allow_null=True)


class ShutdownSerializer(serializers.Serializer):
    model = ModelRefSerializer()
    shutdown_on = serializers.DateField()
    days_left = serializers.IntegerField(help_text="Negative once it has shut down.")
    successor = ModelRefSerializer(allow_null=True)
    tunes = serializers.ListField(
        child=serializers.CharField(), help_text="Your tunes (not retired) on this model."
    )


#: Tunes per latest verdict: one count per verdict of the engine's vocabulary, and UNEVALUATED.
VerdictCountsSerializer = type(
    "VerdictCountsSerializer",
    (serializers.Serializer,),
    {name: serializers.IntegerField() for name in [*Verdict.values, UNEVALUATED]},
)


class SummarySerializer(serializers.Serializer):
    as_of = serializers.DateField()
    tunes = serializers.IntegerField(help_text="Tunes not retired.")
    by_verdict = VerdictCountsSerializer(help_text="Tunes per latest verdict.")
    deployed_tunes_evaluated = serializers.IntegerField()
    realised_monthly_saving_usd = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        help_text="Sum of the deployed tunes' monthly net saving, from their latest evaluation.",
    )
    flagged_tunes = serializers.IntegerField(help_text="Tunes with an open flag.")
    unrecovered_training_cost_of_flagged_usd = serializers.DecimalField(
        max_digits=20, decimal_places=2
    )
    shutdown_window_days = serializers.IntegerField()
    upcoming_shutdowns = ShutdownSerializer(many=True)


# --- Flags ---------------------------------------------------------------------------------------


class FlagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tune = serializers.CharField(source="tune.slug")
    tune_name = serializers.CharField(source="tune.name")
    team = serializers.CharField(source="tune.team.slug")
    owner = serializers.CharField(source="tune.owner.email")
    kind = serializers.CharField()
    state = serializers.SerializerMethodField(help_text="open, snoozed or resolved")
    opened_on = serializers.DateField()
    age_days = serializers.SerializerMethodField(help_text="Days open, up to today or resolution.")
    reason = serializers.CharField(source="opened_by.reason")
    resolved_on = serializers.DateField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", allow_null=True)
    snoozed_until = serializers.DateField(allow_null=True)
    snoozed_at = serializers.DateTimeField(allow_null=True)
    snoozed_by = serializers.CharField(source="snoozed_by.username", allow_null=True)
    note = serializers.CharField()

    def _today(self):
        return self.context.get("today")

    def get_state(self, flag) -> str:
        if flag.resolved_on:
            return "resolved"
        today = self._today()
        if flag.snoozed_until and today and flag.snoozed_until > today:
            return "snoozed"
        return "open"

    def get_age_days(self, flag) -> int:
        end = flag.resolved_on or self._today()
        return (end - flag.opened_on).days


class FlagAcknowledgeSerializer(StrictInputSerializer):
    note = _text(2000, required=False, default="", allow_blank=True)


class FlagSnoozeSerializer(StrictInputSerializer):
    until = PlausibleDateField(help_text="The flag comes back into the digest on this day.")
    note = _text(2000, required=False, default="", allow_blank=True)


class TuneAliasSerializer(serializers.ModelSerializer):
    is_pattern = serializers.BooleanField(read_only=True)

    class Meta:
        model = TuneAlias
        fields = ["id", "model_id", "is_pattern", "created_at"]


class TuneAliasInputSerializer(StrictInputSerializer):
    model_id = serializers.CharField(
        max_length=255,
        help_text="A provider model id, exactly as reported, or a glob pattern (* and ?).",
    )


class UnmatchedModelSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    days = serializers.IntegerField()
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class DaysCoveredSerializer(serializers.Serializer):
    first = serializers.DateField(allow_null=True)
    last = serializers.DateField(allow_null=True)
    count = serializers.IntegerField()


class ImportReportSerializer(serializers.Serializer):
    # A field named "source" shadows Field.source (a str in the stubs).
    source = serializers.CharField()  # type: ignore[assignment]
    rows = serializers.IntegerField(help_text="Daily rows in the payload for known tunes.")
    rows_written = serializers.IntegerField(help_text="Rows created or replaced.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    days = DaysCoveredSerializer()
    estimated_rows = serializers.IntegerField(help_text="Rows whose queries were estimated.")
    unmatched = UnmatchedModelSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
