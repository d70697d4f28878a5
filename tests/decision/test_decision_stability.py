"""Change rate, changes since training, expected stable lifetime, lifetime after retraining."""

import pandas as pd
import pytest
from decision_builders import (
    MONTH,
    SMALL,
    SUCCESSOR,
    change,
    day,
    default_models,
    figures,
    model,
    portfolio,
    tune,
    usage,
)

from decision.stability import stable_lifetime


def test_zero_changes_means_rate_zero_and_the_horizon_as_lifetime():
    f = figures(portfolio([tune()], usage()))
    assert f["change_rate_per_quarter"] == 0
    assert f["task_changes_12m"] == 0
    assert f["expected_stable_lifetime_months"] == 24
    assert f["lifetime_after_retraining_months"] == 24


def test_only_meaningful_task_changes_in_the_last_365_days_count():
    changes = [
        change(at=-100, kind="task_spec"),
        change(at=-200, kind="new_category"),
        change(at=-364, kind="business_rule"),  # inside: the 365 days end on the as-of date
        change(at=-365, kind="business_rule"),  # outside
        change(at=-50, kind="business_rule", meaningful=False),
        change(at=-60, kind="retraining", cost=10.0),
        change(at=-70, kind="base_model_upgrade"),
        change(at=-80, kind="data_refresh"),
        change(at=-90, kind="baseline_remeasured"),
        change(at=-95, kind="note"),
        change(at=3, kind="task_spec"),  # after the as-of date
    ]
    f = figures(portfolio([tune(last_trained_on=day(-400))], usage(), changes=changes))
    assert f["task_changes_12m"] == 3
    assert f["change_rate_per_quarter"] == pytest.approx(0.75)
    assert f["expected_stable_lifetime_months"] == pytest.approx(3 / 0.75)  # 4 months


def test_frequent_changes_cap_the_stable_lifetime_at_three_over_rate():
    changes = [change(at=-10 * i) for i in range(1, 9)]  # 8 a year = 2 per quarter
    f = figures(portfolio([tune(last_trained_on=day(-400))], usage(), changes=changes))
    assert f["change_rate_per_quarter"] == 2
    assert f["expected_stable_lifetime_months"] == pytest.approx(1.5)


def test_shutdown_caps_stable_lifetime_from_last_training():
    models = [*default_models()[:1], model(SMALL, "small-base", shutdown_on=day(200))]
    f = figures(portfolio([tune(last_trained_on=day(-100))], usage(), models=models))
    assert f["expected_stable_lifetime_months"] == pytest.approx(300 / MONTH)
    assert f["days_to_shutdown"] == 200
    assert f["base_model_shutdown_on"] == day(200)


def test_no_shutdown_date_leaves_the_horizon():
    f = figures(portfolio([tune()], usage()))
    assert pd.isna(f["base_model_shutdown_on"])
    assert pd.isna(f["days_to_shutdown"])
    assert f["expected_stable_lifetime_months"] == 24


def test_lifetime_after_retraining_counts_from_as_of_to_base_shutdown_outside_warning():
    models = [*default_models()[:1], model(SMALL, "small-base", shutdown_on=day(300))]
    f = figures(portfolio([tune(last_trained_on=day(-100))], usage(), models=models))
    assert f["lifetime_after_retraining_months"] == pytest.approx(300 / MONTH)


def test_lifetime_after_retraining_uses_successor_shutdown_inside_warning():
    models = [
        default_models()[0],
        model(SMALL, "small-base", shutdown_on=day(60), successor_id=SUCCESSOR),
        model(SUCCESSOR, "small-base-2", shutdown_on=day(400)),
    ]
    f = figures(portfolio([tune()], usage(), models=models))
    assert f["lifetime_after_retraining_months"] == pytest.approx(400 / MONTH)
    assert f["successor_shutdown_on"] == day(400)


def test_lifetime_after_retraining_is_uncapped_without_a_successor_date():
    models = [default_models()[0], model(SMALL, "small-base", shutdown_on=day(60))]
    f = figures(portfolio([tune()], usage(), models=models))
    assert f["lifetime_after_retraining_months"] == 24


def test_changes_since_training_are_strictly_after_it():
    changes = [change(at=-30), change(at=-20, kind="task_spec"), change(at=-40)]
    f = figures(portfolio([tune(last_trained_on=day(-30))], usage(), changes=changes))
    assert f["task_changes_since_training"] == 1  # the one on the training day is in it


def test_retraining_entry_restarts_the_stability_clock():
    models = [*default_models()[:1], model(SMALL, "small-base", shutdown_on=day(100))]
    changes = [change(at=-50), change(at=-20, kind="retraining", meaningful=False, cost=5.0)]
    f = figures(portfolio([tune(last_trained_on=day(-300))], usage(), changes, models=models))
    assert f["last_trained_on"] == day(-20)
    assert f["task_changes_since_training"] == 0
    assert f["expected_stable_lifetime_months"] == pytest.approx(120 / MONTH)


def test_stable_lifetime_never_negative_when_shutdown_precedes_start():
    start = pd.Series([pd.Timestamp("2025-01-01")])
    shutdown = pd.Series([pd.Timestamp("2024-12-01")])
    assert stable_lifetime(start, shutdown, pd.Series([0.0]), 24).iloc[0] == 0
