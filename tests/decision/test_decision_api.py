"""The public API's shape: what the Django side relies on."""

import ast
import json
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pandas as pd
import pytest
from decision_builders import AS_OF, POLICY, ROOT_DIR, day, portfolio, proposal, tune, usage

import decision
from decision import (
    ENGINE_VERSION,
    FIGURE_KEYS,
    Finding,
    Severity,
    TuneResult,
    Verdict,
    compute_figures,
    evaluate,
)
from decision.vocabulary import Part, finding_codes

REQUIRED_FIGURES = [
    "monthly_queries",
    "input_tokens_per_query",
    "output_tokens_per_query",
    "alternative_cost_per_query",
    "tune_cost_per_query",
    "monthly_net_saving",
    "change_rate_per_quarter",
    "expected_stable_lifetime_months",
    "training_cost",
    "payback_months",
    "cumulative_net_saving",
    "recovered",
    "break_even_on",
    "unrecovered_cost",
    "retrain_payback_months",
    "lifetime_after_retraining_months",
    "base_model_shutdown_on",
    "days_to_shutdown",
    "volume_change_30d",
    "days_since_last_usage",
    "quality_gap",
    "tune_score_shortfall",
]


def mixed():
    return portfolio(
        [
            tune(7),
            tune(3, monthly_fixed_cost=9000.0),
            proposal(5),
            tune(4, status="retired"),
            tune(9, alternative_model_id=None),
        ],
        usage(7) + usage(3) + usage(4) + usage(9, start=-5),
    )


def test_enums_use_their_names_and_levels():
    assert [v.value for v in Verdict] == [
        "KEEP",
        "WATCH",
        "RETRAIN",
        "RETIRE",
        "FINE_TUNE",
        "ITERATE",
    ]
    assert [s.value for s in Severity] == ["info", "watch", "action"]
    assert Verdict.KEEP == "KEEP" and Severity.ACTION == "action"


def test_results_one_per_non_retired_tune_sorted_by_id():
    results = evaluate(mixed(), POLICY, AS_OF.date())
    assert [r.tune_id for r in results] == [3, 5, 7, 9]
    assert [r.verdict for r in results] == [
        Verdict.RETIRE,
        Verdict.FINE_TUNE,
        Verdict.KEEP,
        Verdict.WATCH,
    ]
    assert all(isinstance(r, TuneResult) and r.engine_version == ENGINE_VERSION for r in results)
    assert all(isinstance(f, Finding) for r in results for f in r.findings)
    assert all(r.reason and any(f.decisive for f in r.findings) for r in results)


def test_compute_figures_frame():
    frame = compute_figures(mixed(), POLICY, AS_OF.date())
    assert frame.index.name == "tune_id"
    assert list(frame.index) == [3, 5, 7, 9]
    assert list(frame.columns) == list(FIGURE_KEYS)
    assert set(REQUIRED_FIGURES) <= set(frame.columns)
    assert frame.loc[7, "monthly_net_saving"] == pytest.approx(30437.5 * 0.0118 - 100)


def test_figures_dict_matches_the_frame_and_is_json_safe():
    results = evaluate(mixed(), POLICY, AS_OF.date())
    for r in results:
        assert list(r.figures) == list(FIGURE_KEYS)
        text = json.dumps(r.as_dict(), allow_nan=False)  # no NaN/inf, no Timestamps
        back = json.loads(text)
        assert back["verdict"] == str(r.verdict)
        assert back["engine_version"] == ENGINE_VERSION
        assert [f["code"] for f in back["findings"]] == list(r.codes)
    keep = {r.tune_id: r for r in results}[7]
    assert keep.figures["break_even_on"] == "2024-10-25"
    assert keep.figures["recovered"] is True
    assert isinstance(keep.figures["monthly_queries"], float)


def test_finding_as_dict():
    f = Finding("x", "Q1", Severity.WATCH, "msg", figures={"a": float("inf"), "d": day(0)})
    assert f.as_dict() == {
        "code": "x",
        "source": "Q1",
        "severity": "watch",
        "message": "msg",
        "decisive": False,
        "figures": {"a": None, "d": "2025-06-30"},
    }
    with pytest.raises(FrozenInstanceError):
        f.code = "y"


def test_every_finding_source_is_a_part_of_the_article():
    for r in evaluate(mixed(), POLICY, AS_OF.date()):
        assert {f.source for f in r.findings} <= set(Part)
        assert {f.code for f in r.findings} <= finding_codes()


def test_deterministic_for_a_date_and_blind_to_later_data():
    p = mixed()
    first = [r.as_dict() for r in evaluate(p, POLICY, AS_OF.date())]
    again = [r.as_dict() for r in evaluate(p, POLICY, AS_OF.date())]
    assert first == again
    later = mixed()
    later.usage = pd.concat([later.usage, pd.DataFrame(usage(7, start=1, end=40, queries=1))])
    assert [r.as_dict() for r in evaluate(later, POLICY, AS_OF.date())] == first


def test_inputs_are_not_mutated():
    p = mixed()
    before = {name: getattr(p, name).copy() for name in ("tunes", "usage", "changes")}
    evaluate(p, POLICY, AS_OF.date())
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(p, name), frame)


def test_package_never_imports_django_nor_reads_the_clock():
    for path in Path(decision.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "django" for n in names), path
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"today", "now", "utcnow"}, (path, node.lineno)
    code = (
        "import sys, decision; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, check=True)
