"""A small portfolio whose verdicts are known, built on real rows so the real engine decides.

Every tune serves 10,000 queries a day (800 input and 150 output tokens each) from its training
day on. On the base model's list price ($0.30 / $1.20 per 1M tokens) against the alternative's
($2.50 / $10.00, plus 1,000 extra prompt tokens a query) that saves about $1,700 a month before
the fixed cost; with the default $500 fixed cost the tune nets about $1,200 a month and its
$20,000 upfront cost pays back in ~17 months, inside the 24-month horizon: KEEP.

- ``keep``: as above.
- ``retire``: a $5,000 fixed cost makes the net saving negative: RETIRE (no longer pays off).
- ``retrain``: its base model shuts down 30 days after the as-of date and has a successor;
  retraining ($5,000) pays back in ~4 months: RETRAIN.
- ``watch``: its base model shuts down 120 days after the as-of date: WATCH.
- ``ready``: a proposal that passes all four questions: FINE_TUNE.
- ``brand``: a proposal for brand tone (an anti-pattern): ITERATE.

Per query the alternative costs (800 + 1,000) × $2.50 + 150 × $10.00 per 1M = $0.006 and the
tune 800 × $0.30 + 150 × $1.20 per 1M = $0.00042: a saving of $0.00558 a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from tests.factories import CatalogModelFactory, FineTuneFactory, ModelPriceFactory, UserFactory
from tracker.models import DecisionPolicy, FineTune, UsageRecord

QUERIES_A_DAY = 10_000
HISTORY_DAYS = 100
SAVING_PER_QUERY = 0.006 - 0.00042


@dataclass
class Portfolio:
    as_of: date
    tunes: dict[str, FineTune] = field(default_factory=dict)

    def __getitem__(self, key: str) -> FineTune:
        return self.tunes[key]

    @property
    def ids(self) -> list[int]:
        return sorted(t.pk for t in self.tunes.values())


def catalog_model(shutdown_on: date | None = None, successor=None, price=("0.30", "1.20")):
    model = CatalogModelFactory(
        released_on=date(2023, 1, 1), shutdown_on=shutdown_on, successor=successor
    )
    ModelPriceFactory(
        model=model,
        effective_from=date(2023, 1, 1),
        input_usd_per_mtok=Decimal(price[0]),
        output_usd_per_mtok=Decimal(price[1]),
    )
    return model


def add_usage(tune: FineTune, start: date, end: date, queries: int = QUERIES_A_DAY) -> None:
    days = (end - start).days + 1
    UsageRecord.objects.bulk_create(
        UsageRecord(
            tune=tune,
            day=start + timedelta(days=n),
            source="gateway",
            queries=queries,
            input_tokens=queries * 800,
            output_tokens=queries * 150,
        )
        for n in range(days)
    )


def build(
    as_of: date,
    kinds: tuple[str, ...] = ("keep", "retire", "retrain", "watch", "ready", "brand"),
    *,
    owner=None,
    usage_until: date | None = None,
) -> Portfolio:
    """Tunes of the given kinds ("keep-2" for a second KEEP tune), all owned by ``owner``, with
    usage from their training day up to ``usage_until`` (default: the as-of day)."""
    DecisionPolicy.objects.get_or_create(pk=1)
    owner = owner or UserFactory()
    trained = as_of - timedelta(days=HISTORY_DAYS)
    alternative = catalog_model(price=("2.50", "10.00"))
    successor = catalog_model()
    stable = catalog_model()
    portfolio = Portfolio(as_of)
    common = {
        "owner": owner,
        "alternative": alternative,
        "deployed_on": trained,
        "last_trained_on": trained,
    }
    for key in kinds:
        kind = key.split("-")[0]  # "keep-2" is another KEEP tune
        if kind == "keep":
            tune = FineTuneFactory(name=f"{key.capitalize()} tune", base_model=stable, **common)
        elif kind == "retire":
            tune = FineTuneFactory(
                name="Retire tune", base_model=stable, monthly_fixed_cost=Decimal(5000), **common
            )
        elif kind == "retrain":
            ending = catalog_model(shutdown_on=as_of + timedelta(days=30), successor=successor)
            tune = FineTuneFactory(name="Retrain tune", base_model=ending, **common)
        elif kind == "watch":
            ending = catalog_model(shutdown_on=as_of + timedelta(days=120), successor=successor)
            tune = FineTuneFactory(name="Watch tune", base_model=ending, **common)
        elif kind in ("ready", "brand"):
            tune = FineTuneFactory(
                name="Ready proposal" if kind == "ready" else "Brand proposal",
                owner=owner,
                status=FineTune.Status.PROPOSED,
                base_model=stable,
                alternative=alternative,
                deployed_on=None,
                last_trained_on=None,
                brand_tone=kind == "brand",
                expected_monthly_queries=300_000,
                expected_input_tokens=800,
                expected_output_tokens=150,
            )
        else:
            raise ValueError(kind)
        if tune.status == FineTune.Status.DEPLOYED:
            add_usage(tune, trained, usage_until or as_of)
        portfolio.tunes[key] = tune
    return portfolio
