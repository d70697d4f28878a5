"""Every admin page a person can open renders, and bad values are refused by field."""

from datetime import date

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from tracker.models import ChangeLogEntry, FineTune

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 3, 2)


@pytest.fixture(scope="module")
def demo_rows(module_transaction, django_db_blocker):
    """The demo portfolio, loaded once for the module."""
    with django_db_blocker.unblock():
        call_command("load_demo", as_of=AS_OF, stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def demo(demo_rows, db):
    """The demo portfolio; what the test changes in it is rolled back after the test."""


def registered():
    return [
        pytest.param(model, id=f"{model._meta.app_label}.{model._meta.model_name}")
        for model in admin.site._registry
    ]


@pytest.mark.parametrize("model", registered())
def test_changelist_add_and_change_pages_render(staff_client, demo, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = staff_client.get(url, follow=True)
    assert response.status_code == 200, url
    model_admin = admin.site._registry[model]
    request = response.wsgi_request
    if model_admin.has_add_permission(request):
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        assert staff_client.get(add).status_code == 200, add
    obj = model._default_manager.first()
    if obj is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert staff_client.get(change).status_code == 200, change


def test_tune_list_shows_base_model_shutdown(staff_client, demo):
    response = staff_client.get(reverse("admin:tracker_finetune_changelist"))
    assert b"shuts down 2026-04-16" in response.content  # mistral-small 2409, 45 days on


def tune_form(tune, **changes):
    data = {
        field: getattr(tune, field)
        for field in [
            "name",
            "slug",
            "status",
            "task_description",
            "method",
            "extra_prompt_tokens",
            "labelled_examples",
            "target_score",
            "baseline_score",
            "tune_score",
            "upfront_cost",
            "retrain_cost",
            "monthly_fixed_cost",
            "deployed_on",
            "last_trained_on",
        ]
    }
    data |= {
        "team": tune.team_id,
        "owner": tune.owner_id,
        "base_model": tune.base_model_id,
        "alternative": tune.alternative_id or "",
    }
    for prefix in ("aliases", "serving_prices", "changes", "evaluations"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    data |= changes
    return {k: ("" if v is None else v) for k, v in data.items()}


def test_bad_score_is_refused_naming_the_field(staff_client, demo):
    tune = FineTune.objects.get(slug="support-triage")
    url = reverse("admin:tracker_finetune_change", args=[tune.pk])
    response = staff_client.post(url, tune_form(tune, target_score="1.5"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "target_score" in errors
    tune.refresh_from_db()
    assert tune.target_score == pytest.approx(0.93)


def test_owner_without_email_is_refused(staff_client, demo, django_user_model):
    nobody = django_user_model.objects.create(username="no-mail", email="")
    tune = FineTune.objects.get(slug="support-triage")
    url = reverse("admin:tracker_finetune_change", args=[tune.pk])
    response = staff_client.post(url, tune_form(tune, owner=nobody.pk))
    assert "owner" in response.context["adminform"].form.errors


def test_recording_a_retraining_in_the_admin_restarts_the_clock(staff_client, demo):
    tune = FineTune.objects.get(slug="ticket-summarizer")
    url = reverse("admin:tracker_changelogentry_add")
    response = staff_client.post(
        url,
        {
            "tune": tune.pk,
            "day": "2026-03-01",
            "kind": "retraining",
            "meaningful": "",
            "summary": "Retrained on mistral-small 2501",
            "cost": "5000",
        },
    )
    assert response.status_code == 302
    tune.refresh_from_db()
    assert tune.last_trained_on == date(2026, 3, 1)
    entry = ChangeLogEntry.objects.get(tune=tune, day=date(2026, 3, 1))
    assert entry.author == "staff"


def test_a_day_outside_the_sensible_range_is_refused_naming_the_field(staff_client, demo):
    tune = FineTune.objects.get(slug="ticket-summarizer")
    response = staff_client.post(
        reverse("admin:tracker_changelogentry_add"),
        {"tune": tune.pk, "day": "0073-01-01", "kind": "note", "summary": "typo"},
    )
    assert response.status_code == 200
    assert "day" in response.context["adminform"].form.errors
    assert not ChangeLogEntry.objects.filter(summary="typo").exists()


def test_retiring_in_the_admin_resolves_the_open_flags(staff_client, demo):
    import time_machine

    from tracker import services
    from tracker.models import Flag

    with time_machine.travel(AS_OF, tick=False):
        services.evaluate_portfolio(as_of=AS_OF)
        tune = FineTune.objects.get(slug="refund-policy-assistant")  # RETIRE: changes monthly
        assert Flag.objects.filter(tune=tune, resolved_on__isnull=True).count() == 1
        url = reverse("admin:tracker_finetune_change", args=[tune.pk])
        response = staff_client.post(url, tune_form(tune, status="retired"))
    assert response.status_code == 302
    tune.refresh_from_db()
    assert tune.status == "retired"
    assert not Flag.objects.filter(tune=tune, resolved_on__isnull=True).exists()
    assert Flag.objects.get(tune=tune).resolved_on == AS_OF


def test_provider_model_ids_inline_refuses_one_taken_in_the_team(staff_client, demo):
    from tracker.models import TuneAlias

    first, second = FineTune.objects.filter(team__isnull=False).order_by("pk")[:2]
    assert first.team_id == second.team_id
    TuneAlias.objects.create(tune=first, model_id="ft:gpt-4o-mini:acme:triage:*")
    url = reverse("admin:tracker_finetune_change", args=[second.pk])
    form = tune_form(second)
    form |= {
        "aliases-TOTAL_FORMS": 1,
        "aliases-INITIAL_FORMS": 0,
        "aliases-0-model_id": "ft:gpt-4o-mini:acme:triage:*",
    }
    response = staff_client.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert f"Already a model id of {first.slug} in this team." in response.content.decode()
    form["aliases-0-model_id"] = "ft:gpt-4o-mini:acme:routing:*"
    assert staff_client.post(url, form).status_code == 302
    assert second.aliases.get().model_id == "ft:gpt-4o-mini:acme:routing:*"


# --- Edits go through the services: their rules show on the admin's forms -----------------------


def test_a_retired_tune_stays_retired_in_the_admin(staff_client, demo):
    tune = FineTune.objects.get(slug="support-triage")
    FineTune.objects.filter(pk=tune.pk).update(status="retired")
    tune.refresh_from_db()
    url = reverse("admin:tracker_finetune_change", args=[tune.pk])
    response = staff_client.post(url, tune_form(tune, status="deployed"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["status"] == ["A retired tune stays retired."]
    tune.refresh_from_db()
    assert tune.status == "retired"


def test_team_and_slug_are_fixed_once_registered(staff_client, demo):
    from tracker.models import Team

    tune = FineTune.objects.get(slug="support-triage")
    other_team = Team.objects.exclude(pk=tune.team_id).first()
    url = reverse("admin:tracker_finetune_change", args=[tune.pk])
    response = staff_client.post(
        url, tune_form(tune, slug="renamed", team=other_team.pk, name="Support triage v2")
    )
    assert response.status_code == 302
    tune.refresh_from_db()
    assert (tune.slug, tune.team_id, tune.name) == (
        "support-triage",
        tune.team_id,
        "Support triage v2",
    )
    assert tune.team_id != other_team.pk


def test_registering_a_tune_with_its_first_change_in_the_admin(staff_client, demo):
    template = FineTune.objects.get(slug="support-triage")
    form = tune_form(
        template, name="Invoice coder", slug="invoice-coder", status="proposed", last_trained_on=""
    )
    form |= {
        "changes-TOTAL_FORMS": 1,
        "changes-0-day": "2026-02-01",
        "changes-0-kind": "retraining",
        "changes-0-summary": "First training",
    }
    response = staff_client.post(reverse("admin:tracker_finetune_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tune = FineTune.objects.get(slug="invoice-coder")
    assert tune.last_trained_on == date(2026, 2, 1)  # the retraining restarted the clock
    assert tune.changes.get().author == "staff"


def test_registering_a_retired_tune_is_refused_naming_the_status(staff_client, demo):
    template = FineTune.objects.get(slug="support-triage")
    form = tune_form(template, name="Old", slug="old-one", status="retired")
    response = staff_client.post(reverse("admin:tracker_finetune_add"), form)
    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    assert not FineTune.objects.filter(slug="old-one").exists()


def test_correcting_a_change_into_a_retraining_restarts_the_clock(staff_client, demo):
    tune = FineTune.objects.get(slug="ticket-summarizer")
    entry = ChangeLogEntry.objects.create(
        tune=tune, day=date(2026, 2, 27), kind="note", summary="retrained, logged as a note"
    )
    url = reverse("admin:tracker_changelogentry_change", args=[entry.pk])
    response = staff_client.post(
        url,
        {
            "tune": tune.pk,
            "day": "2026-02-27",
            "kind": "retraining",
            "summary": entry.summary,
            "author": "ops",
        },
    )
    assert response.status_code == 302
    tune.refresh_from_db()
    assert tune.last_trained_on == date(2026, 2, 27)


def test_a_price_that_does_not_start_after_the_last_is_refused_on_the_form(staff_client, demo):
    from tracker.models import ModelPrice

    last = ModelPrice.objects.order_by("-effective_from").first()
    model = last.model
    latest = ModelPrice.objects.filter(model=model).order_by("-effective_from").first()
    url = reverse("admin:tracker_modelprice_add")
    before = {
        "model": model.pk,
        "effective_from": latest.effective_from.isoformat(),
        "input_usd_per_mtok": "1",
        "output_usd_per_mtok": "2",
    }
    response = staff_client.post(url, before)
    assert response.status_code == 200
    assert "never rewritten" in str(response.context["adminform"].form.errors["effective_from"])
    count = ModelPrice.objects.filter(model=model).count()
    after = before | {"effective_from": "2026-03-01"}
    assert staff_client.post(url, after).status_code == 302
    added = ModelPrice.objects.filter(model=model).order_by("-effective_from").first()
    assert ModelPrice.objects.filter(model=model).count() == count + 1
    assert (added.effective_from, added.created_by) == (date(2026, 3, 1), "staff")


def test_prices_are_read_only_once_added(staff_client, demo):
    from tracker.models import ModelPrice

    price = ModelPrice.objects.first()
    url = reverse("admin:tracker_modelprice_change", args=[price.pk])
    response = staff_client.post(url, {"input_usd_per_mtok": "999"})
    assert response.status_code == 403
    price.refresh_from_db()
    assert price.input_usd_per_mtok != 999


def test_a_shutdown_date_set_in_the_admin_records_who_set_it(staff_client, demo):
    from tracker.models import CatalogModel, ShutdownDateChange

    model = CatalogModel.objects.filter(shutdown_on__isnull=True).first()
    url = reverse("admin:tracker_catalogmodel_change", args=[model.pk])
    form = {
        "provider": model.provider,
        "name": model.name,
        "version": model.version,
        "released_on": model.released_on or "",
        "shutdown_on": "2027-01-31",
        "successor": "",
    }
    for prefix in ("prices", "shutdown_changes"):
        form |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    change = ShutdownDateChange.objects.get(model=model)
    assert (change.previous, change.shutdown_on, change.changed_by) == (
        None,
        date(2027, 1, 31),
        "staff",
    )


def test_removing_a_provider_model_id_in_the_admin(staff_client, demo):
    from tracker.models import TuneAlias

    tune = FineTune.objects.get(slug="support-triage")
    alias = TuneAlias.objects.create(tune=tune, model_id="ft:gpt-4o-mini:acme:triage:abc")
    form = tune_form(tune) | {
        "aliases-TOTAL_FORMS": 1,
        "aliases-INITIAL_FORMS": 1,
        "aliases-0-id": alias.pk,
        "aliases-0-tune": tune.pk,
        "aliases-0-DELETE": "on",
    }
    response = staff_client.post(reverse("admin:tracker_finetune_change", args=[tune.pk]), form)
    assert response.status_code == 302
    assert not TuneAlias.objects.filter(tune=tune).exists()


def test_a_change_log_entry_stays_with_its_tune(staff_client, demo):
    tune = FineTune.objects.get(slug="ticket-summarizer")
    other = FineTune.objects.exclude(pk=tune.pk).first()
    entry = ChangeLogEntry.objects.create(
        tune=tune, day=date(2026, 2, 27), kind="note", summary="x"
    )
    url = reverse("admin:tracker_changelogentry_change", args=[entry.pk])
    form = {"tune": other.pk, "day": "2026-02-27", "kind": "note", "summary": "y"}
    assert staff_client.post(url, form).status_code == 302
    entry.refresh_from_db()
    assert (entry.tune_id, entry.summary) == (tune.pk, "y")
