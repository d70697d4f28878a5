"""The admin is where people register and keep the portfolio. It reads through selectors and
writes through services, like every other entry point."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from . import display, selectors, services
from .api.renderers import tune_csv_response
from .models import (
    CatalogModel,
    ChangeLogEntry,
    DecisionPolicy,
    DigestDelivery,
    DigestPreference,
    Evaluation,
    FineTune,
    Flag,
    IdempotencyRecord,
    ModelPrice,
    Price,
    ShutdownDateChange,
    Team,
    TeamAPIKey,
    TuneAlias,
    TunePrice,
    UsagePull,
    UsageRecord,
    Verdict,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    all_webhook_events,
)
from .selectors.access import FLAG_ORDER
from .selectors.shutdowns import retrain_by
from .services import digest as digest_services
from .services import flags as flag_services
from .services import jobs
from .services import webhooks as webhook_services
from .services.catalog import (
    add_model_price,
    create_catalog_model,
    price_start_error,
    update_catalog_model,
)
from .services.imports import tune_alias_add, tune_alias_remove
from .services.portfolio import (
    STATUS_ERRORS,
    add_serving_price,
    create_tune,
    status_change_error,
    update_tune,
)

VERDICT_COLOURS = {
    Verdict.KEEP: "#1b7f3b",
    Verdict.WATCH: "#a76b00",
    Verdict.RETRAIN: "#1f5fbf",
    Verdict.RETIRE: "#b3261e",
    Verdict.FINE_TUNE: "#1b7f3b",
    Verdict.ITERATE: "#6b6b6b",
}
SEVERITY_COLOURS = {"action": "#b3261e", "watch": "#a76b00", "info": "#555"}


def verdict_badge(verdict: str | None):
    if not verdict:
        return "—"
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:9px;'
        'font-weight:600;font-size:11px">{}</span>',
        VERDICT_COLOURS.get(verdict, "#555"),
        Verdict(verdict).label,
    )


def findings_table(findings: list[dict]):
    if not findings:
        return "—"
    rows = format_html_join(
        "",
        '<tr><td style="color:{}">{}</td><td style="white-space:nowrap">{}</td>'
        '<td style="min-width:28em">{}{}</td></tr>',
        (
            (
                SEVERITY_COLOURS.get(str(f.get("severity")), "#555"),
                f.get("severity", ""),
                f.get("source", ""),
                f.get("message", ""),
                " ◀ decides" if f.get("decisive") else "",
            )
            for f in findings
        ),
    )
    return format_html(
        "<table><thead><tr><th>severity</th><th>from</th><th>finding</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


def labelled_table(values: dict, spec: dict):
    """A two-column table of labelled, formatted values (figures or policy)."""
    rows = display.rows(values, spec)
    if values and "payback_months" in values and values.get("payback_months") is None:
        saving = values.get("monthly_net_saving")
        if saving is not None and float(saving) <= 0:
            payback = display.FIGURES["payback_months"][0]
            rows = [(label, "never") if label == payback else (label, v) for label, v in rows]
    if not rows:
        return "—"
    return format_html(
        '<table class="tf-figures">{}</table>',
        format_html_join(
            "", '<tr><th style="font-weight:normal">{}</th><td><b>{}</b></td></tr>', rows
        ),
    )


def wide(text: str):
    """A reason column wide enough to read."""
    return format_html('<div style="min-width:28em;max-width:60em">{}</div>', text)


def adopt(obj, saved) -> None:
    """Make the admin's object the row a service just created: the inlines are saved against
    the admin's object, so it must carry the new primary key."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db
    obj.refresh_from_db()


def changed_fields(form) -> dict:
    """The fields a person changed on a form, with their parsed values."""
    return {name: form.cleaned_data[name] for name in form.changed_data}


class ServiceInline(admin.TabularInline):
    """An inline whose rows the services write: the admin's forms only parse and validate.

    ``add`` receives the owner and the new row's fields; ``correct`` a row and its changed
    fields; ``remove`` a row. An inline that leaves one of them out does not allow it."""

    def add(self, request, owner, fields: dict) -> None:
        raise NotImplementedError

    def correct(self, request, row, fields: dict) -> None:
        raise NotImplementedError

    def remove(self, request, row) -> None:
        raise NotImplementedError


class ServiceFormsetsMixin:
    """Saves each :class:`ServiceInline`'s rows through its services, in a stable order:
    removals, corrections, then new rows (by their first field, so prices append in order)."""

    def save_formset(self, request, form, formset, change):
        inline = next(
            (
                candidate
                for candidate in self.get_inline_instances(request, form.instance)
                if candidate.model is formset.model and isinstance(candidate, ServiceInline)
            ),
            None,
        )
        if inline is None:  # read-only history: nothing to write
            return formset.save()
        formset.save(commit=False)  # sorts the rows into new, changed and deleted; saves none
        for row in formset.deleted_objects:
            inline.remove(request, row)
        for row, names in formset.changed_objects:
            inline.correct(request, row, {name: getattr(row, name) for name in names})
        new_forms = [
            f for f in formset.extra_forms if f.has_changed() and not formset._should_delete_form(f)
        ]
        owner_field = formset.fk.name
        rows = [
            {k: v for k, v in f.cleaned_data.items() if k not in ("id", "DELETE", owner_field)}
            for f in new_forms
        ]
        order = inline.fields[0] if inline.fields else None
        for fields in sorted(rows, key=lambda r: (r.get(order) is None, str(r.get(order)))):
            inline.add(request, form.instance, fields)


class AppendedPrices(forms.BaseInlineFormSet):
    """New prices start after the owner's last one: the services' rule, shown on the form."""

    def clean(self):
        super().clean()
        if self.instance.pk is None:
            return
        existing = self.model._default_manager.filter(**{self.fk.name: self.instance})
        for form in self.extra_forms:
            if not form.has_changed() or self._should_delete_form(form):
                continue
            error = price_start_error(
                effective_from=form.cleaned_data.get("effective_from"), existing=existing
            )
            if error:
                form.add_error("effective_from", error)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "tune_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tune_count=Count("tunes"))

    @admin.display(ordering="tune_count", description="tunes")
    def tune_count(self, obj):
        return obj.tune_count


class ModelPriceInline(ServiceInline):
    """List prices: appended, never rewritten, so existing rows are read-only."""

    model: type[Price] = ModelPrice
    formset = AppendedPrices
    extra = 0
    can_delete = False
    fields = [
        "effective_from",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "created_by",
        "source",
    ]
    readonly_fields = ["created_by", "source"]

    def has_change_permission(self, request, obj=None):
        return False

    def add(self, request, owner, fields):
        add_model_price(model=owner, by=request.user.get_username(), **fields)


class ShutdownDateChangeInline(admin.TabularInline):
    """Who moved the shutdown date, and when: written by the app, never edited."""

    model = ShutdownDateChange
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["changed_at", "previous", "shutdown_on", "changed_by"]
    readonly_fields = fields  # type: ignore[assignment]  # django-stubs: list is invariant
    verbose_name_plural = "shutdown date changes"


@admin.register(CatalogModel)
class CatalogModelAdmin(ServiceFormsetsMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "provider",
        "released_on",
        "shutdown_on",
        "successor",
        "tune_count",
        "alternative_count",
    ]
    list_filter = ["provider"]
    search_fields = ["provider", "name", "version"]
    autocomplete_fields = ["successor"]
    inlines = [ModelPriceInline, ShutdownDateChangeInline]
    readonly_fields = ["shutdown_source"]

    def get_queryset(self, request):
        return selectors.catalog_with_tune_counts().select_related("successor")

    def save_model(self, request, obj, form, change):
        by = request.user.get_username()
        if not change:
            adopt(obj, create_catalog_model(by=by, **form.cleaned_data))
        elif form.changed_data:
            update_catalog_model(model=obj, by=by, **changed_fields(form))
            obj.refresh_from_db()

    @admin.display(ordering="tune_count", description="tunes on it")
    def tune_count(self, obj):
        return obj.tune_count

    @admin.display(ordering="alternative_count", description="alternative for")
    def alternative_count(self, obj):
        return obj.alternative_count


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "model",
        "effective_from",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "created_by",
        "created_at",
    ]
    list_filter = ["model__provider"]
    autocomplete_fields = ["model"]
    date_hierarchy = "effective_from"
    readonly_fields = ["created_by"]
    owner_field = "model"

    def has_change_permission(self, request, obj=None):
        return False  # appended, never rewritten: a new price starts after the last

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        owner_field = self.owner_field

        class AppendedPrice(form):
            def clean(self):
                cleaned = super().clean()
                owner = cleaned.get(owner_field)
                if owner is not None:
                    existing = self._meta.model._default_manager.filter(**{owner_field: owner})
                    error = price_start_error(
                        effective_from=cleaned.get("effective_from"), existing=existing
                    )
                    if error:
                        self.add_error("effective_from", error)
                return cleaned

        return AppendedPrice

    def save_model(self, request, obj, form, change):
        fields = dict(form.cleaned_data)
        owner = fields.pop(self.owner_field)
        adopt(obj, self.add_price(owner=owner, by=request.user.get_username(), **fields))

    def add_price(self, *, owner, by: str, **fields) -> Price:
        return add_model_price(model=owner, by=by, **fields)


class TunePriceInline(ModelPriceInline):
    model = TunePrice
    fields = ["effective_from", "input_usd_per_mtok", "output_usd_per_mtok", "created_by"]
    readonly_fields = ["created_by"]

    def add(self, request, owner, fields):
        add_serving_price(tune=owner, by=request.user.get_username(), **fields)


class ChangeLogInline(ServiceInline):
    model = ChangeLogEntry
    extra = 1
    fields = ["day", "kind", "meaningful", "summary", "author", "cost"]
    ordering = ["-day", "-id"]

    def add(self, request, owner, fields):
        fields["author"] = fields.get("author") or request.user.get_username()
        services.record_change(tune=owner, **fields)

    def correct(self, request, row, fields):
        services.change_update(entry=row, **fields)

    def remove(self, request, row):
        services.change_delete(entry=row)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Summaries run to 500 characters: a box that wraps, not one that runs off the page.
        if db_field.name == "summary":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "style": "width:32em"})
        elif db_field.name in ("author", "cost"):
            kwargs["widget"] = forms.TextInput(attrs={"style": "width:8em"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class EvaluationInline(admin.TabularInline):
    """Evaluation history: written by the engine, never edited by hand."""

    model = Evaluation
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["as_of", "badge", "saving", "wide_reason", "engine_version"]
    readonly_fields = fields  # type: ignore[assignment]  # django-stubs: list is invariant
    ordering = ["-as_of"]
    verbose_name_plural = "evaluation history"

    @admin.display(description="verdict")
    def badge(self, obj):
        return verdict_badge(obj.verdict)

    @admin.display(description="monthly net saving")
    def saving(self, obj):
        return display.money(obj.monthly_net_saving)

    @admin.display(description="reason")
    def wide_reason(self, obj):
        return wide(obj.reason)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("figures", "stored_findings", "policy")


class LatestVerdictFilter(admin.SimpleListFilter):
    title = "latest verdict"
    parameter_name = "verdict"

    def lookups(self, request, model_admin):
        return Verdict.choices

    def queryset(self, request, queryset):
        return queryset.filter(latest_verdict=self.value()) if self.value() else queryset


class TuneAliasInline(ServiceInline):
    """Provider model ids: added or removed (a typo is removed and added again)."""

    model = TuneAlias
    extra = 0
    fields = ["model_id", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name_plural = (
        "provider model ids (exact ids or glob patterns like ft:gpt-4o-mini-2024-07-18:acme:*)"
    )

    def has_change_permission(self, request, obj=None):
        return False

    def add(self, request, owner, fields):
        tune_alias_add(tune=owner, **fields)

    def remove(self, request, row):
        tune_alias_remove(alias=row)


class FineTuneForm(forms.ModelForm):
    """Status moves between proposed and deployed; retiring is allowed here because the admin
    hands it to the retirement service."""

    def clean_status(self):
        new = self.cleaned_data["status"]
        if self.instance.pk is None:
            if new == FineTune.Status.RETIRED:
                raise ValidationError(STATUS_ERRORS["registered retired"])
        elif new != FineTune.Status.RETIRED:
            error = status_change_error(current=self.instance.status, new=new)
            if error:
                raise ValidationError(error)
        return new


@admin.register(FineTune)
class FineTuneAdmin(ServiceFormsetsMixin, admin.ModelAdmin):
    form = FineTuneForm
    list_display = [
        "name",
        "team",
        "owner",
        "status",
        "base_model_and_shutdown",
        "retrain_by_date",
        "latest_verdict_badge",
        "portfolio_page",
    ]
    list_filter = ["status", LatestVerdictFilter, "team", "base_model", "method"]
    actions = ["reevaluate_now", "export_csv"]
    search_fields = ["name", "slug", "task_description", "team__name", "owner__email"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["team", "owner", "base_model", "alternative"]
    list_select_related = ["team", "owner", "base_model"]
    readonly_fields = ["latest_findings", "retrain_by_date", "created_at", "updated_at"]
    inlines = [TuneAliasInline, TunePriceInline, ChangeLogInline, EvaluationInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "team", "owner", "status", "task_description"]}),
        ("Latest evaluation", {"fields": ["latest_findings"]}),
        (
            "Models",
            {
                "fields": [
                    "method",
                    "base_model",
                    "retrain_by_date",
                    "alternative",
                    "extra_prompt_tokens",
                ]
            },
        ),
        (
            "Why fine-tune (the four questions)",
            {
                "description": "Fine-tuning is worth it when the need can't be written down, "
                "the task is stable and high-volume, there are thousands of examples and the "
                "gap to the best prompt is significant.",
                "fields": [
                    "need_is_articulable",
                    "behaviour_unpromptable",
                    "tacit_expertise",
                    "labelled_examples",
                ],
            },
        ),
        (
            "What it is for (anti-patterns)",
            {
                "description": "Each of these is better served by prompts or retrieval.",
                "fields": ["adds_knowledge", "fixes_formatting", "few_edge_cases", "brand_tone"],
            },
        ),
        ("Quality", {"fields": ["target_score", "baseline_score", "tune_score"]}),
        (
            "Economics",
            {
                "fields": [
                    "upfront_cost",
                    "retrain_cost",
                    "monthly_fixed_cost",
                    "deployed_on",
                    "last_trained_on",
                ]
            },
        ),
        (
            "Proposal estimates",
            {
                "fields": [
                    "expected_monthly_queries",
                    "expected_input_tokens",
                    "expected_output_tokens",
                ]
            },
        ),
        ("Record", {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return selectors.tunes_with_latest_verdict(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        fixed = ["team", "slug"] if obj is not None else []  # fixed once registered
        return [*self.readonly_fields, *fixed]

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if obj is None else {}

    @admin.display(ordering="base_model", description="base model (shutdown)")
    def base_model_and_shutdown(self, obj):
        shutdown = obj.base_model.shutdown_on
        if not shutdown:
            return str(obj.base_model)
        return format_html("{} <small>(shuts down {})</small>", obj.base_model, shutdown)

    @admin.display(description="retrain by")
    def retrain_by_date(self, obj):
        day = retrain_by(status=obj.status, shutdown_on=obj.base_model.shutdown_on)
        return day or "—"

    @admin.display(ordering="latest_verdict", description="latest verdict")
    def latest_verdict_badge(self, obj):
        return verdict_badge(obj.latest_verdict)

    @admin.display(description="charts")
    def portfolio_page(self, obj):
        return format_html('<a href="{}">page</a>', reverse("portfolio:tune", args=[obj.slug]))

    @admin.display(description="findings")
    def latest_findings(self, obj):
        latest = obj.evaluations.order_by("-as_of").first() if obj.pk else None
        if latest is None:
            return "Not evaluated yet."
        return format_html(
            '<p>{} as of {}: {} · <a href="{}">charts and what-if</a></p>{}{}',
            verdict_badge(latest.verdict),
            latest.as_of,
            latest.reason,
            reverse("portfolio:tune", args=[obj.slug]),
            findings_table(latest.findings),
            labelled_table(latest.figures, display.FIGURES),
        )

    @admin.action(description="Export as CSV (latest verdict, reason, key figures)")
    def export_csv(self, request, queryset):
        return tune_csv_response(queryset)

    @admin.action(description="Re-evaluate now")
    def reevaluate_now(self, request, queryset):
        """Queue the same task the nightly run uses; it replaces today's evaluations."""
        ids = list(queryset.values_list("pk", flat=True))
        try:
            queued = jobs.enqueue_evaluation(ids)
        except jobs.QueueUnavailable as exc:
            self.message_user(
                request,
                f"Nothing was queued: {exc}. The nightly run will evaluate these tunes; "
                "try again once the queue is back.",
                messages.ERROR,
            )
            return
        self.message_user(
            request,
            f"Re-evaluation of {len(ids)} tune(s) queued ({queued} task(s)). The verdicts update "
            "in a moment; reload the page.",
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            adopt(obj, create_tune(**form.cleaned_data))
            return
        fields = changed_fields(form)
        retiring = fields.get("status") == FineTune.Status.RETIRED
        if retiring:  # the retirement itself goes through the service that owns it
            del fields["status"]
        if fields:
            update_tune(tune=obj, **fields)
        if retiring:  # retiring settles the flags that asked for action
            services.retire_tune(tune=obj, on=timezone.localdate())
        obj.refresh_from_db()


@admin.register(TunePrice)
class TunePriceAdmin(ModelPriceAdmin):
    list_display = [
        "tune",
        "effective_from",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "created_by",
        "created_at",
    ]
    list_filter = ["tune__team"]
    autocomplete_fields = ["tune"]
    owner_field = "tune"

    def add_price(self, *, owner, by: str, **fields) -> Price:
        return add_serving_price(tune=owner, by=by, **fields)


@admin.register(ChangeLogEntry)
class ChangeLogEntryAdmin(admin.ModelAdmin):
    list_display = ["day", "tune", "kind", "meaningful", "summary", "author", "cost_usd"]
    list_filter = ["kind", "meaningful", "tune__team"]
    search_fields = ["summary", "tune__name", "author"]
    autocomplete_fields = ["tune"]
    date_hierarchy = "day"
    list_select_related = ["tune"]

    @admin.display(ordering="cost", description="cost")
    def cost_usd(self, obj):
        return display.money(obj.cost) if obj.cost is not None else "—"

    def get_readonly_fields(self, request, obj=None):
        return ["tune"] if obj is not None else []  # an entry belongs to its tune for good

    def save_model(self, request, obj, form, change):
        if change:
            services.change_update(entry=obj, **changed_fields(form))
            obj.refresh_from_db()
            return
        fields = dict(form.cleaned_data)
        fields["author"] = fields.get("author") or request.user.get_username()
        adopt(obj, services.record_change(**fields))

    def delete_model(self, request, obj):
        services.change_delete(entry=obj)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            services.change_delete(entry=entry)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = [
        "day",
        "tune",
        "source",
        "queries",
        "estimated",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    ]
    list_filter = ["source", "estimated", "tune__team"]
    search_fields = ["tune__name", "source"]
    autocomplete_fields = ["tune"]
    date_hierarchy = "day"
    list_select_related = ["tune"]
    show_full_result_count = False  # counting millions of rows on every page is slow


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the system writes; people read them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "tune", "badge", "saving", "unrecovered", "wide_reason"]
    list_filter = ["verdict", "as_of", "tune__team"]
    search_fields = ["tune__name", "reason"]
    list_select_related = ["tune"]
    # Evaluations grow by one per tune every night: no drill-down by date (a DISTINCT over the
    # whole table; the as_of filter covers it) and no second count of every row.
    show_full_result_count = False
    fields = [
        "tune",
        "as_of",
        "badge",
        "wide_reason",
        "saving",
        "unrecovered",
        "findings_html",
        "figures_table",
        "policy_table",
        "engine_version",
        "created_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # django-stubs: list is invariant

    @admin.display(ordering="verdict", description="verdict")
    def badge(self, obj):
        return verdict_badge(obj.verdict)

    @admin.display(ordering="monthly_net_saving", description="monthly net saving")
    def saving(self, obj):
        return display.money(obj.monthly_net_saving)

    @admin.display(ordering="unrecovered_cost", description="unrecovered cost")
    def unrecovered(self, obj):
        return display.money(obj.unrecovered_cost)

    @admin.display(description="reason")
    def wide_reason(self, obj):
        return wide(obj.reason)

    @admin.display(description="findings")
    def findings_html(self, obj):
        return findings_table(obj.findings)

    @admin.display(description="figures")
    def figures_table(self, obj):
        return labelled_table(obj.figures, display.FIGURES)

    @admin.display(description="policy in force")
    def policy_table(self, obj):
        return labelled_table(obj.policy_values, display.POLICY)


class OpenFlagFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_on__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_on__isnull=False)
        return queryset


class FlagActionForm(ActionForm):
    note = forms.CharField(required=False, max_length=2000, label="Note")
    until = forms.DateField(
        required=False,
        label="Snooze until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    """Opens on the open flags; acknowledge or snooze them (with a note) from the list."""

    list_display = [
        "tune",
        "kind",
        "owner",
        "opened_on",
        "age",
        "state",
        "why",
        "resolved_on",
    ]
    list_filter = [OpenFlagFilter, "kind", "tune__team"]
    search_fields = ["tune__name", "tune__owner__email", "note"]
    list_select_related = ["tune", "tune__owner", "opened_by", "acknowledged_by", "snoozed_by"]
    ordering = list(FLAG_ORDER)
    action_form = FlagActionForm
    actions = ["acknowledge", "snooze"]
    readonly_fields = [
        "tune",
        "kind",
        "opened_on",
        "resolved_on",
        "why",
        "state",
        "note",
        "acknowledged_at",
        "acknowledged_by",
        "snoozed_until",
        "snoozed_at",
        "snoozed_by",
    ]
    fields = readonly_fields  # type: ignore[assignment]  # django-stubs: list is invariant

    def changelist_view(self, request, extra_context=None):
        # Open flags are what people come for: start there unless they chose a state.
        if request.method == "GET" and not request.GET:
            return redirect(f"{request.path}?{OpenFlagFilter.parameter_name}=open")
        return super().changelist_view(request, extra_context)

    @admin.display(ordering="tune__owner__email", description="owner")
    def owner(self, obj):
        return obj.tune.owner.get_full_name() or obj.tune.owner.get_username()

    @admin.display(ordering="opened_on", description="age (days)")
    def age(self, obj):
        end = obj.resolved_on or timezone.localdate()
        return (end - obj.opened_on).days

    @admin.display(description="why")
    def why(self, obj):
        return wide(obj.opened_by.reason)

    @admin.display(description="state")
    def state(self, obj):
        parts = []
        if obj.resolved_on:
            parts.append(f"resolved {obj.resolved_on}")
        if obj.snoozed_until and not obj.resolved_on:
            parts.append(
                f"snoozed until {obj.snoozed_until} by {obj.snoozed_by or 'an API key'} "
                f"on {obj.snoozed_at:%Y-%m-%d %H:%M}"
            )
        if obj.acknowledged_at:
            parts.append(
                f"acknowledged by {obj.acknowledged_by or 'an API key'} "
                f"on {obj.acknowledged_at:%Y-%m-%d %H:%M}"
            )
        text = "; ".join(parts) or "open"
        if obj.note:
            return format_html("{}<br><i>{}</i>", text, obj.note)
        return text

    def _act(self, request, queryset, act, done: str):
        acted, errors = 0, []
        for flag in queryset:
            try:
                act(flag)
                acted += 1
            except ValidationError as exc:
                errors.append(f"{flag}: {' '.join(exc.messages)}")
        if acted:
            self.message_user(request, f"{acted} flag(s) {done}.", messages.SUCCESS)
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description="Acknowledge (with the note)")
    def acknowledge(self, request, queryset):
        note = request.POST.get("note", "")
        self._act(
            request,
            queryset,
            lambda flag: flag_services.flag_acknowledge(flag=flag, by=request.user, note=note),
            "acknowledged",
        )

    @admin.action(description="Snooze until the day (with the note)")
    def snooze(self, request, queryset):
        try:
            until = forms.DateField().clean(request.POST.get("until"))
        except ValidationError:
            self.message_user(request, "Snooze until: pick a day.", messages.ERROR)
            return
        note = request.POST.get("note", "")
        self._act(
            request,
            queryset,
            lambda flag: flag_services.flag_snooze(
                flag=flag, until=until, by=request.user, note=note
            ),
            f"snoozed until {until}",
        )


DELIVERY_COLOURS = {
    DigestDelivery.Status.PENDING: "#6b6b6b",
    DigestDelivery.Status.SENDING: "#a76b00",
    DigestDelivery.Status.SENT: "#1b7f3b",
    DigestDelivery.Status.FAILED: "#b3261e",
}


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(ReadOnlyAdmin):
    """One row per recipient and ISO week. Failed ones carry the mail server's answer; a row
    left in "sending" for over an hour lost its worker mid-send and is not retried on its own."""

    list_display = [
        "recipient",
        "week",
        "status_badge",
        "email",
        "tune_count",
        "attempts",
        "claimed_at",
        "sent_at",
        "error_summary",
    ]
    list_filter = ["status", "iso_year", "iso_week"]
    search_fields = ["recipient__email", "email", "error"]
    list_select_related = ["recipient"]
    actions = ["allow_resend"]

    @admin.display(description="ISO week")
    def week(self, obj):
        return f"{obj.iso_year}-W{obj.iso_week:02d}"

    @admin.display(ordering="status", description="status")
    def status_badge(self, obj):
        stuck = (
            obj.status == DigestDelivery.Status.SENDING
            and obj.claimed_at
            and obj.claimed_at < timezone.now() - digest_services.STUCK_AFTER
        )
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:9px;'
            'font-weight:600;font-size:11px">{}</span>',
            DELIVERY_COLOURS.get(obj.status, "#555"),
            "stuck in sending" if stuck else obj.get_status_display(),
        )

    @admin.display(description="error")
    def error_summary(self, obj):
        if not obj.error:
            return "—"
        text = obj.error if len(obj.error) <= 160 else obj.error[:157] + "…"
        return format_html('<span style="color:#b3261e" title="{}">{}</span>', obj.error, text)

    @admin.action(description="Allow resending (failed or stuck)")
    def allow_resend(self, request, queryset):
        released = digest_services.release_deliveries(
            delivery_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request,
            f"{released} deliver{'y' if released == 1 else 'ies'} will go out on the next digest "
            "run for their week (manage.py send_digest --week YYYY-Www sends now).",
            messages.SUCCESS,
        )


@admin.register(DigestPreference)
class DigestPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "weekly_digest"]
    autocomplete_fields = ["user"]


@admin.register(DecisionPolicy)
class DecisionPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "lookback_days", "max_changes_per_quarter", "horizon_months"]

    def has_add_permission(self, request):
        return not DecisionPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        from django.shortcuts import redirect

        policy = selectors.current_policy()
        if policy.pk is None:  # nothing saved yet: the defaults apply until someone edits them
            return redirect(reverse("admin:tracker_decisionpolicy_add"))
        return redirect(reverse("admin:tracker_decisionpolicy_change", args=[policy.pk]))


# Only team keys open the API; the library's unscoped key model would only confuse.
admin.site.unregister(APIKey)


@admin.register(TeamAPIKey)
class TeamAPIKeyAdmin(APIKeyModelAdmin):
    """The key is shown once, on creation; only its hash is kept."""

    # The base class's tuples are inferred as fixed-length: a longer list is not one of them.
    list_display = [  # type: ignore[assignment]
        *APIKeyModelAdmin.list_display,
        "team",
        "can_ingest",
        "can_read",
        "can_write",
        "can_edit_catalog",
    ]
    list_filter = [*APIKeyModelAdmin.list_filter, "team", "can_edit_catalog"]  # type: ignore[assignment]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # The catalog is every team's: only a superuser may let a key change it.
        if not request.user.is_superuser:
            fields.append("can_edit_catalog")
        return fields


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["key", "team", "status_code", "created_at"]
    list_filter = ["team"]
    search_fields = ["key"]


# --- Webhooks -------------------------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=all_webhook_events,
        help_text="What this endpoint hears about.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["team", "name", "kind", "url", "events", "secret", "active"]
        widgets = {"secret": forms.PasswordInput(render_value=True)}


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Slack incoming webhooks and signed JSON endpoints, one team each."""

    form = WebhookEndpointForm
    list_display = ["name", "team", "kind", "url", "event_list", "active"]
    list_filter = ["kind", "active", "team"]
    search_fields = ["name", "url", "team__name"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """One row per event and endpoint, with what the endpoint answered. Resending sends the
    event again, even one that arrived."""

    list_display = [
        "event",
        "endpoint",
        "status_badge",
        "attempts",
        "response_status",
        "created_at",
        "sent_at",
        "error_summary",
    ]
    list_filter = ["status", "event", "endpoint__kind", "endpoint__team"]
    search_fields = ["event_key", "error", "endpoint__name"]
    list_select_related = ["endpoint__team"]
    actions = ["resend"]

    @admin.display(ordering="status", description="status")
    def status_badge(self, obj):
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:9px;'
            'font-weight:600;font-size:11px">{}</span>',
            DELIVERY_COLOURS.get(obj.status, "#555"),
            obj.get_status_display(),
        )

    @admin.display(description="error")
    def error_summary(self, obj):
        return DigestDeliveryAdmin.error_summary(self, obj)

    @admin.action(description="Resend")
    def resend(self, request, queryset):
        count = webhook_services.resend_deliveries(
            delivery_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request, f"{count} deliver{'y' if count == 1 else 'ies'} queued.", messages.SUCCESS
        )


@admin.register(UsagePull)
class UsagePullAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "source",
        "period_start",
        "period_end",
        "rows",
        "unmatched_ids",
        "failed",
    ]
    list_filter = ["source"]
    readonly_fields = [f.name for f in UsagePull._meta.fields]

    @admin.display(description="unmatched model ids")
    def unmatched_ids(self, obj):
        return ", ".join(u["model_id"] for u in obj.unmatched) or "—"

    @admin.display(boolean=True, description="failed")
    def failed(self, obj):
        return bool(obj.error)
