"""Proposals: the four questions in order, and the anti-patterns.

Default proposal (builders): need not articulable, target 0.90, best prompt 0.80, 5,000
examples, no task changes, 100,000 queries/month saving 100,000 × 0.0118 − 100 = $1,080/month,
$20,000 upfront -> payback 18.5 months within the 24-month horizon.
"""

import pytest
from decision_builders import (
    SMALL,
    change,
    day,
    default_models,
    model,
    one,
    portfolio,
    proposal,
)

from decision import Severity, Verdict
from decision.vocabulary import Part

SAVING = 100_000 * 0.0118 - 100  # 1,080


def failed(result):
    return [f.code for f in result.findings if f.decisive and f.severity is Severity.ACTION]


def test_all_four_questions_pass():
    r = one(portfolio([proposal()]))
    assert r.verdict is Verdict.FINE_TUNE
    assert [f.code for f in r.findings if f.decisive] == [
        "q1_not_articulable",
        "q2_task_stable",
        "q3_enough_examples",
        "q4_gap_significant",
    ]
    assert [f.source for f in r.findings if f.decisive] == [
        Part.WRITTEN_DOWN,
        Part.TASK_CHANGES_RARELY,
        Part.THOUSANDS_OF_EXAMPLES,
        Part.GAP_WORTH_CLOSING,
    ]
    assert r.figures["payback_months"] == pytest.approx(20_000 / SAVING)
    assert "18.5 months" in r.reason
    assert "condition_1_behaviour_unpromptable" in r.codes


@pytest.mark.parametrize(
    ("baseline", "verdict", "code"),
    [(0.80, Verdict.FINE_TUNE, "q1_prompting_hit_ceiling"), (0.90, Verdict.ITERATE, None)],
)
def test_q1_articulable_need_passes_only_when_prompting_hit_its_ceiling(baseline, verdict, code):
    r = one(portfolio([proposal(need_is_articulable=True, baseline_score=baseline)]))
    assert r.verdict is verdict
    if code:
        assert code in r.codes
    else:
        assert failed(r) == ["q1_can_be_written_down", "q4_gap_too_small"]
        assert r.reason.startswith(
            "Keep improving prompts and retrieval: fails “need can't be written down” (it can be"
        )


def test_q1_articulable_need_without_a_measured_baseline_fails():
    r = one(portfolio([proposal(need_is_articulable=True, baseline_score=None)]))
    assert r.verdict is Verdict.ITERATE
    assert "q1_can_be_written_down" in failed(r)


@pytest.mark.parametrize(("n", "verdict"), [(4, Verdict.FINE_TUNE), (5, Verdict.ITERATE)])
def test_q2_change_rate(n, verdict):
    changes = [change(at=-10 - 30 * i) for i in range(n)]
    r = one(portfolio([proposal(upfront_cost=1000.0)], changes=changes))
    assert r.figures["change_rate_per_quarter"] == n / 4
    assert r.verdict is verdict
    if verdict is Verdict.ITERATE:
        assert failed(r) == ["q2_changes_too_often"]
        assert "“task changes rarely” (1.25 task changes per quarter > 1)" in r.reason


@pytest.mark.parametrize(
    ("examples", "verdict"), [(1000.0, Verdict.FINE_TUNE), (999.0, Verdict.ITERATE)]
)
def test_q3_labelled_examples(examples, verdict):
    r = one(portfolio([proposal(labelled_examples=examples)]))
    assert r.verdict is verdict
    if verdict is Verdict.ITERATE:
        assert failed(r) == ["q3_too_few_examples"]
        assert (
            "999 labelled examples, fewer than the 1,000 needed"
            in r.finding("q3_too_few_examples").message
        )


@pytest.mark.parametrize(
    ("baseline", "verdict"), [(0.85, Verdict.FINE_TUNE), (0.86, Verdict.ITERATE)]
)
def test_q4_gap_of_at_least_the_minimum(baseline, verdict):
    r = one(portfolio([proposal(target_score=0.90, baseline_score=baseline)]))
    assert r.figures["quality_gap"] == pytest.approx(0.90 - baseline)
    assert r.verdict is verdict
    if verdict is Verdict.ITERATE:
        assert failed(r) == ["q4_gap_too_small"]


@pytest.mark.parametrize(
    ("upfront", "verdict"), [(SAVING * 24, Verdict.FINE_TUNE), (SAVING * 24 + 1, Verdict.ITERATE)]
)
def test_q4_upfront_cost_must_pay_back_within_the_stable_lifetime(upfront, verdict):
    r = one(portfolio([proposal(upfront_cost=upfront)]))
    assert r.figures["expected_stable_lifetime_months"] == 24
    assert r.verdict is verdict
    if verdict is Verdict.ITERATE:
        assert failed(r) == ["q4_does_not_pay_back"]


def test_q4_stable_lifetime_counts_from_as_of_to_the_base_model_shutdown():
    models = [default_models()[0], model(SMALL, "small-base", shutdown_on=day(365))]
    r = one(portfolio([proposal()], models=models))
    assert r.figures["expected_stable_lifetime_months"] == pytest.approx(365 / 30.4375)
    assert r.verdict is Verdict.ITERATE  # 18.5 months payback > 12 months
    assert failed(r) == ["q4_does_not_pay_back"]
    assert "base_model_shutdown_approaching" not in r.codes  # 365 days is outside the watch


def test_q4_never_pays_back_when_alternative_is_cheaper():
    r = one(portfolio([proposal(monthly_fixed_cost=5000.0)]))
    assert r.figures["payback_months"] is None
    assert "never pays back" in r.finding("q4_does_not_pay_back").message


@pytest.mark.parametrize(
    ("flag", "code", "advice"),
    [
        ("adds_knowledge", "anti_pattern_adds_knowledge", "retrieval store"),
        ("fixes_formatting", "anti_pattern_formatting", "instructions and validation"),
        ("few_edge_cases", "anti_pattern_few_edge_cases", "prompt examples"),
        ("brand_tone", "anti_pattern_brand_tone", "voice guidance"),
    ],
)
def test_each_anti_pattern_blocks_fine_tuning_with_the_article_advice(flag, code, advice):
    r = one(portfolio([proposal(**{flag: True})]))
    assert r.verdict is Verdict.ITERATE
    f = r.finding(code)
    assert f.source == Part.NOT_A_REASON and f.decisive and advice in f.message
    assert failed(r) == [code]


def test_reason_names_every_failed_question():
    r = one(
        portfolio(
            [proposal(labelled_examples=200.0, baseline_score=0.88, brand_tone=True)],
            changes=[change(at=-10 * i) for i in range(1, 7)],
        )
    )
    assert r.verdict is Verdict.ITERATE
    assert failed(r) == [
        "q2_changes_too_often",
        "q3_too_few_examples",
        "q4_gap_too_small",
        "q4_does_not_pay_back",  # 1.5 changes/quarter leave 3 / 1.5 = 2 stable months
        "anti_pattern_brand_tone",
    ]
    assert r.reason == (
        "Keep improving prompts and retrieval: fails “task changes rarely” (1.5 task changes "
        "per quarter > 1), “examples: thousands needed” (200 labelled examples < 1,000), "
        "“gap worth closing” (gap 0.02 < 0.05), “gap worth closing” (payback 18.5 months > "
        "2.0 months) and “not a reason to fine-tune” (brand tone)."
    )
