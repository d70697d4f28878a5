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
        services.evaluate_portfolio(AS_OF)
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
