"""Flags people can act on: acknowledge or snooze with a note, in the admin, on the tune page and
through the API; a snoozed flag stays out of the digest until its day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from tests.api.helpers import make_key
from tracker.models import Flag, Team
from tracker.selectors import digest as digest_selectors
from tracker.services import flags as flag_services

from .demo import DEMO_DAY


def flag_of(slug: str) -> Flag:
    return Flag.objects.get(tune__slug=slug, resolved_on__isnull=True)


def user(username: str):
    return get_user_model().objects.get(username=username)


def test_acknowledging_keeps_who_and_when_of_the_first(demo):
    flag = flag_of("ticket-summarizer")
    first = flag_services.flag_acknowledge(flag=flag, by=user("amara"), note="On it")
    again = flag_services.flag_acknowledge(flag=flag, by=user("ben"), note="Booked for Monday")
    assert again.acknowledged_by == user("amara")
    assert again.acknowledged_at == first.acknowledged_at
    assert again.note == "Booked for Monday"
    assert again.resolved_on is None


def test_snoozing_needs_a_later_day_and_an_open_flag(demo):
    flag = flag_of("ticket-summarizer")
    with pytest.raises(ValidationError) as error:
        flag_services.flag_snooze(flag=flag, until=DEMO_DAY, by=user("amara"))
    assert "until" in error.value.message_dict
    Flag.objects.filter(pk=flag.pk).update(resolved_on=DEMO_DAY)
    with pytest.raises(ValidationError) as error:
        flag_services.flag_acknowledge(flag=flag, by=user("amara"))
    assert "flag" in error.value.message_dict
    with pytest.raises(ValidationError):
        flag_services.flag_snooze(flag=flag, until=DEMO_DAY + dt.timedelta(days=3), by=None)


def test_a_snoozed_flag_stays_out_of_the_digest_until_its_day(demo):
    amara = user("amara")  # owns ticket-summarizer (RETRAIN, flagged)
    slugs = lambda: {i.name for i in digest_selectors.digest_for(amara).items}  # noqa: E731
    listed = lambda: set(digest_selectors.listed_tunes().values_list("slug", flat=True))  # noqa: E731
    assert "Ticket summarizer" in slugs() and "ticket-summarizer" in listed()
    until = DEMO_DAY + dt.timedelta(days=14)
    flag_services.flag_snooze(
        flag=flag_of("ticket-summarizer"), until=until, by=amara, note="Waiting for 2501 quota"
    )
    assert "Ticket summarizer" not in slugs()
    assert "ticket-summarizer" not in listed()
    assert "refund-policy-assistant" in listed()  # other tunes are untouched
    with time_machine.travel(dt.datetime(2026, 12, 11, 8, tzinfo=dt.UTC), tick=False):
        assert "Ticket summarizer" in slugs() and "ticket-summarizer" in listed()


def test_the_digest_links_each_tune_to_its_page(demo, settings):
    settings.TUNEFOLIO_SITE_URL = settings.SITE_URL = "https://tunefolio.example"
    digest = digest_selectors.digest_for(user("amara"))
    assert digest.items
    for item in digest.items:
        slug = item.page_url.rstrip("/").rsplit("/", 1)[-1]
        assert item.page_url == f"https://tunefolio.example/portfolio/tunes/{slug}/"
    from django.template.loader import render_to_string

    html = render_to_string("tracker/email/digest.html", {"digest": digest})
    assert digest.items[0].page_url in html


# --- On the tune page ----------------------------------------------------------------------------


def test_acknowledge_and_snooze_on_the_tune_page(demo, login):
    client = login("amara")
    flag = flag_of("ticket-summarizer")
    url = f"/portfolio/flags/{flag.pk}/"
    response = client.post(url, {"action": "snooze", "note": "quota"})
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.snoozed_until is None  # no day given: nothing changed
    page = client.get("/portfolio/tunes/ticket-summarizer/").content.decode()
    assert "until: Pick the day the flag comes back." in page
    client.post(url, {"action": "snooze", "until": "2026-12-20", "note": "quota"})
    flag.refresh_from_db()
    assert flag.snoozed_until == dt.date(2026, 12, 20) and flag.snoozed_by == user("amara")
    assert login("chen").post(url, {"action": "acknowledge"}).status_code == 404  # other team


# --- Through the API -----------------------------------------------------------------------------


def test_api_lists_flags_with_filters(demo):
    client = APIClient()
    client.force_authenticate(user("dora"))  # Risk & Compliance
    everything = client.get("/api/v1/flags/").json()["results"]
    assert everything and {f["team"] for f in everything} == {"risk"}
    support = APIClient()
    support.credentials(HTTP_X_API_KEY=make_key(Team.objects.get(slug="support"), write=False))
    rows = support.get("/api/v1/flags/", {"state": "open", "kind": "RETIRE"}).json()["results"]
    assert rows and all(r["kind"] == "RETIRE" and r["state"] == "open" for r in rows)
    assert all(r["owner"].endswith("@example.com") and r["age_days"] == 0 for r in rows)
    one = support.get("/api/v1/flags/", {"tune": "ticket-summarizer"}).json()["results"]
    assert [r["tune"] for r in one] == ["ticket-summarizer"]
    bad = support.get("/api/v1/flags/", {"state": "sleepy"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "state"


def test_api_acknowledge_and_snooze(demo):
    flag = flag_of("ticket-summarizer")
    client = APIClient()
    client.force_authenticate(user("amara"))
    response = client.post(
        f"/api/v1/flags/{flag.pk}/acknowledge/", {"note": "on it"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "amara" and response.json()["note"] == "on it"
    response = client.post(
        f"/api/v1/flags/{flag.pk}/snooze/", {"until": "2026-12-01"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "snoozed"
    snoozed = client.get("/api/v1/flags/", {"state": "snoozed"}).json()["results"]
    assert [f["id"] for f in snoozed] == [flag.pk]
    past = client.post(f"/api/v1/flags/{flag.pk}/snooze/", {"until": "2026-11-01"}, format="json")
    assert past.status_code == 400 and past.json()["error"]["details"][0]["field"] == "until"
    flag.refresh_from_db()
    assert flag.snoozed_until == dt.date(2026, 12, 1)  # the refused request changed nothing

    other = APIClient()
    other.force_authenticate(user("chen"))
    assert other.post(f"/api/v1/flags/{flag.pk}/acknowledge/", {}, format="json").status_code == 404
    reader = APIClient()
    reader.credentials(HTTP_X_API_KEY=make_key(Team.objects.get(slug="support"), write=False))
    assert (
        reader.post(f"/api/v1/flags/{flag.pk}/acknowledge/", {}, format="json").status_code == 403
    )


# --- In the admin --------------------------------------------------------------------------------


@pytest.fixture
def root(demo, login):
    get_user_model().objects.create_superuser("root", "root@example.com", "x")
    return login("root")


def test_admin_flag_list_opens_on_open_flags_with_owner_and_age(root):
    response = root.get("/admin/tracker/flag/")
    assert response.status_code == 302 and response["Location"].endswith("?state=open")
    page = root.get(response["Location"]).content.decode()
    assert "Amara Okafor" in page and "Age (days)" in page


def test_admin_acknowledge_and_snooze_actions(root):
    flag = flag_of("ticket-summarizer")
    root.post(
        "/admin/tracker/flag/?state=open",
        {"action": "acknowledge", "_selected_action": [flag.pk], "note": "seen", "until": ""},
    )
    flag.refresh_from_db()
    assert flag.acknowledged_by.username == "root" and flag.note == "seen"
    root.post(
        "/admin/tracker/flag/?state=open",
        {"action": "snooze", "_selected_action": [flag.pk], "note": "", "until": "2027-01-05"},
    )
    flag.refresh_from_db()
    assert flag.snoozed_until == dt.date(2027, 1, 5) and flag.snoozed_by.username == "root"
    page = root.get("/admin/tracker/flag/?state=open").content.decode()
    assert "snoozed until 2027-01-05 by root" in page


def test_admin_evaluation_reads_like_the_reason(root):
    from tracker.models import Evaluation

    evaluation = Evaluation.objects.get(tune__slug="support-triage")
    page = root.get(f"/admin/tracker/evaluation/{evaluation.pk}/change/").content.decode()
    figures = evaluation.figures
    # As the reason writes it: whole dollars with separators, not 11681.61.
    assert f"${round(figures['monthly_net_saving']):,}" in page
    assert "Queries a month" in page and f"{round(figures['monthly_queries']):,}" in page
    lifetime = f"{figures['expected_stable_lifetime_months']:.1f} months"
    assert "Expected stable lifetime" in page and lifetime in page
    assert "Volume window" in page and "90 days" in page  # the policy, labelled
    assert '"monthly_queries"' not in page
    listing = root.get("/admin/tracker/evaluation/").content.decode()
    assert f"${round(figures['monthly_net_saving']):,}" in listing
    assert "background:#1b7f3b" in listing  # verdict badges
