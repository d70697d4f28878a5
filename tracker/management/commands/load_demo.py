"""Load a believable demo portfolio: 3 teams, 14 tunes, 18 months of daily usage.

Running it again changes nothing: every row is looked up by its natural key first, and the
usage is generated from a seed per tune, so the same day always gets the same numbers.

Assumptions behind the figures (list prices per 1M tokens, input / output, as of late 2025):
- Frontier alternatives: openai gpt-4o at $5 / $15, cut to $2.50 / $10 nine months before the
  as-of date (the price cut); anthropic claude-sonnet-4 at $3 / $15.
- Small bases: openai gpt-4o-mini at $0.15 / $0.60, served fine-tuned at $0.30 / $1.20;
  mistral-small 2409 at $0.20 / $0.60, shutting down 45 days after the as-of date with 2501 as
  successor; llama-3.1-8b on a dedicated endpoint at $0.20 / $0.20, served tuned at $0.30 / $0.30.
- Volumes from 4,000 to 60,000 queries a day, with a weekday rhythm and ±10 % daily noise; prompts
  of 400 to 3,000 input tokens and 60 to 500 output tokens; the alternative's extra prompt
  (instructions and few-shot examples) of 300 to 2,400 tokens a query.
- A LoRA tune costs $15k–$60k up front (compute, labelling, engineering), $4k–$15k to retrain,
  and $300–$2,000 a month to host and monitor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tracker.models import (
    CatalogModel,
    ChangeLogEntry,
    FineTune,
    ModelPrice,
    Team,
    TunePrice,
    UsageRecord,
)

HISTORY_DAYS = 548  # 18 months


@dataclass
class DemoTune:
    slug: str
    name: str
    team: str
    owner: str
    status: str
    base: str
    alternative: str
    description: str
    daily_queries: float = 0
    input_tokens: int = 800
    output_tokens: int = 150
    extra_prompt_tokens: int = 1200
    upfront: int = 30_000
    retrain: int = 8_000
    monthly_fixed: int = 800
    trained_days_ago: int = 400
    deployed_days_ago: int = 390
    examples: int = 5_000
    target: float | None = 0.90
    baseline: float | None = 0.82
    tune: float | None = 0.91
    articulable: bool = False
    unpromptable: bool = True
    tacit: bool = False
    anti: tuple[str, ...] = ()
    serving: tuple[float, float] | None = None
    #: (days ago, kind, meaningful, summary, cost)
    changes: list[tuple] = field(default_factory=list)
    #: Multiplies the volume over the last 30 days (a drop), or stops usage this many days ago.
    last_month_factor: float = 1.0
    silent_days: int = 0
    sources: tuple[str, ...] = ("gateway",)


CATALOG = {
    "gpt-4o": ("openai", "gpt-4o", "2024-08-06", 850, None, None),
    "gpt-4o-mini": ("openai", "gpt-4o-mini", "2024-07-18", 860, None, None),
    "claude-sonnet": ("anthropic", "claude-sonnet-4", "20250514", 560, None, None),
    "mistral-2501": ("mistral", "mistral-small", "2501", 680, None, None),
    "mistral-2409": ("mistral", "mistral-small", "2409", 800, 45, "mistral-2501"),
    "llama-8b": ("meta", "llama-3.1-8b-instruct", "3.1", 860, None, None),
}
#: (days ago effective, input, output)
PRICES = {
    "gpt-4o": [(900, 5.00, 15.00), (270, 2.50, 10.00)],
    "gpt-4o-mini": [(900, 0.15, 0.60)],
    "claude-sonnet": [(560, 3.00, 15.00)],
    "mistral-2501": [(680, 0.10, 0.30)],
    "mistral-2409": [(800, 0.20, 0.60)],
    "llama-8b": [(860, 0.20, 0.20)],
}
TEAMS = {
    "support": "Customer Support AI",
    "risk": "Risk & Compliance",
    "growth": "Growth Marketing",
}
OWNERS = {
    "amara": ("Amara", "Okafor", "support"),
    "ben": ("Ben", "Larsen", "support"),
    "chen": ("Chen", "Wei", "risk"),
    "dora": ("Dora", "Nagy", "risk"),
    "eli": ("Eli", "Martin", "growth"),
}


def monthly_changes(days: int, count: int) -> list[tuple]:
    return [
        (days - 30 * i, "business_rule", True, f"Refund rule revised (month {i + 1})", None)
        for i in range(count)
    ]


TUNES = [
    DemoTune(
        "support-triage",
        "Support ticket triage",
        "support",
        "amara",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Routes incoming tickets to one of 42 queues with a strict refusal style.",
        daily_queries=60_000,
        input_tokens=900,
        output_tokens=120,
        extra_prompt_tokens=1800,
        upfront=40_000,
        retrain=9_000,
        monthly_fixed=1_500,
        trained_days_ago=420,
        deployed_days_ago=410,
        examples=48_000,
        target=0.93,
        baseline=0.86,
        tune=0.94,
        serving=(0.30, 1.20),
        sources=("gateway-eu", "gateway-us"),
        changes=[
            (430, "task_spec", True, "Queue taxonomy v3 agreed with support leads", None),
            (420, "retraining", False, "Retrained on taxonomy v3", 9_000),
            (200, "note", False, "Quarterly review: no change", None),
        ],
    ),
    DemoTune(
        "refund-policy-assistant",
        "Refund policy assistant",
        "support",
        "ben",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Answers agents' refund questions under the current refund rules.",
        daily_queries=9_000,
        input_tokens=1400,
        output_tokens=300,
        extra_prompt_tokens=2400,
        upfront=25_000,
        retrain=6_000,
        monthly_fixed=900,
        trained_days_ago=200,
        deployed_days_ago=330,
        examples=6_500,
        target=0.90,
        baseline=0.84,
        tune=0.90,
        articulable=True,
        serving=(0.30, 1.20),
        changes=[
            (200, "retraining", False, "Retrained after rule changes", 6_000),
            *monthly_changes(330, 11),
        ],
    ),
    DemoTune(
        "ticket-summarizer",
        "Ticket summarizer",
        "support",
        "amara",
        "deployed",
        "mistral-2409",
        "claude-sonnet",
        "Writes the hand-over summary when a ticket changes queue.",
        daily_queries=22_000,
        input_tokens=2200,
        output_tokens=180,
        extra_prompt_tokens=900,
        upfront=18_000,
        retrain=5_000,
        monthly_fixed=700,
        trained_days_ago=300,
        deployed_days_ago=290,
        examples=12_000,
        target=0.88,
        baseline=0.83,
        tune=0.89,
        serving=(0.30, 0.90),
    ),
    DemoTune(
        "intent-router",
        "Chat intent router",
        "support",
        "ben",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Picks the intent of a chat message before it reaches the bot.",
        daily_queries=35_000,
        input_tokens=400,
        output_tokens=20,
        extra_prompt_tokens=1500,
        upfront=15_000,
        retrain=4_000,
        monthly_fixed=400,
        trained_days_ago=500,
        deployed_days_ago=600,
        examples=20_000,
        target=0.95,
        baseline=0.95,
        tune=0.96,
        serving=(0.30, 1.20),
        changes=[
            (
                40,
                "baseline_remeasured",
                False,
                "New prompt with retrieval of intent examples reaches 0.95",
                None,
            )
        ],
    ),
    DemoTune(
        "claims-fraud-scorer",
        "Claims fraud scorer",
        "risk",
        "chen",
        "deployed",
        "llama-8b",
        "claude-sonnet",
        "Scores insurance claims for fraud the way senior investigators judge them.",
        daily_queries=14_000,
        input_tokens=3000,
        output_tokens=200,
        extra_prompt_tokens=2000,
        upfront=60_000,
        retrain=15_000,
        monthly_fixed=2_000,
        trained_days_ago=380,
        deployed_days_ago=570,
        examples=30_000,
        target=0.88,
        baseline=0.74,
        tune=0.89,
        tacit=True,
        serving=(0.30, 0.30),
    ),
    DemoTune(
        "kyc-document-classifier",
        "KYC document classifier",
        "risk",
        "dora",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Classifies identity documents into the accepted KYC categories.",
        daily_queries=12_000,
        input_tokens=1500,
        output_tokens=60,
        extra_prompt_tokens=1200,
        upfront=28_000,
        retrain=7_000,
        monthly_fixed=800,
        trained_days_ago=240,
        deployed_days_ago=230,
        examples=9_000,
        target=0.97,
        baseline=0.90,
        tune=0.93,
        serving=(0.30, 1.20),
        changes=[(20, "new_category", True, "Residence permits (new EU format) accepted", None)],
    ),
    DemoTune(
        "contract-clause-reviewer",
        "Contract clause reviewer",
        "risk",
        "chen",
        "deployed",
        "llama-8b",
        "claude-sonnet",
        "Flags risky indemnity and liability clauses as the legal team would.",
        daily_queries=4_000,
        input_tokens=3000,
        output_tokens=500,
        extra_prompt_tokens=2400,
        upfront=60_000,
        retrain=12_000,
        monthly_fixed=1_500,
        trained_days_ago=120,
        deployed_days_ago=110,
        examples=3_200,
        target=0.85,
        baseline=0.72,
        tune=0.86,
        tacit=True,
        serving=(0.30, 0.30),
    ),
    DemoTune(
        "product-description-writer",
        "Product description writer",
        "growth",
        "eli",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Writes catalog descriptions from supplier spec sheets.",
        daily_queries=4_000,
        input_tokens=600,
        output_tokens=400,
        extra_prompt_tokens=300,
        upfront=20_000,
        retrain=5_000,
        monthly_fixed=900,
        trained_days_ago=480,
        deployed_days_ago=470,
        examples=4_000,
        target=0.85,
        baseline=0.80,
        tune=0.86,
        serving=(0.30, 1.20),
    ),
    DemoTune(
        "seo-meta-generator",
        "SEO meta generator",
        "growth",
        "eli",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Writes title and meta description tags for landing pages.",
        daily_queries=18_000,
        input_tokens=700,
        output_tokens=90,
        extra_prompt_tokens=1500,
        upfront=15_000,
        retrain=4_000,
        monthly_fixed=500,
        trained_days_ago=360,
        deployed_days_ago=350,
        examples=7_000,
        target=0.86,
        baseline=0.78,
        tune=0.87,
        serving=(0.30, 1.20),
        last_month_factor=0.45,
    ),
    DemoTune(
        "churn-email-classifier",
        "Churn email classifier",
        "growth",
        "eli",
        "deployed",
        "gpt-4o-mini",
        "gpt-4o",
        "Spots cancellation intent in inbound email for the retention team.",
        daily_queries=6_000,
        input_tokens=800,
        output_tokens=30,
        extra_prompt_tokens=1600,
        upfront=16_000,
        retrain=4_000,
        monthly_fixed=500,
        trained_days_ago=300,
        deployed_days_ago=290,
        examples=5_500,
        target=0.90,
        baseline=0.83,
        tune=0.91,
        serving=(0.30, 1.20),
        silent_days=10,
    ),
    DemoTune(
        "clinical-coding-assistant",
        "Clinical coding assistant",
        "risk",
        "dora",
        "proposed",
        "llama-8b",
        "claude-sonnet",
        "Assigns ICD-10 codes to discharge summaries as certified coders do.",
        examples=14_000,
        target=0.92,
        baseline=0.78,
        tune=None,
        tacit=True,
        upfront=45_000,
        retrain=10_000,
        monthly_fixed=1_200,
        extra_prompt_tokens=2400,
        input_tokens=2500,
        output_tokens=80,
    ),
    DemoTune(
        "brand-voice-tune",
        "Brand voice rewriter",
        "growth",
        "eli",
        "proposed",
        "gpt-4o-mini",
        "gpt-4o",
        "Rewrites marketing copy so it sounds like us.",
        examples=800,
        target=0.85,
        baseline=0.82,
        tune=None,
        articulable=True,
        unpromptable=False,
        anti=("brand_tone",),
        upfront=12_000,
        monthly_fixed=400,
        extra_prompt_tokens=600,
        input_tokens=500,
        output_tokens=300,
    ),
    DemoTune(
        "faq-knowledge-bot",
        "Product FAQ bot",
        "support",
        "ben",
        "proposed",
        "gpt-4o-mini",
        "gpt-4o",
        "Answers product questions from the help centre.",
        examples=2_500,
        target=0.90,
        baseline=0.86,
        tune=None,
        articulable=True,
        unpromptable=False,
        anti=("adds_knowledge",),
        upfront=15_000,
        monthly_fixed=500,
        extra_prompt_tokens=1500,
        input_tokens=1200,
        output_tokens=250,
    ),
    DemoTune(
        "invoice-line-extractor",
        "Invoice line extractor",
        "risk",
        "chen",
        "proposed",
        "gpt-4o-mini",
        "gpt-4o",
        "Extracts line items from supplier invoices into the ledger format.",
        examples=300,
        target=0.95,
        baseline=0.91,
        tune=None,
        articulable=True,
        anti=("fixes_formatting",),
        upfront=10_000,
        monthly_fixed=300,
        extra_prompt_tokens=1200,
        input_tokens=1800,
        output_tokens=400,
    ),
]
#: Expected volume of the proposals, queries a month.
PROPOSED_VOLUME = {
    "clinical-coding-assistant": 400_000,
    "brand-voice-tune": 30_000,
    "faq-knowledge-bot": 150_000,
    "invoice-line-extractor": 90_000,
}


def seed_for(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def daily_usage(spec: DemoTune, start: date, end: date) -> list[tuple[date, int, int, int]]:
    """Queries and tokens for each day from ``start`` to ``end``: weekday rhythm, slow growth,
    ±10 % noise, the same numbers for the same tune and day on every run."""
    days = np.arange(np.datetime64(start), np.datetime64(end) + 1)
    rng = np.random.default_rng(seed_for(f"{spec.slug}:{start}"))
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    rhythm = np.where(weekday >= 5, 0.6, 1.0)
    growth = np.linspace(0.9, 1.1, len(days))
    noise = rng.normal(1.0, 0.05, len(days)).clip(0.8, 1.2)
    queries = spec.daily_queries * rhythm * growth * noise
    age = (np.datetime64(end) - days).astype(int)
    queries = np.where(age < 30, queries * spec.last_month_factor, queries)
    queries = np.where(age < spec.silent_days, 0, queries).round().astype(int)
    input_tokens = (queries * spec.input_tokens * rng.normal(1, 0.03, len(days))).round()
    output_tokens = (queries * spec.output_tokens * rng.normal(1, 0.03, len(days))).round()
    return [
        (day.astype(date), int(q), int(i), int(o))
        for day, q, i, o in zip(days, queries, input_tokens, output_tokens, strict=True)
        if q > 0
    ]


class Command(BaseCommand):
    help = "Load the demo portfolio (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="The day the demo ends on (default: today, UTC).",
        )

    @transaction.atomic
    def handle(self, *args, as_of: date | None = None, **options):
        today = as_of or timezone.localdate()
        ago = lambda days: today - timedelta(days=days)  # noqa: E731
        User = get_user_model()

        teams = {
            key: Team.objects.get_or_create(slug=key, defaults={"name": name})[0]
            for key, name in TEAMS.items()
        }
        owners = {}
        for username, (first, last, team) in OWNERS.items():
            owners[username], _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "is_staff": True,
                },
            )
            teams[team].members.add(owners[username])

        models = {}
        for key, (provider, name, version, released, shutdown, _) in CATALOG.items():
            models[key], _ = CatalogModel.objects.get_or_create(
                provider=provider,
                name=name,
                version=version,
                defaults={
                    "released_on": ago(released),
                    "shutdown_on": today + timedelta(days=shutdown) if shutdown else None,
                },
            )
        for key, (*_, successor) in CATALOG.items():
            if successor and models[key].successor_id is None:
                models[key].successor = models[successor]
                models[key].save(update_fields=["successor"])
        for key, prices in PRICES.items():
            for days, input_price, output_price in prices:
                ModelPrice.objects.get_or_create(
                    model=models[key],
                    effective_from=ago(days),
                    defaults={
                        "input_usd_per_mtok": Decimal(str(input_price)),
                        "output_usd_per_mtok": Decimal(str(output_price)),
                    },
                )

        usage_rows = []
        for spec in TUNES:
            deployed = spec.status == FineTune.Status.DEPLOYED
            tune, _ = FineTune.objects.get_or_create(
                slug=spec.slug,
                defaults={
                    "name": spec.name,
                    "team": teams[spec.team],
                    "owner": owners[spec.owner],
                    "status": spec.status,
                    "task_description": spec.description,
                    "base_model": models[spec.base],
                    "alternative": models[spec.alternative],
                    "extra_prompt_tokens": spec.extra_prompt_tokens,
                    "need_is_articulable": spec.articulable,
                    "behaviour_unpromptable": spec.unpromptable,
                    "tacit_expertise": spec.tacit,
                    **{flag: True for flag in spec.anti},
                    "labelled_examples": spec.examples,
                    "target_score": spec.target,
                    "baseline_score": spec.baseline,
                    "tune_score": spec.tune,
                    "upfront_cost": Decimal(spec.upfront),
                    "retrain_cost": Decimal(spec.retrain),
                    "monthly_fixed_cost": Decimal(spec.monthly_fixed),
                    "deployed_on": ago(spec.deployed_days_ago) if deployed else None,
                    "last_trained_on": ago(spec.trained_days_ago) if deployed else None,
                    "expected_monthly_queries": PROPOSED_VOLUME.get(spec.slug),
                    "expected_input_tokens": None if deployed else spec.input_tokens,
                    "expected_output_tokens": None if deployed else spec.output_tokens,
                },
            )
            if spec.serving:
                TunePrice.objects.get_or_create(
                    tune=tune,
                    effective_from=ago(max(spec.deployed_days_ago, spec.trained_days_ago)),
                    defaults={
                        "input_usd_per_mtok": Decimal(str(spec.serving[0])),
                        "output_usd_per_mtok": Decimal(str(spec.serving[1])),
                    },
                )
            for days, kind, meaningful, summary, cost in spec.changes:
                ChangeLogEntry.objects.get_or_create(
                    tune=tune,
                    day=ago(days),
                    kind=kind,
                    summary=summary,
                    defaults={
                        "meaningful": meaningful,
                        "author": "demo",
                        "cost": Decimal(cost) if cost else None,
                    },
                )
            if deployed:
                start = max(ago(spec.deployed_days_ago), ago(HISTORY_DAYS))
                for source in spec.sources:
                    share = 1 / len(spec.sources)
                    for day, queries, input_tokens, output_tokens in daily_usage(
                        spec, start, today
                    ):
                        usage_rows.append(
                            UsageRecord(
                                tune=tune,
                                day=day,
                                source=source,
                                queries=round(queries * share),
                                input_tokens=round(input_tokens * share),
                                output_tokens=round(output_tokens * share),
                            )
                        )
        # Existing days are left as they are, so a second run writes nothing.
        UsageRecord.objects.bulk_create(usage_rows, batch_size=2000, ignore_conflicts=True)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo portfolio as of {today}: {FineTune.objects.count()} tunes, "
                f"{UsageRecord.objects.count()} usage records."
            )
        )
