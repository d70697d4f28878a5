"""On PostgreSQL, the (tune, day, source) unique constraint's index also carries the usage values,
so the evaluation sums each tune's rows from the index alone, in (tune, day) order, however the
rows lie in the table (day by day, as they arrive). The new index is built without locking the
table (``CONCURRENTLY``, outside a transaction), then takes the constraint over.

Reading from an index alone needs the table's visibility map to be current: autovacuum visits
the table after every 10,000 new rows instead of after a fifth of its size, so the newest days
are not left to be fetched from the table page by page for weeks. Other databases keep the plain
constraint (the model's state is unchanged)."""

from django.db import migrations

TABLE = "tracker_usagerecord"
CONSTRAINT = "tracker_usage_one_per_tune_day_source"
KEY = "tune_id, day, source"
VALUES = "queries, input_tokens, output_tokens, cost_usd, estimated"


def _swap(schema_editor, include: str) -> None:
    """The constraint moved onto a new unique index on ``KEY`` (with ``include``), built
    concurrently; the index takes the constraint's name."""
    new = f"{CONSTRAINT}_new"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {new}")  # left by a failed build
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {new} ON {TABLE} ({KEY}){include}")
        cursor.execute(
            f"ALTER TABLE {TABLE} DROP CONSTRAINT {CONSTRAINT}, "
            f"ADD CONSTRAINT {CONSTRAINT} UNIQUE USING INDEX {new}"
        )


def carry_values(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _swap(schema_editor, f" INCLUDE ({VALUES})")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} SET (autovacuum_vacuum_insert_scale_factor = 0, "
        "autovacuum_vacuum_insert_threshold = 10000)"
    )


def key_only(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _swap(schema_editor, "")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} RESET (autovacuum_vacuum_insert_scale_factor, "
        "autovacuum_vacuum_insert_threshold)"
    )


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY can't run in a transaction

    dependencies = [
        ("tracker", "0013_latest_evaluation_updated_in_place"),
    ]

    operations = [migrations.RunPython(carry_values, key_only)]
