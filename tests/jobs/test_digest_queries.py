"""The weekly digest's queries do not grow with the portfolio. Apart from ``test_digest.py``,
whose tests all read one scene built once for the module: this test builds its own portfolios."""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tests.jobs import portfolio
from tracker.selectors import digest as digest_selectors
from tracker.services import evaluate_portfolio

DAY = date(2026, 3, 2)


def test_a_digest_takes_the_same_number_of_queries_for_any_portfolio_size(
    db, settings, django_assert_max_num_queries
):
    settings.TUNEFOLIO_PORTFOLIO_LEADS = ["lead@example.com"]
    lead = UserFactory(username="lead", email="lead@example.com")
    counts = []
    for size in (1, 6):
        portfolio.build(DAY, tuple(f"retire-{n}" for n in range(size)))
        evaluate_portfolio(as_of=DAY)
        with CaptureQueriesContext(connection) as queries:
            digest = digest_selectors.digest_for(lead)
        counts.append(len(queries))
    assert len(digest.items) == 7
    assert counts[0] == counts[1], counts
