"""One-tune portfolios that, together, raise every finding code the engine has."""

from __future__ import annotations

import pandas as pd
from decision_builders import (
    FRONTIER,
    FRONTIER_PRICE,
    POLICY,
    SMALL,
    SMALL_PRICE,
    SUCCESSOR,
    change,
    day,
    model,
    one,
    portfolio,
    price,
    proposal,
    tune,
    usage,
)

from decision import Policy, Portfolio, TuneResult

NAN = float("nan")


def _models(shutdown: int | None = None, successor: bool = True) -> list[dict]:
    return [
        model(FRONTIER, "frontier-large"),
        model(
            SMALL,
            "small-base",
            shutdown_on=None if shutdown is None else day(shutdown),
            successor_id=SUCCESSOR if successor else None,
        ),
        model(SUCCESSOR, "small-base-2"),
    ]


def _changes(count: int, since: int = -300) -> list[dict]:
    return [change(at=since + 20 * i) for i in range(count)]


def _with_sources(p: Portfolio, **columns: object) -> Portfolio:
    frame = pd.DataFrame(p.usage)
    for name, value in columns.items():
        frame[name] = value
    p.usage = frame
    return p


def scenarios() -> dict[str, Portfolio]:
    """Named one-tune portfolios; between them every finding code comes up."""
    rows = usage()
    half = [r["input_tokens"] for r in rows], [r["output_tokens"] for r in rows]
    return {
        "keeps paying": portfolio([tune()], usage()),
        "no longer pays off": portfolio([tune(monthly_fixed_cost=5000.0)], usage()),
        "changes too often": portfolio([tune()], usage(), changes=_changes(8)),
        "prompting caught up": portfolio([tune(baseline_score=0.95)], usage()),
        "retraining doesn't pay back": portfolio(
            [tune(retrain_cost=900_000.0)], usage(), changes=[change(at=-20)]
        ),
        "retraining pays back": portfolio([tune()], usage(), changes=[change(at=-20)]),
        "below target": portfolio([tune(tune_score=0.80)], usage()),
        "retrain cost unknown": portfolio(
            [tune(retrain_cost=NAN)], usage(), changes=[change(at=-20)]
        ),
        "shut down": portfolio([tune()], usage(), models=_models(shutdown=-10)),
        "shutting down, no successor": portfolio(
            [tune()], usage(), models=_models(shutdown=30, successor=False)
        ),
        "shutdown approaching": portfolio([tune()], usage(), models=_models(shutdown=150)),
        "payback beyond lifetime": portfolio(
            [tune(upfront_cost=400_000.0, last_trained_on=day(-60))],
            usage(),
            changes=_changes(3, since=-200),
        ),
        "not yet recovered": portfolio([tune(upfront_cost=30_000.0)], usage()),
        "volume dropped": portfolio(
            [tune()], usage(start=-365, end=-30) + usage(start=-29, queries=300)
        ),
        "stale usage": portfolio([tune()], usage(end=-20)),
        "no usage": portfolio([tune()], []),
        "no alternative": portfolio([tune(alternative_model_id=NAN)], usage()),
        "missing prices": portfolio(
            [tune()],
            usage(),
            model_prices=[
                price(FRONTIER, -50, *FRONTIER_PRICE),
                price(SMALL, -10_000, *SMALL_PRICE),
                price(SUCCESSOR, -10_000, *SMALL_PRICE),
            ],
        ),
        "no price today": portfolio(
            [tune()],
            usage(end=-40),
            model_prices=[
                price(FRONTIER, -10_000, *FRONTIER_PRICE),
                price(SMALL, -10_000, *SMALL_PRICE),
            ],
            models=[model(FRONTIER, "frontier-large"), model(SMALL, "small-base")],
        ),
        "missing scores": portfolio([tune(target_score=NAN)], usage()),
        "no training date": portfolio([tune(last_trained_on=pd.NaT, deployed_on=pd.NaT)], usage()),
        "missing costs": portfolio([tune(upfront_cost=NAN)], usage()),
        "prices moved": portfolio(
            [tune()],
            usage(),
            model_prices=[
                price(FRONTIER, -10_000, *FRONTIER_PRICE),
                price(FRONTIER, -10, 8.0, 24.0),
                price(SMALL, -10_000, *SMALL_PRICE),
                price(SUCCESSOR, -10_000, *SMALL_PRICE),
            ],
        ),
        "estimated volume": _with_sources(
            portfolio([tune()], usage()), estimated_queries=[r["queries"] / 3 for r in rows]
        ),
        "billed differs": _with_sources(
            portfolio([tune()], usage()),
            billed_cost=1.2 * 1.37,
            billed_input_tokens=half[0],
            billed_output_tokens=half[1],
        ),
        # Proposals: the four questions, the anti-patterns and the conditions.
        "ready to fine-tune": portfolio([proposal(tacit_expertise=True)]),
        "prompting hit its ceiling": portfolio([proposal(need_is_articulable=True)]),
        "can be written down": portfolio([proposal(need_is_articulable=True, baseline_score=0.95)]),
        "proposal changes often": portfolio([proposal()], changes=_changes(8)),
        "few examples": portfolio([proposal(labelled_examples=200.0)]),
        "gap unknown, payback unknown": portfolio(
            [proposal(target_score=NAN, upfront_cost=NAN, expected_monthly_queries=NAN)]
        ),
        "gap too small": portfolio([proposal(baseline_score=0.88)]),
        "proposal doesn't pay back": portfolio([proposal(upfront_cost=9_000_000.0)]),
        "anti-patterns": portfolio(
            [
                proposal(
                    adds_knowledge=True, fixes_formatting=True, few_edge_cases=True, brand_tone=True
                )
            ]
        ),
        "proposal on a model shutting down": portfolio([proposal()], models=_models(shutdown=120)),
    }


def results(policy: Policy = POLICY) -> dict[str, TuneResult]:
    return {name: one(p, policy) for name, p in scenarios().items()}
