"""An evaluation's findings are stored by code and read back with the engine's own words."""

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "decision"))

from every_finding import results
from test_decision_wordings import STRICT

from decision import FIGURE_KEYS, Policy, TuneResult, fmt
from decision.fmt import json_safe
from decision.rules import RULE_WORDINGS
from decision.wordings import WORDINGS
from tracker import stored


def as_written(result: TuneResult) -> list[dict]:
    """The findings as the engine hands them over, blanks left out (as the API shows them)."""
    out = []
    for finding in result.findings:
        written = finding.as_dict()
        written["figures"] = {k: v for k, v in json_safe(finding.figures).items() if v is not None}
        out.append(written)
    return out


def through_storage(result: TuneResult, policy: Policy) -> tuple[dict, list, list[dict]]:
    """Write the result as a row would be (JSON text), read it back: (figures, stored, read)."""
    figures = stored.result_figures(result)
    proposal = result.verdict in stored.PROPOSAL_VERDICTS
    packed = stored.pack_findings(result.findings, figures, proposal=proposal)
    row_figures = json.loads(json.dumps(stored.pack_figures(figures), allow_nan=False))
    row_findings = json.loads(json.dumps(packed, allow_nan=False))
    read_figures = stored.unpack_figures(row_figures)
    read = stored.unpack_findings(
        row_findings, read_figures, stored.policy_of(policy.as_dict()), proposal=proposal
    )
    return read_figures, row_findings, read


def test_every_finding_code_reads_back_as_the_engine_wrote_it():
    codes = set()
    for policy in (Policy(), STRICT):
        for name, result in results(policy).items():
            read_figures, _, read = through_storage(result, policy)
            assert read == as_written(result), name
            assert read_figures == stored.figures(result.figures), name
            codes |= set(result.codes)
    assert codes == set(WORDINGS)


def test_a_stored_finding_holds_no_words_and_no_figure_the_row_already_has():
    for name, result in results().items():
        figures, row_findings, _ = through_storage(result, Policy())
        text = json.dumps(row_findings)
        for finding in result.findings:
            assert finding.message not in text, name
        for item in row_findings:
            own = item[1] if isinstance(item, list) else {}
            assert not {k for k, v in own.items() if figures.get(k) == v}, name


def test_the_deciding_findings_are_marked():
    result = results()["retraining pays back"]
    _, row_findings, read = through_storage(result, Policy())
    codes = [item if isinstance(item, str) else item[0] for item in row_findings]
    assert codes[:2] == ["task_changed_since_training!", "retraining_pays_back!"]
    assert "pays_off" in codes
    assert [f["code"] for f in read if f["decisive"]] == [
        f.code for f in result.findings if f.decisive
    ]


def test_rows_stored_whole_read_back_unchanged():
    result = results()["retraining pays back"]
    old_findings = as_written(result)
    old_figures = stored.figures(result.figures)  # full keys, as older rows have them
    assert stored.unpack_figures(old_figures) == old_figures
    assert stored.unpack_findings(old_findings, old_figures, Policy(), proposal=False) == (
        old_findings
    )


def test_the_figures_the_engine_hands_over_are_the_ones_a_row_keeps():
    for policy in (Policy(), STRICT):
        for name, result in results(policy).items():
            kept = stored.figures(result.figures)
            handed = stored.result_figures(result)
            assert result.stored_figures is not None, name
            assert [(k, v, type(v)) for k, v in handed.items()] == [
                (k, v, type(v)) for k, v in kept.items()
            ], name
            assert stored.result_figures(replace(result, stored_figures=None)) == kept, name


def test_every_figure_has_its_own_short_key():
    assert set(stored.SHORT_KEYS) == set(FIGURE_KEYS)
    shorts = list(stored.SHORT_KEYS.values())
    assert len(shorts) == len(set(shorts))
    assert not set(shorts) & set(FIGURE_KEYS)


def test_an_infinite_payback_is_said_but_not_shown_as_a_figure():
    result = results()["no longer pays off"]
    figures, _, read = through_storage(result, Policy())
    assert "payback_months" not in figures
    finding = next(f for f in read if f["code"] == "payback_beyond_stable_lifetime")
    assert "never pays back" in finding["message"]
    assert "payback_months" not in finding["figures"]


def test_a_figure_that_rounds_onto_a_tie_is_kept_exact():
    values = {
        "monthly_net_saving": 436.0,
        "monthly_queries": 155_434.500001,
        "alternative_cost_per_query": 0.0063,
        "tune_cost_per_query": 0.0003,
        "monthly_fixed_cost": 500.0,
    }
    assert f"{fmt.stored(values['monthly_queries']):,.0f}" == "155,434"  # rounded: one less
    finding = RULE_WORDINGS["pays_off"].finding(values, Policy())
    assert "(155,435 queries/month" in finding.message
    row_figures = stored.figures(values)
    packed = json.loads(json.dumps(stored.pack_findings([finding], row_figures, proposal=False)))
    (read,) = stored.unpack_findings(packed, row_figures, Policy(), proposal=False)
    assert read["message"] == finding.message


def test_a_finding_code_no_rule_carries_any_more_still_reads():
    (read,) = stored.unpack_findings(["dropped_rule!"], {}, Policy(), proposal=False)
    assert read["code"] == "dropped_rule" and read["decisive"] is True
    assert "dropped rule" in read["message"]
