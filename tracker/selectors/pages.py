"""What the portfolio pages show: the overview, a tune's charts and history, what-if runs and
retrain-versus-retire. Every number comes from the decision engine (``decision``): stored
evaluations, the realised savings it priced at the last refresh (``services.savings``), its
day-by-day pricing, or a fresh run on a changed copy of the inputs that is never saved. A fixed
number of queries per page whatever the portfolio's size.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import cast

import pandas as pd
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When

import decision
from decision import DAYS_PER_MONTH
from decision.fmt import json_safe
from tracker.models import ChangeLogEntry, Evaluation, FineTune, Flag, Verdict

from .digest import is_portfolio_lead
from .portfolio import current_policy, engine_policy, portfolio_inputs
from .savings import chart_rows, savings_totals
from .shutdowns import retrain_by
from .summary import portfolio_summary
from .values import as_day as _day
from .values import finite_number as _number

TeamIds = Collection[int] | None

#: Needs-action order: decisions first, then warnings.
ACTION_ORDER = {Verdict.RETIRE: 0, Verdict.RETRAIN: 1, Verdict.FINE_TUNE: 2, Verdict.WATCH: 3}
NEEDS_ACTION_VERDICTS = tuple(ACTION_ORDER)
#: The overview lists this many of the tunes that need action, the most urgent; it says how many
#: there are in all (a glance, not every one of thousands: the API and the admin list them all).
ACTION_ROWS = 50
#: Verdicts whose unrecovered training cost is capital at risk.
AT_RISK_VERDICTS = (Verdict.RETIRE, Verdict.WATCH)
#: Tunes drawn one by one in the monthly chart; the rest are summed as "other tunes".
CHART_TOP_TUNES = 10
CHART_MONTHS = 12
EPOCH = date(1970, 1, 1)


def team_ids_for(user) -> TeamIds:
    """The teams a person sees: superusers and portfolio leads every team, others their own."""
    if user.is_superuser or is_portfolio_lead(user):
        return None
    return frozenset(user.teams.values_list("pk", flat=True))


def _ms(day: date | pd.Timestamp) -> int:
    """Chart x values: milliseconds since 1970 (what JavaScript dates use)."""
    if isinstance(day, pd.Timestamp):
        day = day.date()
    return (day - EPOCH).days * 86_400_000


def _visible(team_ids: TeamIds) -> QuerySet[FineTune]:
    tunes = FineTune.objects.all()
    return tunes if team_ids is None else tunes.filter(team_id__in=list(team_ids))


# --- Overview ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionItem:
    name: str
    slug: str
    team: str
    owner: str
    verdict: str
    reason: str
    as_of: date
    flags: tuple[Flag, ...]

    @property
    def verdict_label(self) -> str:
        return Verdict(self.verdict).label


def _needing_action(team_ids: TeamIds) -> QuerySet[FineTune]:
    open_flag = Flag.objects.filter(tune=OuterRef("pk"), resolved_on__isnull=True)
    return (
        _visible(team_ids)
        .exclude(status=FineTune.Status.RETIRED)
        .filter(latest_evaluation__isnull=False)
        .filter(Q(latest_evaluation__verdict__in=NEEDS_ACTION_VERDICTS) | Exists(open_flag))
    )


def needs_action(team_ids: TeamIds, limit: int | None = None) -> list[ActionItem]:
    """Tunes whose latest verdict is RETIRE, RETRAIN, FINE_TUNE or WATCH, or with an open flag,
    most urgent first (then by name), the first ``limit`` of them when given: owner, deciding
    reason and open flags (acknowledged or snoozed ones say so)."""
    urgency = Case(
        *(When(latest_evaluation__verdict=v, then=Value(n)) for v, n in ACTION_ORDER.items()),
        default=Value(len(ACTION_ORDER)),
    )
    tunes = (
        _needing_action(team_ids)
        .select_related("team", "owner", "latest_evaluation")
        .defer("latest_evaluation__figures", "latest_evaluation__stored_findings")
        .order_by(urgency, "name", "pk")
    )
    rows = list(tunes if limit is None else tunes[:limit])
    flags: dict[int, list[Flag]] = {}
    for flag in (
        Flag.objects.filter(tune_id__in=[t.pk for t in rows], resolved_on__isnull=True)
        .select_related("acknowledged_by", "snoozed_by")
        .order_by("opened_on")
    ):
        flags.setdefault(flag.tune_id, []).append(flag)
    items = []
    for tune in rows:
        evaluation = tune.latest_evaluation
        assert evaluation is not None  # filtered above
        items.append(
            ActionItem(
                name=tune.name,
                slug=tune.slug,
                team=tune.team.name,
                owner=tune.owner.get_full_name() or tune.owner.get_username(),
                verdict=evaluation.verdict,
                reason=evaluation.reason,
                as_of=evaluation.as_of,
                flags=tuple(flags.get(tune.pk, ())),
            )
        )
    return items


def _month_start(month: pd.Period) -> date:
    return month.start_time.date()


def monthly_chart(team_ids: TeamIds, today: date) -> dict:
    """The last months of stored net saving, stacked by tune: the biggest tunes (by the sum of
    their months' absolute savings) one by one, every other tune in one "other tunes" series,
    so the chart stays readable with hundreds of tunes. SQL sums; four queries."""
    end = pd.Period(today, freq="M")
    months = list(pd.period_range(end - (CHART_MONTHS - 1), end, freq="M"))
    firsts = [_month_start(m) for m in months]
    totals, top, tunes = chart_rows(team_ids, firsts, CHART_TOP_TUNES)
    series = [
        {"label": name, "data": [round(float(saving.get(m, 0.0)), 2) for m in firsts]}
        for _, name, saving in top
    ]
    if tunes > len(top):
        shown = {m: sum(saving.get(m, 0.0) for _, _, saving in top) for m in firsts}
        series.append(
            {
                "label": f"{tunes - len(top)} other tunes",
                "data": [round(totals.get(m, 0.0) - shown[m], 2) for m in firsts],
            }
        )
    return {"labels": [m.strftime("%b %Y") for m in months], "series": series}


def overview(team_ids: TeamIds, today: date) -> dict:
    summary = portfolio_summary(team_ids, today)
    items = needs_action(team_ids, limit=ACTION_ROWS)
    at_risk = (
        _visible(team_ids)
        .exclude(status=FineTune.Status.RETIRED)
        .filter(latest_evaluation__verdict__in=AT_RISK_VERDICTS)
        .aggregate(
            capital=Sum("latest_evaluation__unrecovered_cost"),
            tunes=Count("latest_evaluation__unrecovered_cost"),
        )
    )
    realised = savings_totals(team_ids, _month_start(pd.Period(today, freq="M")))
    return {
        "today": today,
        "summary": summary,
        "by_verdict": [
            (Verdict(v).label if v in Verdict.values else "Not evaluated", v, n)
            for v, n in summary["by_verdict"].items()
        ],
        "needs_action": items,
        "needs_action_total": _needing_action(team_ids).count(),
        "realised_this_month": realised["this_month"],
        "realised_to_date": realised["to_date"],
        "savings_as_of": realised["as_of"],
        "savings_computed_at": realised["computed_at"],
        "capital_at_risk": float(at_risk["capital"] or 0),
        "at_risk_tunes": at_risk["tunes"],
        "chart": monthly_chart(team_ids, today),
    }


# --- Tune page -----------------------------------------------------------------------------------


def _trainings(tune: FineTune, changes: list[ChangeLogEntry], figures: dict) -> list[dict]:
    """Each training that started an economic clock, oldest first, with the cost it had to
    recover. The latest uses the engine's training cost and day."""
    first = tune.deployed_on or tune.last_trained_on
    starts: dict[date, float] = {}
    if first:
        starts[first] = float(tune.upfront_cost)
    for entry in sorted(changes, key=lambda e: e.day):
        if entry.kind == ChangeLogEntry.Kind.RETRAINING and (first is None or entry.day > first):
            cost = entry.cost if entry.cost is not None else tune.retrain_cost
            starts[entry.day] = float(cost)
    last = _day(figures.get("last_trained_on"))
    training_cost = _number(figures.get("training_cost"))
    if last is not None:
        starts = {day: c for day, c in starts.items() if day <= last}
        starts[last] = (
            training_cost
            if training_cost is not None
            else starts.get(last, float(tune.upfront_cost))
        )
    return [{"day": day, "cost": c} for day, c in sorted(starts.items())]


def break_even_chart(
    tune: FineTune, daily: pd.DataFrame, trainings: list[dict], figures: dict, today: date
) -> dict:
    """Cumulative net saving since each training (restarting at every retraining) against that
    training's cost; the projection at the current monthly net saving to the end of the expected
    stable lifetime; the break-even day."""
    fixed_per_day = float(tune.monthly_fixed_cost) / DAYS_PER_MONTH
    by_day = daily.set_index("day")["net_saving"] if not daily.empty else pd.Series(dtype=float)
    history: list[dict] = []
    cost_line: list[dict] = []
    restarts: list[dict] = []
    for i, training in enumerate(trainings):
        start = pd.Timestamp(training["day"])
        end = pd.Timestamp(today)
        if i + 1 < len(trainings):
            end = min(end, pd.Timestamp(trainings[i + 1]["day"]) - pd.Timedelta(days=1))
        if end < start:
            continue
        days = pd.date_range(start, end, freq="D")
        net = by_day.reindex(days).fillna(0.0)
        running = net.cumsum() - fixed_per_day * (pd.Series(range(1, len(days) + 1), index=days))
        if i:
            history.append({"x": _ms(start) - 1, "y": None})  # the line restarts
            cost_line.append({"x": _ms(start) - 1, "y": None})
            restarts.append({"x": _ms(start), "y": 0.0})
        history.extend(
            {"x": _ms(cast(pd.Timestamp, d)), "y": round(float(v), 2)} for d, v in running.items()
        )
        cost_line.extend(
            [{"x": _ms(start), "y": training["cost"]}, {"x": _ms(end), "y": training["cost"]}]
        )
    projection = []
    saving = _number(figures.get("monthly_net_saving"))
    lifetime = _number(figures.get("expected_stable_lifetime_months"))
    last = _day(figures.get("last_trained_on"))
    lifetime_end = None
    if history and saving is not None and last is not None and lifetime is not None:
        lifetime_end = last + timedelta(days=round(lifetime * DAYS_PER_MONTH))
        if lifetime_end > today:
            now = history[-1]["y"]
            months_left = (lifetime_end - today).days / DAYS_PER_MONTH
            projection = [
                {"x": _ms(today), "y": now},
                {"x": _ms(lifetime_end), "y": round(now + saving * months_left, 2)},
            ]
            cost = trainings[-1]["cost"] if trainings else None
            if cost is not None:
                cost_line.append({"x": _ms(lifetime_end), "y": cost})
    break_even = _day(figures.get("break_even_on"))
    marker = []
    if break_even is not None and trainings:
        marker = [{"x": _ms(break_even), "y": trainings[-1]["cost"]}]
    return {
        "history": history,
        "projection": projection,
        "cost": cost_line,
        "break_even": marker,
        "restarts": restarts,
        "break_even_on": break_even,
        "lifetime_end": lifetime_end,
    }


def usage_chart(daily: pd.DataFrame) -> dict:
    """Queries a week and each side's cost per query that week, at each day's prices."""
    if daily.empty:
        return {"volume": [], "tune": [], "alternative": []}
    weekly = daily.set_index("day")[["queries", "alternative_cost", "tune_cost"]].resample(
        "W-MON", label="left", closed="left"
    )
    sums = weekly.sum(min_count=1)
    queries = sums["queries"].fillna(0.0)
    per_query = queries.where(queries > 0)
    alternative = sums["alternative_cost"] / per_query
    own = sums["tune_cost"] / per_query

    def points(series: pd.Series, digits: int) -> list[dict]:
        return [
            {"x": _ms(cast(pd.Timestamp, d)), "y": None if pd.isna(v) else round(float(v), digits)}
            for d, v in series.items()
        ]

    return {
        "volume": points(queries, 0),
        "tune": points(own, 6),
        "alternative": points(alternative, 6),
    }


def tune_page(tune: FineTune, today: date) -> dict:
    """Everything the tune page shows; ``tune`` comes from ``access.tune_by_slug``."""
    # The policy words the findings (``Evaluation.findings``).
    evaluations = list(
        Evaluation.objects.filter(tune=tune).order_by("-as_of").select_related("policy")[:60]
    )
    latest = evaluations[0] if evaluations else None
    figures = latest.figures if latest else {}
    changes = list(ChangeLogEntry.objects.filter(tune=tune).order_by("-day", "-id"))
    flags = list(
        Flag.objects.filter(tune=tune)
        .select_related("acknowledged_by", "snoozed_by", "opened_by")
        .order_by("resolved_on", "-opened_on")[:20]
    )
    history = []  # verdict changes, newest first
    for newer, older in zip(evaluations, [*evaluations[1:], None], strict=True):
        if older is None or older.verdict != newer.verdict:
            history.append(newer)
    context = {
        "tune": tune,
        "latest": latest,
        "figures": figures,
        "evaluations": evaluations,
        "verdict_history": history,
        "changes": changes,
        "flags": flags,
        "open_flags": [f for f in flags if f.resolved_on is None],
        "retrain_by": retrain_by(status=tune.status, shutdown_on=tune.base_model.shutdown_on),
        "break_even": None,
        "usage": None,
        "options": None,
    }
    if tune.status == FineTune.Status.DEPLOYED and tune.deployed_on:
        policy = engine_policy(current_policy())
        inputs = portfolio_inputs(today, policy, [tune.pk], usage_since=tune.deployed_on)
        daily = decision.daily_savings(inputs, today)
        daily = daily[daily["tune_id"] == tune.pk]
        trainings = _trainings(tune, changes, figures)
        context["break_even"] = break_even_chart(tune, daily, trainings, figures, today)
        context["usage"] = usage_chart(daily[daily["day"] >= pd.Timestamp(tune.deployed_on)])
        if latest and (
            context["open_flags"] or latest.verdict in (Verdict.RETRAIN, Verdict.RETIRE)
        ):
            context["options"] = retrain_or_retire(tune, today, inputs=inputs, figures=figures)
    return context


# --- What-if ---


@dataclass(frozen=True)
class WhatIf:
    """Changes to try on one tune; ``None`` keeps what the tune has."""

    monthly_queries: float | None = None
    alternative_input_price: float | None = None
    alternative_output_price: float | None = None
    tune_input_price: float | None = None
    tune_output_price: float | None = None
    extra_prompt_tokens: float | None = None
    retrain_cost: float | None = None
    change_rate_per_quarter: float | None = None


#: Prices set in a what-if apply to every day the figures use.
WHAT_IF_PRICE_FROM = pd.Timestamp(2000, 1, 1)


def _outcome(result: decision.TuneResult) -> dict:
    f = result.figures
    return {
        "verdict": str(result.verdict),
        "verdict_label": Verdict(str(result.verdict)).label,
        "reason": result.reason,
        "monthly_net_saving": _number(f.get("monthly_net_saving")),
        "payback_months": _number(f.get("payback_months")),
        "never_pays_back": f.get("payback_months") == math.inf
        or (_number(f.get("monthly_net_saving")) or 0) <= 0,
        "expected_stable_lifetime_months": _number(f.get("expected_stable_lifetime_months")),
        "break_even_on": json_safe(f.get("break_even_on")),
        "monthly_queries": _number(f.get("monthly_queries")),
        "alternative_cost_per_query": _number(f.get("alternative_cost_per_query")),
        "tune_cost_per_query": _number(f.get("tune_cost_per_query")),
    }


def _prices_in_force(prices: pd.DataFrame, key: str, owner, today: date) -> tuple | None:
    rows = prices[(prices[key] == owner) & (prices["effective_from"] <= pd.Timestamp(today))]
    if rows.empty:
        return None
    last = rows.sort_values("effective_from").iloc[-1]
    return float(last["input_per_mtok"]), float(last["output_per_mtok"])


def what_if_defaults(tune: FineTune, today: date) -> dict:
    """The values the what-if form starts from: the tune's own, as the engine sees them."""
    policy = engine_policy(current_policy())
    inputs = portfolio_inputs(today, policy, [tune.pk])
    figures = decision.compute_figures(inputs, policy, today)
    row = figures.loc[tune.pk] if tune.pk in figures.index else None
    alt = (
        _prices_in_force(inputs.model_prices, "model_id", tune.alternative_id, today)
        if tune.alternative_id
        else None
    )
    own = _prices_in_force(inputs.tune_prices, "tune_id", tune.pk, today) or _prices_in_force(
        inputs.model_prices, "model_id", tune.base_model_id, today
    )
    return {
        "monthly_queries": None if row is None else _number(row["monthly_queries"]),
        "alternative_input_price": alt[0] if alt else None,
        "alternative_output_price": alt[1] if alt else None,
        "tune_input_price": own[0] if own else None,
        "tune_output_price": own[1] if own else None,
        "extra_prompt_tokens": float(tune.extra_prompt_tokens),
        "retrain_cost": float(tune.retrain_cost),
        "change_rate_per_quarter": None if row is None else _number(row["change_rate_per_quarter"]),
    }


def _apply(inputs: decision.Portfolio, tune_id: int, change: WhatIf, today: date, current: dict):
    tunes = inputs.tunes.copy()
    usage = inputs.usage.copy()
    changes = inputs.changes.copy()
    models = inputs.models.copy()
    model_prices = inputs.model_prices.copy()
    tune_prices = inputs.tune_prices.copy()
    if change.monthly_queries is not None:
        if tunes.at[tune_id, "status"] == "proposed":
            tunes.at[tune_id, "expected_monthly_queries"] = change.monthly_queries
        else:
            now = current.get("monthly_queries") or 0.0
            if now <= 0:
                raise ValueError("monthly_queries: the tune has no recent usage to scale.")
            factor = change.monthly_queries / now
            mine = usage["tune_id"] == tune_id
            for column in ("queries", "input_tokens", "output_tokens"):
                usage.loc[mine, column] = usage.loc[mine, column] * factor
    if change.alternative_input_price is not None or change.alternative_output_price is not None:
        # A model of its own, so a base model that is also the alternative keeps its price.
        new_id = int(models.index.max()) + 1 if len(models) else 1
        old_id = tunes.at[tune_id, "alternative_model_id"]
        # pandas-stubs: DataFrame.at's scalars are more than notna takes.
        models.loc[new_id] = models.loc[old_id] if pd.notna(old_id) else pd.NA  # type: ignore[arg-type]
        before = _prices_in_force(inputs.model_prices, "model_id", old_id, today) or (None, None)
        row = {
            "model_id": new_id,
            "effective_from": WHAT_IF_PRICE_FROM,
            "input_per_mtok": _pick(change.alternative_input_price, before[0]),
            "output_per_mtok": _pick(change.alternative_output_price, before[1]),
        }
        model_prices = pd.concat([model_prices, pd.DataFrame([row])], ignore_index=True)
        tunes["alternative_model_id"] = tunes["alternative_model_id"].astype("Int64")
        tunes.at[tune_id, "alternative_model_id"] = new_id
    if change.tune_input_price is not None or change.tune_output_price is not None:
        row = {
            "tune_id": tune_id,
            "effective_from": WHAT_IF_PRICE_FROM,
            "input_per_mtok": _pick(change.tune_input_price, current.get("tune_input_price")),
            "output_per_mtok": _pick(change.tune_output_price, current.get("tune_output_price")),
        }
        tune_prices = pd.concat(
            [tune_prices[tune_prices["tune_id"] != tune_id], pd.DataFrame([row])],
            ignore_index=True,
        )
    if change.extra_prompt_tokens is not None:
        tunes.at[tune_id, "extra_prompt_tokens"] = change.extra_prompt_tokens
    if change.retrain_cost is not None:
        tunes.at[tune_id, "retrain_cost"] = change.retrain_cost
    if change.change_rate_per_quarter is not None:
        changes = _with_change_rate(changes, tune_id, change.change_rate_per_quarter, today)
    return replace(
        inputs,
        tunes=tunes,
        usage=usage,
        changes=changes,
        models=models,
        model_prices=model_prices,
        tune_prices=tune_prices,
    )


def _pick(new: float | None, old: float | None) -> float:
    value = new if new is not None else old
    return float("nan") if value is None else float(value)


def _with_change_rate(changes: pd.DataFrame, tune_id: int, rate: float, today: date):
    """The tune's meaningful task changes of the last 365 days replaced by ``rate`` a quarter,
    spread evenly over the year: the engine's change rate is that count ÷ 4."""
    day = pd.Timestamp(today)
    year_ago = day - pd.Timedelta(days=365)
    task = changes["kind"].isin(["task_spec", "new_category", "business_rule"])
    recent = (changes["tune_id"] == tune_id) & task & (changes["day"] > year_ago)
    kept = changes[~recent]
    count = round(rate * 4)
    spacing = 365 / count if count else 0
    added = pd.DataFrame(
        {
            "tune_id": [tune_id] * count,
            "day": [
                year_ago + pd.Timedelta(days=math.ceil(spacing * (i + 1))) for i in range(count)
            ],
            "kind": ["task_spec"] * count,
            "meaningful": [True] * count,
            "cost": [float("nan")] * count,
        }
    )
    return pd.concat([kept, added], ignore_index=True) if count else kept


def what_if(tune: FineTune, today: date, change: WhatIf) -> dict:
    """The tune's verdict, payback and lifetime now and with ``change``, both from the same
    engine run on the same inputs; nothing is saved."""
    policy = engine_policy(current_policy())
    inputs = portfolio_inputs(today, policy, [tune.pk])
    current = what_if_defaults(tune, today)
    before = decision.evaluate(inputs, policy, today)
    after = decision.evaluate(_apply(inputs, tune.pk, change, today, current), policy, today)
    return {"now": _outcome(before[0]), "what_if": _outcome(after[0])}


# --- Retrain versus retire -----------------------------------------------------------------------


def retrain_or_retire(tune: FineTune, today: date, *, inputs=None, figures=None) -> dict | None:
    """Retraining on the successor base model (cost, new payback, new lifetime) beside going back
    to prompting (the monthly cost difference), and which the numbers favour."""
    policy = engine_policy(current_policy())
    inputs = inputs if inputs is not None else portfolio_inputs(today, policy, [tune.pk])
    figures = figures or {}
    base = tune.base_model
    target = base.successor or base
    tunes = inputs.tunes.copy()
    tunes["base_model_id"] = tunes["base_model_id"].astype("Int64")
    tunes.at[tune.pk, "base_model_id"] = target.pk
    tunes.at[tune.pk, "last_trained_on"] = pd.Timestamp(today)
    model_prices = inputs.model_prices.copy()
    theirs = model_prices["model_id"] == target.pk
    if theirs.any():  # the successor's first price stands for the days before it was released
        first = model_prices[theirs]["effective_from"].idxmin()
        model_prices.loc[first, "effective_from"] = WHAT_IF_PRICE_FROM
    retraining = pd.DataFrame(
        {
            "tune_id": [tune.pk],
            "day": [pd.Timestamp(today)],
            "kind": ["retraining"],
            "meaningful": [False],
            "cost": [float(tune.retrain_cost)],
        }
    )
    scenario = replace(
        inputs,
        tunes=tunes,
        changes=pd.concat([inputs.changes, retraining], ignore_index=True),
        model_prices=model_prices,
        tune_prices=inputs.tune_prices[inputs.tune_prices["tune_id"] != tune.pk],
    )
    result = decision.compute_figures(scenario, policy, today)
    if tune.pk not in result.index:
        return None
    row = result.loc[tune.pk]
    saving = _number(row["monthly_net_saving"])
    payback = _number(row["payback_months"])
    lifetime = _number(row["expected_stable_lifetime_months"])
    queries = _number(figures.get("monthly_queries"))
    alt = _number(figures.get("alternative_cost_per_query"))
    own = _number(figures.get("tune_cost_per_query"))
    prompting = queries * alt if queries is not None and alt is not None else None
    keeping = (
        queries * own + float(tune.monthly_fixed_cost)
        if queries is not None and own is not None
        else None
    )
    pays_back = saving is not None and saving > 0
    pays_back = pays_back and payback is not None and lifetime is not None and payback <= lifetime
    return {
        "successor": target,
        "same_base": target.pk == base.pk,
        "retrain_cost": float(tune.retrain_cost),
        "retrain_monthly_net_saving": saving,
        "retrain_payback_months": payback,
        "retrain_lifetime_months": lifetime,
        "prompting_monthly_cost": prompting,
        "tune_monthly_cost": keeping,
        "monthly_difference": (
            None if prompting is None or keeping is None else prompting - keeping
        ),
        "favours": "retrain" if pays_back else "retire",
    }
