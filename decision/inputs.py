"""What the engine reads: the policy and the portfolio, as plain dataclasses and DataFrames.

The Django app builds these from its database; anything else (a notebook, a CSV export) can
build them too. Column names below are the contract.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from . import vocabulary

#: Days in an average month; monthly figures are daily figures times this.
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class Policy:
    """Thresholds that turn the seed's conditions into numbers. Defaults follow the article."""

    lookback_days: int = 90
    min_labelled_examples: int = 1000
    max_changes_per_quarter: float = 1.0
    min_quality_gap: float = 0.05
    horizon_months: float = 24.0
    shutdown_warning_days: int = 90
    shutdown_watch_days: int = 180
    quality_tolerance: float = 0.02
    volume_drop_watch: float = 0.30
    stale_usage_days: int = 7

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TUNE_COLUMNS: dict[str, str] = {
    # index: tune_id (int)
    "status": "a vocabulary.TuneStatus value (retired tunes are not evaluated)",
    "base_model_id": "int, key into models",
    "alternative_model_id": "int or <NA>: the model the best prompt/RAG setup runs on",
    "extra_prompt_tokens": "float: instructions and examples the alternative adds to each query",
    "need_is_articulable": "bool: the need can be written down in words",
    "behaviour_unpromptable": "bool: condition 1, behaviour prompting can't hold reliably",
    "tacit_expertise": "bool: condition 3, expertise not in the prompt or retrieval store",
    "adds_knowledge": "bool: anti-pattern, the tune is meant to add new knowledge",
    "fixes_formatting": "bool: anti-pattern, the tune is meant to fix formatting",
    "few_edge_cases": "bool: anti-pattern, the tune is meant to fix a few edge cases",
    "brand_tone": "bool: anti-pattern, the tune is meant to sound like the brand",
    "labelled_examples": "float: labelled examples available for training",
    "target_score": "float or NaN, eval score in [0, 1] the task needs",
    "baseline_score": "float or NaN, best prompt/RAG score in [0, 1]",
    "tune_score": "float or NaN, the tune's score in [0, 1]",
    "upfront_cost": "float USD: training + data + engineering of the first training",
    "retrain_cost": "float USD: what one retraining costs",
    "monthly_fixed_cost": "float USD: hosting, monitoring, upkeep per month",
    "deployed_on": "datetime64 (day) or NaT",
    "last_trained_on": "datetime64 (day) or NaT",
    "expected_monthly_queries": "float or NaN (proposals)",
    "expected_input_tokens": "float or NaN, per query (proposals)",
    "expected_output_tokens": "float or NaN, per query (proposals)",
}

USAGE_COLUMNS: dict[str, str] = {
    "tune_id": "int",
    "day": "datetime64 (day); several rows per tune and day (sources) are summed",
    "queries": "float",
    "input_tokens": "float, total for the day",
    "output_tokens": "float, total for the day",
    # Optional (absent: none billed, nothing estimated):
    "billed_cost": "float USD or NaN: what the sources that report a cost billed that day",
    "billed_input_tokens": "float: the input tokens of the rows that reported a cost",
    "billed_output_tokens": "float: the output tokens of the rows that reported a cost",
    "estimated_queries": "float: queries estimated from tokens (a source without request count)",
}
#: Usage columns a caller may leave out.
OPTIONAL_USAGE_COLUMNS = (
    "billed_cost",
    "billed_input_tokens",
    "billed_output_tokens",
    "estimated_queries",
)

#: Usage summed over a stretch of days, for history read in bulk (``Portfolio.usage_spans``). A span
#: lies between two consecutive days of its tune in :func:`decision.span_starts` (so one price
#: holds on all its days) and shares no day with ``usage``. Where a figure needs a span's single
#: days, the engine names the span in :func:`decision.days_needed`; the caller then gives those
#: days as ``usage``.
SPAN_COLUMNS: dict[str, str] = {
    "tune_id": "int",
    "day": "datetime64 (day): the span's first day with a usage row",
    "last_day": "datetime64 (day): its last day with a usage row",
    "queries": "float, summed over the span",
    "input_tokens": "float, summed",
    "output_tokens": "float, summed",
    "billed_cost": "float USD or NaN: summed over the rows that report a cost (NaN: none did)",
    "billed_input_tokens": "float: the input tokens of those rows",
    "billed_output_tokens": "float: the output tokens of those rows",
    "estimated_queries": "float: queries estimated from tokens",
    "used_from": "datetime64 (day) or NaT: first day with queries",
    "used_until": "datetime64 (day) or NaT: last day with queries",
    "priced_from": "datetime64 (day) or NaT: first day with queries or tokens (a day to price)",
    "priced_until": "datetime64 (day) or NaT: last such day",
}
SPAN_DATES = ("day", "last_day", "used_from", "used_until", "priced_from", "priced_until")

CHANGE_COLUMNS: dict[str, str] = {
    "tune_id": "int",
    "day": "datetime64 (day)",
    "kind": "a vocabulary.ChangeKind value",
    "meaningful": "bool",
    "cost": "float USD or NaN (a retraining's cost)",
}

MODEL_COLUMNS: dict[str, str] = {
    # index: model_id (int)
    "label": "str, e.g. 'openai gpt-4o-mini 2024-07-18'",
    "shutdown_on": "datetime64 (day) or NaT",
    "successor_id": "int or <NA>",
}

PRICE_COLUMNS: dict[str, str] = {
    # model_prices has model_id, tune_prices has tune_id, then:
    "effective_from": "datetime64 (day): the price holds from this day until the next row",
    "input_per_mtok": "float USD per 1M input tokens",
    "output_per_mtok": "float USD per 1M output tokens",
}


def _frame(columns: list[str], index: str | None = None) -> pd.DataFrame:
    """An empty table with these columns (a copy of one made once: building a frame column by
    column costs far more than copying it, and every ``Portfolio()`` builds seven)."""
    return _empty_frame(tuple(columns), index).copy()


@functools.cache
def _empty_frame(columns: tuple[str, ...], index: str | None) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return frame.set_index(pd.Index([], name=index, dtype="int64")) if index else frame


@dataclass
class Portfolio:
    """Every table the engine needs. Empty tables are fine; the as-of date is passed apart."""

    tunes: pd.DataFrame = field(default_factory=lambda: _frame(list(TUNE_COLUMNS), "tune_id"))
    usage: pd.DataFrame = field(default_factory=lambda: _frame(list(USAGE_COLUMNS)))
    changes: pd.DataFrame = field(default_factory=lambda: _frame(list(CHANGE_COLUMNS)))
    models: pd.DataFrame = field(default_factory=lambda: _frame(list(MODEL_COLUMNS), "model_id"))
    model_prices: pd.DataFrame = field(default_factory=lambda: _frame(["model_id", *PRICE_COLUMNS]))
    tune_prices: pd.DataFrame = field(default_factory=lambda: _frame(["tune_id", *PRICE_COLUMNS]))
    usage_spans: pd.DataFrame = field(default_factory=lambda: _frame(list(SPAN_COLUMNS)))


# --- Normalisation -------------------------------------------------------------------------------
# The Django side, notebooks and tests build frames in slightly different ways (object columns,
# second- or nanosecond-resolution dates, <NA> in int columns). Every engine function works on the
# normalised copy below, so dtype quirks are handled in exactly one place.

TASK_CHANGE_KINDS: frozenset[str] = frozenset(str(kind) for kind in vocabulary.TASK_CHANGE_KINDS)
RETRAINING_KIND = str(vocabulary.RETRAINING_KIND)

_TUNE_DATES = ("deployed_on", "last_trained_on")
_TUNE_FLAGS = {
    # A blank flag means "not claimed", except articulability: the article's default stance is
    # that a need can be written down until shown otherwise, so a blank counts as articulable.
    "need_is_articulable": True,
    "behaviour_unpromptable": False,
    "tacit_expertise": False,
    "adds_knowledge": False,
    "fixes_formatting": False,
    "few_edge_cases": False,
    "brand_tone": False,
}
_TUNE_IDS = ("base_model_id", "alternative_model_id")
_TUNE_ZERO_IF_BLANK = ("extra_prompt_tokens", "monthly_fixed_cost")  # absent means none
_PRICE_FIELDS = ("input_per_mtok", "output_per_mtok")


def as_day(value: Any) -> pd.Timestamp:
    """The as-of date as a tz-naive midnight Timestamp (accepts date, datetime, str, Timestamp)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize().as_unit("ns")


def lookup(values: pd.Series, keys: pd.Series) -> pd.Series:
    """``values[key]`` for every key, aligned to ``keys`` and keeping ``values``' dtype (unlike
    ``Series.map``, which turns an empty or all-missing datetime result into floats)."""
    found = values.reindex(pd.Index(keys.array))
    return pd.Series(found.array, index=keys.index, name=values.name)


# A column already in its canonical form is kept as it is (pandas copies on write): most frames
# the engine normalises come from ``normalise`` or the Django side, and converting them again
# costs a chunk's evaluation more than any single figure does.

_NS_PER_DAY = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min


def _dates(values: pd.Series) -> pd.Series:
    if values.dtype == "datetime64[ns]":
        ns = values.to_numpy().view("int64")
        if ((ns % _NS_PER_DAY == 0) | (ns == _NAT)).all():
            return values
    out = pd.to_datetime(values, errors="coerce")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out.dt.normalize().astype("datetime64[ns]")


def _floats(values: pd.Series) -> pd.Series:
    if values.dtype == "float64":
        return values
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _ids(values: pd.Series) -> pd.Series:
    if values.dtype in ("Int64", "int64"):
        return values.astype("Int64")
    return pd.to_numeric(values, errors="coerce").astype("Int64")


def _flags(values: pd.Series, default: bool) -> pd.Series:
    if values.dtype == "bool":
        return values
    if values.dtype != "boolean":
        values = values.astype("boolean")
    return values.fillna(default).astype(bool)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("").str.strip().str.lower()


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def normalise(portfolio: Portfolio) -> Portfolio:
    """A copy of ``portfolio`` with canonical dtypes and a canonical row order.

    Dates become ``datetime64[ns]`` days, ids ``Int64``, money and counts ``float64``. Missing
    optional columns are added blank. Rows are sorted on every column so that the input row order
    can never change a result (not even through floating-point summation order).
    """
    return Portfolio(
        tunes=_tunes(portfolio.tunes),
        usage=_usage(portfolio.usage),
        usage_spans=_spans(portfolio.usage_spans),
        changes=_changes(portfolio.changes),
        models=_models(portfolio.models),
        model_prices=_prices(portfolio.model_prices, "model_id"),
        tune_prices=_prices(portfolio.tune_prices, "tune_id"),
    )


_Table = TypeVar("_Table", bound=Callable[..., pd.DataFrame])


def _same_when_empty(normalise_table: _Table) -> _Table:
    """A table without rows normalises to the same empty table every time: made once, then
    copied. Normalising a table costs the same few dozen column operations whatever its size,
    and most portfolios the engine normalises are a chunk's usage read day by day, beside
    empty tables."""
    empty: dict[tuple[tuple[Any, ...], tuple[Any, ...]], pd.DataFrame] = {}

    @functools.wraps(normalise_table)
    def normalised(frame: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        if len(frame):
            return normalise_table(frame, *args, **kwargs)
        key = (args, tuple(sorted(kwargs.items())))
        if key not in empty:
            empty[key] = normalise_table(frame, *args, **kwargs)
        return empty[key].copy()

    return cast(_Table, normalised)


@_same_when_empty
def _tunes(tunes: pd.DataFrame) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {"status": _text(_column(tunes, "status"))}
    for name in _TUNE_IDS:
        columns[name] = _ids(_column(tunes, name))
    for name, default in _TUNE_FLAGS.items():
        columns[name] = _flags(_column(tunes, name), default)
    for name in _TUNE_DATES:
        columns[name] = _dates(_column(tunes, name))
    for name in TUNE_COLUMNS:
        if name not in columns:
            columns[name] = _floats(_column(tunes, name))
    for name in _TUNE_ZERO_IF_BLANK:
        columns[name] = columns[name].fillna(0.0)
    # Built in one go, by position: a column inserted at a time costs an alignment and a block.
    index = pd.Index(_ids(pd.Series(tunes.index)).astype("int64"), name="tune_id")
    t = pd.DataFrame({name: columns[name].array for name in TUNE_COLUMNS}, index=index)
    return t.sort_index()


@_same_when_empty
def _usage(usage: pd.DataFrame) -> pd.DataFrame:
    u = pd.DataFrame(
        {
            "tune_id": _ids(_column(usage, "tune_id")),
            "day": _dates(_column(usage, "day")),
            "queries": _floats(_column(usage, "queries")).fillna(0.0),
            "input_tokens": _floats(_column(usage, "input_tokens")).fillna(0.0),
            "output_tokens": _floats(_column(usage, "output_tokens")).fillna(0.0),
            "billed_cost": _floats(_column(usage, "billed_cost")),
            **{
                name: _floats(_column(usage, name)).fillna(0.0)
                for name in OPTIONAL_USAGE_COLUMNS[1:]
            },
        }
    ).dropna(subset=["tune_id", "day"])
    u["tune_id"] = u["tune_id"].astype("int64")
    return _sorted(u)


@_same_when_empty
def _changes(changes: pd.DataFrame) -> pd.DataFrame:
    c = pd.DataFrame(
        {
            "tune_id": _ids(_column(changes, "tune_id")),
            "day": _dates(_column(changes, "day")),
            "kind": _text(_column(changes, "kind")),
            "meaningful": _flags(_column(changes, "meaningful"), False),
            "cost": _floats(_column(changes, "cost")),
        }
    ).dropna(subset=["tune_id", "day"])
    c["tune_id"] = c["tune_id"].astype("int64")
    return _sorted(c)


@_same_when_empty
def _models(models: pd.DataFrame) -> pd.DataFrame:
    m = pd.DataFrame(index=pd.Index(_ids(pd.Series(models.index)).astype("int64"), name="model_id"))
    m["label"] = _column(models, "label").astype("string").fillna("").set_axis(m.index)
    m["shutdown_on"] = _dates(_column(models, "shutdown_on")).set_axis(m.index)
    m["successor_id"] = _ids(_column(models, "successor_id")).set_axis(m.index)
    return m.sort_index()


#: Canonical dtypes of the usage spans, in column order.
_SPAN_DTYPES = {
    name: "datetime64[ns]" if name in SPAN_DATES else "int64" if name == "tune_id" else "float64"
    for name in SPAN_COLUMNS
}


@_same_when_empty
def _spans(spans: pd.DataFrame) -> pd.DataFrame:
    blank_is_zero = ("queries", "input_tokens", "output_tokens", *OPTIONAL_USAGE_COLUMNS[1:])
    if _canonical(spans, _SPAN_DTYPES, ["day", "last_day", *blank_is_zero], strictly=False):
        return spans
    s = pd.DataFrame(
        {
            name: _dates(_column(spans, name))
            if name in SPAN_DATES
            else _ids(_column(spans, name))
            if name == "tune_id"
            else _floats(_column(spans, name))
            for name in SPAN_COLUMNS
        }
    ).dropna(subset=["tune_id", "day"])
    s["tune_id"] = s["tune_id"].astype("int64")
    s["last_day"] = s["last_day"].fillna(s["day"])
    for name in blank_is_zero:
        s[name] = s[name].fillna(0.0)
    if not _in_order(s["tune_id"], s["day"], strictly=False):
        s = s.sort_values(["tune_id", "day"], kind="mergesort")
    return s.reset_index(drop=True)


@_same_when_empty
def _prices(prices: pd.DataFrame, key: str) -> pd.DataFrame:
    dtypes = {key: "int64", "effective_from": "datetime64[ns]"}
    if _canonical(
        prices, {**dtypes, **dict.fromkeys(_PRICE_FIELDS, "float64")}, ["effective_from"]
    ):
        return prices
    out = pd.DataFrame(
        {
            key: _ids(_column(prices, key)),
            "effective_from": _dates(_column(prices, "effective_from")),
            **{name: _floats(_column(prices, name)) for name in _PRICE_FIELDS},
        }
    )
    out = out.dropna(subset=[key, "effective_from"])
    return _sorted(out.astype({key: "int64"}))


def _canonical(
    frame: pd.DataFrame, dtypes: dict[str, str], filled: list[str], *, strictly: bool = True
) -> bool:
    """Whether ``frame`` is already as its normaliser would leave it, so it can be kept as it is
    (pandas copies on write): exactly these columns and dtypes, dates on whole days, no blanks in
    the ``filled`` columns, numbered rows in (first column, second column) order (``strictly``:
    no two rows share both). A frame from ``normalise`` or the Django side usually is, and
    normalising it again costs a chunk's evaluation several times over."""
    index = frame.index
    if not (
        list(frame.columns) == list(dtypes)
        and isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and all(str(frame[name].dtype) == dtype for name, dtype in dtypes.items())
        and not any(frame[name].hasnans for name in filled)
    ):
        return False
    for name, dtype in dtypes.items():
        dates = frame[name]
        if dtype == "datetime64[ns]" and _dates(dates) is not dates:  # not on whole days
            return False
    first, second = frame.columns[:2]
    return _in_order(frame[first], frame[second], strictly=strictly)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted on every column; a frame whose first two columns (its key and day) already rise
    row after row is in that order, and is kept as it is."""
    first, second = frame.columns[:2]
    if not _in_order(frame[first], frame[second], strictly=True):
        frame = frame.sort_values(list(frame.columns), kind="mergesort")
    return frame.reset_index(drop=True)


def _in_order(first: pd.Series, second: pd.Series, *, strictly: bool) -> bool:
    """Whether the rows already run in (``first``, ``second``) order, without missing values:
    rising, or ``strictly`` rising (no two rows share both), so that a stable sort on these two
    columns (or, strictly, on every column after them too) would leave every row in place."""
    if first.hasnans or second.hasnans:
        return False
    a, b = first.to_numpy(), second.to_numpy()
    same = a[1:] == a[:-1]
    later = b[1:] > b[:-1] if strictly else b[1:] >= b[:-1]
    return bool(((a[1:] > a[:-1]) | (same & later)).all())
