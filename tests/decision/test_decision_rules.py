"""The rule table: each rule declared once, citing only figures the frame has, documented."""

import pandas as pd
import pytest
from decision_builders import AS_OF, POLICY, ROOT_DIR, portfolio, tune, usage

from decision import Verdict
from decision.engine import FRAME_COLUMNS, build_frame, check_frame
from decision.rules import PRECEDENCE, RULE_CODES, RULES


def test_each_rule_is_declared_once():
    codes = [rule.code for rule in RULES]
    assert len(codes) == len(set(codes)) == len(RULE_CODES)


def test_rules_cite_only_columns_of_the_frame():
    for rule in RULES:
        assert set(rule.cites) <= set(FRAME_COLUMNS), rule.code


def test_precedence_is_declared_once_for_each_kind_of_tune():
    assert PRECEDENCE == {
        "deployed": ((Verdict.RETIRE, Verdict.RETRAIN, Verdict.WATCH), Verdict.KEEP),
        "proposed": ((Verdict.ITERATE,), Verdict.FINE_TUNE),
    }
    argued = {verdict for order, default in PRECEDENCE.values() for verdict in (*order, default)}
    assert {rule.verdict for rule in RULES} <= {*argued, None}


def test_the_four_questions_are_entries_of_the_table():
    questions = [rule for rule in RULES if rule.short is not None]
    assert {rule.code[:2] for rule in questions if rule.code.startswith("q")} == {
        "q1",
        "q2",
        "q3",
        "q4",
    }
    assert all(rule.applies_to == "proposed" for rule in questions)
    assert {rule.verdict for rule in questions} == {Verdict.FINE_TUNE, Verdict.ITERATE}


def test_a_new_proposal_rule_is_one_entry(monkeypatch):
    """Adding a rule to the table is all it takes: it decides, and the reason names it."""
    from decision_builders import one, proposal

    from decision.results import Severity
    from decision.rules import Rule

    assert one(portfolio([proposal()])).verdict is Verdict.FINE_TUNE
    new_rule = Rule(
        "q5_no_owner_signoff",
        Verdict.ITERATE,
        Severity.ACTION,
        "sign-off",
        lambda frame, flags, policy: frame["labelled_examples"] > 0,
        lambda figures, policy: "Nobody signed the training budget off.",
        ("labelled_examples",),
        applies_to="proposed",
        short=lambda row, policy: "sign-off (none)",
    )
    monkeypatch.setattr("decision.rules.RULES", (*RULES, new_rule))
    monkeypatch.setattr("decision.verdict.RULES", (*RULES, new_rule))
    after = one(portfolio([proposal()]))
    assert after.verdict is Verdict.ITERATE
    assert after.reason == "Keep improving prompts and retrieval: fails sign-off (none)."
    decisive = [finding.code for finding in after.findings if finding.decisive]
    assert decisive == ["q5_no_owner_signoff"]


def test_every_rule_code_is_in_the_decision_readme():
    readme = (ROOT_DIR / "decision" / "README.md").read_text()
    assert [code for code in sorted(RULE_CODES) if f"`{code}`" not in readme] == []


def test_the_frame_has_exactly_the_declared_columns():
    frame = build_frame(portfolio([tune()], usage()), POLICY, AS_OF)
    assert list(frame.columns) == list(FRAME_COLUMNS)


@pytest.mark.parametrize("change", ["drop", "add"])
def test_a_missing_or_undeclared_column_is_caught_where_the_frame_is_built(change):
    frame = build_frame(portfolio([tune()], usage()), POLICY, AS_OF)
    broken = frame.drop(columns="as_of") if change == "drop" else frame.assign(extra=1)
    with pytest.raises(AssertionError, match="as_of" if change == "drop" else "extra"):
        check_frame(broken)


def test_a_finding_cites_exactly_the_figures_its_rule_names():
    from decision_builders import one

    result = one(portfolio([tune(monthly_fixed_cost=5000.0)], usage()))
    rule = next(rule for rule in RULES if rule.code == "no_longer_pays_off")
    finding = result.finding("no_longer_pays_off")
    assert finding is not None and finding.decisive
    assert set(finding.figures) == set(rule.cites)
    assert finding.figures["monthly_net_saving"] == pytest.approx(
        result.figures["monthly_net_saving"]
    )
    assert not pd.isna(finding.figures["monthly_net_saving"])


def test_every_part_of_the_framework_is_defined_in_the_readme_with_its_origin():
    from decision.vocabulary import PART_ORIGINS, Part

    readme = (ROOT_DIR / "decision" / "README.md").read_text()
    assert set(PART_ORIGINS) == set(Part)
    for part in Part:
        assert f"| “{part}” |" in readme, part


def test_the_reason_carries_every_deciding_finding_so_no_surface_points_at_hidden_reasons():
    from decision_builders import change, one

    # Loses money and changes too often (so it also needs a retraining that can't pay back):
    # several RETIRE reasons.
    result = one(
        portfolio(
            [tune(monthly_fixed_cost=5000.0)],
            usage(),
            changes=[change(at=-10 * i) for i in range(1, 9)],
        )
    )
    decisive = [f for f in result.findings if f.decisive]
    assert [f.code for f in decisive][:2] == ["no_longer_pays_off", "task_changes_too_often"]
    for finding in decisive:
        assert finding.message.rstrip(".") in result.reason
    assert "below" not in result.reason
    assert result.reason.startswith("Loses $")  # a negative saving reads as a loss
