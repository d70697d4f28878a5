"""The demo portfolio as of a fixed day, evaluated: the pages' tests and the browser's read it."""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command

#: The demo portfolio ends on this day, and the tests freeze the clock on it.
DEMO_DAY = dt.date(2026, 11, 27)


def load_evaluated_demo() -> None:
    from tracker.services import evaluate_portfolio
    from tracker.services.savings import refresh_savings

    call_command("load_demo", as_of=DEMO_DAY, verbosity=0)
    evaluate_portfolio(as_of=DEMO_DAY)
    refresh_savings(as_of=DEMO_DAY)  # what the nightly run does after evaluating
