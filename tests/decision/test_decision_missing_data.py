"""Missing data never crashes and never guesses: it is named in a "data" finding, and a deployed
tune with such a gap is watched unless a RETIRE/RETRAIN rule holds on the data that is there."""

import datetime as dt
import json

import pandas as pd
import pytest
from decision_builders import (
    AS_OF,
    FRONTIER,
    POLICY,
    SMALL,
    SUCCESSOR,
    change,
    day,
    default_models,
    figures,
    model,
    one,
    portfolio,
    price,
    proposal,
    run,
    tune,
    usage,
)

from decision import Portfolio, Severity, Verdict, compute_figures, evaluate
from decision.vocabulary import Part


def data_codes(result):
    return [f.code for f in result.findings if f.source == Part.DATA]


def test_empty_portfolio():
    assert evaluate(Portfolio(), POLICY, AS_OF) == []
    frame = compute_figures(Portfolio(), POLICY, AS_OF)
    assert frame.empty
    assert "monthly_net_saving" in frame.columns


def test_no_usage_yet_is_watched():
    r = one(portfolio([tune(deployed_on=day(-3), last_trained_on=day(-5))], usage=[]))
    assert r.verdict is Verdict.WATCH
    assert data_codes(r) == ["no_usage_yet"]
    assert r.finding("no_usage_yet").decisive
    assert r.finding("no_usage_yet").severity is Severity.WATCH
    assert r.figures["monthly_queries"] is None
    assert r.figures["monthly_net_saving"] is None
    assert r.figures["payback_months"] is None
    assert "2025-06-30" in r.reason


def test_no_prices_at_all():
    r = one(portfolio([tune()], usage(), model_prices=[]))
    assert r.verdict is Verdict.WATCH
    assert data_codes(r) == ["missing_prices"]
    f = r.finding("missing_prices")
    # Counted over the days the figures use: since the training a year ago (366 days).
    assert f.figures["alternative_missing_days"] == 366
    assert f.figures["tune_missing_days"] == 366
    assert "'frontier-large'" in f.message and "'small-base'" in f.message
    assert r.figures["alternative_cost_per_query"] is None
    assert r.figures["recovered"] is None


def test_prices_starting_mid_window_are_not_guessed_for_earlier_days():
    prices = [price(FRONTIER, -9, 10.0, 30.0), price(SMALL, -1000, 1.0, 2.0)]
    r = one(portfolio([tune(last_trained_on=day(-30))], usage(), model_prices=prices))
    assert r.verdict is Verdict.WATCH
    f = r.finding("missing_prices")
    assert f.figures["alternative_missing_days"] == 81  # day −90 .. −10
    assert f.figures["tune_missing_days"] == 0
    assert f.figures["first_missing_price_on"] == day(-90).date().isoformat()
    assert f.figures["last_missing_price_on"] == day(-10).date().isoformat()
    # Today's price is known, so the figures about the future are; the past pricing is not.
    assert r.figures["alternative_cost_per_query"] == pytest.approx(0.013)
    assert r.figures["monthly_net_saving_at_past_prices"] is None
    assert r.figures["cumulative_net_saving"] is None
    assert r.figures["tune_cost_per_query"] == pytest.approx(0.0012)


def test_missing_price_only_before_the_window_still_blocks_recovery_but_not_volume():
    prices = [price(FRONTIER, -90, 10.0, 30.0), price(SMALL, -1000, 1.0, 2.0)]
    r = one(portfolio([tune(last_trained_on=day(-200))], usage(), model_prices=prices))
    assert r.figures["monthly_net_saving"] == pytest.approx(30437.5 * 0.0118 - 100)
    assert r.figures["cumulative_net_saving"] is None
    assert r.figures["recovered"] is None
    assert r.finding("missing_prices").figures["alternative_missing_days"] == 110  # −200..−91
    assert r.verdict is Verdict.WATCH


def test_no_alternative_model():
    r = one(portfolio([tune(alternative_model_id=None)], usage()))
    assert r.verdict is Verdict.WATCH
    assert data_codes(r) == ["no_alternative_model"]  # not also "missing prices"
    assert r.figures["alternative_cost_per_query"] is None


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("target_score", "target score"),
        ("baseline_score", "best prompt/RAG score"),
        ("tune_score", "tune score"),
    ],
)
def test_missing_scores(field, words):
    r = one(portfolio([tune(**{field: None})], usage()))
    assert r.verdict is Verdict.WATCH
    assert data_codes(r) == ["missing_scores"]
    assert r.finding("missing_scores").message.startswith(f"No {words} recorded")


def test_no_training_or_deployment_date():
    r = one(portfolio([tune(last_trained_on=None, deployed_on=None)], usage()))
    assert r.verdict is Verdict.WATCH
    assert "no_training_date" in data_codes(r)
    assert r.figures["last_trained_on"] is None
    assert r.figures["expected_stable_lifetime_months"] == 24  # no shutdown date to bound it


def test_missing_upfront_cost():
    r = one(portfolio([tune(upfront_cost=None)], usage()))
    assert r.verdict is Verdict.WATCH
    assert data_codes(r) == ["missing_costs"]
    assert r.figures["payback_months"] is None


def test_retire_is_still_decided_on_the_data_that_is_present():
    changes = [change(at=-300 + 10 * i) for i in range(6)]  # 1.5 per quarter, before training
    r = one(portfolio([tune(last_trained_on=day(-200))], usage(), changes=changes, model_prices=[]))
    assert r.verdict is Verdict.RETIRE
    assert [f.code for f in r.findings if f.decisive] == ["task_changes_too_often"]
    assert "missing_prices" in r.codes


def test_retraining_needed_but_payback_unknown_is_watched():
    models = [
        default_models()[0],
        model(SMALL, "small-base", shutdown_on=day(20), successor_id=SUCCESSOR),
        model(SUCCESSOR, "small-base-2"),
    ]
    r = one(portfolio([tune()], usage(), models=models, model_prices=[]))
    assert r.verdict is Verdict.WATCH
    assert "base_model_shutdown_soon" in r.codes
    assert r.finding("retrain_payback_unknown").decisive


def test_retraining_needed_with_unknown_retrain_cost():
    r = one(portfolio([tune(retrain_cost=None)], usage(), changes=[change(at=-5)]))
    assert r.verdict is Verdict.WATCH
    assert r.finding("missing_costs").figures["missing"] == ["retrain cost"]


def test_unknown_retrain_cost_does_not_matter_when_no_retraining_is_needed():
    assert one(portfolio([tune(retrain_cost=None)], usage())).verdict is Verdict.KEEP


def test_no_successor_is_reported_and_does_not_cap_the_lifetime():
    models = [default_models()[0], model(SMALL, "small-base", shutdown_on=day(20))]
    r = one(portfolio([tune()], usage(), models=models))
    assert r.verdict is Verdict.RETRAIN
    assert "no_successor_model" in r.codes
    assert r.figures["lifetime_after_retraining_months"] == 24


def test_retired_tunes_are_not_evaluated():
    results = run(portfolio([tune(1), tune(2, status="retired"), tune(3)], usage(1) + usage(3)))
    assert list(results) == [1, 3]


def test_loose_dtypes_from_outside_are_accepted():
    """Object columns, python dates, None for nullable ints, second-resolution datetimes."""
    base = portfolio([tune()], usage())
    tunes = base.tunes.astype(object)
    tunes["deployed_on"] = [dt.date(2024, 6, 30)]
    tunes["last_trained_on"] = [None]
    tunes["alternative_model_id"] = [str(FRONTIER)]
    use = base.usage.astype(object)
    use["day"] = pd.to_datetime(base.usage["day"]).astype("datetime64[s]")
    loose = Portfolio(
        tunes=tunes,
        usage=use,
        changes=base.changes,
        models=base.models.astype(object),
        model_prices=base.model_prices.astype(object),
        tune_prices=base.tune_prices,
    )
    r = one(loose, as_of=dt.date(2025, 6, 30))
    strict = one(base)
    assert r.verdict is strict.verdict is Verdict.KEEP
    assert r.figures == strict.figures


def test_as_of_accepts_date_datetime_timestamp_and_string():
    p = portfolio([tune()], usage())
    a = one(p, as_of=dt.date(2025, 6, 30))
    b = one(p, as_of=dt.datetime(2025, 6, 30, 17, 45))
    c = one(p, as_of="2025-06-30")
    assert a == b == c


def test_results_are_json_safe_with_gaps():
    r = one(portfolio([tune(alternative_model_id=None, tune_score=None)], usage=[]))
    text = json.dumps(r.as_dict(), allow_nan=False)
    assert '"verdict": "WATCH"' in text


def test_proposal_without_expected_usage_iterates_and_says_why():
    p = portfolio([proposal(expected_monthly_queries=None, expected_output_tokens=None)])
    r = one(p)
    assert r.verdict is Verdict.ITERATE
    assert r.finding("missing_expected_usage").figures["missing"] == [
        "monthly queries",
        "output tokens per query",
    ]
    assert r.finding("q4_payback_unknown").decisive
    assert "“gap worth closing” (payback unknown)" in r.reason


def test_proposal_without_scores_cannot_pass_q4():
    r = one(portfolio([proposal(baseline_score=None)]))
    assert r.verdict is Verdict.ITERATE
    assert r.finding("q4_gap_unknown").decisive
    assert "missing_scores" in r.codes
    assert figures(portfolio([proposal(baseline_score=None)]))["quality_gap"] != 0


def test_proposal_without_price_on_the_as_of_date():
    prices = [price(FRONTIER, 10, 10.0, 30.0), price(SMALL, -1000, 1.0, 2.0)]
    r = one(portfolio([proposal()], model_prices=prices))
    assert r.verdict is Verdict.ITERATE
    assert "No price in force on 2025-06-30 for the alternative model 'frontier-large'" in (
        r.finding("missing_prices").message
    )
