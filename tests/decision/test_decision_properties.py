"""Hypothesis properties over random small portfolios.

Each example runs the engine once or twice, so a property costs seconds: the quick loop
(``-m "not slow"``) keeps the broadest one, that any portfolio gets JSON-safe results with a
reason; the full suite runs them all."""

import json
import random

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
    model,
    portfolio,
    price,
    proposal,
    tune,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision import Portfolio, compute_figures, evaluate
from decision.inputs import TASK_CHANGE_KINDS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = [*sorted(TASK_CHANGE_KINDS), "retraining", "base_model_upgrade", "data_refresh", "note"]
offsets = st.integers(min_value=-420, max_value=0)
money = st.floats(min_value=0, max_value=50_000, allow_nan=False)
score = st.one_of(st.none(), st.floats(min_value=0, max_value=1, allow_nan=False))


@st.composite
def tunes(draw, tune_id):
    trained = draw(st.integers(min_value=-400, max_value=-1))
    if draw(st.booleans()) and tune_id % 3 == 0:
        return proposal(
            tune_id,
            expected_monthly_queries=draw(st.floats(min_value=0, max_value=5e6)),
            upfront_cost=draw(money),
            labelled_examples=draw(st.floats(min_value=0, max_value=10_000)),
            baseline_score=draw(score),
            need_is_articulable=draw(st.booleans()),
        )
    return tune(
        tune_id,
        last_trained_on=day(trained),
        deployed_on=day(trained + draw(st.integers(min_value=0, max_value=10))),
        upfront_cost=draw(money),
        retrain_cost=draw(money),
        monthly_fixed_cost=draw(st.floats(min_value=0, max_value=2_000)),
        extra_prompt_tokens=draw(st.floats(min_value=0, max_value=3_000)),
        target_score=draw(score),
        baseline_score=draw(score),
        tune_score=draw(score),
    )


@st.composite
def usage_rows(draw, ids):
    rows = []
    for tune_id in ids:
        start = draw(st.integers(min_value=-300, max_value=0))
        end = draw(st.integers(min_value=start, max_value=0))
        base = draw(st.floats(min_value=0, max_value=20_000))
        skip = draw(st.integers(min_value=1, max_value=5))  # every skip-th day has a record
        for d in range(start, end + 1, skip):
            q = base * draw(st.sampled_from([0.0, 0.5, 1.0, 1.5]))
            rows.append(
                {
                    "tune_id": tune_id,
                    "day": day(d),
                    "queries": q,
                    "input_tokens": q * draw(st.sampled_from([200.0, 1000.0, 4000.0])),
                    "output_tokens": q * draw(st.sampled_from([50.0, 300.0])),
                }
            )
    return rows


@st.composite
def portfolios(draw, complete_prices=True):
    ids = draw(st.lists(st.integers(1, 9), min_size=1, max_size=4, unique=True))
    tune_rows = [draw(tunes(i)) for i in ids]
    changes = [
        change(
            draw(st.sampled_from(ids)),
            at=draw(offsets),
            kind=draw(st.sampled_from(KINDS)),
            meaningful=draw(st.booleans()),
            cost=draw(st.one_of(st.none(), money)),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]
    shutdown = draw(st.one_of(st.none(), st.integers(-30, 400)))
    successor = draw(st.one_of(st.none(), st.integers(0, 800)))
    models = [
        model(FRONTIER, "frontier"),
        model(
            SMALL,
            "small",
            shutdown_on=None if shutdown is None else day(shutdown),
            successor_id=SUCCESSOR,
        ),
        model(SUCCESSOR, "small-2", shutdown_on=None if successor is None else day(successor)),
    ]
    first = -1000 if complete_prices or draw(st.booleans()) else draw(offsets)
    prices = [
        price(FRONTIER, first, draw(st.floats(1, 20)), draw(st.floats(1, 60))),
        price(SMALL, -1000, draw(st.floats(0.1, 5)), draw(st.floats(0.1, 10))),
        price(SUCCESSOR, -1000, 1.0, 2.0),
    ]
    for _ in range(draw(st.integers(0, 3))):  # price changes, some mid-window
        key = draw(st.sampled_from([FRONTIER, SMALL]))
        prices.append(price(key, draw(offsets), draw(st.floats(0.1, 20)), draw(st.floats(0.1, 60))))
    return portfolio(tune_rows, draw(usage_rows(ids)), changes, models, prices)


def by_id(p: Portfolio):
    return {r.tune_id: r for r in evaluate(p, POLICY, AS_OF)}


@pytest.mark.slow
@SETTINGS
@given(p=portfolios(), factor=st.floats(min_value=1.0, max_value=10.0))
def test_higher_alternative_price_never_stops_a_tune_paying_off(p, factor):
    before = by_id(p)
    dearer = Portfolio(**vars(p))
    prices = p.model_prices.copy()
    frontier = prices["model_id"] == FRONTIER
    prices.loc[frontier, ["input_per_mtok", "output_per_mtok"]] *= factor
    dearer.model_prices = prices
    after = by_id(dearer)
    for tune_id, old in before.items():
        new = after[tune_id]
        if "no_longer_pays_off" not in old.codes:
            assert "no_longer_pays_off" not in new.codes
        old_saving = old.figures["monthly_net_saving"]
        new_saving = new.figures["monthly_net_saving"]
        if old_saving is not None:
            assert new_saving >= old_saving


@pytest.mark.slow
@SETTINGS
@given(
    p=portfolios(),
    at=offsets,
    kind=st.sampled_from(sorted(TASK_CHANGE_KINDS)),
    pick=st.integers(0, 3),
)
def test_adding_a_meaningful_change_never_makes_a_task_more_stable(p, at, kind, pick):
    ids = list(p.tunes.index)
    target = ids[pick % len(ids)]
    before = compute_figures(p, POLICY, AS_OF)
    more = Portfolio(**vars(p))
    more.changes = pd.concat(
        [p.changes, pd.DataFrame([change(target, at=at, kind=kind)])], ignore_index=True
    )
    after = compute_figures(more, POLICY, AS_OF)
    assert (after["change_rate_per_quarter"] >= before["change_rate_per_quarter"]).all()
    for column in ("expected_stable_lifetime_months", "lifetime_after_retraining_months"):
        old, new = before[column], after[column]
        known = old.notna() & new.notna()
        assert (new[known] <= old[known]).all(), column
        assert (new.isna() == old.isna()).all()


def shuffled(frame: pd.DataFrame, rnd: random.Random) -> pd.DataFrame:
    order = list(range(len(frame)))
    rnd.shuffle(order)
    return frame.iloc[order]


@pytest.mark.slow
@SETTINGS
@given(p=portfolios(complete_prices=False), rnd=st.randoms(use_true_random=False))
def test_row_order_never_changes_a_result(p, rnd):
    mixed_up = Portfolio(**{name: shuffled(frame, rnd) for name, frame in vars(p).items()})
    expected = [r.as_dict() for r in evaluate(p, POLICY, AS_OF)]
    assert [r.as_dict() for r in evaluate(mixed_up, POLICY, AS_OF)] == expected


@SETTINGS
@given(p=portfolios(complete_prices=False))
def test_any_portfolio_gives_json_safe_results_with_a_reason(p):
    for r in evaluate(p, POLICY, AS_OF):
        json.dumps(r.as_dict(), allow_nan=False)
        assert r.reason
        assert any(f.decisive for f in r.findings)
