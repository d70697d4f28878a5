"""The portfolio pages in a real browser: sign in, read the overview, check the break-even chart's
series against the engine's figures, flip a verdict with the what-if, acknowledge a flag."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

import pytest
import time_machine
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tracker.models import Evaluation, Flag

from .conftest import PASSWORD, screenshot

# The what-if test stays in the quick loop (``-m "not slow"``) for the whole path: sign in,
# a page, its script calling the server; the others run in the full suite.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MS_PER_DAY = 86_400_000


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC), tick=True):
        yield


def sign_in(driver, live_server, next_path: str) -> None:
    driver.get(f"{live_server.url}/admin/login/?next={next_path}")
    driver.find_element(By.NAME, "username").send_keys("lead")
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The login page's own URL names next_path in its query: wait for the path itself, loaded.
    target = urlparse(next_path).path
    WebDriverWait(driver, 20).until(
        lambda d: (
            urlparse(d.current_url).path == target
            and d.execute_script("return document.readyState") == "complete"
        ),
        f"{target} loaded after signing in",
    )


def wait(driver, seconds: float = 20) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def chart(driver, canvas_id: str) -> dict:
    """The chart object's data as Chart.js holds it (drawn, not just present in the HTML)."""
    wait(driver).until(
        lambda d: d.execute_script(f"return !!Chart.getChart('{canvas_id}')"),
        f"chart {canvas_id} drawn",
    )
    return driver.execute_script(
        f"""const c = Chart.getChart('{canvas_id}');
        return {{type: c.config.type, width: c.width, height: c.height,
                 datasets: c.data.datasets.map(d => ({{label: d.label, data: d.data,
                   dash: d.borderDash || []}})),
                 labels: c.data.labels}};"""
    )


@pytest.mark.slow
def test_overview_lists_what_needs_action_and_draws_monthly_savings(
    demo_portfolio, browser, live_server, frozen
):
    sign_in(browser, live_server, "/portfolio/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#needs-action tbody tr")
    verdicts = {row.get_attribute("data-verdict") for row in rows}
    # Retire and retrain first, and WATCH tunes are visible too.
    assert {"RETIRE", "RETRAIN", "WATCH"} <= verdicts
    assert rows[0].get_attribute("data-verdict") == "RETIRE"
    assert "KEEP" not in verdicts
    owners = [row.find_elements(By.TAG_NAME, "td")[2].text for row in rows]
    assert all(owners)
    drawn = chart(browser, "monthly-chart")
    assert drawn["type"] == "bar" and drawn["width"] > 300
    assert len(drawn["labels"]) == 12 and drawn["labels"][-1] == "Nov 2026"
    labels = [d["label"] for d in drawn["datasets"]]
    assert "Support Triage Classifier" in labels or any("Support" in x for x in labels)
    assert browser.find_element(By.ID, "capital-at-risk").text.startswith("$")
    screenshot(browser, "overview")


@pytest.mark.slow
def test_tune_page_draws_break_even_with_the_engines_figures(
    demo_portfolio, browser, live_server, frozen
):
    sign_in(browser, live_server, "/portfolio/tunes/churn-email-classifier/")
    drawn = chart(browser, "break-even-chart")
    by_label = {d["label"]: d for d in drawn["datasets"]}
    assert list(by_label) == [
        "Cumulative net saving",
        "Projection to end of stable lifetime",
        "Training cost to recover",
        "Break-even",
        "Retraining (clock restarts)",
    ]
    latest = Evaluation.objects.filter(tune__slug="churn-email-classifier").latest()
    figures = latest.figures
    history = [p for p in by_label["Cumulative net saving"]["data"] if p["y"] is not None]
    # The line ends today on the engine's own cumulative net saving since the last training.
    assert history[-1]["y"] == pytest.approx(figures["cumulative_net_saving"], abs=0.05)
    assert by_label["Training cost to recover"]["data"][-1]["y"] == figures["training_cost"]
    projection = by_label["Projection to end of stable lifetime"]
    assert projection["dash"] and len(projection["data"]) == 2
    assert projection["data"][0]["x"] == history[-1]["x"]
    usage = chart(browser, "usage-chart")
    assert [d["label"] for d in usage["datasets"]] == [
        "Queries a week",
        "Tune cost / query",
        "Prompting cost / query",
    ]
    screenshot(browser, "tune-churn-email-classifier")


@pytest.mark.slow
def test_break_even_marks_the_day_and_restarts_at_a_retraining(
    demo_portfolio, browser, live_server, frozen
):
    from tracker.models import ChangeLogEntry

    retrained = ChangeLogEntry.objects.filter(kind="retraining").select_related("tune").first()
    assert retrained is not None, "the demo has a tune that was retrained"
    slug = retrained.tune.slug
    sign_in(browser, live_server, f"/portfolio/tunes/{slug}/")
    by_label = {d["label"]: d for d in chart(browser, "break-even-chart")["datasets"]}
    restarts = [p["x"] // MS_PER_DAY for p in by_label["Retraining (clock restarts)"]["data"]]
    assert (retrained.day - dt.date(1970, 1, 1)).days in restarts
    figures = Evaluation.objects.filter(tune=retrained.tune).latest().figures
    if figures.get("break_even_on"):
        (marker,) = by_label["Break-even"]["data"]
        day = dt.date(1970, 1, 1) + dt.timedelta(days=marker["x"] // MS_PER_DAY)
        assert day.isoformat() == figures["break_even_on"]
    screenshot(browser, f"tune-{slug}")


def test_what_if_recomputes_the_verdict_and_saves_nothing(
    demo_portfolio, browser, live_server, frozen
):
    before = Evaluation.objects.count()
    sign_in(browser, live_server, "/portfolio/tunes/support-triage/")
    now = browser.find_element(By.ID, "what-if-now")
    wait(browser).until(lambda d: now.get_attribute("data-verdict") == "KEEP")
    volume = browser.find_element(By.NAME, "monthly_queries")
    volume.clear()
    volume.send_keys("50000")
    then = browser.find_element(By.ID, "what-if-then")
    wait(browser).until(lambda d: then.get_attribute("data-verdict") == "RETIRE", "verdict flips")
    assert "no longer pays off" in then.find_element(By.CLASS_NAME, "reason").text
    assert now.get_attribute("data-verdict") == "KEEP"
    screenshot(browser, "what-if-support-triage")
    volume.clear()
    volume.send_keys("1750000")
    wait(browser).until(lambda d: then.get_attribute("data-verdict") == "KEEP", "flips back")
    assert Evaluation.objects.count() == before


@pytest.mark.slow
def test_acknowledge_a_flag_on_the_tune_page(demo_portfolio, browser, live_server, frozen):
    flag = (
        Flag.objects.filter(resolved_on__isnull=True, kind="RETRAIN").select_related("tune").first()
    )
    assert flag is not None
    sign_in(browser, live_server, f"/portfolio/tunes/{flag.tune.slug}/")
    box = browser.find_element(By.CSS_SELECTOR, f"[data-flag='{flag.pk}']")
    box.find_element(By.NAME, "note").send_keys("Retraining booked for next sprint")
    box.find_element(By.CSS_SELECTOR, "button[value=acknowledge]").click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".messages li")))
    box = browser.find_element(By.CSS_SELECTOR, f"[data-flag='{flag.pk}']")
    assert "acknowledged by lead" in box.text
    assert "Retraining booked for next sprint" in box.text
    flag.refresh_from_db()
    assert flag.acknowledged_by.username == "lead" and flag.acknowledged_at is not None
    assert flag.resolved_on is None  # acknowledging is not resolving
    screenshot(browser, f"flag-acknowledged-{flag.tune.slug}")


@pytest.mark.slow
def test_the_admin_reads_like_the_reasons(demo_portfolio, browser, live_server, frozen):
    evaluation = Evaluation.objects.get(tune__slug="support-triage")
    sign_in(browser, live_server, f"/admin/tracker/evaluation/{evaluation.pk}/change/")
    text = browser.find_element(By.ID, "content").text
    figures = evaluation.figures
    saving = f"${round(figures['monthly_net_saving']):,}"
    queries = f"{round(figures['monthly_queries']):,}"
    assert saving in text and "Queries a month" in text and queries in text
    lifetime = f"{figures['expected_stable_lifetime_months']:.1f} months"
    assert lifetime in text and "Volume window" in text
    reason = browser.find_element(By.CSS_SELECTOR, ".field-wide_reason .readonly div")
    assert reason.size["width"] >= 400  # wide enough to read, not squeezed
    screenshot(browser, "admin-evaluation")
    browser.get(f"{live_server.url}/admin/tracker/flag/")
    assert browser.current_url.endswith("?state=open")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert rows and all(r.find_element(By.CLASS_NAME, "field-owner").text for r in rows)
    screenshot(browser, "admin-flags")
    browser.get(f"{live_server.url}/admin/tracker/finetune/{evaluation.tune_id}/change/")
    inline = browser.find_element(By.ID, "changes-group")
    assert inline.size["width"] <= browser.find_element(By.ID, "content").size["width"] + 1
    screenshot(browser, "admin-tune")
