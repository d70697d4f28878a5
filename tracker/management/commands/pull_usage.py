"""Pull daily usage from a provider's usage API now (the nightly job does it for every source
whose credentials are set).

    manage.py pull_usage openai|anthropic|litellm|langfuse [--since YYYY-MM-DD]

Without ``--since`` it re-pulls the last ``TUNEFOLIO_PULL_DAYS`` (3) whole days.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from tracker.importers.clients import FETCHERS
from tracker.services.pulls import SourceNotConfigured, usage_pull


class Command(BaseCommand):
    help = "Pull daily usage from a provider's usage API: whole days, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=sorted(FETCHERS))
        parser.add_argument("--since", type=date.fromisoformat, help="First day (YYYY-MM-DD).")

    def handle(self, *args, source: str, since: date | None, **options):
        try:
            pull = usage_pull(source=source, since=since)
        except SourceNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        for entry in pull.unmatched:
            self.stdout.write(
                f"Unmatched model id {entry['model_id']}: {entry['days']} day(s), "
                f"{entry['input_tokens']} input and {entry['output_tokens']} output tokens."
            )
        for warning in pull.warnings:
            self.stdout.write(f"Warning: {warning}")
        if pull.error:
            raise CommandError(f"Pull failed, nothing written: {pull.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Pulled {source} {pull.period_start}..{pull.period_end}: {pull.rows} rows written."
            )
        )
