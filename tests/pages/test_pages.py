"""The portfolio pages: who sees what, and that every number is the engine's."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from tracker.models import Evaluation, FineTune, Verdict
from tracker.selectors import pages

from .demo import DEMO_DAY, engine_monthly_savings


def latest(slug: str) -> Evaluation:
    return Evaluation.objects.filter(tune__slug=slug).latest()


def test_anonymous_people_are_sent_to_sign_in(demo, client):
    response = client.get("/portfolio/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_team_members_see_their_teams_tunes_and_leads_see_all(demo, login, settings):
    amara = login("amara")  # Customer Support AI
    page = amara.get("/portfolio/")
    assert page.status_code == 200
    slugs = {item.slug for item in page.context["needs_action"]}
    support = set(FineTune.objects.filter(team__slug="support").values_list("slug", flat=True))
    assert slugs and slugs <= support
    assert amara.get("/portfolio/tunes/kyc-document-classifier/").status_code == 404
    assert amara.get("/portfolio/tunes/ticket-summarizer/").status_code == 200

    settings.TUNEFOLIO_PORTFOLIO_LEADS = ["amara@example.com"]
    lead = amara.get("/portfolio/")
    assert {i.slug for i in lead.context["needs_action"]} > slugs
    assert amara.get("/portfolio/tunes/kyc-document-classifier/").status_code == 200


def test_needs_action_lists_decisions_first_then_watch_with_owner_and_reason(demo, login):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    assert pages.team_ids_for(user) is None
    action = pages.needs_action(None)
    verdicts = [i.verdict for i in action]
    assert verdicts == sorted(verdicts, key=lambda v: pages.ACTION_ORDER[Verdict(v)])
    assert {Verdict.RETIRE, Verdict.RETRAIN, Verdict.WATCH, Verdict.FINE_TUNE} <= set(verdicts)
    for item in action:
        evaluation = latest(item.slug)
        assert item.reason == evaluation.reason and item.owner


def test_the_overview_lists_the_most_urgent_and_says_how_many_need_action(demo, login, monkeypatch):
    get_user_model().objects.create_superuser("root", "root@example.com", "x")
    every = pages.needs_action(None)
    assert len(every) > 2
    monkeypatch.setattr(pages, "ACTION_ROWS", 2)
    page = pages.overview(None, DEMO_DAY)
    assert page["needs_action"] == every[:2] and page["needs_action_total"] == len(every)
    html = login("root").get("/portfolio/").content.decode()
    assert f"The 2 most urgent of {len(every)}" in html
    assert html.count('<tr data-verdict="') == 2


def test_overview_money_matches_the_evaluations(demo):
    page = pages.overview(None, DEMO_DAY)
    at_risk = sum(
        float(latest(t.slug).unrecovered_cost or 0)
        for t in FineTune.objects.exclude(status="retired")
        if Evaluation.objects.filter(tune=t).exists()
        and latest(t.slug).verdict in (Verdict.RETIRE, Verdict.WATCH)
    )
    assert page["capital_at_risk"] == pytest.approx(at_risk)
    savings = engine_monthly_savings(DEMO_DAY)
    assert page["realised_to_date"] == pytest.approx(savings["net_saving"].sum())
    november = savings[savings["month"] == pd.Period("2026-11", freq="M")]
    assert page["realised_this_month"] == pytest.approx(november["net_saving"].sum())
    assert page["realised_to_date"] > page["realised_this_month"] > 0


def test_every_break_even_line_ends_on_the_engines_cumulative_net_saving(demo):
    for tune in FineTune.objects.filter(status="deployed"):
        figures = latest(tune.slug).figures
        chart = pages.tune_page(tune, DEMO_DAY)["break_even"]
        history = [p for p in chart["history"] if p["y"] is not None]
        stored = figures.get("cumulative_net_saving")
        if stored is None:
            continue
        # Stored figures keep 7 significant digits; the chart is computed at full precision.
        assert history[-1]["y"] == pytest.approx(stored, rel=1e-6, abs=0.01), tune.slug
        assert chart["cost"][-1]["y"] == figures["training_cost"]


def test_a_retraining_restarts_the_break_even_line(demo):
    from tracker.models import ChangeLogEntry

    entry = ChangeLogEntry.objects.filter(kind="retraining").select_related("tune").first()
    chart = pages.tune_page(entry.tune, DEMO_DAY)["break_even"]
    restart = (entry.day - pages.EPOCH).days * 86_400_000
    assert {"x": restart, "y": 0.0} in chart["restarts"]
    xs = [p["x"] for p in chart["history"]]
    gap = xs.index(restart - 1)
    assert chart["history"][gap]["y"] is None  # the line breaks...
    before, after = chart["history"][gap - 1]["y"], chart["history"][gap + 1]["y"]
    # ...and starts again from one day's saving, far below where the old training had got to.
    assert abs(after) < abs(before) / 10


def test_the_monthly_chart_stays_readable_with_200_tunes(db):
    from django.utils import timezone

    from tests.factories import FineTuneFactory
    from tracker.models import TuneMonthSaving

    months = pd.period_range("2025-12", "2026-11", freq="M")
    tunes = [FineTuneFactory.build(name=f"tune {i:03d}") for i in range(200)]
    for tune in tunes:
        tune.team, tune.owner = tunes[0].team, tunes[0].owner
        tune.base_model, tune.alternative = tunes[0].base_model, tunes[0].alternative
    for related in (tunes[0].team, tunes[0].owner, tunes[0].base_model, tunes[0].alternative):
        related.save()
    FineTune.objects.bulk_create(tunes)
    TuneMonthSaving.objects.bulk_create(
        TuneMonthSaving(
            tune=tune,
            month=m.start_time.date(),
            net_saving=float(i * 10 + j),
            as_of=DEMO_DAY,
            computed_at=timezone.now(),
        )
        for i, tune in enumerate(tunes)
        for j, m in enumerate(months)
    )
    chart = pages.monthly_chart({tunes[0].team.pk}, DEMO_DAY)  # this team's alone
    assert len(chart["series"]) == pages.CHART_TOP_TUNES + 1
    assert chart["series"][0]["label"] == "tune 199"
    assert chart["series"][-1]["label"] == "190 other tunes"
    for j in range(12):
        shown = sum(s["data"][j] for s in chart["series"])
        assert shown == pytest.approx(sum(i * 10 + j for i in range(200)))


def what_if(client, slug, **changes):
    return client.post(
        f"/portfolio/tunes/{slug}/what-if/", json.dumps(changes), content_type="application/json"
    )


def test_what_if_without_changes_is_the_engines_verdict(demo, login):
    response = what_if(login("amara"), "support-triage")
    assert response.status_code == 200
    body = response.json()
    assert body["now"] == body["what_if"]
    assert body["now"]["verdict"] == latest("support-triage").verdict == "KEEP"


def test_what_if_volume_recomputes_the_saving_and_flips_the_verdict(demo, login):
    before = Evaluation.objects.count()
    client = login("amara")
    figures = latest("support-triage").figures
    body = what_if(client, "support-triage", monthly_queries=50_000).json()
    then = body["what_if"]
    expected = 50_000 * (
        figures["alternative_cost_per_query"] - figures["tune_cost_per_query"]
    ) - float(FineTune.objects.get(slug="support-triage").monthly_fixed_cost)
    assert then["monthly_net_saving"] == pytest.approx(expected, rel=1e-6)
    assert then["verdict"] == "RETIRE" and then["never_pays_back"]
    assert Evaluation.objects.count() == before  # nothing saved


def test_what_if_change_rate_prices_and_retrain_cost(demo, login):
    client = login("amara")
    churny = what_if(client, "support-triage", change_rate_per_quarter=3).json()["what_if"]
    assert churny["verdict"] == "RETIRE" and "3 per quarter" in churny["reason"]
    dear = what_if(client, "support-triage", tune_input_price=50, tune_output_price=50).json()
    assert dear["what_if"]["tune_cost_per_query"] > dear["now"]["tune_cost_per_query"]
    assert dear["what_if"]["monthly_net_saving"] < dear["now"]["monthly_net_saving"]
    cheap = what_if(client, "support-triage", alternative_input_price=0, extra_prompt_tokens=0)
    assert (
        cheap.json()["what_if"]["alternative_cost_per_query"]
        < (cheap.json()["now"]["alternative_cost_per_query"])
    )


def test_what_if_refuses_bad_input_naming_the_field(demo, login):
    client = login("amara")
    response = what_if(client, "support-triage", monthly_queries=-5)
    assert response.status_code == 400 and "monthly_queries" in response.json()["errors"]
    response = client.post(
        "/portfolio/tunes/support-triage/what-if/", "[1]", content_type="application/json"
    )
    assert response.status_code == 400
    assert what_if(client, "kyc-document-classifier").status_code == 404


def test_retrain_versus_retire(demo):
    summarizer = FineTune.objects.get(slug="ticket-summarizer")
    options = pages.tune_page(summarizer, DEMO_DAY)["options"]
    assert options["successor"] == summarizer.base_model.successor
    assert options["favours"] == "retrain"
    assert options["retrain_payback_months"] <= options["retrain_lifetime_months"]
    assert options["retrain_payback_months"] == pytest.approx(
        float(summarizer.retrain_cost) / options["retrain_monthly_net_saving"]
    )

    writer = FineTune.objects.get(slug="product-description-writer")
    options = pages.tune_page(writer, DEMO_DAY)["options"]
    figures = latest(writer.slug).figures
    assert options["favours"] == "retire"
    # Going back to prompting costs what the tune saves (here: less, since it no longer pays).
    assert options["monthly_difference"] == pytest.approx(figures["monthly_net_saving"], abs=0.01)
    assert not math.isnan(options["prompting_monthly_cost"])


def test_the_tune_page_shows_the_retrain_by_date(demo, client, settings):
    settings.TUNEFOLIO_RETRAIN_LEAD_DAYS = 21
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    with_shutdown = FineTune.objects.filter(
        status="deployed", base_model__shutdown_on__isnull=False
    ).select_related("base_model")
    tune = with_shutdown.first()
    assert tune is not None, "the demo has a tune on a base model that shuts down"
    page = client.get(f"/portfolio/tunes/{tune.slug}/").content.decode()
    expected = tune.base_model.shutdown_on - timedelta(days=21)
    assert f'<td id="retrain-by">{expected:%Y-%m-%d}</td>' in page
    without = FineTune.objects.filter(status="deployed", base_model__shutdown_on__isnull=True)
    page = client.get(f"/portfolio/tunes/{without.first().slug}/").content.decode()
    assert 'id="retrain-by"' not in page


def test_pages_render_with_formatted_money(demo, login):
    client = login("amara")
    page = client.get("/portfolio/tunes/support-triage/").content.decode()
    figures = latest("support-triage").figures
    saving = f"${round(figures['monthly_net_saving']):,}"
    lifetime = f"{figures['expected_stable_lifetime_months']:.1f} months"
    assert saving in page and lifetime in page
    assert 'id="break-even-chart"' in page and 'id="break-even-data"' in page
    assert "/static/tracker/vendor/chartjs/chart.umd.min.js" in page
    overview = client.get("/portfolio/").content.decode()
    assert 'id="monthly-chart"' in overview and "Capital at risk" in overview


def test_the_admin_index_links_to_the_portfolio(demo, login):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client = login("root")
    assert root.is_superuser
    assert 'href="/portfolio/"' in client.get("/admin/").content.decode()


def test_what_if_on_a_proposal_changes_its_expected_volume(demo, login):
    body = what_if(login("dora"), "clinical-coding-assistant", monthly_queries=10).json()
    assert body["now"]["verdict"] == "FINE_TUNE"
    assert body["what_if"]["monthly_queries"] == 10
    assert body["what_if"]["verdict"] == "ITERATE"


def test_the_overview_takes_as_many_queries_for_a_bigger_portfolio(demo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import UsageRecordFactory

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            pages.overview(None, DEMO_DAY)
        return len(captured)

    before = queries()
    template = FineTune.objects.get(slug="support-triage")
    for i in range(5):
        template.pk, template.slug, template.name = None, f"copy-{i}", f"Copy {i}"
        template.save()
        UsageRecordFactory(tune=template, day=DEMO_DAY)
    from tracker.services import evaluate_portfolio

    evaluate_portfolio(as_of=DEMO_DAY)
    assert queries() == before
