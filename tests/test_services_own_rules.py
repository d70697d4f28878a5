"""Services own the rules: retiring twice, evaluating a retired tune, reading the policy, and
publishing tasks only through tracker.publish."""

import ast
from datetime import date
from pathlib import Path

import pytest

from tracker import selectors, services
from tracker.models import DecisionPolicy, Evaluation, FineTune, Flag

from .factories import FineTuneFactory

pytestmark = pytest.mark.django_db
DAY = date(2025, 9, 30)
ROOT = Path(__file__).resolve().parents[1]


def _open_flag(tune: FineTune) -> Flag:
    services.evaluate_tune(tune=tune, as_of=DAY)
    evaluation = Evaluation.objects.get(tune=tune, as_of=DAY)
    return Flag.objects.create(tune=tune, kind="RETIRE", opened_by=evaluation, opened_on=DAY)


def test_retiring_twice_changes_nothing_the_second_time():
    tune = FineTuneFactory(status="deployed")
    flag = _open_flag(tune)
    services.retire_tune(tune=tune, on=date(2025, 10, 1))
    flag.refresh_from_db()
    assert tune.status == "retired" and flag.resolved_on == date(2025, 10, 1)
    services.retire_tune(tune=tune, on=date(2025, 10, 5))
    flag.refresh_from_db()
    assert tune.status == "retired" and flag.resolved_on == date(2025, 10, 1)


def test_evaluating_a_retired_tune_is_a_domain_error():
    tune = FineTuneFactory(status="retired")
    with pytest.raises(services.TuneRetired):
        services.evaluate_tune(tune=tune, as_of=DAY)
    assert not Evaluation.objects.exists()


def test_reading_the_policy_never_writes():
    assert not DecisionPolicy.objects.exists()
    policy = selectors.current_policy()
    assert policy.pk is None and policy.lookback_days == 90
    services.evaluate_tune(tune=FineTuneFactory(status="deployed"), as_of=DAY)
    assert not DecisionPolicy.objects.exists()


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "tracker" / "services").glob("*.py")), ids=str)
def test_services_never_import_tasks_or_celery(path):
    imported = _imports(path)
    assert not {n for n in imported if n.split(".")[0] in {"celery", "kombu"}}
    assert "tracker.tasks" not in imported
    assert not any(n.endswith(".tasks") or n == "tasks" for n in imported), imported
