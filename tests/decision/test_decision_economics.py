"""Volume, cost per query, net saving, payback, recovery: hand-computed against the formulas."""

import math

import pandas as pd
import pytest
from decision_builders import (
    FRONTIER,
    FRONTIER_PRICE,
    MONTH,
    POLICY,
    SMALL,
    SMALL_PRICE,
    change,
    cost_per_query,
    day,
    figures,
    one,
    portfolio,
    price,
    tune,
    usage,
)

ALT_CPQ = cost_per_query(FRONTIER_PRICE)  # 0.013
TUNE_CPQ = cost_per_query(SMALL_PRICE)  # 0.0012


def test_steady_usage_gives_volume_tokens_costs_and_net_saving():
    f = figures(portfolio([tune()], usage(queries=1000)))
    assert f["monthly_queries"] == pytest.approx(1000 * 30.4375)
    assert f["input_tokens_per_query"] == pytest.approx(1000)
    assert f["output_tokens_per_query"] == pytest.approx(100)
    assert f["alternative_cost_per_query"] == pytest.approx(0.013)
    assert f["tune_cost_per_query"] == pytest.approx(0.0012)
    # 30,437.5 queries/month × ($0.013 − $0.0012) − $100 fixed
    assert f["monthly_net_saving"] == pytest.approx(30437.5 * 0.0118 - 100)
    assert f["lookback_days"] == 90
    assert f["lookback_start"] == day(-90)  # the 90 complete days before the as-of date


def test_days_without_a_record_count_as_zero():
    rows = [r for i, r in enumerate(usage(start=-90, end=-1, queries=1000)) if i % 3 == 0]
    f = figures(portfolio([tune()], rows))
    assert f["monthly_queries"] == pytest.approx(30 * 1000 / 90 * MONTH)


def test_several_rows_on_one_day_are_summed():
    rows = usage(start=-89, queries=600) + usage(start=-89, queries=400)
    f = figures(portfolio([tune()], rows))
    assert f["monthly_queries"] == pytest.approx(1000 * MONTH)


def test_usage_after_the_as_of_date_is_ignored():
    rows = usage(start=-89, end=0, queries=1000) + usage(start=1, end=30, queries=99_999)
    f = figures(portfolio([tune()], rows))
    assert f["monthly_queries"] == pytest.approx(1000 * MONTH)


def test_tune_younger_than_the_lookback_is_not_diluted():
    # First usage 20 days before the as-of date: a 20-day window, not 90.
    f = figures(portfolio([tune(deployed_on=day(-20), last_trained_on=day(-25))], usage(start=-20)))
    assert f["lookback_days"] == 20
    assert f["lookback_start"] == day(-20)
    assert f["monthly_queries"] == pytest.approx(1000 * MONTH)


def test_zero_query_records_before_first_use_do_not_start_the_window():
    rows = usage(start=-60, end=-31, queries=0) + usage(start=-30, queries=500)
    f = figures(portfolio([tune()], rows))
    assert f["lookback_days"] == 30
    assert f["monthly_queries"] == pytest.approx(500 * MONTH)


def test_the_as_of_day_is_not_in_the_window():
    # The as-of day is usually still in progress: its half-day of traffic must not count.
    rows = usage(start=-400, end=-1, queries=1000) + usage(start=0, end=0, queries=400)
    f = figures(portfolio([tune()], rows))
    assert f["monthly_queries"] == pytest.approx(1000 * MONTH)


def test_usage_only_on_the_as_of_day_leaves_the_volume_unknown():
    p = portfolio([tune(deployed_on=day(0), last_trained_on=day(-5))], usage(start=0, end=0))
    f = figures(p)
    assert f["lookback_days"] == 0
    assert pd.isna(f["monthly_queries"])
    result = one(p)
    assert "no_usage_yet" in result.codes
    assert str(result.verdict) == "WATCH"


def test_forward_figures_use_the_prices_in_force_on_the_as_of_date():
    # Frontier price doubles 29 days before the as-of date: the window's volume is priced at the
    # new price; the past pricing (each day's own price) is kept as a supporting figure.
    prices = [
        price(FRONTIER, -1000, *FRONTIER_PRICE),
        price(FRONTIER, -29, 20.0, 60.0),
        price(SMALL, -1000, *SMALL_PRICE),
    ]
    f = figures(portfolio([tune()], usage(queries=1000), model_prices=prices))
    assert f["alternative_cost_per_query"] == pytest.approx(0.026)
    assert f["monthly_net_saving"] == pytest.approx(1000 * MONTH * (0.026 - 0.0012) - 100)
    past_alt = (61 * 0.013 + 29 * 0.026) / 90  # days −90..−30 old price, −29..−1 new
    assert f["monthly_net_saving_at_past_prices"] == pytest.approx(
        1000 * MONTH * (past_alt - 0.0012) - 100
    )


def test_past_pricing_weighs_by_each_day_volume():
    # 2,000 queries/day at the old price for 60 days, 1,000/day at the new one for 29.
    prices = [price(FRONTIER, -1000, *FRONTIER_PRICE), price(FRONTIER, -29, 20.0, 60.0)]
    prices.append(price(SMALL, -1000, *SMALL_PRICE))
    rows = usage(start=-89, end=-30, queries=2000) + usage(start=-29, end=-1, queries=1000)
    f = figures(portfolio([tune()], rows, model_prices=prices))
    past_alt = (120_000 * 0.013 + 29_000 * 0.026) / 149_000
    monthly = 149_000 / 89 * MONTH
    assert f["monthly_net_saving_at_past_prices"] == pytest.approx(
        monthly * (past_alt - 0.0012) - 100
    )
    assert f["monthly_net_saving"] == pytest.approx(monthly * (0.026 - 0.0012) - 100)


def test_a_price_cut_yesterday_counts_at_once_as_if_it_had_always_held():
    # The prompt/RAG alternative's price is cut tenfold from yesterday: every query now loses
    # money, and the monthly net saving must say so today, not weeks later.
    cut = (1.0, 3.0)
    yesterday = portfolio([tune()], usage(), model_prices=_prices_with_cut(cut, at=-1))
    always = portfolio([tune()], usage(), model_prices=_prices_with_cut(cut, at=-5000))
    new_saving = figures(always)["monthly_net_saving"]
    assert figures(yesterday)["monthly_net_saving"] == pytest.approx(new_saving, rel=1e-12)
    assert figures(yesterday)["payback_months"] == figures(always)["payback_months"]
    assert new_saving < 0  # $0.0013 − $0.0012 per query does not cover the $100 fixed cost
    assert str(one(yesterday).verdict) == "RETIRE"


def test_a_price_cut_yesterday_does_not_move_the_break_even_date():
    # Recovered long ago: history keeps each day's own price, so the break-even day stays.
    trained = tune(deployed_on=day(-300), last_trained_on=day(-300), upfront_cost=400.0)
    before = figures(portfolio([trained], usage(start=-300)))
    after = figures(
        portfolio([trained], usage(start=-300), model_prices=_prices_with_cut((1.0, 3.0), at=-1))
    )
    assert bool(before["recovered"]) and bool(after["recovered"])
    assert after["break_even_on"] == before["break_even_on"] == day(-300 + 46)
    # Only the two days priced at the cut price (yesterday and today) differ in the history.
    per_day_drop = 1000 * (0.013 - cost_per_query((1.0, 3.0)))
    assert before["cumulative_net_saving"] - after["cumulative_net_saving"] == pytest.approx(
        2 * per_day_drop, abs=1e-5
    )


def test_prices_moved_finding_gives_both_numbers_above_five_percent():
    p = portfolio([tune()], usage(), model_prices=_prices_with_cut((8.0, 24.0), at=-10))
    result = one(p)
    f = figures(p)
    moved = result.finding("prices_moved")
    assert moved is not None
    now, past = f["monthly_net_saving"], f["monthly_net_saving_at_past_prices"]
    assert abs(now - past) > 0.05 * abs(past)
    assert moved.figures["monthly_net_saving"] == pytest.approx(now)
    assert moved.figures["monthly_net_saving_at_past_prices"] == pytest.approx(past)
    assert f"${now:,.0f}" in moved.message and f"${past:,.0f}" in moved.message


def test_no_prices_moved_finding_within_five_percent():
    # A 1 % cut ten days ago moves the net saving well under 5 %.
    result = one(portfolio([tune()], usage(), model_prices=_prices_with_cut((9.9, 29.7), at=-10)))
    assert result.finding("prices_moved") is None


def _prices_with_cut(cut: tuple[float, float], at: int) -> list[dict]:
    return [
        price(FRONTIER, -10_000, *FRONTIER_PRICE),
        price(FRONTIER, at, *cut),
        price(SMALL, -10_000, *SMALL_PRICE),
    ]


def test_tune_own_price_wins_over_the_base_model_price():
    own = [price(1, -44, 0.5, 1.0, key_name="tune_id")]  # own serving price for the last 45 days
    f = figures(portfolio([tune()], usage(queries=1000), tune_prices=own))
    own_cpq = (1000 * 0.5 + 100 * 1.0) / 1e6
    assert f["tune_cost_per_query"] == pytest.approx(own_cpq)  # in force today
    # Past pricing: the base price fills the days before the tune's own price (−90..−45).
    past = 1000 * MONTH * (0.013 - (46 * 0.0012 + 44 * own_cpq) / 90) - 100
    assert f["monthly_net_saving_at_past_prices"] == pytest.approx(past)


def test_alternative_pays_for_its_extra_prompt_tokens():
    f = figures(portfolio([tune(extra_prompt_tokens=500.0)], usage(queries=1000)))
    assert f["alternative_cost_per_query"] == pytest.approx((1500 * 10 + 100 * 30) / 1e6)
    assert f["tune_cost_per_query"] == pytest.approx(0.0012)


def test_payback_is_training_cost_over_net_saving():
    f = figures(portfolio([tune(upfront_cost=5000.0)], usage(queries=1000)))
    saving = 30437.5 * 0.0118 - 100
    assert f["training_cost"] == 5000
    assert f["payback_months"] == pytest.approx(5000 / saving)
    assert f["retrain_payback_months"] == pytest.approx(500 / saving)


@pytest.mark.parametrize("fixed", [359.1625, 500.0])
def test_payback_is_infinite_when_saving_is_not_positive(fixed):
    p = portfolio([tune(monthly_fixed_cost=fixed)], usage(queries=1000))
    f = figures(p)
    assert f["monthly_net_saving"] == pytest.approx(359.1625 - fixed, abs=1e-9)
    assert math.isinf(f["payback_months"])
    result = one(p)
    assert result.figures["payback_months"] is None  # JSON-safe: infinite becomes None
    assert result.figures["retrain_payback_months"] is None


def test_cumulative_saving_recovery_and_break_even_date():
    # Trained 100 days before; usage every day since at 1,000 queries.
    p = portfolio(
        [tune(deployed_on=day(-100), last_trained_on=day(-100), upfront_cost=400.0)],
        usage(start=-100),
    )
    f = figures(p)
    daily_net = 1000 * 0.0118 - 100 / MONTH  # 8.5146.. per day
    assert f["cumulative_net_saving"] == pytest.approx(101 * daily_net, abs=1e-5)
    assert bool(f["recovered"]) is True
    # Running total first reaches $400 on the 47th day (46 × 8.51 = 391.7 < 400 ≤ 47 × 8.51).
    assert f["break_even_on"] == day(-100 + 46)
    assert f["unrecovered_cost"] == 0


def test_not_recovered_projects_break_even_at_current_rate():
    p = portfolio(
        [tune(deployed_on=day(-10), last_trained_on=day(-10), upfront_cost=1000.0)],
        usage(start=-10),
    )
    f = figures(p)
    daily_net = 1000 * 0.0118 - 100 / MONTH
    cumulative = 11 * daily_net
    assert bool(f["recovered"]) is False
    assert f["unrecovered_cost"] == pytest.approx(1000 - cumulative, abs=1e-5)
    saving_per_day = (30437.5 * 0.0118 - 100) / MONTH
    days_to_go = math.ceil((1000 - cumulative) / saving_per_day)
    assert f["break_even_on"] == day(days_to_go)


def test_break_even_is_when_the_total_stayed_above_cost():
    # Recovered by day −40 on heavy use, then a long gap with only fixed costs dips the total
    # below the cost, and usage from day −5 lifts it back above: break-even is day −5.
    rows = usage(start=-60, end=-41, queries=2000) + usage(start=-5, end=0, queries=3000)
    p = portfolio([tune(deployed_on=day(-60), last_trained_on=day(-60), upfront_cost=300.0)], rows)
    f = figures(p)
    fixed_day = 100 / MONTH
    after_first_run = 20 * 2000 * 0.0118 - 20 * fixed_day  # ≈ 406 ≥ 300
    low_point = after_first_run - 35 * fixed_day  # ≈ 291 < 300, day −6
    assert after_first_run >= 300 > low_point
    total = after_first_run + 6 * 3000 * 0.0118 - 41 * fixed_day
    assert f["cumulative_net_saving"] == pytest.approx(total, abs=1e-5)
    assert f["break_even_on"] == day(-5)


def test_no_break_even_date_when_saving_is_not_positive():
    p = portfolio(
        [tune(deployed_on=day(-10), last_trained_on=day(-10), monthly_fixed_cost=10_000.0)],
        usage(start=-10),
    )
    f = figures(p)
    assert bool(f["recovered"]) is False
    assert pd.isna(f["break_even_on"])
    assert one(p).figures["break_even_on"] is None


def test_retraining_entry_restarts_the_clock_and_sets_training_cost():
    p = portfolio(
        [tune(deployed_on=day(-300), last_trained_on=day(-300), upfront_cost=1000.0)],
        usage(start=-300),
        changes=[change(at=-20, kind="retraining", meaningful=False, cost=750.0)],
    )
    f = figures(p)
    assert f["last_trained_on"] == day(-20)
    assert f["training_cost"] == 750
    daily_net = 1000 * 0.0118 - 100 / MONTH
    assert f["cumulative_net_saving"] == pytest.approx(21 * daily_net, abs=1e-5)
    assert bool(f["recovered"]) is False  # 21 × 8.51 ≈ 179 < 750


def test_retraining_entry_without_cost_uses_the_tune_retrain_cost():
    p = portfolio(
        [tune(retrain_cost=640.0)],
        usage(),
        changes=[change(at=-20, kind="retraining", meaningful=False, cost=None)],
    )
    assert figures(p)["training_cost"] == 640


def test_retraining_after_the_as_of_date_is_ignored():
    p = portfolio(
        [tune(last_trained_on=day(-300))],
        usage(),
        changes=[change(at=5, kind="retraining", meaningful=False, cost=750.0)],
    )
    f = figures(p)
    assert f["last_trained_on"] == day(-300)
    assert f["training_cost"] == 1000


def test_tune_without_training_date_falls_back_to_deployment():
    f = figures(portfolio([tune(last_trained_on=pd.NaT, deployed_on=day(-50))], usage()))
    assert f["last_trained_on"] == day(-50)


def test_proposal_uses_expected_volume_and_prices_on_the_as_of_date():
    prices = [
        price(FRONTIER, -1000, 5.0, 15.0),
        price(FRONTIER, -10, *FRONTIER_PRICE),  # in force on the as-of date
        price(FRONTIER, 10, 50.0, 150.0),  # not yet
        price(SMALL, -1000, *SMALL_PRICE),
    ]
    from decision_builders import proposal

    f = figures(portfolio([proposal(expected_monthly_queries=200_000.0)], model_prices=prices))
    assert f["monthly_queries"] == 200_000
    assert f["alternative_cost_per_query"] == pytest.approx(0.013)
    assert f["monthly_net_saving"] == pytest.approx(200_000 * 0.0118 - 100)
    assert f["payback_months"] == pytest.approx(20_000 / (200_000 * 0.0118 - 100))
    assert pd.isna(f["cumulative_net_saving"])
    assert POLICY.horizon_months == f["expected_stable_lifetime_months"]


def test_cumulative_saving_uses_each_day_price():
    # 20 days at the old price, then 11 days with the alternative at double price.
    prices = [
        price(FRONTIER, -1000, *FRONTIER_PRICE),
        price(FRONTIER, -10, 20.0, 60.0),
        price(SMALL, -1000, *SMALL_PRICE),
    ]
    p = portfolio(
        [tune(deployed_on=day(-30), last_trained_on=day(-30), monthly_fixed_cost=0.0)],
        usage(start=-30),
        model_prices=prices,
    )
    f = figures(p)
    assert f["cumulative_net_saving"] == pytest.approx(
        20 * 1000 * (0.013 - 0.0012) + 11 * 1000 * (0.026 - 0.0012), abs=1e-5
    )


def test_two_sources_on_a_day_count_as_one_day_with_their_sum():
    """A day reported by two sources is one day of usage with their queries and tokens summed:
    the figures are those of one source reporting the sums."""
    from decision.economics import usage_spans
    from decision.inputs import as_day, normalise

    both = usage(queries=1000) + usage(queries=2000)
    split = normalise(portfolio([tune()], both))
    days = usage_spans(split.usage, split.usage_spans, split.tunes.index, as_day(day(0)))
    assert len(days) == len(both) // 2
    assert set(days["queries"]) == {3000.0}
    together = figures(portfolio([tune()], usage(queries=3000)))
    pd.testing.assert_series_equal(figures(portfolio([tune()], both)), together)


def test_a_day_given_twice_counts_both_towards_the_break_even_day():
    """Spans and days that overlap (outside what ``evaluate`` ever passes) are summed per day,
    as before: the running total passes the training cost on the day given twice."""
    from decision.economics import recovery

    days = [day(-2), day(-1), day(-1)]
    priced = pd.DataFrame(
        {
            "tune_id": [1, 1, 1],
            "day": days,
            "last_day": days,
            "alternative_cost": [50.0, 40.0, 40.0],
            "tune_cost": [0.0, 0.0, 0.0],
            "net_never_negative": [True, True, True],
        }
    )
    one = pd.Index([1])
    figures, _ = recovery(
        priced,
        pd.Series([day(-2)], index=one),
        pd.Series([100.0], index=one),
        pd.Series([0.0], index=one),
        pd.Series([0.0], index=one),
        day(-1),
    )
    assert figures.loc[1, "cumulative_net_saving"] == 130.0
    assert figures.loc[1, "break_even_on"] == day(-1)
