"""Trigram indexes for the tune list's search (PostgreSQL only): ``icontains`` on name, slug
and task description compares ``UPPER(column::text) LIKE UPPER(%s)``, and a GIN index of that
expression's trigrams answers it without reading every tune. SQLite has neither; there the
migration does nothing."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

COLUMNS = {
    "tracker_tune_search_name": "name",
    "tracker_tune_search_slug": "slug",
    "tracker_tune_search_task": "task_description",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index, column in COLUMNS.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON tracker_finetune "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0010_latest_evaluation_on_tune"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on other databases
        migrations.RunPython(create_indexes, drop_indexes),
    ]
