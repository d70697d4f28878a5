"""``decide`` works out each tune's figures a frame column at a time and stores each value once
for all of the tune's findings: the results are the ones rounding every value where it is read
gives, down to the type and the sign of a zero."""

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
from decision_builders import AS_OF, POLICY
from every_finding import scenarios
from hypothesis import given
from hypothesis import strategies as st

from decision import fmt
from decision.engine import FIGURE_KEYS, build_frame
from decision.results import Cited, Finding
from decision.rules import RULES, Rule, rule_flags
from decision.verdict import decide


def worded_alone(rule: Rule, row: dict, flags: dict, policy) -> Finding:
    """A rule's finding worded from its row alone, every value rounded for it, as findings were
    before a tune's findings shared their rounded values: the reference ``decide`` must match."""
    figures = {key: row.get(key) for key in rule.cites}
    if rule.notes is not None:
        figures.update(rule.notes(row, flags, policy))
    words = {key: row.get(key) for key in rule.uses}
    if rule.hints is not None:
        words.update(rule.hints(row, flags, policy))
    exact, rounded = Cited(), Cited()
    for values in (figures, words):
        for key, value in values.items():
            exact[key], rounded[key] = fmt.stored(value, exact=True), fmt.stored(value)
    message = rule.says(exact, policy)
    kept = rounded if rounded == exact or rule.says(rounded, policy) == message else exact
    return Finding(
        rule.code,
        rule.source,
        rule.severity,
        message,
        figures={key: kept[key] for key in figures},
        words={key: kept[key] for key in words},
    )


EDGES = [
    0.0,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    1e5,
    -1e5,
    99_999.999_999_9,
    100_000.005,
    155_434.500_000_1,
    123_456.785,
    0.123_456_75,
    0.000_123_456_75,
    1e300,
    -5e-324,
    1.797_693_134_862_315_7e308,
]


def same(got: object, want: object) -> bool:
    """Equal, of the same type, and a zero of the same sign."""
    if type(got) is not type(want):
        return False
    if isinstance(got, float):
        assert isinstance(want, float)
        if math.isnan(got) or math.isnan(want):
            return math.isnan(got) and math.isnan(want)
        return got == want and math.copysign(1, got) == math.copysign(1, want)
    if isinstance(got, list | tuple):
        assert isinstance(want, list | tuple)
        return len(got) == len(want) and all(map(same, got, want))
    if isinstance(got, dict):
        assert isinstance(want, dict)
        return list(got) == list(want) and all(same(got[key], want[key]) for key in got)
    return got == want


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True)))
def test_a_column_of_floats_stores_as_each_float_does(values):
    values = [*values, *EDGES]
    assert same(fmt.stored_floats(values), [fmt.stored(value) for value in values])
    assert same(fmt.stored_floats(values, exact=True), [fmt.stored(v, exact=True) for v in values])
    assert same(fmt.json_safe_floats(values), [fmt.json_safe(value) for value in values])


def test_a_column_of_days_reads_as_each_timestamp_does():
    values = pd.Series(
        pd.to_datetime(
            ["1969-12-31 23:00", "1900-01-01 12:30", None, "2262-04-11 00:00", "2025-06-30 00:00"]
        )
    )
    assert fmt.iso_days(values.to_numpy()) == [fmt.json_safe(value) for value in values.tolist()]


def test_a_stored_day_reads_as_it_is_and_anything_else_as_before():
    def before(value: object) -> object:
        try:
            return "no date" if fmt.is_missing(value) else pd.Timestamp(value).date().isoformat()
        except ValueError as error:
            return type(error)

    def now(value: object) -> object:
        try:
            return fmt.day(value)
        except ValueError as error:
            return type(error)

    days = [date(1678, 1, 1) + timedelta(days=d) for d in range(0, 213_000, 97)]
    odd = ["2025-W01-1", "20250101", "2025-1-01", "2025-02-30", "0001-01-01", "9999-12-31"]
    for value in [*(d.isoformat() for d in days), *odd, "2025-06-30T08:00:00", None, math.nan]:
        assert now(value) == before(value), value


def test_a_list_of_names_stores_as_before():
    for names in ([], ["target score"], ["upfront cost", "retrain cost"]):
        kept = fmt.stored(names)
        assert kept == [fmt.stored(name) for name in fmt.json_safe(names)]  # type: ignore[union-attr]
        assert kept is not names


def portfolio_frame(copies: int = 8, seed: int = 7) -> pd.DataFrame:
    """Every scenario's frame, several times over, with its figures scaled, nudged onto and just
    past rounding ties, unknown or infinite."""
    frames = [build_frame(p, POLICY, AS_OF) for p in scenarios().values()]
    frame = pd.concat(frames * copies, ignore_index=True)
    rng = np.random.default_rng(seed)
    specials = [0.0, -0.0, 155_434.500_000_1, 123_456.785, 99_999.995, 0.123_456_75, 12.345]
    for key in FIGURE_KEYS:
        if frame[key].dtype.kind != "f":
            continue
        values = frame[key].to_numpy(copy=True)
        values = values * rng.choice([0.5, 0.999_999, 1.0, 1.000_000_1, 3.7], size=len(values))
        pick = rng.random(len(values)) < 0.1
        values[pick] = rng.choice([*specials, math.nan, math.inf], size=pick.sum())
        frame[key] = values
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def test_each_finding_is_the_one_its_rule_words_from_the_row():
    frame = portfolio_frame()
    flags = rule_flags(frame, POLICY)
    rows = frame.assign(tune_id=frame.index).astype(object)
    rows = rows.where(rows.notna(), None).to_dict("index")
    marks = flags.astype(object).to_dict("index")
    by_code = {rule.code: rule for rule in RULES}
    checked = 0
    for tune_id in frame.index:
        try:
            (result,) = decide(frame.loc[[tune_id]], POLICY)
        except (TypeError, StopIteration):  # a nudged figure no tune could have
            continue
        row = {key: None if value is pd.NaT else value for key, value in rows[tune_id].items()}
        for finding in result.findings:
            rule = by_code.get(finding.code)
            if rule is None:  # where the usage came from: worded as before
                continue
            want = replace(
                worded_alone(rule, row, marks[tune_id], POLICY), decisive=finding.decisive
            )
            assert finding == want
            assert same(finding.figures, want.figures)
            assert same(finding.words, want.words)
        assert same(result.figures, {key: fmt.json_safe(row[key]) for key in FIGURE_KEYS})
        kept = {key: fmt.stored(fmt.json_safe(row[key])) for key in FIGURE_KEYS}
        assert result.stored_figures is not None
        assert same(
            result.stored_figures,
            {
                key: value
                for key, value in kept.items()
                if value is not None and not (isinstance(value, float) and math.isinf(value))
            },
        )
        checked += 1
    assert checked > len(frame) // 2
