"""Deployed-tune rules, each on both sides of its threshold, and the rule order.

Default tune (builders): 1,000 queries/day, alternative $0.013 vs tune $0.0012 per query, $100
fixed, so it saves 30,437.5 × 0.0118 − 100 = $259.1625/month; trained a year ago, recovered.
"""

import pytest
from decision_builders import (
    MONTH,
    POLICY,
    SMALL,
    SUCCESSOR,
    change,
    day,
    default_models,
    model,
    one,
    portfolio,
    tune,
    usage,
)

from decision import Policy, Severity, Verdict
from decision.vocabulary import Part

SAVING = 30437.5 * 0.0118 - 100  # 259.1625


def decisive(result):
    return [f.code for f in result.findings if f.decisive]


def models_with_shutdown(days, successor_days=None):
    return [
        default_models()[0],
        model(SMALL, "small-base", shutdown_on=day(days), successor_id=SUCCESSOR),
        model(
            SUCCESSOR,
            "small-base-2",
            shutdown_on=None if successor_days is None else day(successor_days),
        ),
    ]


def test_healthy_tune_is_kept_with_the_numbers_in_the_reason():
    r = one(portfolio([tune()], usage()))
    assert r.verdict is Verdict.KEEP
    assert decisive(r) == ["pays_off"]
    assert "saves $259 a month" in r.reason and "30,438 queries/month" in r.reason
    assert "$0.013" in r.reason and "$0.0012" in r.reason and "$100 fixed" in r.reason
    assert r.figures["monthly_net_saving"] == pytest.approx(SAVING)


# --- RETIRE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixed", "verdict"),
    # A cent a month still pays, so no RETIRE; its payback is centuries, hence WATCH.
    [(SAVING + 100, Verdict.RETIRE), (SAVING + 100 - 0.01, Verdict.WATCH)],
)
def test_no_longer_pays_off_at_zero_net_saving(fixed, verdict):
    r = one(portfolio([tune(monthly_fixed_cost=fixed)], usage()))
    assert r.verdict is verdict
    assert ("no_longer_pays_off" in r.codes) == (verdict is Verdict.RETIRE)
    if verdict is Verdict.WATCH:
        assert r.figures["monthly_net_saving"] == pytest.approx(0.01)
        assert decisive(r) == ["payback_beyond_stable_lifetime"]
    else:
        assert decisive(r) == ["no_longer_pays_off"]
        assert r.finding("no_longer_pays_off").source == Part.STABLE_HIGH_VOLUME
        assert r.finding("no_longer_pays_off").severity is Severity.ACTION
        assert r.reason.startswith("Breaks even (30,438 queries/month")


def test_negative_saving_message_shows_the_sum():
    r = one(portfolio([tune(monthly_fixed_cost=1600.0)], usage()))
    saving = SAVING + 100 - 1600
    assert r.figures["monthly_net_saving"] == pytest.approx(saving)
    assert r.finding("no_longer_pays_off").message == (
        "Loses $1,241 a month (30,438 queries/month × ($0.013 − $0.0012) − $1,600 fixed): "
        "it no longer pays off."
    )


def test_no_queries_in_the_window_means_it_no_longer_pays_off():
    r = one(portfolio([tune()], usage(start=-300, end=-100)))
    assert r.figures["monthly_queries"] == 0
    assert r.figures["monthly_net_saving"] == -100
    assert r.verdict is Verdict.RETIRE
    assert "usage_stale" in r.codes  # still reported, though RETIRE decides


@pytest.mark.parametrize(("n", "verdict"), [(4, Verdict.KEEP), (5, Verdict.RETIRE)])
def test_change_rate_above_the_maximum_retires(n, verdict):
    # Changes before the last training (so no retraining trigger), inside the 365 days.
    changes = [change(at=-300 + 10 * i) for i in range(n)]
    t = tune(last_trained_on=day(-200), upfront_cost=100.0)
    r = one(portfolio([t], usage(), changes=changes))
    assert r.figures["change_rate_per_quarter"] == n / 4
    assert r.verdict is verdict
    assert ("task_changes_too_often" in decisive(r)) == (verdict is Verdict.RETIRE)


@pytest.mark.parametrize(("baseline", "verdict"), [(0.90, Verdict.RETIRE), (0.89, Verdict.KEEP)])
def test_prompting_caught_up_when_baseline_reaches_target(baseline, verdict):
    r = one(portfolio([tune(target_score=0.90, baseline_score=baseline)], usage()))
    assert r.verdict is verdict
    assert ("prompting_caught_up" in r.codes) == (verdict is Verdict.RETIRE)


# --- RETRAIN ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "verdict", "code"),
    [
        (-5, Verdict.RETRAIN, "base_model_shut_down"),
        (90, Verdict.RETRAIN, "base_model_shutdown_soon"),
        (91, Verdict.WATCH, "base_model_shutdown_approaching"),
        (180, Verdict.WATCH, "base_model_shutdown_approaching"),
        (181, Verdict.KEEP, None),
    ],
)
def test_base_model_shutdown_windows(days, verdict, code):
    r = one(portfolio([tune()], usage(), models=models_with_shutdown(days)))
    assert r.verdict is verdict
    assert r.figures["days_to_shutdown"] == days
    lifecycle = [f.code for f in r.findings if f.source == Part.LIFECYCLE]
    assert lifecycle == ([code] if code else [])
    if verdict is Verdict.RETRAIN:
        assert decisive(r) == [code, "retraining_pays_back"]
        assert "small-base-2" in r.reason  # the successor to retrain on


@pytest.mark.parametrize(("at", "verdict"), [(-100, Verdict.KEEP), (-99, Verdict.RETRAIN)])
def test_task_change_after_last_training_triggers_retraining(at, verdict):
    r = one(portfolio([tune(last_trained_on=day(-100))], usage(), changes=[change(at=at)]))
    assert r.verdict is verdict
    assert ("task_changed_since_training" in r.codes) == (verdict is Verdict.RETRAIN)


@pytest.mark.parametrize(("score", "verdict"), [(0.88, Verdict.KEEP), (0.87, Verdict.RETRAIN)])
def test_tune_below_target_by_more_than_tolerance(score, verdict):
    r = one(portfolio([tune(target_score=0.90, tune_score=score)], usage()))
    assert r.figures["tune_score_shortfall"] == pytest.approx(0.90 - score)
    assert r.verdict is verdict
    assert ("tune_below_target" in r.codes) == (verdict is Verdict.RETRAIN)


@pytest.mark.parametrize(
    ("successor_days", "verdict"),
    # Retraining costs $500 and pays back in 500 / 259.1625 = 1.9293 months.
    [(58, Verdict.RETIRE), (59, Verdict.RETRAIN)],
)
def test_retraining_must_pay_back_within_the_lifetime_after_retraining(successor_days, verdict):
    models = models_with_shutdown(30, successor_days=successor_days)
    r = one(portfolio([tune()], usage(), models=models))
    assert r.figures["retrain_payback_months"] == pytest.approx(500 / SAVING)
    assert r.figures["lifetime_after_retraining_months"] == pytest.approx(successor_days / MONTH)
    assert r.verdict is verdict
    if verdict is Verdict.RETIRE:
        assert decisive(r) == ["retraining_does_not_pay_back"]
        assert "base_model_shutdown_soon" in r.codes  # the need is reported too
    else:
        assert decisive(r) == ["base_model_shutdown_soon", "retraining_pays_back"]


def test_retraining_bounded_by_change_rate():
    # 4 task changes in the year, the last after training: rate 1/quarter -> 3-month lifetime.
    changes = [change(at=-300 + 90 * i) for i in range(4)]  # days -300, -210, -120, -30
    t = tune(last_trained_on=day(-100), retrain_cost=SAVING * 3)
    r = one(portfolio([t], usage(), changes=changes))
    assert r.figures["lifetime_after_retraining_months"] == 3
    assert r.figures["retrain_payback_months"] == pytest.approx(3)
    assert r.verdict is Verdict.RETRAIN  # payback 3 ≤ lifetime 3
    t = tune(last_trained_on=day(-100), retrain_cost=SAVING * 3 + 1)
    assert one(portfolio([t], usage(), changes=changes)).verdict is Verdict.RETIRE


# --- WATCH -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("cost", "verdict"), [(SAVING * 24, Verdict.KEEP), (6300, Verdict.WATCH)])
def test_unrecovered_training_paying_back_beyond_stable_lifetime(cost, verdict):
    t = tune(deployed_on=day(-30), last_trained_on=day(-30), upfront_cost=cost)
    r = one(portfolio([t], usage(start=-30)))
    assert r.figures["recovered"] is False
    assert r.figures["payback_months"] == pytest.approx(cost / SAVING)
    assert r.verdict is verdict
    assert ("payback_beyond_stable_lifetime" in r.codes) == (verdict is Verdict.WATCH)


def test_long_payback_is_fine_once_recovered():
    t = tune(upfront_cost=3000.0, monthly_fixed_cost=240.0)  # saves $119/month, payback 25 mo.
    # Usage was heavy before the window: recovered, though payback now exceeds 24 months.
    rows = usage(start=-365, end=-91, queries=5000) + usage(start=-90, queries=1000)
    r = one(portfolio([t], rows))
    assert r.figures["payback_months"] > 24
    assert r.figures["recovered"] is True
    assert r.verdict is Verdict.KEEP


@pytest.mark.parametrize(("recent", "verdict"), [(700.0, Verdict.WATCH), (701.0, Verdict.KEEP)])
def test_volume_drop_of_30_percent(recent, verdict):
    rows = usage(start=-365, end=-30, queries=1000) + usage(start=-29, queries=recent)
    r = one(portfolio([tune()], rows))
    assert r.figures["volume_change_30d"] == pytest.approx(recent / 1000 - 1)
    assert r.verdict is verdict
    if verdict is Verdict.WATCH:
        assert decisive(r) == ["volume_dropped"]
        assert "fell 30%" in r.reason and "700/day" in r.reason and "1,000/day" in r.reason


@pytest.mark.parametrize(("last", "verdict"), [(-7, Verdict.WATCH), (-6, Verdict.KEEP)])
def test_no_usage_in_the_last_7_days(last, verdict):
    r = one(portfolio([tune()], usage(end=last)))
    assert r.figures["days_since_last_usage"] == -last
    assert r.verdict is verdict
    assert ("usage_stale" in r.codes) == (verdict is Verdict.WATCH)


def test_policy_thresholds_are_used():
    policy = Policy(stale_usage_days=10, volume_drop_watch=0.5)
    r = one(portfolio([tune()], usage(end=-7)), policy=policy)
    assert r.verdict is Verdict.KEEP


# --- order -----------------------------------------------------------------------------------


def test_retire_beats_retrain_and_watch_but_all_rules_are_reported():
    r = one(
        portfolio(
            [tune(monthly_fixed_cost=5000.0)],
            usage(end=-10),
            models=models_with_shutdown(30),
        )
    )
    assert r.verdict is Verdict.RETIRE
    assert decisive(r) == ["no_longer_pays_off", "retraining_does_not_pay_back"]
    assert {"base_model_shutdown_soon", "usage_stale"} <= set(r.codes)
    assert not r.finding("usage_stale").decisive


def test_retrain_beats_watch():
    rows = usage(start=-365, end=-30) + usage(start=-29, queries=500)
    r = one(portfolio([tune()], rows, models=models_with_shutdown(30)))
    assert r.verdict is Verdict.RETRAIN
    assert not r.finding("volume_dropped").decisive
    assert r.finding("volume_dropped").severity is Severity.WATCH


def test_every_policy_default_matches_the_spec():
    assert (
        Policy(
            lookback_days=90,
            min_labelled_examples=1000,
            max_changes_per_quarter=1.0,
            min_quality_gap=0.05,
            horizon_months=24.0,
            shutdown_warning_days=90,
            shutdown_watch_days=180,
            quality_tolerance=0.02,
            volume_drop_watch=0.30,
            stale_usage_days=7,
        )
        == POLICY
    )
