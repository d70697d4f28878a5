"""Benchmark: the vectorised decision engine against a naive per-tune loop.

Builds a synthetic portfolio (500 tunes × 540 days of usage, effective-dated prices with
changes mid-window, a task-change log), then times:

* ``evaluate``: the whole engine (every figure, rule and finding for every tune);
* a naive baseline computing only monthly volume, cost per query and net saving, one tune at a
  time, looking up the price of every usage row by scanning the price list.

Both must agree on the net savings. Run: ``python bench/bench_engine.py [--tunes N --days D]``.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decision import DAYS_PER_MONTH, Policy, Portfolio, compute_figures, evaluate

AS_OF = pd.Timestamp("2025-06-30")
N_MODELS = 12


def synthetic_portfolio(n_tunes: int, n_days: int, seed: int = 7) -> Portfolio:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_tunes + 1)
    days = pd.date_range(end=AS_OF, periods=n_days, freq="D")
    models = pd.DataFrame(
        {
            "label": [f"model-{m}" for m in range(1, N_MODELS + 1)],
            "shutdown_on": [
                AS_OF + pd.Timedelta(days=int(d)) if d < 400 else pd.NaT
                for d in rng.integers(-30, 900, N_MODELS)
            ],
            "successor_id": pd.array(
                [m + 1 if m < N_MODELS else None for m in range(1, N_MODELS + 1)], dtype="Int64"
            ),
        },
        index=pd.Index(range(1, N_MODELS + 1), name="model_id"),
    )
    # Four price periods per model, so many usage days sit after a mid-window price change.
    price_rows = []
    for m in range(1, N_MODELS + 1):
        scale = 10.0 if m <= 4 else 1.0  # models 1-4 are the frontier alternatives
        starts = [days[0] - pd.Timedelta(days=30), *sorted(rng.choice(days[1:], 3, replace=False))]
        for start in starts:
            price_rows.append(
                {
                    "model_id": m,
                    "effective_from": start,
                    "input_per_mtok": scale * rng.uniform(0.5, 1.5),
                    "output_per_mtok": 3 * scale * rng.uniform(0.5, 1.5),
                }
            )
    trained = AS_OF - pd.to_timedelta(rng.integers(20, n_days, n_tunes), unit="D")
    tunes = pd.DataFrame(
        {
            "status": np.where(rng.random(n_tunes) < 0.1, "proposed", "deployed"),
            "base_model_id": rng.integers(5, N_MODELS + 1, n_tunes),
            "alternative_model_id": rng.integers(1, 5, n_tunes),
            "extra_prompt_tokens": rng.choice([0.0, 500.0, 2000.0], n_tunes),
            "need_is_articulable": rng.random(n_tunes) < 0.5,
            "behaviour_unpromptable": rng.random(n_tunes) < 0.5,
            "tacit_expertise": rng.random(n_tunes) < 0.3,
            "adds_knowledge": rng.random(n_tunes) < 0.05,
            "fixes_formatting": rng.random(n_tunes) < 0.05,
            "few_edge_cases": rng.random(n_tunes) < 0.05,
            "brand_tone": rng.random(n_tunes) < 0.05,
            "labelled_examples": rng.integers(100, 20_000, n_tunes).astype(float),
            "target_score": rng.uniform(0.8, 0.95, n_tunes),
            "baseline_score": rng.uniform(0.6, 0.95, n_tunes),
            "tune_score": rng.uniform(0.75, 0.97, n_tunes),
            "upfront_cost": rng.uniform(2_000, 60_000, n_tunes),
            "retrain_cost": rng.uniform(500, 15_000, n_tunes),
            "monthly_fixed_cost": rng.uniform(0, 3_000, n_tunes),
            "deployed_on": trained,
            "last_trained_on": trained,
            "expected_monthly_queries": rng.uniform(1e4, 5e6, n_tunes),
            "expected_input_tokens": rng.uniform(200, 3000, n_tunes),
            "expected_output_tokens": rng.uniform(50, 800, n_tunes),
        },
        index=pd.Index(ids, name="tune_id"),
    )
    # Daily usage for every tune and day, with a random trend and some days missing.
    tune_col = np.repeat(ids, n_days)
    day_col = np.tile(days.to_numpy(), n_tunes)
    level = np.repeat(rng.uniform(100, 100_000, n_tunes), n_days)
    trend = np.repeat(rng.uniform(-0.002, 0.002, n_tunes), n_days) * np.tile(
        np.arange(n_days), n_tunes
    )
    queries = np.round(level * np.exp(trend) * rng.uniform(0.7, 1.3, n_tunes * n_days))
    keep = rng.random(n_tunes * n_days) > 0.03
    usage = pd.DataFrame(
        {
            "tune_id": tune_col,
            "day": day_col,
            "queries": queries,
            "input_tokens": queries * rng.uniform(300, 2500, n_tunes * n_days),
            "output_tokens": queries * rng.uniform(50, 600, n_tunes * n_days),
        }
    )[keep]
    n_changes = n_tunes * 3
    changes = pd.DataFrame(
        {
            "tune_id": rng.choice(ids, n_changes),
            "day": AS_OF - pd.to_timedelta(rng.integers(0, n_days, n_changes), unit="D"),
            "kind": rng.choice(
                ["task_spec", "new_category", "business_rule", "retraining", "note"], n_changes
            ),
            "meaningful": rng.random(n_changes) < 0.7,
            "cost": rng.uniform(500, 15_000, n_changes),
        }
    )
    return Portfolio(
        tunes=tunes,
        usage=usage.reset_index(drop=True),
        changes=changes,
        models=models,
        model_prices=pd.DataFrame(price_rows),
        tune_prices=pd.DataFrame(
            columns=["tune_id", "effective_from", "input_per_mtok", "output_per_mtok"]
        ),
    )


def naive_net_savings(portfolio: Portfolio, policy: Policy, as_of: pd.Timestamp) -> dict:
    """The obvious way: per deployed tune, walk its usage rows in the lookback window, then look
    up today's prices in the model's price list. Same formulas as the engine."""
    prices: dict[int, list[tuple[pd.Timestamp, float, float]]] = {}
    for row in portfolio.model_prices.itertuples(index=False):
        prices.setdefault(int(row.model_id), []).append(
            (pd.Timestamp(row.effective_from), row.input_per_mtok, row.output_per_mtok)
        )
    for rows in prices.values():
        rows.sort()

    def price_on(model_id: int, day: pd.Timestamp) -> tuple[float, float]:
        rows = prices[model_id]
        i = bisect.bisect_right([r[0] for r in rows], day) - 1  # rebuilt per row: naive
        return rows[i][1], rows[i][2]

    out = {}
    usage = portfolio.usage
    for tune_id, tune in portfolio.tunes.iterrows():
        if tune["status"] != "deployed":
            continue
        mine = usage[(usage["tune_id"] == tune_id) & (usage["day"] < as_of)]
        used = mine[mine["queries"] > 0]
        start = max(as_of - pd.Timedelta(days=policy.lookback_days), used["day"].min())
        window = mine[mine["day"] >= start]
        n_days = (as_of - start).days
        queries = input_tokens = output_tokens = 0.0
        for row in window.itertuples(index=False):
            input_tokens += row.input_tokens
            output_tokens += row.output_tokens
            queries += row.queries
        # The window's volume and tokens per query, priced at the prices in force on as_of.
        a_in, a_out = price_on(int(tune["alternative_model_id"]), as_of)
        t_in, t_out = price_on(int(tune["base_model_id"]), as_of)
        in_per_query, out_per_query = input_tokens / queries, output_tokens / queries
        alt_cpq = (
            (in_per_query + tune["extra_prompt_tokens"]) * a_in + out_per_query * a_out
        ) / 1e6
        tune_cpq = (in_per_query * t_in + out_per_query * t_out) / 1e6
        monthly = queries / n_days * DAYS_PER_MONTH
        saving = monthly * (alt_cpq - tune_cpq)
        out[tune_id] = saving - tune["monthly_fixed_cost"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=500)
    parser.add_argument("--days", type=int, default=540)
    args = parser.parse_args()
    policy = Policy()

    t0 = time.perf_counter()
    portfolio = synthetic_portfolio(args.tunes, args.days)
    build_s = time.perf_counter() - t0
    print(
        f"portfolio: {len(portfolio.tunes)} tunes, {len(portfolio.usage):,} usage rows, "
        f"{len(portfolio.model_prices)} price rows, {len(portfolio.changes)} change-log rows "
        f"(built in {build_s:.1f}s)"
    )

    evaluate(portfolio, policy, AS_OF)  # warm-up: imports and pandas caches
    runs = 3
    t0 = time.perf_counter()
    for _ in range(runs):
        results = evaluate(portfolio, policy, AS_OF)
    engine_s = (time.perf_counter() - t0) / runs

    t0 = time.perf_counter()
    naive = naive_net_savings(portfolio, policy, AS_OF)
    naive_s = time.perf_counter() - t0

    figures = compute_figures(portfolio, policy, AS_OF)
    engine_savings = figures.loc[list(naive), "monthly_net_saving"].to_numpy()
    naive_savings = np.array(list(naive.values()))
    worst = float(np.max(np.abs(engine_savings - naive_savings)))
    agree = np.allclose(engine_savings, naive_savings, rtol=1e-9, atol=1e-5)

    verdicts = pd.Series([str(r.verdict) for r in results]).value_counts().sort_index()
    findings = sum(len(r.findings) for r in results)
    print(
        f"evaluate (whole engine, {len(results)} results, {findings:,} findings): {engine_s:.3f}s"
    )
    print(
        f"naive loop (volume + cost per query + net saving only, {len(naive)} tunes): "
        f"{naive_s:.3f}s"
    )
    print(f"speed-up: {naive_s / engine_s:.1f}x")
    print(
        f"net savings agree on {len(naive)} deployed tunes: {agree} "
        f"(largest difference ${worst:.2e}/month)"
    )
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()))
    if not agree:
        raise SystemExit("engine and naive baseline disagree")


if __name__ == "__main__":
    main()
