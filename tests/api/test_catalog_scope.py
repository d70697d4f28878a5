"""The shared catalog: its writes need the ``catalog`` scope (keys) or the Django permission
(people), only a superuser grants the scope, and every price and shutdown-date change records
who made it, in the API and in the admin."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from tests.api.helpers import error_of, key_client
from tests.factories import UserFactory
from tracker.models import CatalogModel, ModelPrice, ShutdownDateChange, TeamAPIKey, TunePrice

PRICE = {"effective_from": "2025-06-01", "input_usd_per_mtok": 0.2, "output_usd_per_mtok": 0.8}
NEW_MODEL = {"provider": "acme", "name": "small", "version": "1", "shutdown_on": "2026-06-30"}


def catalog_writes(world):
    return [
        ("post", "/api/v1/catalog/", NEW_MODEL),
        ("patch", f"/api/v1/catalog/{world.base.pk}/", {"shutdown_on": "2025-12-31"}),
        ("post", f"/api/v1/catalog/{world.base.pk}/prices/", PRICE),
    ]


@pytest.mark.django_db
def test_a_team_write_key_without_the_catalog_scope_changes_nothing(world):
    client = world.client_b()  # ingest, read, write; not catalog
    for method, url, body in catalog_writes(world):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (url, response.content)
        assert error_of(response)["message"] == "This API key lacks the 'catalog' scope."
    assert CatalogModel.objects.count() == 2
    assert CatalogModel.objects.get(pk=world.base.pk).shutdown_on is None
    assert ModelPrice.objects.count() == 2
    assert not ShutdownDateChange.objects.exists()
    # Its own team's serving prices are still its to write.
    url = f"/api/v1/tunes/{world.tune_b.slug}/serving-prices/"
    response = client.post(url, PRICE, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == "api key team B"
    assert TunePrice.objects.get().created_by == "api key team B"


@pytest.mark.django_db
def test_a_catalog_key_records_its_name_on_each_price_and_shutdown_change(world):
    client = world.client_a()
    created = client.post("/api/v1/catalog/", NEW_MODEL, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["shutdown_on_changed_by"] == "api key team A"

    url = f"/api/v1/catalog/{world.base.pk}/"
    assert client.get(url).json()["shutdown_on_changed_by"] is None  # never set
    for day in ("2025-12-31", "2026-01-31"):
        response = client.patch(url, {"shutdown_on": day}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["shutdown_on_changed_by"] == "api key team A"
        assert response.json()["shutdown_on_changed_at"] is not None
    # A change that leaves the date alone is not a shutdown change.
    assert client.patch(url, {"successor": world.frontier.pk}, format="json").status_code == 200
    changes = ShutdownDateChange.objects.filter(model=world.base).order_by("id")
    assert [(c.previous, c.shutdown_on, c.changed_by) for c in changes] == [
        (None, date(2025, 12, 31), "api key team A"),
        (date(2025, 12, 31), date(2026, 1, 31), "api key team A"),
    ]

    price = client.post(f"{url}prices/", PRICE, format="json")
    assert price.status_code == 201, price.content
    assert price.json()["created_by"] == "api key team A"
    listed = world.client_b().get(f"{url}prices/").json()
    assert [p["created_by"] for p in listed] == ["", "api key team A"]  # the seed had no author


@pytest.mark.django_db
def test_people_need_the_django_permission_for_catalog_writes(world):
    client = APIClient()
    client.force_authenticate(world.alice)  # in team A: every team scope, no permission
    writes = catalog_writes(world)
    for (method, url, body), permission in zip(
        writes,
        ["tracker.add_catalogmodel", "tracker.change_catalogmodel", "tracker.add_modelprice"],
        strict=True,
    ):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403
        assert error_of(response) == {
            "code": "missing_permission",
            "message": f"This account lacks the '{permission}' permission.",
            "details": [],
        }
    world.alice.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_catalogmodel", "add_modelprice"])
    )
    alice = type(world.alice).objects.get(pk=world.alice.pk)  # permissions are cached per object
    client.force_authenticate(alice)
    method, url, body = writes[1]
    assert client.patch(url, body, format="json").json()["shutdown_on_changed_by"] == "alice"
    method, url, body = writes[2]
    assert client.post(url, body, format="json").json()["created_by"] == "alice"
    assert client.post("/api/v1/catalog/", NEW_MODEL, format="json").status_code == 403


# --- The admin -----------------------------------------------------------------------------------


def key_form(key, **changes):
    data = {
        "name": key.name,
        "team": key.team_id,
        "expiry_date_0": "",
        "expiry_date_1": "",
        "can_ingest": "on",
        "can_read": "on",
    }
    return data | changes


@pytest.mark.django_db
def test_only_a_superuser_grants_the_catalog_scope_in_the_admin(world, client):
    key = TeamAPIKey.objects.get(name="team B")
    url = f"/admin/tracker/teamapikey/{key.pk}/change/"
    staff = UserFactory(username="erin", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="teamapikey"))
    client.force_login(staff)
    assert b'name="can_edit_catalog"' not in client.get(url).content
    response = client.post(url, key_form(key, can_edit_catalog="on"))
    assert response.status_code == 302
    assert TeamAPIKey.objects.get(pk=key.pk).can_edit_catalog is False

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert b'name="can_edit_catalog"' in client.get(url).content
    assert client.post(url, key_form(key, can_edit_catalog="on")).status_code == 302
    assert TeamAPIKey.objects.get(pk=key.pk).can_edit_catalog is True
    assert (
        key_client(world.key_b)
        .patch(f"/api/v1/catalog/{world.base.pk}/", {"shutdown_on": "2025-12-31"}, format="json")
        .json()["shutdown_on_changed_by"]
        == "api key team B"
    )


def catalog_form(model, **changes):
    data = {
        "provider": model.provider,
        "name": model.name,
        "version": model.version,
        "released_on": model.released_on or "",
        "shutdown_on": model.shutdown_on or "",
        "successor": model.successor_id or "",
        "prices-TOTAL_FORMS": 0,
        "prices-INITIAL_FORMS": 0,
        "shutdown_changes-TOTAL_FORMS": 0,
        "shutdown_changes-INITIAL_FORMS": 0,
    }
    return data | changes


@pytest.mark.django_db
def test_the_admin_records_and_shows_who_changed_a_shutdown_date_or_added_a_price(world, client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    model = CatalogModel.objects.get(pk=world.base.pk)
    url = f"/admin/tracker/catalogmodel/{model.pk}/change/"
    response = client.post(
        url,
        catalog_form(
            model,
            shutdown_on="2025-11-30",
            **{
                "prices-TOTAL_FORMS": 1,
                "prices-0-effective_from": "2025-06-01",
                "prices-0-input_usd_per_mtok": "0.2",
                "prices-0-output_usd_per_mtok": "0.8",
                "prices-0-model": model.pk,
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    change = ShutdownDateChange.objects.get(model=model)
    assert (change.previous, change.shutdown_on, change.changed_by) == (
        None,
        date(2025, 11, 30),
        "root",
    )
    assert ModelPrice.objects.get(model=model, effective_from=date(2025, 6, 1)).created_by == "root"
    # Saving again without touching the date records nothing more.
    model.refresh_from_db()
    assert client.post(url, catalog_form(model)).status_code == 302
    assert ShutdownDateChange.objects.filter(model=model).count() == 1

    page = client.get(url).content.decode()
    assert "Shutdown date changes" in page and "root" in page
    prices = client.get("/admin/tracker/modelprice/").content.decode()
    assert "root" in prices
