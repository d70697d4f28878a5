"""Evaluations refer to a stored policy version instead of carrying a copy of the thresholds."""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models


def move_policies(apps, schema_editor):
    Evaluation = apps.get_model("tracker", "Evaluation")
    PolicyVersion = apps.get_model("tracker", "PolicyVersion")
    versions = {}
    for values in Evaluation.objects.values_list("policy", flat=True).distinct():
        digest = hashlib.sha256(json.dumps(values or {}, sort_keys=True).encode()).hexdigest()
        if digest not in versions:
            versions[digest] = PolicyVersion.objects.get_or_create(
                digest=digest, defaults={"values": values or {}}
            )[0]
        Evaluation.objects.filter(policy=values).update(policy_version=versions[digest])


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0003_day_ranges"),
    ]

    operations = [
        migrations.CreateModel(
            name="PolicyVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("values", models.JSONField(help_text="The thresholds, by name.")),
                (
                    "digest",
                    models.CharField(
                        help_text="SHA-256 of the values.", max_length=64, unique=True
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["-created_at"]},
        ),
        migrations.AddField(
            model_name="evaluation",
            name="policy_version",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tracker.policyversion",
            ),
        ),
        migrations.RunPython(move_policies, migrations.RunPython.noop),
        migrations.RemoveField(model_name="evaluation", name="policy"),
        migrations.RenameField(
            model_name="evaluation", old_name="policy_version", new_name="policy"
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="policy",
            field=models.ForeignKey(
                blank=True,
                help_text="The thresholds in force.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="evaluations",
                to="tracker.policyversion",
            ),
        ),
    ]
