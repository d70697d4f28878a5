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


def engine_monthly_savings(today: dt.date):
    """Every deployed tune's realised net saving per month as the engine computes it now (what
    the stored rows the overview reads hold, as of their refresh): columns tune_id, name, month
    (Period), net_saving."""
    from tracker.models import FineTune
    from tracker.selectors.savings import realised_monthly_savings

    frame = realised_monthly_savings(FineTune.objects.values_list("pk", flat=True), today)
    names = dict(FineTune.objects.values_list("pk", "name"))
    frame["name"] = frame["tune_id"].map(names)
    return frame[["tune_id", "name", "month", "net_saving"]]
