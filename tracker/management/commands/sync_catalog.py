"""Fill the catalog's shutdown dates and prices from LiteLLM's model map.

    manage.py sync_catalog FILE_OR_URL [--dry-run]

SOURCE is ``model_prices_and_context_window.json`` (a path, or a URL such as the raw file in
LiteLLM's repository). Shows each match (catalog model → entry key), every change, and the
hand-set values it left alone. See ``tracker.importers.catalog`` for the matching.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tracker.services.catalog_sync import CatalogSyncFailed, catalog_sync


class Command(BaseCommand):
    help = "Fill shutdown dates and prices from LiteLLM's model map; never overwrite hand-set ones."

    def add_arguments(self, parser):
        parser.add_argument("source", help="A file path or URL.")
        parser.add_argument("--dry-run", action="store_true", help="Show, change nothing.")

    def handle(self, *args, source: str, dry_run: bool, **options):
        try:
            report = catalog_sync(location=source, dry_run=dry_run)
        except CatalogSyncFailed as exc:
            raise CommandError(str(exc)) from exc
        for model, key in report.matched:
            self.stdout.write(f"matched {model} → {key}")
        for model in report.unmatched:
            self.stdout.write(f"no entry for {model}")
        for line in report.kept:
            self.stdout.write(f"kept: {line}")
        for line in report.changes:
            self.stdout.write(f"{'would change' if dry_run else 'changed'}: {line}")
        self.stdout.write(self.style.SUCCESS(f"{len(report.changes)} change(s)."))
