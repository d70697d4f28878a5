"""Evaluate the portfolio (or one tune) as of a day, and print the verdicts with their reasons."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from tracker import selectors, services
from tracker.models import Evaluation, FineTune
from tracker.services import jobs

# The bar's monitor thread would be running when the command forks its evaluating processes.
tqdm.monitor_interval = 0


class Command(BaseCommand):
    help = "Re-evaluate every tune that is not retired (or --tune SLUG) as of --as-of (today)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument("--tune", metavar="SLUG", default=None)
        parser.add_argument(
            "--processes",
            type=int,
            default=os.cpu_count() or 1,
            help="evaluate chunks in this many processes on PostgreSQL (default: one per CPU)",
        )

    def handle(self, *args, as_of=None, tune=None, processes=1, verbosity=1, **options):
        as_of = as_of or timezone.localdate()
        if tune:
            found = FineTune.objects.filter(slug=tune).first()
            if found is None:
                raise CommandError(f"No tune with slug {tune!r}.")
            try:
                evaluation = services.evaluate_tune(tune=found, as_of=as_of)
            except services.TuneRetired as exc:
                raise CommandError(f"{tune}: {exc}") from exc
            self.print_rows(as_of, {found.pk: found.slug}, [evaluation])
            return
        # The same tunes and chunks as the nightly run, evaluated here instead of queued, and
        # printed chunk by chunk (sorted within a chunk) so memory stays flat however many tunes.
        names = dict(selectors.evaluable_tunes().values_list("pk", "slug"))
        chunks = jobs.evaluate_in_chunks(tune_ids=names, as_of=as_of, processes=processes)
        self.print_header(as_of, names)
        with tqdm(total=len(names), unit="tune", disable=verbosity < 1, file=self.stderr) as bar:
            for evaluations in chunks:
                self.print_lines(names, evaluations)
                bar.update(len(evaluations))

    def print_rows(self, as_of, names, evaluations):
        self.print_header(as_of, names)
        self.print_lines(names, evaluations)

    def print_header(self, as_of, names):
        self.width = max((len(n) for n in names.values()), default=4)
        self.stdout.write(f"Verdicts as of {as_of}:")
        self.stdout.write(f"{'tune':<{self.width}}  {'verdict':<9}  reason")

    def print_lines(self, names, evaluations: Iterable[Evaluation | jobs.Evaluated]):
        for evaluation in sorted(evaluations, key=lambda e: (e.verdict, names[e.tune_id])):
            self.stdout.write(
                f"{names[evaluation.tune_id]:<{self.width}}  {evaluation.verdict:<9}  "
                f"{evaluation.reason}"
            )
