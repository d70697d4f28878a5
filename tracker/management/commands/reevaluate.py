"""Evaluate the portfolio (or one tune) as of a day, and print the verdicts with their reasons."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from tracker import selectors, services
from tracker.models import Evaluation, FineTune
from tracker.services import jobs


class Command(BaseCommand):
    help = "Re-evaluate every tune that is not retired (or --tune SLUG) as of --as-of (today)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument("--tune", metavar="SLUG", default=None)

    def handle(self, *args, as_of=None, tune=None, verbosity=1, **options):
        as_of = as_of or timezone.localdate()
        if tune:
            found = FineTune.objects.filter(slug=tune).first()
            if found is None:
                raise CommandError(f"No tune with slug {tune!r}.")
            try:
                evaluations = [services.evaluate_tune(tune=found, as_of=as_of)]
            except services.TuneRetired as exc:
                raise CommandError(f"{tune}: {exc}") from exc
            self.print_table(as_of, evaluations)
            return
        # The same tunes and chunks as the nightly run, evaluated here instead of queued.
        ids = list(selectors.evaluable_tunes().values_list("pk", flat=True))
        chunks = jobs.chunked(ids, settings.TUNEFOLIO_EVALUATION_CHUNK_SIZE)
        with tqdm(total=len(ids), unit="tune", disable=verbosity < 1, file=self.stderr) as bar:
            for chunk in chunks:
                jobs.evaluate_tunes(chunk, as_of)
                bar.update(len(chunk))
        self.print_table(as_of, list(Evaluation.objects.filter(as_of=as_of, tune_id__in=ids)))

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
