"""The nightly pointer update of every tune's latest evaluation, in place: no index on the
pointer, and a fill factor that leaves room on each page for the new row version (PostgreSQL
only; existing pages get the room as they are rewritten)."""

import django.db.models.deletion
from django.db import migrations, models


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tracker_finetune SET (fillfactor = 70)")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tracker_finetune RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0012_realised_monthly_savings"),
    ]

    operations = [
        migrations.AlterField(
            model_name="finetune",
            name="latest_evaluation",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                help_text="The evaluation of the latest day: lists and the summary read the latest verdict through it. Moves only forward (evaluating an older day leaves it).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="tracker.evaluation",
            ),
        ),
        migrations.RunPython(leave_room, fill_pages),
    ]
