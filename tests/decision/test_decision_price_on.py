"""``economics.price_on``, the as-of lookup every usage span's cost goes through, against the
plain as-of join it replaces: the same price for every key and day, ties and gaps included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from decision.economics import price_on

PRICE = ["input_per_mtok", "output_per_mtok"]


def as_of_join(prices: pd.DataFrame, key: str, keys: pd.Series, days: pd.Series) -> pd.DataFrame:
    """The reference: pandas' as-of join, later duplicate rows winning."""
    out = pd.DataFrame(np.nan, index=keys.index, columns=PRICE)
    lookups = pd.DataFrame({key: keys.to_numpy(), "day": days.to_numpy(), "_pos": range(len(keys))})
    lookups = lookups.dropna(subset=[key, "day"])
    table = prices.dropna(subset=PRICE, how="all")
    if lookups.empty or table.empty:
        return out
    lookups = lookups.astype({key: "int64"}).sort_values("day", kind="mergesort")
    table = table.drop_duplicates([key, "effective_from"], keep="last")
    table = table.sort_values("effective_from", kind="mergesort")
    merged = pd.merge_asof(
        lookups, table, left_on="day", right_on="effective_from", by=key, direction="backward"
    )
    out.iloc[merged["_pos"].to_numpy(), :] = merged[PRICE].to_numpy()
    return out


DAY0 = pd.Timestamp("2025-01-01")
prices_rows = st.lists(
    st.tuples(
        st.integers(1, 4),  # key
        st.integers(-5, 40),  # effective day
        st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
        st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
    ),
    max_size=12,
)
lookup_rows = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 5)), st.one_of(st.none(), st.integers(-10, 50))),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(prices_rows, lookup_rows)
def test_every_lookup_finds_the_price_the_as_of_join_finds(rows, lookups):
    prices = pd.DataFrame(
        {
            "model_id": pd.Series([r[0] for r in rows], dtype="int64"),
            "effective_from": pd.Series(
                [DAY0 + pd.Timedelta(days=r[1]) for r in rows], dtype="datetime64[ns]"
            ),
            "input_per_mtok": pd.Series([r[2] for r in rows], dtype="float64"),
            "output_per_mtok": pd.Series([r[3] for r in rows], dtype="float64"),
        }
    )
    keys = pd.Series([k for k, _ in lookups], dtype="Int64", index=range(100, 100 + len(lookups)))
    days = pd.Series(
        [pd.NaT if d is None else DAY0 + pd.Timedelta(days=d) for _, d in lookups],
        dtype="datetime64[ns]",
        index=keys.index,
    )
    expected = as_of_join(prices, "model_id", keys, days)
    pd.testing.assert_frame_equal(price_on(prices, "model_id", keys, days), expected)


def test_dates_far_apart_and_large_keys_stay_apart():
    prices = pd.DataFrame(
        {
            "tune_id": [2**40, 2**40, 7],
            "effective_from": pd.to_datetime(["1700-01-01", "2250-06-01", "2250-06-02"]),
            "input_per_mtok": [1.0, 2.0, 3.0],
            "output_per_mtok": [4.0, 5.0, 6.0],
        }
    )
    keys = pd.Series([2**40, 2**40, 7, 7], dtype="int64")
    days = pd.Series(pd.to_datetime(["2000-01-01", "2260-01-01", "2250-06-01", "2260-01-01"]))
    got = price_on(prices, "tune_id", keys, days)
    assert got["input_per_mtok"].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(got["input_per_mtok"].iloc[2]) and got["input_per_mtok"].iloc[3] == 3.0


def test_ids_past_the_floats_exact_range_stay_apart():
    prices = pd.DataFrame(
        {
            "tune_id": [2**53, 2**53 + 1],
            "effective_from": pd.to_datetime(["2025-01-01", "2025-01-01"]),
            "input_per_mtok": [1.0, 2.0],
            "output_per_mtok": [4.0, 5.0],
        }
    )
    keys = pd.Series([2**53 + 1, 2**53], dtype="int64")
    days = pd.Series(pd.to_datetime(["2025-02-01", "2025-02-01"]))
    assert price_on(prices, "tune_id", keys, days)["input_per_mtok"].tolist() == [2.0, 1.0]
