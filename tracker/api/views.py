"""The endpoints. Each view checks its input, calls one service (writes) or selector (reads), and
shapes the answer; access is decided by the caller's teams and scopes (``authentication``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from tracker.importers import FORMATS
from tracker.models import (
    CatalogModel,
    ChangeLogEntry,
    Evaluation,
    FineTune,
    Flag,
    ModelPrice,
    Team,
    TuneAlias,
    TunePrice,
)
from tracker.selectors import access
from tracker.selectors.summary import portfolio_summary
from tracker.selectors.usage import usage_by_period, usage_totals
from tracker.services import evaluate_tune, record_change, retire_tune, usage
from tracker.services.catalog import add_model_price, create_catalog_model, update_catalog_model
from tracker.services.flags import flag_acknowledge, flag_snooze
from tracker.services.imports import ImportRefused, tune_alias_add, usage_import
from tracker.services.portfolio import add_serving_price, register_tune, team_owner, update_tune
from tracker.services.usage import UsageBatchInvalid, ingest_batch

from . import serializers as s
from .authentication import Caller, get_caller
from .errors import InvalidInput, PayloadTooLarge
from .filters import ChangeLogFilter, EvaluationFilter, FlagFilter, TuneFilter
from .idempotency import idempotent
from .parsers import CSVTextParser, StrictJSONParser
from .renderers import CSVRenderer, tune_csv_response
from .schema import IDEMPOTENCY_KEY


def _max_error_details() -> int:
    """A usage batch answers with at most this many error details (the message has the total)."""
    return getattr(settings, "USAGE_MAX_ERROR_DETAILS", 1000)


def _today():
    return timezone.now().date()


SLUG_PARAMETER = OpenApiParameter(
    "slug",
    {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$", "maxLength": 160},
    OpenApiParameter.PATH,
    description="The tune's slug.",
)
MODEL_ID_PARAMETER = OpenApiParameter(
    "model_id",
    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    OpenApiParameter.PATH,
    description="The catalog model's id.",
)


class ApiView(generics.GenericAPIView):
    """Refuses oversized bodies before anything reads them; knows its caller."""

    #: HTTP method → scope, where not read (GET) / write (the rest).
    scopes: dict[str, str] = {}
    #: Query parameters that may be sent empty (free text); any other must have a value.
    blank_query_parameters = frozenset({"search", "team", "ordering"})

    def initial(self, request, *args, **kwargs):
        limit = getattr(settings, "API_MAX_BODY_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise PayloadTooLarge(f"The body is {length} bytes; the limit is {limit}.")
        super().initial(request, *args, **kwargs)
        blank = sorted(
            name
            for name, values in request.query_params.lists()
            if name not in self.blank_query_parameters and "" in values
        )
        if blank:
            raise ValidationError({name: ["May not be empty."] for name in blank})

    @property
    def caller(self) -> Caller:
        return get_caller(self.request)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "caller": self.caller}

    def validated(self, serializer_class, data, **kwargs) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def page(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(serializer_class(page, many=True).data)

    def tune(self) -> FineTune:
        tune = access.tune_by_slug(self.caller.team_ids, self.kwargs["slug"])
        if tune is None:
            raise NotFound("No such tune in your team(s).")
        return tune


def _not_future(value, field):
    if value is not None and value > _today():
        raise ValidationError({field: [f"In the future (today is {_today()})."]})
    return value


# --- Teams ---------------------------------------------------------------------------------------


class TeamListView(ApiView):
    """The teams whose data you see."""

    queryset = Team.objects.none()
    pagination_class = None

    @extend_schema(responses=s.TeamSerializer(many=True), summary="Your teams")
    def get(self, request):
        teams = access.visible_teams(self.caller.team_ids)
        return Response(s.TeamSerializer(teams, many=True).data)


# --- Tunes ---------------------------------------------------------------------------------------


def _tune_out(caller: Caller, tune: FineTune) -> dict:
    return s.TuneSerializer(access.tune_by_slug(caller.team_ids, tune.slug)).data


class TuneListView(ApiView):
    """Fine-tunes of your teams: list (filter, search, order) and register."""

    queryset = FineTune.objects.none()
    filterset_class = TuneFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return access.visible_tunes(self.caller.team_ids)

    renderer_classes = [JSONRenderer, CSVRenderer]

    def handle_exception(self, exc):
        # Errors are the JSON envelope, whatever format the list was asked in.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        responses={
            (200, "application/json"): s.TuneSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="`csv`: every matching tune with its latest verdict, reason and "
                "key figures, streamed (no pagination).",
            )
        ],
        summary="List tunes",
    )
    def get(self, request):
        if request.accepted_renderer.format == "csv":
            return tune_csv_response(self.filter_queryset(self.get_queryset()))
        return self.page(self.get_queryset(), s.TuneSerializer)

    @extend_schema(
        request=s.TuneCreateSerializer,
        responses={201: s.TuneSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Register a tune",
    )
    def post(self, request):
        def action():
            data = dict(self.validated(s.TuneCreateSerializer, request.data))
            caller = self.caller
            tune = register_tune(
                team_ids=caller.team_ids,
                key_team=caller.api_key.team if caller.api_key is not None else None,
                team_slug=data.pop("team", None),
                owner_username=data.pop("owner", None),
                caller_username=caller.user.get_username() if caller.user is not None else None,
                **data,
            )
            return status.HTTP_201_CREATED, _tune_out(caller, tune)

        return idempotent(request, action)


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneDetailView(ApiView):
    """One fine-tune: read and edit."""

    queryset = FineTune.objects.none()
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(responses=s.TuneSerializer, summary="A tune")
    def get(self, request, slug):
        return Response(s.TuneSerializer(self.tune()).data)

    @extend_schema(
        request=s.TuneUpdateSerializer, responses=s.TuneSerializer, summary="Edit a tune"
    )
    def patch(self, request, slug):
        tune = self.tune()
        data = dict(self.validated(s.TuneUpdateSerializer, request.data, partial=True))
        if "owner" in data:
            data["owner"] = team_owner(team=tune.team, username=data["owner"])
        tune = update_tune(tune=tune, **data)
        return Response(_tune_out(self.caller, tune))


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneRetireView(ApiView):
    """Retire a fine-tune."""

    queryset = FineTune.objects.none()

    @extend_schema(
        request=s.RetireSerializer,
        responses=s.TuneSerializer,
        parameters=[IDEMPOTENCY_KEY],
        summary="Retire a tune",
        description="Retired tunes stay in the history and are no longer evaluated; their open "
        "flags are resolved. Retiring a retired tune changes nothing.",
    )
    def post(self, request, slug):
        def action():
            tune = self.tune()
            data = self.validated(s.RetireSerializer, request.data)
            on = _not_future(data.get("on"), "on") or _today()
            tune = retire_tune(tune=tune, on=on)
            return status.HTTP_200_OK, _tune_out(self.caller, tune)

        return idempotent(request, action)


# --- Change log ----------------------------------------------------------------------------------


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneChangesView(ApiView):
    """A fine-tune's change log."""

    queryset = ChangeLogEntry.objects.none()
    filterset_class = ChangeLogFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return access.tune_changes(self.tune())

    @extend_schema(responses=s.ChangeLogEntrySerializer(many=True), summary="A tune's change log")
    def get(self, request, slug):
        return self.page(self.get_queryset(), s.ChangeLogEntrySerializer)

    @extend_schema(
        request=s.ChangeLogEntryInputSerializer,
        responses={201: s.ChangeLogEntrySerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Record a change",
        description="A retraining moves the tune's last trained date to its day.",
    )
    def post(self, request, slug):
        def action():
            tune = self.tune()
            data = dict(self.validated(s.ChangeLogEntryInputSerializer, request.data))
            _not_future(data["day"], "day")
            data.setdefault("author", self.caller.label)
            entry = record_change(tune=tune, **data)
            return status.HTTP_201_CREATED, s.ChangeLogEntrySerializer(entry).data

        return idempotent(request, action)


# --- Serving prices ------------------------------------------------------------------------------


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneServingPricesView(ApiView):
    """What serving the fine-tune costs, effective-dated."""

    queryset = TunePrice.objects.none()
    pagination_class = None

    @extend_schema(responses=s.TunePriceSerializer(many=True), summary="A tune's serving prices")
    def get(self, request, slug):
        prices = access.tune_serving_prices(self.tune())
        return Response(s.TunePriceSerializer(prices, many=True).data)

    @extend_schema(
        request=s.PriceInputSerializer,
        responses={201: s.TunePriceSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Append a serving price",
        description="Prices are appended, never rewritten: a new one starts after the last.",
    )
    def post(self, request, slug):
        def action():
            tune = self.tune()
            price = add_serving_price(
                tune=tune,
                by=self.caller.label,
                **self.validated(s.PriceInputSerializer, request.data),
            )
            return status.HTTP_201_CREATED, s.TunePriceSerializer(price).data

        return idempotent(request, action)


# --- Usage ---------------------------------------------------------------------------------------


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneUsageView(ApiView):
    """A fine-tune's usage, aggregated."""

    queryset = FineTune.objects.none()

    @extend_schema(
        parameters=[s.UsageQuerySerializer],
        responses=s.UsageSeriesSerializer,
        summary="A tune's usage by day, week or month",
    )
    def get(self, request, slug):
        tune = self.tune()
        query = self.validated(s.UsageQuerySerializer, request.query_params)
        end = query.get("end") or _today()
        start = query.get("start") or max(end, date.min + timedelta(days=365)) - timedelta(days=365)
        rows = usage_by_period(tune, query["period"], start, end)
        body = {
            "tune": tune.slug,
            "period": query["period"],
            "start": start,
            "end": end,
            "rows": rows,
            "totals": usage_totals(rows),
        }
        return Response(s.UsageSeriesSerializer(body).data)


class UsageIngestView(ApiView):
    """Usage ingestion: daily records in batches."""

    queryset = FineTune.objects.none()
    scopes = {"POST": "ingest"}

    @extend_schema(
        request=s.UsageBatchInputSerializer,
        responses={200: s.IngestResultSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Send a batch of daily usage",
        description=f"{usage.BATCH_MIN_RECORDS} to {usage.batch_max_records():,} records. "
        "Upserts on (tune, day, source): a day sent again replaces it; equal values change "
        "nothing. The whole batch is checked first: one bad record and nothing is written, and "
        "the 400 lists every error by record index (`row`) and field. Usage from different "
        "sources adds up: when a source is new for a tune on days other sources already report, "
        "the batch is written and `warnings` names them.",
    )
    def post(self, request):
        def action():
            try:
                result = ingest_batch(request.data, team_ids=self.caller.team_ids)
            except UsageBatchInvalid as exc:
                limit = _max_error_details()
                details = [e.as_dict() for e in exc.errors[:limit]]
                message = str(exc)
                if len(exc.errors) > limit:
                    message += f" The first {limit} are listed."
                raise InvalidInput(message, details, code="invalid_batch") from exc
            return status.HTTP_200_OK, result.as_dict()

        return idempotent(request, action)


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    {"type": "string", "enum": list(FORMATS)},
    OpenApiParameter.QUERY,
    required=True,
    description="The payload's format: a provider's or gateway's own (see the README).",
)


class _FormatIsThePayloads:
    """DRF reads ``?format=`` as the answer's renderer; on the import it names the payload's."""

    URL_FORMAT_OVERRIDE = None

    def __getattr__(self, name):
        return getattr(api_settings, name)


class PayloadFormatNegotiation(DefaultContentNegotiation):
    # The stubs type ``settings`` as DRF's settings class; this stands in for it by delegation.
    settings = _FormatIsThePayloads()  # type: ignore[assignment]


class UsageImportView(ApiView):
    """Usage in a provider's or gateway's own format."""

    queryset = FineTune.objects.none()
    content_negotiation_class = PayloadFormatNegotiation
    scopes = {"POST": "ingest"}
    parser_classes = [StrictJSONParser, CSVTextParser]

    @extend_schema(
        request={"application/json": dict, "text/csv": str},
        responses={200: s.ImportReportSerializer},
        parameters=[FORMAT_PARAMETER, IDEMPOTENCY_KEY],
        summary="Import usage in a provider's format",
        description="The payload as the provider or gateway emits it (for `csv`, the CSV text). "
        "Model ids are tied to tunes through their aliases; ids that match none are listed "
        "under `unmatched` with their days and tokens. Written under the format's name as "
        "source, with the usage batch's checks: all or nothing, errors naming the place in the "
        "payload.",
    )
    def post(self, request):
        def action():
            format = request.query_params.get("format")
            if format not in FORMATS:
                raise InvalidInput(
                    "Unknown format.",
                    [
                        {
                            "row": None,
                            "field": "format",
                            "message": f"One of: {', '.join(FORMATS)}.",
                        }
                    ],
                )
            try:
                report = usage_import(
                    format=format,
                    payload=request.data,
                    team_ids=self.caller.team_ids,
                )
            except ImportRefused as exc:
                limit = _max_error_details()
                raise InvalidInput(str(exc), exc.errors[:limit], code="invalid_batch") from exc
            return status.HTTP_200_OK, s.ImportReportSerializer(report.as_dict()).data

        return idempotent(request, action)


# --- Provider model ids --------------------------------------------------------------------------


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneAliasesView(ApiView):
    """The provider model ids (exact, or glob patterns) a tune's usage is reported under."""

    queryset = TuneAlias.objects.none()
    pagination_class = None

    @extend_schema(responses=s.TuneAliasSerializer(many=True), summary="A tune's model ids")
    def get(self, request, slug):
        return Response(s.TuneAliasSerializer(self.tune().aliases.all(), many=True).data)

    @extend_schema(
        request=s.TuneAliasInputSerializer,
        responses={201: s.TuneAliasSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Add a provider model id",
        description="Unique within the team. An exact id beats a pattern.",
    )
    def post(self, request, slug):
        def action():
            tune = self.tune()
            data = self.validated(s.TuneAliasInputSerializer, request.data)
            alias = tune_alias_add(tune=tune, model_id=data["model_id"])
            return status.HTTP_201_CREATED, s.TuneAliasSerializer(alias).data

        return idempotent(request, action)


# --- Evaluations ---------------------------------------------------------------------------------


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneEvaluationsView(ApiView):
    """A fine-tune's evaluation history."""

    queryset = Evaluation.objects.none()
    filterset_class = EvaluationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return access.tune_evaluations(self.tune())

    @extend_schema(
        responses=s.EvaluationSerializer(many=True), summary="A tune's evaluations, newest first"
    )
    def get(self, request, slug):
        return self.page(self.get_queryset(), s.EvaluationSerializer)


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneLatestEvaluationView(ApiView):
    """A fine-tune's latest evaluation."""

    queryset = Evaluation.objects.none()

    @extend_schema(responses=s.EvaluationSerializer, summary="A tune's latest evaluation")
    def get(self, request, slug):
        evaluation = access.latest_evaluation(self.tune())
        if evaluation is None:
            raise NotFound("This tune has not been evaluated yet.")
        return Response(s.EvaluationSerializer(evaluation).data)


@extend_schema(parameters=[SLUG_PARAMETER])
class TuneEvaluateView(ApiView):
    """Evaluate a fine-tune now."""

    queryset = Evaluation.objects.none()

    @extend_schema(
        request=s.EvaluateSerializer,
        responses={200: s.EvaluationSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Evaluate a tune now",
        description="Runs the decision engine for this tune as of the day given (today by "
        "default) and returns the evaluation; evaluating again for the same day replaces it.",
    )
    def post(self, request, slug):
        def action():
            tune = self.tune()
            data = self.validated(s.EvaluateSerializer, request.data)
            as_of = _not_future(data.get("as_of"), "as_of") or _today()
            evaluation = evaluate_tune(tune=tune, as_of=as_of)
            return status.HTTP_200_OK, s.EvaluationSerializer(evaluation).data

        return idempotent(request, action)


class SummaryView(ApiView):
    """The portfolio of your teams at a glance."""

    queryset = FineTune.objects.none()
    blank_query_parameters = frozenset()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "team",
                {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$", "maxLength": 120},
                description="Only this team (slug).",
            )
        ],
        responses=s.SummarySerializer,
        summary="The portfolio at a glance",
    )
    def get(self, request):
        team_ids = self.caller.team_ids
        slug = request.query_params.get("team")
        if slug is not None:
            if not re.fullmatch(r"[-a-zA-Z0-9_]{1,120}", slug):
                raise ValidationError({"team": ["A team slug: letters, digits, - and _."]})
            team = access.team_by_slug(team_ids, slug)
            team_ids = [team.pk] if team is not None else []
        return Response(s.SummarySerializer(portfolio_summary(team_ids, _today())).data)


# --- Flags ---------------------------------------------------------------------------------------

FLAG_ID_PARAMETER = OpenApiParameter(
    "flag_id",
    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    OpenApiParameter.PATH,
    description="The flag's id.",
)


class FlagListView(ApiView):
    """Flags on your teams' tunes, open ones first, oldest first."""

    queryset = Flag.objects.none()
    filterset_class = FlagFilter
    blank_query_parameters = frozenset({"team", "tune"})

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return access.visible_flags(self.caller.team_ids)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": _today()}

    @extend_schema(responses=s.FlagSerializer(many=True), summary="Flags")
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        data = s.FlagSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


class FlagActionView(ApiView):
    queryset = Flag.objects.none()

    def flag(self) -> Flag:
        flag = access.flag_by_id(self.caller.team_ids, self.kwargs["flag_id"])
        if flag is None:
            raise NotFound("No such flag in your team(s).")
        return flag

    def answer(self, flag: Flag) -> tuple[int, dict]:
        current = access.flag_by_id(self.caller.team_ids, flag.pk)
        context = {**self.get_serializer_context(), "today": _today()}
        return status.HTTP_200_OK, s.FlagSerializer(current, context=context).data

    def person(self):
        return self.caller.user if self.caller.api_key is None else None


@extend_schema(parameters=[FLAG_ID_PARAMETER])
class FlagAcknowledgeView(FlagActionView):
    """Say you are on it. The flag stays open until an evaluation no longer supports it."""

    @extend_schema(
        request=s.FlagAcknowledgeSerializer,
        responses=s.FlagSerializer,
        parameters=[IDEMPOTENCY_KEY],
        summary="Acknowledge a flag",
    )
    def post(self, request, flag_id):
        def action():
            flag = self.flag()
            data = self.validated(s.FlagAcknowledgeSerializer, request.data)
            return self.answer(flag_acknowledge(flag=flag, by=self.person(), note=data["note"]))

        return idempotent(request, action)


@extend_schema(parameters=[FLAG_ID_PARAMETER])
class FlagSnoozeView(FlagActionView):
    """Keep the flag out of the weekly digest until a day after today."""

    @extend_schema(
        request=s.FlagSnoozeSerializer,
        responses=s.FlagSerializer,
        parameters=[IDEMPOTENCY_KEY],
        summary="Snooze a flag until a day",
    )
    def post(self, request, flag_id):
        def action():
            flag = self.flag()
            data = self.validated(s.FlagSnoozeSerializer, request.data)
            snoozed = flag_snooze(
                flag=flag, until=data["until"], by=self.person(), note=data["note"], today=_today()
            )
            return self.answer(snoozed)

        return idempotent(request, action)


# --- Catalog -------------------------------------------------------------------------------------


class CatalogListView(ApiView):
    """The base-model catalog, shared by every team."""

    queryset = CatalogModel.objects.none()
    scopes = {"POST": "catalog"}
    django_permissions = {"POST": "tracker.add_catalogmodel"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return access.catalog(self.caller.team_ids)

    @extend_schema(responses=s.CatalogModelSerializer(many=True), summary="The base-model catalog")
    def get(self, request):
        return self.page(self.get_queryset(), s.CatalogModelSerializer)

    @extend_schema(
        request=s.CatalogModelInputSerializer,
        responses={201: s.CatalogModelSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Add a catalog model",
    )
    def post(self, request):
        def action():
            model = create_catalog_model(
                by=self.caller.label,
                **self.validated(s.CatalogModelInputSerializer, request.data),
            )
            out = access.catalog_model(self.caller.team_ids, model.pk)
            return status.HTTP_201_CREATED, s.CatalogModelSerializer(out).data

        return idempotent(request, action)


class CatalogModelMixin:
    def catalog_model(self):
        model = access.catalog_model(self.caller.team_ids, self.kwargs["model_id"])
        if model is None:
            raise NotFound("No such catalog model.")
        return model


@extend_schema(parameters=[MODEL_ID_PARAMETER])
class CatalogDetailView(CatalogModelMixin, ApiView):
    """One catalog model."""

    queryset = CatalogModel.objects.none()
    http_method_names = ["get", "patch", "head", "options"]
    scopes = {"PATCH": "catalog"}
    django_permissions = {"PATCH": "tracker.change_catalogmodel"}

    @extend_schema(responses=s.CatalogModelSerializer, summary="A catalog model")
    def get(self, request, model_id):
        return Response(s.CatalogModelSerializer(self.catalog_model()).data)

    @extend_schema(
        request=s.CatalogModelInputSerializer,
        responses=s.CatalogModelSerializer,
        summary="Edit a catalog model (e.g. a shutdown date announced)",
    )
    def patch(self, request, model_id):
        model = self.catalog_model()
        data = self.validated(s.CatalogModelInputSerializer, request.data, partial=True)
        model = update_catalog_model(model=model, by=self.caller.label, **data)
        out = access.catalog_model(self.caller.team_ids, model.pk)
        return Response(s.CatalogModelSerializer(out).data)


@extend_schema(parameters=[MODEL_ID_PARAMETER])
class ModelPricesView(CatalogModelMixin, ApiView):
    """A catalog model's list prices, effective-dated."""

    queryset = ModelPrice.objects.none()
    pagination_class = None
    scopes = {"POST": "catalog"}
    django_permissions = {"POST": "tracker.add_modelprice"}

    @extend_schema(
        responses=s.ModelPriceSerializer(many=True), summary="A model's list prices, oldest first"
    )
    def get(self, request, model_id):
        prices = access.model_prices(self.catalog_model())
        return Response(s.ModelPriceSerializer(prices, many=True).data)

    @extend_schema(
        request=s.PriceInputSerializer,
        responses={201: s.ModelPriceSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Append a list price",
        description="Prices are appended, never rewritten: a new one starts after the last.",
    )
    def post(self, request, model_id):
        def action():
            model = self.catalog_model()
            price = add_model_price(
                model=model,
                by=self.caller.label,
                **self.validated(s.PriceInputSerializer, request.data),
            )
            return status.HTTP_201_CREATED, s.ModelPriceSerializer(price).data

        return idempotent(request, action)
