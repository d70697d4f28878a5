"""Realised net saving per deployed tune and calendar month: computed by the engine for the
nightly refresh (``services.savings``), and read back from the stored rows by the overview
with SQL sums, so a page never prices the whole portfolio's history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

import numpy as np
import pandas as pd
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Abs

import decision
from decision import DAYS_PER_MONTH
from tracker.models import FineTune, TuneMonthSaving

from .portfolio import current_policy, engine_policy, savings_inputs

TeamIds = Collection[int] | None
COLUMNS = ["tune_id", "month", "net_saving"]


def _deployed(as_of: date) -> Q:
    return Q(status=FineTune.Status.DEPLOYED, deployed_on__lte=as_of)


def savings_tune_ids(as_of: date, tune_ids: Iterable[int] | None = None) -> list[int]:
    """Tunes whose stored savings a refresh as of ``as_of`` rewrites, by id: the deployed ones
    and any that still have rows (those lose them); only among ``tune_ids`` when given."""
    stored = TuneMonthSaving.objects.filter(tune=OuterRef("pk"))
    tunes = FineTune.objects.filter(_deployed(as_of) | Q(Exists(stored)))
    if tune_ids is not None:
        tunes = tunes.filter(pk__in=sorted({int(i) for i in tune_ids}))
    return list(tunes.order_by("pk").values_list("pk", flat=True))


def _fixed_cost_days(tunes: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Per tune and month: days deployed in that month between ``start`` and ``end`` (every
    tune against every month at once; months before a tune's deployment drop out)."""
    deployed = tunes["deployed_on"].dropna()
    months = pd.period_range(start, end, freq="M")
    if deployed.empty or months.empty:
        return pd.DataFrame({"tune_id": [], "month": [], "days": []})
    first_day = months.start_time.to_numpy()  # every month against every tune, as arrays
    last_day = months.end_time.normalize().to_numpy()
    since = np.maximum(deployed.to_numpy()[:, None], np.datetime64(start, "ns"))
    days = (
        np.minimum(last_day, np.datetime64(end, "ns")) - np.maximum(first_day, since)
    ) // np.timedelta64(1, "D") + 1
    tune_index, month_index = np.nonzero(days > 0)
    return pd.DataFrame(
        {
            "tune_id": deployed.index.to_numpy()[tune_index],
            "month": months[month_index],
            "days": days[tune_index, month_index],
        }
    )


def realised_monthly_savings(tune_ids: Iterable[int], as_of: date) -> pd.DataFrame:
    """Realised net saving per deployed tune (of ``tune_ids``) and calendar month, from each
    tune's deployment up to ``as_of``: every day's queries priced as the engine prices them
    (``decision.daily_savings``; summed into spans of one price by the server on PostgreSQL,
    ``portfolio.savings_inputs``), less the fixed cost of the days deployed. Columns: tune_id,
    month (Period), net_saving. A fixed number of queries."""
    deployed = dict(
        FineTune.objects.filter(_deployed(as_of), pk__in=list(tune_ids)).values_list(
            "pk", "deployed_on"
        )
    )
    if not deployed:
        return pd.DataFrame(columns=COLUMNS)
    ids = list(deployed)
    policy = engine_policy(current_policy())
    first = min(day for day in deployed.values() if day is not None)  # filtered: never None
    inputs = savings_inputs(as_of, policy, ids, first)
    daily = decision.daily_savings(inputs, as_of)
    tunes = inputs.tunes
    daily = daily[daily["day"] >= daily["tune_id"].map(tunes["deployed_on"])]
    daily = daily.assign(month=daily["day"].dt.to_period("M"))
    variable = daily.groupby(["tune_id", "month"])["net_saving"].sum(min_count=1)
    days = _fixed_cost_days(tunes, first, as_of).set_index(["tune_id", "month"])["days"]
    fixed = days * days.index.get_level_values("tune_id").map(
        tunes["monthly_fixed_cost"] / DAYS_PER_MONTH  # type: ignore[arg-type]  # a Series maps
    )
    months = days.index.union(variable.index)
    net = variable.reindex(months).fillna(0.0) - fixed.reindex(months).fillna(0.0)
    return net.rename("net_saving").reset_index()[COLUMNS]


# --- The stored rows, as the overview reads them ---------------------------------------------


def stored_savings(team_ids: TeamIds) -> QuerySet[TuneMonthSaving]:
    """The stored months of the caller's tunes that are deployed now."""
    rows = TuneMonthSaving.objects.filter(tune__status=FineTune.Status.DEPLOYED)
    return rows if team_ids is None else rows.filter(tune__team_id__in=list(team_ids))


def savings_totals(team_ids: TeamIds, month: date) -> dict:
    """Realised to date, in ``month`` (its first day), and when the rows were computed (the
    latest refresh; ``None`` before the first), in one query."""
    totals = stored_savings(team_ids).aggregate(
        to_date=Sum("net_saving"),
        this_month=Sum("net_saving", filter=Q(month=month)),
        as_of=Max("as_of"),
        computed_at=Max("computed_at"),
    )
    return {
        "to_date": float(totals["to_date"] or 0.0),
        "this_month": float(totals["this_month"] or 0.0),
        "as_of": totals["as_of"],
        "computed_at": totals["computed_at"],
    }


def chart_rows(
    team_ids: TeamIds, months: list[date], top: int
) -> tuple[dict[date, float], list[tuple[int, str, dict[date, float]]], int]:
    """For the months given (first days): the total per month; the ``top`` tunes by the sum of
    their months' absolute savings, each with its months; and how many tunes have a row in
    them. Four queries, whatever the portfolio's size."""
    rows = stored_savings(team_ids).filter(month__gte=months[0], month__lte=months[-1])
    totals = dict(
        rows.order_by().values("month").annotate(s=Sum("net_saving")).values_list("month", "s")
    )
    leaders = list(
        rows.order_by()
        .values("tune_id", "tune__name")
        .annotate(size=Sum(Abs("net_saving")))
        .order_by("-size", "tune__name", "tune_id")
        .values_list("tune_id", "tune__name")[:top]
    )
    tunes = rows.order_by().aggregate(n=Count("tune_id", distinct=True))["n"]
    by_tune: dict[int, dict[date, float]] = {tune_id: {} for tune_id, _ in leaders}
    for tune_id, month, saving in rows.filter(tune_id__in=list(by_tune)).values_list(
        "tune_id", "month", "net_saving"
    ):
        by_tune[tune_id][month] = saving
    return (
        {m: float(v) for m, v in totals.items()},
        [(tune_id, name, by_tune[tune_id]) for tune_id, name in leaders],
        tunes,
    )
