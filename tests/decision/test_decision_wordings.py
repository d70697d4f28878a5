"""Every finding's message is worded from its own figures and words and the policy: worded again
from them (as a stored finding is), it reads the same."""

from decision_builders import AS_OF, POLICY
from every_finding import results
from hypothesis import given
from test_decision_properties import SETTINGS, portfolios

from decision import Policy, TuneResult, Verdict, evaluate
from decision.vocabulary import finding_codes
from decision.wordings import WORDINGS, render, wording

PROPOSALS = {Verdict.FINE_TUNE, Verdict.ITERATE}
#: Thresholds away from the defaults, so a message that ignored the policy would show it.
STRICT = Policy(
    max_changes_per_quarter=0.5,
    min_quality_gap=0.08,
    horizon_months=18.0,
    shutdown_warning_days=60,
    shutdown_watch_days=200,
    quality_tolerance=0.01,
    volume_drop_watch=0.2,
    stale_usage_days=5,
    min_labelled_examples=2000,
)


def reworded(result: TuneResult, policy: Policy) -> list[tuple[str, str]]:
    return [(f.code, render(f.code, {**f.figures, **f.words}, policy)) for f in result.findings]


def test_the_scenarios_raise_every_finding_code_and_each_has_a_wording():
    raised = {code for result in results().values() for code in result.codes}
    assert raised == set(WORDINGS)
    assert finding_codes() <= set(WORDINGS)


def test_every_finding_reads_the_same_when_worded_again_from_its_figures():
    for policy in (POLICY, STRICT):
        for name, result in results(policy).items():
            expected = [(f.code, f.message) for f in result.findings]
            assert reworded(result, policy) == expected, name


def test_a_finding_carries_its_source_and_severity_by_code():
    for result in results().values():
        for f in result.findings:
            said = wording(f.code)
            assert (said.source, said.severity) == (f.source, f.severity)
            assert set(said.cites) <= set(f.figures) and set(f.words) <= set(said.uses)


@SETTINGS
@given(p=portfolios(complete_prices=False))
def test_any_portfolio_reads_the_same_when_worded_again(p):
    for result in evaluate(p, POLICY, AS_OF):
        assert reworded(result, POLICY) == [(f.code, f.message) for f in result.findings]
