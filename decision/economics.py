"""Condition 2's money side: volume, cost per query, net saving, payback and recovery.

Everything works on whole columns: usage is priced row by row at the effective-dated price
tables' price on its day (one binary search per row), then summed per tune with ``groupby``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import DAYS_PER_MONTH, SPAN_COLUMNS, Portfolio, lookup

TOKENS_PER_PRICE_UNIT = 1_000_000.0  # prices are per million tokens
ONE_DAY = pd.Timedelta(days=1)
MAX_PROJECTION_DAYS = 100 * 365  # a break-even a century out is reported as never
_PRICE = ["input_per_mtok", "output_per_mtok"]
_USAGE = ["queries", "input_tokens", "output_tokens"]
_BILLED_SUMS = ["billed_input_tokens", "billed_output_tokens", "estimated_queries"]
#: Running totals this close to the training cost are checked day by day, not from a span's bound.
_BOUND_MARGIN = 1e-6


def tidy(values: pd.Series, digits: int) -> pd.Series:
    """Round away float noise so that figures sitting exactly on a threshold compare as equal
    (0.85 - 0.80 must be a 0.05 gap, not 0.04999999999999993)."""
    return values.round(digits)


def usage_spans(
    usage: pd.DataFrame, spans: pd.DataFrame, tune_ids: pd.Index, as_of: pd.Timestamp
) -> pd.DataFrame:
    """All usage up to ``as_of`` as spans (``inputs.SPAN_COLUMNS``), one row per tune and first
    day, sorted: each day of ``usage`` becomes a one-day span (its sources summed) beside the
    given ``spans``. Only the rows a source billed count towards the billed tokens."""
    rows = usage[usage["tune_id"].isin(tune_ids) & (usage["day"] <= as_of)]
    given = spans[spans["tune_id"].isin(tune_ids) & (spans["day"] <= as_of)]
    if rows.empty and not given.empty:  # usage read as spans only: nothing to sum by day
        given = given.loc[:, list(SPAN_COLUMNS)]
        return given.sort_values(["tune_id", "day"], kind="mergesort").reset_index(drop=True)
    daily = _day_sums(rows)
    queries, tokens = daily["queries"].to_numpy(), daily[_USAGE].to_numpy()
    days = daily["day"].to_numpy()
    used = np.where(queries > 0, days, np.datetime64("NaT"))
    priced = np.where((tokens > 0).any(axis=1), days, np.datetime64("NaT"))
    daily = daily.assign(
        last_day=days, used_from=used, used_until=used, priced_from=priced, priced_until=priced
    )
    if given.empty:
        return daily.loc[:, list(SPAN_COLUMNS)]
    both = pd.concat([daily.loc[:, list(SPAN_COLUMNS)], given.loc[:, list(SPAN_COLUMNS)]])
    return both.sort_values(["tune_id", "day"], kind="mergesort").reset_index(drop=True)


def _day_sums(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage rows summed per tune and day (sources together), sorted; only the rows a source
    billed count towards the billed tokens."""
    billed = rows["billed_cost"].notna().to_numpy()
    columns = {
        "tune_id": rows["tune_id"].to_numpy("int64"),
        "day": rows["day"].to_numpy("datetime64[ns]"),
        **{name: rows[name].to_numpy("float64") for name in [*_USAGE, *_BILLED_SUMS]},
        "billed_cost": rows["billed_cost"].to_numpy("float64"),
    }
    for name in ("billed_input_tokens", "billed_output_tokens"):
        columns[name] = np.where(billed, columns[name], 0.0)
    tune, day = columns["tune_id"], columns["day"]
    if ((tune[1:] > tune[:-1]) | ((tune[1:] == tune[:-1]) & (day[1:] > day[:-1]))).all():
        # Already one row per tune and day, in order (a single source's): each row is its own
        # sum (+ 0.0 as a sum gives it: -0.0 becomes 0.0).
        return pd.DataFrame(
            {name: v if name in ("tune_id", "day") else v + 0.0 for name, v in columns.items()}
        )
    grouped = pd.DataFrame(columns).groupby(["tune_id", "day"], as_index=False, sort=True)
    daily = grouped[[*_USAGE, *_BILLED_SUMS]].sum()
    daily["billed_cost"] = grouped["billed_cost"].sum(min_count=1)["billed_cost"]
    return daily


def price_on(prices: pd.DataFrame, key: str, keys: pd.Series, days: pd.Series) -> pd.DataFrame:
    """The price row effective on each day: the latest ``effective_from`` on or before it.

    ``keys`` and ``days`` are aligned Series (one lookup per position). Returns input and output
    price per million tokens aligned to ``keys.index``; NaN where no price was in force. Of two
    rows for the same key and day, the later one holds (``normalise`` fixes their order).
    """
    found = _prices_on(prices, key, _id_array(keys), days.to_numpy(dtype="datetime64[ns]"))
    return pd.DataFrame(found, index=keys.index, columns=_PRICE)


def _id_array(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Ids as whole numbers (0 where missing), and which are known."""
    return values.to_numpy(dtype="int64", na_value=0), values.notna().to_numpy()


def _prices_on(
    prices: pd.DataFrame, key: str, ids: tuple[np.ndarray, np.ndarray], days: np.ndarray
) -> np.ndarray:
    """:func:`price_on` as an array (input and output price per row), for keys as
    :func:`_id_array` gives them and ``datetime64[ns]`` days."""
    keys, known_keys = ids
    out = np.full((len(keys), len(_PRICE)), np.nan)
    values = prices[_PRICE].to_numpy(dtype="float64")
    priced = ~np.isnan(values).all(axis=1)
    wanted = known_keys & ~np.isnat(days)
    if not priced.any() or not wanted.any():
        return out
    # Every price row and every lookup as one number ordered by key, then day: one stable sort
    # of the (small) price table and one binary search per lookup, where an as-of join would
    # sort the lookups too.
    values = values[priced]
    table_keys = prices[key].to_numpy(dtype="int64")[priced]
    wanted_keys = keys[wanted]
    known = np.unique(table_keys)
    effective_from = prices["effective_from"].to_numpy(dtype="datetime64[ns]")[priced]
    table_at = _key_day(np.searchsorted(known, table_keys), effective_from)
    order = np.argsort(table_at, kind="stable")
    table_at = table_at[order]
    code = np.searchsorted(known, wanted_keys).clip(max=len(known) - 1)
    found = np.searchsorted(table_at, _key_day(code, days[wanted]), side="right") - 1
    same_key = (found >= 0) & (known[code] == wanted_keys)
    same_key[same_key] = table_at[found[same_key]] >> _DAY_BITS == code[same_key]
    rows = np.flatnonzero(wanted)[same_key]
    out[rows] = values[order][found[same_key]]
    return out


#: A day as a number fits in 20 bits: about ±1,400 years from 1970 (``normalise``'s
#: ``datetime64[ns]`` days span ±292).
_DAY_BITS = 20


def _key_day(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Key codes and days as single sortable numbers: the code, then the day."""
    since_1970 = days.astype("datetime64[D]").astype("int64")
    at: np.ndarray = (codes.astype("int64") << _DAY_BITS) + since_1970 + (1 << (_DAY_BITS - 1))
    return at


def price_usage(daily: pd.DataFrame, tunes: pd.DataFrame, portfolio: Portfolio) -> pd.DataFrame:
    """Each span's cost on both sides at the prices of its first day (one price holds on all of
    a span's days; a one-day span is a day).

    The alternative pays for (input tokens + its extra prompt tokens per query) and output tokens
    at the alternative model's price; the tune pays its own serving price, or its base model's on
    days it has none. A span that needs a price and has none is flagged, never guessed.
    ``net_never_negative`` says whether each single day's net saving is ≥ 0 whatever its usage
    (the alternative is dearer per token on both sides), which bounds the running total inside.
    """
    tune_ids = daily["tune_id"]
    days = daily["day"].to_numpy()
    extra = lookup(tunes["extra_prompt_tokens"], tune_ids).to_numpy(dtype="float64")
    alt_model = _id_array(lookup(tunes["alternative_model_id"], tune_ids))
    base_model = _id_array(lookup(tunes["base_model_id"], tune_ids))
    alt = _prices_on(portfolio.model_prices, "model_id", alt_model, days)
    own = _prices_on(portfolio.tune_prices, "tune_id", _id_array(tune_ids), days)
    base = _prices_on(portfolio.model_prices, "model_id", base_model, days)
    tune_price = np.where(~np.isnan(own).any(axis=1, keepdims=True), own, base)

    # Whole columns as arrays: the same arithmetic, without a Series' bookkeeping per step.
    queries, input_tokens, output_tokens = (
        daily[name].to_numpy(dtype="float64") for name in _USAGE
    )
    needs_price = daily["priced_from"].notna().to_numpy()
    alternative_cost = (
        (input_tokens + extra * queries) * alt[:, 0] + output_tokens * alt[:, 1]
    ) / TOKENS_PER_PRICE_UNIT
    tune_cost = (
        input_tokens * tune_price[:, 0] + output_tokens * tune_price[:, 1]
    ) / TOKENS_PER_PRICE_UNIT
    return daily.assign(
        # A day with nothing to price costs nothing on either side.
        alternative_cost=np.where(needs_price, alternative_cost, 0.0),
        tune_cost=np.where(needs_price, tune_cost, 0.0),
        alternative_missing=needs_price & np.isnan(alternative_cost),
        tune_missing=needs_price & np.isnan(tune_cost),
        net_never_negative=(extra * alt[:, 0] >= 0)
        & (alt[:, 0] >= tune_price[:, 0])
        & (alt[:, 1] >= tune_price[:, 1]),
    )


def usage_days(daily: pd.DataFrame, tune_ids: pd.Index) -> pd.DataFrame:
    """First and last day with queries, per tune (NaT when none yet)."""
    grouped = daily.groupby("tune_id")
    return pd.DataFrame(
        {
            "first_usage_on": grouped["used_from"].min().reindex(tune_ids),
            "last_usage_on": grouped["used_until"].max().reindex(tune_ids),
        },
        index=tune_ids,
    ).astype("datetime64[ns]")


def sums_from(priced: pd.DataFrame, start: pd.Series, tune_ids: pd.Index) -> pd.DataFrame:
    """Per-tune sums of priced usage from each tune's ``start`` day (inclusive) onwards.

    Days without a price are counted one per row: a span with a missing price and more than one
    day to price is read day by day (:func:`spans_to_split`)."""
    rows = priced[priced["day"] >= lookup(start, priced["tune_id"])]
    grouped = rows.groupby("tune_id")
    sums = grouped[[*_USAGE, "alternative_cost", "tune_cost"]].sum()
    sums["alternative_missing_days"] = grouped["alternative_missing"].sum()
    sums["tune_missing_days"] = grouped["tune_missing"].sum()
    missing = rows[rows["alternative_missing"] | rows["tune_missing"]].groupby("tune_id")
    sums["first_missing_price_on"] = missing["priced_from"].min()
    sums["last_missing_price_on"] = missing["priced_until"].max()
    sums = sums.reindex(tune_ids)
    counts = [*_USAGE, "alternative_cost", "tune_cost", "alternative_missing_days"]
    sums[[*counts, "tune_missing_days"]] = sums[[*counts, "tune_missing_days"]].fillna(0.0)
    return sums


def spans_to_split(priced: pd.DataFrame, tunes: pd.DataFrame) -> pd.DataFrame:
    """Spans whose single days a price gap needs: a tune with a gap that counts (on its own
    side, or on the alternative's when it has one) has every span with a gap and more than one
    day to price read day by day, so the gap's days are counted exactly."""
    has_alternative = lookup(tunes["alternative_model_id"], priced["tune_id"]).notna()
    gap = priced["tune_missing"] | (priced["alternative_missing"] & has_alternative.to_numpy())
    gap_tunes = priced.loc[gap, "tune_id"].unique()
    several = priced["priced_from"] < priced["priced_until"]
    missing = priced["alternative_missing"] | priced["tune_missing"]
    split = priced["tune_id"].isin(gap_tunes) & several & missing
    return priced.loc[split, ["tune_id", "day", "last_day"]]


def lookback_window(
    first_usage_on: pd.Series, as_of: pd.Timestamp, lookback_days: int
) -> pd.DataFrame:
    """The volume window: the ``lookback_days`` complete days before ``as_of`` (the as-of day
    itself is usually still in progress, so it would understate the volume). The window starts no
    earlier than the tune's first usage day, so a young tune is not diluted by days before it
    existed. Days inside the window without a record count as zero. A tune whose first usage is
    on the as-of day has no complete day yet: its window is empty (start NaT, 0 days)."""
    earliest = as_of - pd.Timedelta(days=lookback_days)
    start = first_usage_on.where(first_usage_on > earliest, earliest)
    start = start.where(first_usage_on.notna() & (start < as_of))
    days = ((as_of - start).dt.days).astype("float64").fillna(0.0)
    return pd.DataFrame({"lookback_start": start, "lookback_days": days})


def window_volume(window: pd.DataFrame, sums: pd.DataFrame) -> pd.DataFrame:
    """Monthly volume and average tokens per query over the window, plus each side's cost per
    query at each day's own price (the past pricing, kept to report how far prices moved)."""
    queries = sums["queries"]
    per_query = queries.where(queries > 0)
    alt_known = sums["alternative_missing_days"] == 0
    tune_known = sums["tune_missing_days"] == 0
    return pd.DataFrame(
        {
            "monthly_queries": queries
            / window["lookback_days"].where(window["lookback_days"] > 0)
            * DAYS_PER_MONTH,
            "input_tokens_per_query": sums["input_tokens"] / per_query,
            "output_tokens_per_query": sums["output_tokens"] / per_query,
            "past_alternative_cost_per_query": (sums["alternative_cost"] / per_query).where(
                alt_known
            ),
            "past_tune_cost_per_query": (sums["tune_cost"] / per_query).where(tune_known),
        }
    )


def costs_at_todays_prices(
    tunes: pd.DataFrame,
    input_tokens_per_query: pd.Series,
    output_tokens_per_query: pd.Series,
    portfolio: Portfolio,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Each side's cost per query for the given tokens per query, at the prices in force on
    ``as_of``: verdicts are about the future, so today's volume is priced at today's prices."""
    on = np.full(len(tunes), as_of.to_datetime64(), dtype="datetime64[ns]")
    alt = _prices_on(
        portfolio.model_prices, "model_id", _id_array(tunes["alternative_model_id"]), on
    )
    own = _prices_on(portfolio.tune_prices, "tune_id", _id_array(tunes.index.to_series()), on)
    base = _prices_on(portfolio.model_prices, "model_id", _id_array(tunes["base_model_id"]), on)
    tune_price = np.where(~np.isnan(own).any(axis=1, keepdims=True), own, base)
    inp = input_tokens_per_query.reindex(tunes.index).to_numpy(dtype="float64")
    out = output_tokens_per_query.reindex(tunes.index).to_numpy(dtype="float64")
    extra = tunes["extra_prompt_tokens"].to_numpy(dtype="float64")
    return pd.DataFrame(
        {
            "alternative_cost_per_query": ((inp + extra) * alt[:, 0] + out * alt[:, 1])
            / TOKENS_PER_PRICE_UNIT,
            "tune_cost_per_query": (inp * tune_price[:, 0] + out * tune_price[:, 1])
            / TOKENS_PER_PRICE_UNIT,
            "alternative_price_missing": np.isnan(alt).any(axis=1),
            "tune_price_missing": np.isnan(tune_price).any(axis=1),
        },
        index=tunes.index,
    )


def monthly_net_saving(
    monthly_queries: pd.Series,
    alternative_cost_per_query: pd.Series,
    tune_cost_per_query: pd.Series,
    monthly_fixed_cost: pd.Series,
) -> pd.Series:
    """volume × (alternative − tune cost per query) − fixed cost. With no queries at all the
    per-query side is zero whatever the prices, so only the fixed cost remains."""
    variable = monthly_queries * (alternative_cost_per_query - tune_cost_per_query)
    variable = variable.mask(monthly_queries == 0, 0.0)
    return tidy(variable - monthly_fixed_cost, 6)


def payback_months(cost: pd.Series, saving: pd.Series) -> pd.Series:
    """cost ÷ monthly net saving; infinite when the saving is ≤ 0; NaN when either is unknown."""
    months = (cost / saving.where(saving > 0)).where(saving > 0, np.inf)
    return tidy(months.where(saving.notna() & cost.notna()), 9)


def recovery(
    priced: pd.DataFrame,
    last_trained_on: pd.Series,
    training_cost: pd.Series,
    monthly_fixed_cost: pd.Series,
    saving: pd.Series,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cumulative net saving since the last training, recovery and the break-even day, and the
    spans whose single days the break-even day needs (``tune_id``, ``day``, ``last_day``).

    The cumulative figure uses the actual daily usage at each day's prices, minus the fixed cost
    for every day since training. The break-even day is the first day from which the running
    total stayed at or above the training cost; if not recovered yet it is projected at the
    current monthly net saving, and stays empty ("never") when that saving is ≤ 0.
    """
    tune_ids = last_trained_on.index
    fixed_per_day = monthly_fixed_cost / DAYS_PER_MONTH
    since = priced[(priced["day"] >= lookup(last_trained_on, priced["tune_id"])).to_numpy()]
    net = since["alternative_cost"] - since["tune_cost"]
    per_tune = net.groupby(since["tune_id"].to_numpy())
    missing = per_tune.count() < per_tune.size()
    missing = missing.reindex(tune_ids, fill_value=False).astype(bool)
    total = per_tune.sum().reindex(tune_ids, fill_value=0.0)
    days = ((as_of - last_trained_on).dt.days + 1).astype("float64")
    cumulative = tidy(total - fixed_per_day * days, 6).where(~missing & days.notna())

    known = cumulative.notna() & training_cost.notna()
    recovered = pd.Series(pd.NA, index=tune_ids, dtype="boolean")
    recovered[known] = (cumulative >= training_cost)[known]
    done = recovered.fillna(False).astype(bool)

    rows = since.assign(net=net)[lookup(done, since["tune_id"]).to_numpy()]
    steps = _stretches(rows, last_trained_on[done])
    to_split, reached_on = _break_even(steps, last_trained_on, fixed_per_day, training_cost, as_of)

    to_go = (training_cost - cumulative).clip(lower=0.0)
    days_to_go = (to_go / (saving / DAYS_PER_MONTH).where(saving > 0)).apply(np.ceil)
    days_to_go = days_to_go.where(days_to_go <= MAX_PROJECTION_DAYS)  # beyond that: "never"
    projected = as_of + pd.to_timedelta(days_to_go, unit="D")
    break_even_on = reached_on.where(done, projected.where(~done & known))
    figures = pd.DataFrame(
        {
            "cumulative_net_saving": cumulative,
            "recovered": recovered,
            "break_even_on": break_even_on.astype("datetime64[ns]"),
            "unrecovered_cost": tidy(to_go, 6),
        }
    )
    return figures, to_split


def _stretches(rows: pd.DataFrame, trained: pd.Series) -> dict[str, np.ndarray]:
    """The priced rows of tunes trained on ``trained`` (by tune id), sorted by tune and day and
    none before the training, as arrays (``tune_id``, ``day``, ``last_day``, ``net``,
    ``net_never_negative``), with a zero row on each training day, merged into the row on that
    day if there is one: a tune's first stretch starts on its training day."""
    if rows.duplicated(["tune_id", "day"]).any():  # days given twice: summed, one step each
        rows = rows.groupby(["tune_id", "day"], as_index=False, sort=True).agg(
            net=("net", "sum"),
            last_day=("last_day", "max"),
            net_never_negative=("net_never_negative", "min"),
        )
    starts = len(trained)
    tune = np.concatenate([trained.index.to_numpy("int64"), rows["tune_id"].to_numpy("int64")])
    day = np.concatenate(
        [trained.to_numpy("datetime64[ns]"), rows["day"].to_numpy("datetime64[ns]")]
    )
    last_day = np.concatenate([day[:starts], rows["last_day"].to_numpy("datetime64[ns]")])
    # + 0.0 as a sum with the zero row gives it (-0.0 becomes 0.0).
    net = np.concatenate([np.zeros(starts), rows["net"].to_numpy("float64") + 0.0])
    never_negative = np.concatenate(
        [np.ones(starts, dtype=bool), rows["net_never_negative"].to_numpy(dtype=bool)]
    )
    # Sorted by tune and day, a zero row just before the row it merges into (which keeps its
    # own net, last day and bound), then dropped.
    is_row = np.arange(len(tune)) >= starts
    order = np.lexsort((is_row, day, tune))
    tune, day = tune[order], day[order]
    keep = np.ones(len(tune), dtype=bool)
    keep[:-1] = (tune[1:] != tune[:-1]) | (day[1:] != day[:-1])
    kept = order[keep]
    return {
        "tune_id": tune[keep],
        "day": day[keep],
        "last_day": last_day[kept],
        "net": net[kept],
        "net_never_negative": never_negative[kept],
    }


def _break_even(
    steps: dict[str, np.ndarray],
    last_trained_on: pd.Series,
    fixed_per_day: pd.Series,
    training_cost: pd.Series,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.Series]:
    """The spans whose single days the break-even day needs (``tune_id``, ``day``,
    ``last_day``), and each recovered tune's break-even day as these stretches tell it (by tune
    id, NaT for the others).

    Running total at the end of each stretch between usage days: the break-even day is the first
    usage day after which no stretch ends below the cost."""
    tune, day, last_day, net = steps["tune_id"], steps["day"], steps["last_day"], steps["net"]
    keys = pd.Series(tune)
    trained, per_day, cost = (
        lookup(values, keys).to_numpy()
        for values in (last_trained_on, fixed_per_day, training_cost)
    )
    same_tune_next = np.zeros(len(tune), dtype=bool)
    same_tune_next[:-1] = tune[1:] == tune[:-1]
    stretch_end = np.full(len(tune), as_of.to_datetime64(), dtype="datetime64[ns]")
    stretch_end[:-1][same_tune_next[:-1]] = day[1:][same_tune_next[:-1]] - ONE_DAY.to_timedelta64()
    elapsed = _days(stretch_end - trained) + 1
    # Sums as pandas groups them (compensated), so a span sum and its days' agree.
    total_so_far = pd.Series(net).groupby(tune).cumsum().to_numpy()
    running = np.round(total_so_far - per_day * elapsed, 6)
    lowest_after = pd.Series(running[::-1]).groupby(tune[::-1]).cummin().to_numpy()[::-1]
    holds = np.flatnonzero(lowest_after >= cost)
    reached_tunes, first = np.unique(tune[holds], return_index=True)
    reached_on = pd.Series(day[holds[first]], index=reached_tunes).reindex(last_trained_on.index)

    # A span hides the running total at its own days. While every day's net saving is ≥ 0, the
    # total inside stays above what came before less the fixed cost to the span's last day; a
    # span after the break-even day where that bound could fall below the cost is read day by
    # day (the break-even day could lie inside it). Spans before it cannot move it.
    before = total_so_far - net
    bound = before - np.fmax(
        per_day * (_days(day - trained) + 1), per_day * _days(last_day - trained)
    )
    clear = (last_day == day) | (steps["net_never_negative"] & (bound - _BOUND_MARGIN >= cost))
    split = ~clear & (day >= lookup(reached_on, keys).to_numpy())
    to_split = pd.DataFrame(
        {"tune_id": tune[split], "day": day[split], "last_day": last_day[split]}
    )
    return to_split, reached_on.astype("datetime64[ns]")


def _days(spans: np.ndarray) -> np.ndarray:
    """Whole days of ``timedelta64`` spans, as floats."""
    return spans.astype("timedelta64[D]").astype("int64").astype("float64")


def billed_versus_computed(
    daily: pd.DataFrame,
    tunes: pd.DataFrame,
    portfolio: Portfolio,
    start: pd.Series,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Over each tune's lookback window: what the sources billed, what the same tokens cost at
    the catalog (or serving) price, and how many queries were estimated rather than counted.

    ``daily`` is the usage as spans (:func:`usage_spans`). ``computed_cost`` is NaN when
    nothing was billed or a billed day has no price.
    """
    ids = tunes.index
    # The lookback window: its complete days, before the as-of day.
    rows = daily[daily["day"] < as_of]
    rows = rows[rows["day"] >= lookup(start, rows["tune_id"])]
    grouped = rows.groupby("tune_id")
    out = pd.DataFrame(index=ids)
    out["estimated_queries"] = grouped["estimated_queries"].sum().reindex(ids).fillna(0.0)
    out["window_queries"] = grouped["queries"].sum().reindex(ids).fillna(0.0)
    billed = rows[rows["billed_cost"].notna()]
    if billed.empty:  # no source reports a cost (most portfolios): nothing to compare
        out["billed_cost"] = out["computed_cost"] = np.nan
        return out
    tokens = billed[["billed_input_tokens", "billed_output_tokens"]]
    priced = price_usage(
        billed.assign(
            input_tokens=billed["billed_input_tokens"],
            output_tokens=billed["billed_output_tokens"],
            queries=0.0,
            priced_from=billed["day"].where((tokens > 0).any(axis=1)),
        ),
        tunes,
        portfolio,
    )
    by_tune = priced.groupby("tune_id")
    out["billed_cost"] = by_tune["billed_cost"].sum().reindex(ids)
    computed = by_tune["tune_cost"].sum().reindex(ids)
    unpriced = by_tune["tune_missing"].any().reindex(ids).fillna(False).astype(bool)
    out["computed_cost"] = computed.where(~unpriced)
    return out
