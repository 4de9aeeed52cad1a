"""MetricSync.history_start: how far back a metric's stored history reaches (issue 11, item 5).

Existing metrics get the earliest window of their stored runs (succeeded or page-capped),
for metrics whose dates come from the response and whose data are there (synced since their
last definition change).
"""

from django.db import migrations, models
from django.db.models import Min


def fill(apps, schema_editor):
    MetricSync = apps.get_model("syncs", "MetricSync")
    SyncRun = apps.get_model("syncs", "SyncRun")
    states = MetricSync.objects.filter(metric__date_mode="field", last_synced_at__isnull=False)
    for state in states.iterator():
        runs = SyncRun.objects.filter(
            metric_id=state.metric_id, status__in=("succeeded", "partial"), window_start__isnull=False
        )
        first = runs.aggregate(first=Min("window_start"))["first"]
        if first is not None:
            MetricSync.objects.filter(pk=state.pk).update(history_start=first)


class Migration(migrations.Migration):
    dependencies = [("syncs", "0004_syncrun_dropped"), ("builder", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="metricsync",
            name="history_start",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
