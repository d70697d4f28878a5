"""Thin the evaluation history: daily for the last 90 days, one a week before that."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tracker.services.retention import DAILY_HISTORY_DAYS, prune_evaluations


class Command(BaseCommand):
    help = (
        f"Keep every evaluation of the last {DAILY_HISTORY_DAYS} days and the last of each week "
        "before; never a tune's latest, never one that opened or resolved a flag."
    )

    def handle(self, *args, **options):
        deleted = prune_evaluations()
        self.stdout.write(f"Deleted {deleted} evaluation(s).")
