"""Import daily usage from a CSV file (a provider's billing export, a gateway's dump).

    manage.py import_usage FILE.csv [--source NAME] [--team SLUG]

One row per tune, day and source. Columns (header names are matched case-insensitively, and the
common billing-export spellings are understood):

    tune           the tune's slug                     (also: tune_slug, fine_tune)
    day            YYYY-MM-DD                          (also: date, usage_date)
    source         the gateway or export; a blank cell, or no column, takes --source, which
                   is then required (usage from different sources adds up)
    queries        requests that day                   (also: requests, num_requests)
    input_tokens                                       (also: prompt_tokens, context_tokens)
    output_tokens                                      (also: completion_tokens, generated_tokens)
    cost_usd       optional, the actual cost           (also: cost, amount_usd)
    quality_score  optional, 0 to 1

Other columns are ignored (and named). It is the API's ingestion path: the whole file is
validated first, every error is reported with its line number, and nothing is written unless the
whole file is valid; then it is upserted on (tune, day, source) in one transaction.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tracker.models import Team
from tracker.services.usage import (
    FIELDS,
    REQUIRED_FIELDS,
    SOURCE_MAX_LENGTH,
    UsageBatchInvalid,
    ingest_usage,
)

ALIASES = {
    "tune_slug": "tune",
    "fine_tune": "tune",
    "date": "day",
    "usage_date": "day",
    "requests": "queries",
    "num_requests": "queries",
    "prompt_tokens": "input_tokens",
    "context_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "generated_tokens": "output_tokens",
    "cost": "cost_usd",
    "amount_usd": "cost_usd",
}
#: Rows read (and written) per step of the progress bar.
CHUNK_ROWS = 5_000
#: Errors printed before the rest are only counted.
MAX_PRINTED_ERRORS = 200


class Command(BaseCommand):
    help = "Import daily usage from a CSV file: all rows or none, errors by line number."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, a header line first).")
        parser.add_argument(
            "--source",
            help="Source of the rows that name none; required when the file has no source "
            "column (it says which gateway or export the usage comes from).",
        )
        parser.add_argument(
            "--team", metavar="SLUG", help="Refuse rows naming tunes outside this team."
        )

    def handle(
        self, *args, file: Path, source: str | None, team: str | None, verbosity=1, **options
    ):
        quiet = verbosity < 1
        team_ids = None
        if team is not None:
            team_ids = list(Team.objects.filter(slug=team).values_list("pk", flat=True))
            if not team_ids:
                raise CommandError(f"No team with slug {team!r}.")
        if source is not None and (not 1 <= len(source) <= SOURCE_MAX_LENGTH or "\x00" in source):
            raise CommandError(f"--source must be 1 to {SOURCE_MAX_LENGTH} characters.")

        frame = self.read(file, quiet)
        if source is None and "source" not in frame.columns:
            raise CommandError(
                f"{file.name} has no source column: say where the usage comes from with "
                "--source NAME (usage from different sources adds up)."
            )
        if frame.empty:
            self.stdout.write("No rows to import.")
            return
        with tqdm(
            total=len(frame), unit="row", desc="writing", disable=quiet, file=self.stderr
        ) as bar:
            try:
                result = ingest_usage(
                    frame,
                    team_ids=team_ids,
                    default_source=source,  # None: every row must name its source
                    numbers_as_text=True,
                    chunk_size=CHUNK_ROWS,
                    progress=bar.update,
                    row_name="line",
                )
            except UsageBatchInvalid as exc:
                bar.close()
                self.report(exc, file)
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning.as_dict()['message']}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.received} rows from {file.name}: {result.created} new, "
                f"{result.updated} replaced, {result.unchanged} unchanged."
            )
        )

    def read(self, file: Path, quiet: bool) -> pd.DataFrame:
        """The CSV as text, indexed by line number (the header is line 1)."""
        try:
            with file.open("rb") as handle:
                total = max(sum(1 for _ in handle) - 1, 0)
            chunks = []
            with tqdm(
                total=total, unit="row", desc="reading", disable=quiet, file=self.stderr
            ) as bar:
                reader = pd.read_csv(
                    file,
                    dtype=str,
                    keep_default_na=False,
                    skip_blank_lines=False,
                    encoding="utf-8-sig",
                    chunksize=CHUNK_ROWS,
                )
                for chunk in reader:
                    chunks.append(chunk)
                    bar.update(len(chunk))
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {file}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text: {exc}") from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise CommandError(f"{file} is not a readable CSV file: {exc}") from exc
        frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
        frame.index = frame.index + 2  # line numbers: the header is line 1
        frame.index.name = "line"

        renamed = {}
        for column in frame.columns:
            name = str(column).strip().lower()
            renamed[column] = ALIASES.get(name, name)
        frame = frame.rename(columns=renamed)
        duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        if duplicated:
            raise CommandError(f"Columns given twice (after aliases): {', '.join(duplicated)}.")
        missing = [c for c in REQUIRED_FIELDS if c not in frame.columns]
        if missing:
            raise CommandError(
                f"Missing columns: {', '.join(missing)} (found: {', '.join(frame.columns)})."
            )
        ignored = [c for c in frame.columns if c not in FIELDS]
        if ignored:
            self.stdout.write(f"Ignoring columns: {', '.join(map(str, ignored))}.")
            frame = frame.drop(columns=ignored)
        frame = frame.astype(object)
        # Blank cells are missing values; wholly blank lines are skipped (keeping line numbers).
        frame = frame.where(frame != "", None)
        return frame.dropna(how="all")

    def report(self, exc: UsageBatchInvalid, file: Path):
        for error in exc.errors[:MAX_PRINTED_ERRORS]:
            where = f"line {error.row}" + (f", {error.field}" if error.field else "")
            self.stderr.write(f"{file.name}: {where}: {error.message}")
        hidden = len(exc.errors) - MAX_PRINTED_ERRORS
        if hidden > 0:
            self.stderr.write(f"... and {hidden} more.")
        raise CommandError(f"{len(exc.errors)} errors in {file.name}; nothing was imported.")
