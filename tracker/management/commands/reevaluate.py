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
        tunes = FineTune.objects.order_by("pk")
        active = tunes.exclude(status=FineTune.Status.RETIRED)
        tunes = tunes.filter(slug=tune) if tune else active
        names = dict(tunes.values_list("pk", "slug"))
        if tune and not names:
            raise CommandError(f"No tune with slug {tune!r}.")
        ids = list(names)
        width = max((len(n) for n in names.values()), default=4)
        self.stdout.write(f"Verdicts as of {as_of}:")
        self.stdout.write(f"{'tune':<{width}}  {'verdict':<9}  reason")
        # Printed chunk by chunk (sorted within a chunk), so memory stays flat however many tunes.
        with tqdm(total=len(ids), unit="tune", disable=verbosity < 1, file=self.stderr) as bar:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                evaluations = services.evaluate_portfolio(as_of, chunk).evaluations
                lines = sorted((e.verdict, names[e.tune_id], e.reason) for e in evaluations)
                for verdict, name, reason in lines:
                    self.stdout.write(f"{name:<{width}}  {verdict:<9}  {reason}")
                bar.update(len(chunk))
