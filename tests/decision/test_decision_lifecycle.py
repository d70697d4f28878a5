"""Volume trend, stale usage and shutdown figures."""

import pandas as pd
import pytest
from decision_builders import day, figures, portfolio, tune, usage


def test_volume_change_compares_last_30_days_to_the_60_before():
    rows = usage(start=-89, end=-30, queries=1000) + usage(start=-29, end=0, queries=600)
    f = figures(portfolio([tune()], rows))
    assert f["volume_change_30d"] == pytest.approx(-0.4)


def test_volume_change_of_a_tune_younger_than_90_days_uses_the_days_it_existed():
    # First use 45 days ago: 15 earlier days at 1,000, then 30 days at 1,500.
    rows = usage(start=-44, end=-30, queries=1000) + usage(start=-29, end=0, queries=1500)
    f = figures(portfolio([tune(deployed_on=day(-44), last_trained_on=day(-50))], rows))
    assert f["volume_change_30d"] == pytest.approx(0.5)


def test_volume_change_unknown_for_a_tune_younger_than_30_days():
    f = figures(portfolio([tune(deployed_on=day(-10))], usage(start=-10)))
    assert pd.isna(f["volume_change_30d"])


def test_days_since_last_usage():
    f = figures(portfolio([tune()], usage(start=-80, end=-9)))
    assert f["days_since_last_usage"] == 9


def test_quality_gap_and_shortfall():
    f = figures(portfolio([tune(target_score=0.9, baseline_score=0.7, tune_score=0.85)], usage()))
    assert f["quality_gap"] == pytest.approx(0.2)
    assert f["tune_score_shortfall"] == pytest.approx(0.05)
