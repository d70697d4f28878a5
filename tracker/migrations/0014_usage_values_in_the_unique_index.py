"""On PostgreSQL, the (tune, day, source) unique constraint's index also carries the usage values,
so the evaluation sums each tune's rows from the index alone, in (tune, day) order, however the
rows lie in the table (day by day, as they arrive). The new index is built without locking the
table (``CONCURRENTLY``, outside a transaction), then takes the constraint over.

Reading from an index alone needs the table's visibility map to be current: autovacuum visits
the table after every 10,000 new rows instead of after a fifth of its size, so the newest days
are not left to be fetched from the table page by page for weeks. Other databases keep the plain
constraint (the model's state is unchanged).

On PostgreSQL, dropping one of the carried columns later drops the index and the constraint with
it: such a migration must build the constraint again."""

import time

from django.db import OperationalError, migrations

TABLE = "tracker_usagerecord"
CONSTRAINT = "tracker_usage_one_per_tune_day_source"
KEY = "tune_id, day, source"
VALUES = "queries, input_tokens, output_tokens, cost_usd, estimated"


def _carries_values(cursor) -> bool:
    cursor.execute(
        "SELECT pg_get_indexdef(conindid) FROM pg_constraint WHERE conname = %s", [CONSTRAINT]
    )
    row = cursor.fetchone()
    return row is not None and "INCLUDE" in row[0]


def _swap(schema_editor, include: str) -> None:
    """The constraint moved onto a new unique index on ``KEY`` (with ``include``), built
    concurrently; the index takes the constraint's name. Done already (a rerun after a later
    step failed), nothing is built again."""
    new = f"{CONSTRAINT}_new"
    with schema_editor.connection.cursor() as cursor:
        if _carries_values(cursor) == bool(include):
            return
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {new}")  # left by a failed build
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {new} ON {TABLE} ({KEY}){include}")
        # The swap itself is instant, but waits for the table: behind a long read it would hold
        # up every write queued after it. It waits a few seconds at a time instead, and tries
        # again.
        for attempt in range(30):
            try:
                with schema_editor.connection.cursor() as swap:
                    swap.execute("SET lock_timeout = '5s'")
                    swap.execute(
                        f"ALTER TABLE {TABLE} DROP CONSTRAINT {CONSTRAINT}, "
                        f"ADD CONSTRAINT {CONSTRAINT} UNIQUE USING INDEX {new}"
                    )
                break
            except OperationalError:
                if attempt == 29:
                    raise
                time.sleep(1)
            finally:
                with schema_editor.connection.cursor() as reset:
                    reset.execute("RESET lock_timeout")


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
