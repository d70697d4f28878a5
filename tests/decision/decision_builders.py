"""Small builders for decision-engine portfolios: a tune is a dict of overrides on sane
defaults, usage is a run of identical days, prices are one row per model unless told."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from decision import Policy, Portfolio
from decision.inputs import DAYS_PER_MONTH, TUNE_COLUMNS

ROOT_DIR = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2025-06-30")
POLICY = Policy()
MONTH = DAYS_PER_MONTH

# Model ids: the frontier model the prompt/RAG alternative runs on, the small base model the
# tune is trained on, and the base model's successor.
FRONTIER, SMALL, SUCCESSOR = 1, 2, 3

# Default prices (USD per 1M tokens). With 1,000 input and 100 output tokens per query:
# alternative 1000*10/1e6 + 100*30/1e6 = $0.013/query, tune 1000*1/1e6 + 100*2/1e6 = $0.0012.
FRONTIER_PRICE = (10.0, 30.0)
SMALL_PRICE = (1.0, 2.0)
IN_TOKENS, OUT_TOKENS = 1000.0, 100.0


def day(offset: int) -> pd.Timestamp:
    """AS_OF shifted by ``offset`` days (negative = earlier)."""
    return AS_OF + pd.Timedelta(days=offset)


def cost_per_query(price: tuple[float, float], inp: float = IN_TOKENS, out: float = OUT_TOKENS):
    return (inp * price[0] + out * price[1]) / 1e6


def tune(tune_id: int = 1, **overrides) -> dict:
    """A deployed tune that pays off on the default usage, trained a year before AS_OF."""
    row = {
        "tune_id": tune_id,
        "status": "deployed",
        "base_model_id": SMALL,
        "alternative_model_id": FRONTIER,
        "extra_prompt_tokens": 0.0,
        "need_is_articulable": False,
        "behaviour_unpromptable": True,
        "tacit_expertise": False,
        "adds_knowledge": False,
        "fixes_formatting": False,
        "few_edge_cases": False,
        "brand_tone": False,
        "labelled_examples": 5000.0,
        "target_score": 0.90,
        "baseline_score": 0.80,
        "tune_score": 0.90,
        "upfront_cost": 1000.0,
        "retrain_cost": 500.0,
        "monthly_fixed_cost": 100.0,
        "deployed_on": day(-365),
        "last_trained_on": day(-365),
        "expected_monthly_queries": float("nan"),
        "expected_input_tokens": float("nan"),
        "expected_output_tokens": float("nan"),
    }
    unknown = set(overrides) - set(row)
    assert not unknown, f"unknown tune fields {unknown}"
    row.update(overrides)
    return row


def proposal(tune_id: int = 1, **overrides) -> dict:
    """A proposal that passes all four questions with the default prices."""
    base = {
        "status": "proposed",
        "deployed_on": pd.NaT,
        "last_trained_on": pd.NaT,
        "tune_score": float("nan"),
        "need_is_articulable": False,
        "expected_monthly_queries": 100_000.0,
        "expected_input_tokens": IN_TOKENS,
        "expected_output_tokens": OUT_TOKENS,
        "upfront_cost": 20_000.0,
    }
    return tune(tune_id, **{**base, **overrides})


def usage(
    tune_id: int = 1,
    start: int = -400,
    end: int = 0,
    queries: float = 1000.0,
    inp: float = IN_TOKENS,
    out: float = OUT_TOKENS,
) -> list[dict]:
    """One usage row per day from day(start) to day(end) inclusive, same volume each day."""
    return [
        {
            "tune_id": tune_id,
            "day": day(d),
            "queries": queries,
            "input_tokens": queries * inp,
            "output_tokens": queries * out,
        }
        for d in range(start, end + 1)
    ]


def change(tune_id: int = 1, at: int = -10, kind: str = "business_rule", **kw) -> dict:
    row = {"tune_id": tune_id, "day": day(at), "kind": kind, "meaningful": True, "cost": None}
    row.update(kw)
    return row


def model(model_id: int, label: str, shutdown_on=None, successor_id=None) -> dict:
    return {
        "model_id": model_id,
        "label": label,
        "shutdown_on": shutdown_on,
        "successor_id": successor_id,
    }


def default_models() -> list[dict]:
    return [
        model(FRONTIER, "frontier-large"),
        model(SMALL, "small-base", successor_id=SUCCESSOR),
        model(SUCCESSOR, "small-base-2"),
    ]


def price(key: int, at: int | pd.Timestamp, inp: float, out: float, key_name="model_id"):
    when = day(at) if isinstance(at, int) else at
    return {key_name: key, "effective_from": when, "input_per_mtok": inp, "output_per_mtok": out}


def default_prices() -> list[dict]:
    since = pd.Timestamp("2020-01-01")
    return [
        price(FRONTIER, since, *FRONTIER_PRICE),
        price(SMALL, since, *SMALL_PRICE),
        price(SUCCESSOR, since, *SMALL_PRICE),
    ]


def portfolio(
    tunes: list[dict],
    usage: list[dict] | None = None,
    changes: list[dict] | None = None,
    models: list[dict] | None = None,
    model_prices: list[dict] | None = None,
    tune_prices: list[dict] | None = None,
) -> Portfolio:
    """A Portfolio from lists of row dicts (None = the defaults, [] = empty)."""
    tune_frame = pd.DataFrame(tunes, columns=["tune_id", *TUNE_COLUMNS]).set_index("tune_id")
    model_rows = default_models() if models is None else models
    model_frame = pd.DataFrame(
        model_rows, columns=["model_id", "label", "shutdown_on", "successor_id"]
    ).set_index("model_id")
    model_frame["successor_id"] = model_frame["successor_id"].astype("Int64")
    model_frame["shutdown_on"] = pd.to_datetime(model_frame["shutdown_on"])
    return Portfolio(
        tunes=tune_frame,
        usage=pd.DataFrame(
            usage or [], columns=["tune_id", "day", "queries", "input_tokens", "output_tokens"]
        ),
        changes=pd.DataFrame(
            changes or [], columns=["tune_id", "day", "kind", "meaningful", "cost"]
        ),
        models=model_frame,
        model_prices=pd.DataFrame(
            default_prices() if model_prices is None else model_prices,
            columns=["model_id", "effective_from", "input_per_mtok", "output_per_mtok"],
        ),
        tune_prices=pd.DataFrame(
            tune_prices or [],
            columns=["tune_id", "effective_from", "input_per_mtok", "output_per_mtok"],
        ),
    )


def run(p: Portfolio, policy: Policy = POLICY, as_of=AS_OF):
    """evaluate() as a dict by tune id."""
    from decision import evaluate

    return {r.tune_id: r for r in evaluate(p, policy, as_of)}


def one(p: Portfolio, policy: Policy = POLICY, as_of=AS_OF):
    """The single result of a one-tune portfolio."""
    (result,) = run(p, policy, as_of).values()
    return result


def figures(p: Portfolio, policy: Policy = POLICY, as_of=AS_OF) -> pd.Series:
    """compute_figures() row of a one-tune portfolio."""
    from decision import compute_figures

    frame = compute_figures(p, policy, as_of)
    assert len(frame) == 1
    return frame.iloc[0]
