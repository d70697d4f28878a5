"""The usage values ride in the (tune, day, source) unique index on PostgreSQL, so the evaluation
sums each tune's rows from the index alone, in (tune, day) order, however the rows lie in the
table (day by day, as they arrive)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0013_latest_evaluation_updated_in_place"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="usagerecord",
            name="tracker_usage_one_per_tune_day_source",
        ),
        migrations.AddConstraint(
            model_name="usagerecord",
            constraint=models.UniqueConstraint(
                fields=("tune", "day", "source"),
                include=("queries", "input_tokens", "output_tokens", "cost_usd", "estimated"),
                name="tracker_usage_one_per_tune_day_source",
            ),
        ),
    ]
