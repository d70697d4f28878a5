"""Evaluate the portfolio (or one tune) as of a day, and print the verdicts with their reasons."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from tracker import services
from tracker.models import FineTune

CHUNK = 200


class Command(BaseCommand):
    help = "Re-evaluate every tune that is not retired (or --tune SLUG) as of --as-of (today)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument("--tune", metavar="SLUG", default=None)

    def handle(self, *args, as_of=None, tune=None, verbosity=1, **options):
        as_of = as_of or timezone.localdate()
        if tune:
            ids = list(FineTune.objects.filter(slug=tune).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"No tune with slug {tune!r}.")
        else:
            ids = list(
                FineTune.objects.exclude(status=FineTune.Status.RETIRED)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        evaluations = []
        with tqdm(total=len(ids), unit="tune", disable=verbosity < 1, file=self.stderr) as bar:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                evaluations += services.evaluate_portfolio(as_of, chunk).evaluations
                bar.update(len(chunk))
        self.print_table(as_of, evaluations)

    def print_table(self, as_of, evaluations):
        names = dict(
            FineTune.objects.filter(pk__in=[e.tune_id for e in evaluations]).values_list(
                "pk", "slug"
            )
        )
        width = max((len(n) for n in names.values()), default=4)
        self.stdout.write(f"Verdicts as of {as_of}:")
        self.stdout.write(f"{'tune':<{width}}  {'verdict':<9}  reason")
        for evaluation in sorted(evaluations, key=lambda e: (e.verdict, names[e.tune_id])):
            self.stdout.write(
                f"{names[evaluation.tune_id]:<{width}}  {evaluation.verdict:<9}  "
                f"{evaluation.reason}"
            )
