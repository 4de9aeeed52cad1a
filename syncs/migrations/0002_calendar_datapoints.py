"""The datapoints of calendar-dated metrics (builder 0002) move to midnight UTC of their date.

They were stored as midnight of their date in the zone their naive values were read in (the
metric's date time zone, else its connection's data zone, else UTC); a calendar date is now
stored as midnight UTC of that date whatever that zone ("floating", see builder.dates). The
reverse puts them back.
"""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from django.db import migrations

BATCH = 2000


def _zone(metric):
    options = (metric.connection.options or {}) if metric.connection_id else {}
    try:
        return ZoneInfo(metric.date_timezone or options.get("data_timezone") or "UTC")
    except (ValueError, KeyError):
        return UTC


def _move(apps, forward):
    Metric = apps.get_model("builder", "Metric")
    Datapoint = apps.get_model("syncs", "Datapoint")
    for metric in Metric.objects.filter(date_kind="calendar").select_related("connection"):
        zone = _zone(metric)
        if zone is UTC or getattr(zone, "key", "") == "UTC":
            continue  # already midnight UTC
        changed = []
        for point in Datapoint.objects.filter(metric_id=metric.pk).only("pk", "timestamp").iterator(BATCH):
            if forward:
                day = point.timestamp.astimezone(zone).date()
                point.timestamp = datetime.combine(day, time.min, UTC)
            else:
                day = point.timestamp.astimezone(UTC).date()
                point.timestamp = datetime.combine(day, time.min, zone).astimezone(UTC)
            changed.append(point)
            if len(changed) >= BATCH:
                Datapoint.objects.bulk_update(changed, ["timestamp"])
                changed = []
        if changed:
            Datapoint.objects.bulk_update(changed, ["timestamp"])


def forward(apps, schema_editor):
    _move(apps, forward=True)


def backward(apps, schema_editor):
    _move(apps, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("builder", "0002_metric_date_kind"),
        ("syncs", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
