"""MetricSync is SyncState, reached as ``metric.sync_state``: one name for the metric's sync state.

The rows stay: the table and its due-metrics index are renamed, not rebuilt.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("builder", "0003_closeddraft"),
        ("syncs", "0007_move_notification"),
    ]

    operations = [
        migrations.RenameModel(old_name="MetricSync", new_name="SyncState"),
        migrations.AlterField(
            model_name="syncstate",
            name="metric",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="sync_state", to="builder.metric"
            ),
        ),
        migrations.RenameIndex(model_name="syncstate", new_name="syncstate_due", old_name="metricsync_due"),
    ]
