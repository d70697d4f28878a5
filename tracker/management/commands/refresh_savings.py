"""Store the overview's realised savings per tune and month, as the nightly run does after its
evaluations."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand
from django.utils import timezone

from tracker.models import TuneMonthSaving
from tracker.services import savings


class Command(BaseCommand):
    help = (
        "Recompute the realised net saving of every deployed tune, month by month, with usage "
        "up to --as-of (today), for the portfolio overview."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)

    def handle(self, *args, as_of=None, **options):
        as_of = as_of or timezone.localdate()
        # Never moved back to an older day than stored: a backfill of past days leaves them.
        if TuneMonthSaving.objects.filter(as_of__gt=as_of).exists():
            self.stdout.write("Realised savings left as they are: stored as of a later day.")
            return
        refresh = savings.refresh_savings(as_of=as_of)
        self.stdout.write(
            f"Realised savings as of {as_of}: {refresh.rows} months of {refresh.tunes} tunes."
        )
