# Findings are stored by code and read back through Evaluation.findings, figures under short
# keys, both as json text. Rows written before keep their content and read back as they were.
# The tune's own index goes: the one-a-day (tune, as_of) index serves lookups by tune.

import django.db.models.deletion
from django.db import migrations, models

import tracker.models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0006_usage_estimated_default"),
    ]

    operations = [
        migrations.RenameField(
            model_name="evaluation",
            old_name="findings",
            new_name="stored_findings",
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="stored_findings",
            field=tracker.models.StoredJSONField(
                default=list,
                help_text="Each finding by its code and the figures it adds (see findings).",
            ),
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="figures",
            field=tracker.models.FiguresField(default=dict),
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="tune",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="evaluations",
                to="tracker.finetune",
            ),
        ),
    ]
