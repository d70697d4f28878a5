"""Import daily usage from a file: Tunefolio's CSV, or a provider's or gateway's own format.

    manage.py import_usage FILE.csv [--source NAME] [--team SLUG]
    manage.py import_usage --format openai|anthropic|litellm|langfuse|otel FILE [--team SLUG]

FILE may be ``-`` for standard input. The provider formats (see ``tracker.importers``) name
provider model ids, resolved to tunes through their aliases; they are written under the format's
name as source, and the answer lists rows written, days covered, model ids that matched no tune
(with their days and tokens) and warnings.

The CSV:

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

import json
import sys
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tracker.importers import FORMATS
from tracker.importers.csv import columns as csv_columns
from tracker.models import Team
from tracker.services.imports import ImportRefused, usage_import
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
        parser.add_argument("file", help="The file (UTF-8), or - for standard input.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="csv",
            help="The payload's format (default: %(default)s).",
        )
        parser.add_argument(
            "--source",
            default=None,
            help="Source for the rows. A provider format (or a CSV naming model ids) is written "
            "under the format's name unless given. A CSV naming tune slugs: the source of the rows "
            "that name none, required when the file has no source column (usage from different "
            "sources adds up).",
        )
        parser.add_argument(
            "--team", metavar="SLUG", help="Refuse rows naming tunes outside this team."
        )

    def handle(
        self,
        *args,
        file: str,
        format: str,
        source: str | None,
        team: str | None,
        verbosity=1,
        **options,
    ):
        quiet = verbosity < 1
        team_ids = None
        if team is not None:
            team_ids = list(Team.objects.filter(slug=team).values_list("pk", flat=True))
            if not team_ids:
                raise CommandError(f"No team with slug {team!r}.")
        if source is not None and (not 1 <= len(source) <= SOURCE_MAX_LENGTH or "\x00" in source):
            raise CommandError(f"--source must be 1 to {SOURCE_MAX_LENGTH} characters.")
        if format != "csv" or file == "-" or names_model_ids(Path(file)):
            return self.import_format(format, file, source, team_ids)
        path = Path(file)

        frame = self.read(path, quiet)
        if source is None and "source" not in frame.columns:
            raise CommandError(
                f"{path.name} has no source column: say where the usage comes from with "
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
                self.report(exc, path)
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning.as_dict()['message']}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.received} rows from {path.name}: {result.created} new, "
                f"{result.updated} replaced, {result.unchanged} unchanged."
            )
        )

    def import_format(self, format: str, file: str, source: str | None, team_ids) -> None:
        name = "standard input" if file == "-" else Path(file).name
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {file}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{name} is not UTF-8 text: {exc}") from exc
        payload = text if format == "csv" else parse_json(text, name)
        try:
            report = usage_import(format=format, payload=payload, team_ids=team_ids, source=source)
        except ImportRefused as exc:
            for error in exc.errors[:MAX_PRINTED_ERRORS]:
                self.stderr.write(f"{name}: {error['field'] or 'payload'}: {error['message']}")
            message = f"{len(exc.errors)} errors in {name}; nothing was imported."
            raise CommandError(message) from exc
        for entry in report.unmatched:
            self.stdout.write(
                f"Unmatched model id {entry['model_id']}: {entry['days']} day(s) "
                f"{entry['first_day']}..{entry['last_day']}, {entry['input_tokens']} input and "
                f"{entry['output_tokens']} output tokens."
            )
        for warning in report.warnings:
            self.stdout.write(f"Warning: {warning}")
        days = (
            f"{report.days} day(s) {report.first_day}..{report.last_day}"
            if report.days
            else "no days"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {report.rows} rows ({report.source}) from {name}, {days}: "
                f"{report.created} new, {report.updated} replaced, {report.unchanged} unchanged."
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


def parse_json(text: str, name: str):
    """One JSON document, or one per line (several pages or exports appended to a file)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            if len(lines) > 1:
                return [json.loads(line) for line in lines]
        except json.JSONDecodeError:
            pass
        raise CommandError(f"{name} is not JSON: {exc}") from exc


def names_model_ids(file: Path) -> bool:
    """A CSV naming provider model ids and no tune slugs goes through the aliases."""
    try:
        with file.open(encoding="utf-8-sig") as handle:
            header = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False  # the CSV path reports it
    names = csv_columns(header.rstrip("\r\n").split(","))
    return "model" in names and "tune" not in names
