"""``normalise`` keeps a column already in canonical form as it is, and a table already in order
unsorted: the result must be what converting and sorting it would have given."""

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from decision_builders import day, portfolio, tune, usage
from hypothesis import given
from test_decision_properties import SETTINGS, portfolios

from decision import Portfolio
from decision.inputs import SPAN_COLUMNS, normalise


def tables(p: Portfolio) -> dict[str, pd.DataFrame]:
    return {f.name: getattr(p, f.name) for f in fields(Portfolio)}


def as_objects(p: Portfolio) -> Portfolio:
    """The same values with every column (and index) as Python objects: nothing is in canonical
    form, so every column takes the converting path."""
    return Portfolio(
        **{
            name: frame.astype(object).set_axis(frame.index.astype(object))
            for name, frame in tables(p).items()
        }
    )


def assert_same(left: Portfolio, right: Portfolio) -> None:
    for name, frame in tables(left).items():
        pd.testing.assert_frame_equal(frame, getattr(right, name), check_exact=True, obj=name)


@SETTINGS
@given(p=portfolios(complete_prices=False))
def test_canonical_columns_kept_as_they_are_equal_converted_ones(p):
    once = normalise(p)
    assert_same(normalise(once), once)
    assert_same(normalise(as_objects(once)), once)


def test_rows_sharing_a_key_and_day_are_still_sorted_on_every_column():
    rows = pd.DataFrame(
        [*usage(1, -2, -2, queries=900), *usage(1, -1, -1, queries=700), *usage(1, -1, -1, 500)]
    )
    normalised = normalise(Portfolio(usage=rows)).usage
    assert normalised["queries"].tolist() == [900.0, 500.0, 700.0]
    assert normalised.index.equals(pd.RangeIndex(3))


def test_a_time_of_day_is_cut_even_in_a_nanosecond_column():
    rows = pd.DataFrame(usage(1, -1, 0))
    rows["day"] = (rows["day"] + pd.Timedelta(hours=13)).astype("datetime64[ns]")
    assert normalise(Portfolio(usage=rows)).usage["day"].tolist() == [day(-1), day(0)]


def test_whole_numbers_become_floats_and_blank_flags_take_their_default():
    tunes = pd.DataFrame([tune(1), tune(2)]).set_index("tune_id")
    tunes["labelled_examples"] = np.array([5000, 7000], dtype="int64")
    tunes["need_is_articulable"] = pd.array([None, False], dtype="boolean")
    tunes["tacit_expertise"] = np.array([True, False])
    normalised = normalise(Portfolio(tunes=tunes)).tunes
    assert normalised["labelled_examples"].dtype == "float64"
    assert normalised["need_is_articulable"].tolist() == [True, False]
    assert normalised["tacit_expertise"].tolist() == [True, False]


@pytest.mark.parametrize("in_order", [True, False])
def test_spans_come_out_by_tune_and_day_whatever_order_they_came_in(in_order):
    spans = pd.DataFrame(
        {
            "tune_id": [1, 1, 2],
            "day": [day(-60), day(-30), day(-60)],
            "last_day": [day(-31), day(-1), day(-1)],
            **{name: [1.0, 2.0, 3.0] for name in ("queries", "input_tokens", "output_tokens")},
        }
    ).reindex(columns=list(SPAN_COLUMNS))
    given_spans = spans if in_order else spans.iloc[[2, 1, 0]]
    normalised = normalise(Portfolio(usage_spans=given_spans)).usage_spans
    assert normalised["queries"].tolist() == [1.0, 2.0, 3.0]
    assert normalised.index.equals(pd.RangeIndex(3))


def test_a_built_portfolio_normalises_to_itself():
    once = normalise(portfolio([tune(1), tune(2)], usage(1, -30) + usage(2, -30)))
    assert_same(normalise(once), once)


def canonical_prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model_id": np.array([1, 1, 2], dtype="int64"),
            "effective_from": pd.to_datetime([day(-60), day(-30), day(-60)]).astype("M8[ns]"),
            "input_per_mtok": [1.0, 0.8, 2.0],
            "output_per_mtok": [4.0, 3.2, 8.0],
        }
    )


def canonical_spans() -> pd.DataFrame:
    spans = pd.DataFrame(
        {
            "tune_id": [1, 1, 2],
            "day": [day(-60), day(-30), day(-60)],
            "last_day": [day(-31), day(-1), day(-1)],
            **{name: [1.0, 2.0, 3.0] for name in ("queries", "input_tokens", "output_tokens")},
        }
    ).reindex(columns=list(SPAN_COLUMNS))
    return normalise(Portfolio(usage_spans=spans)).usage_spans


PRICE_CHANGES = {
    "rows out of order": lambda f: f.iloc[::-1].reset_index(drop=True),
    "a key and day twice": lambda f: f.assign(effective_from=f["effective_from"].iloc[0]),
    "a time of day": lambda f: f.assign(effective_from=f["effective_from"] + pd.Timedelta(hours=9)),
    "rows not numbered from 0": lambda f: f.set_axis([5, 6, 7]),
    "columns in another order": lambda f: f[f.columns[::-1]],
}
SPAN_CHANGES = {
    "rows out of order": lambda f: f.iloc[::-1].reset_index(drop=True),
    "a blank count": lambda f: f.assign(queries=[np.nan, *f["queries"].iloc[1:]]),
    "a blank last day": lambda f: f.assign(last_day=[pd.NaT, *f["last_day"].iloc[1:]]),
}


NEAR_MISSES = [
    *(("model_prices", canonical_prices, name, change) for name, change in PRICE_CHANGES.items()),
    *(("usage_spans", canonical_spans, name, change) for name, change in SPAN_CHANGES.items()),
]


@pytest.mark.parametrize(
    ("table", "canonical", "change"),
    [(table, canonical, change) for table, canonical, _, change in NEAR_MISSES],
    ids=[f"{table}: {name}" for table, _, name, _ in NEAR_MISSES],
)
def test_a_table_nearly_in_canonical_form_is_still_normalised(table, canonical, change):
    given = Portfolio(**{table: change(canonical())})
    got = getattr(normalise(given), table)
    expected = getattr(normalise(as_objects(given)), table)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_tables_already_in_canonical_form_are_kept_as_they_are():
    prices, spans = canonical_prices(), canonical_spans()
    normalised = normalise(Portfolio(model_prices=prices, usage_spans=spans))
    assert normalised.model_prices is prices
    assert normalised.usage_spans is spans
