"""Metric.date_kind: instants or calendar dates, derived from the date format (builder.dates.date_kind).

Existing metrics whose dates come from a field with a format without a time of day
(``YYYY-MM-DD``, ``DD/MM/YYYY``) become calendar-dated; syncs 0002 moves their datapoints.
"""

from django.db import migrations, models

from builder.dates import has_time_of_day


def set_kinds(apps, schema_editor):
    Metric = apps.get_model("builder", "Metric")
    calendar = [
        pk
        for pk, fmt in Metric.objects.filter(date_mode="field").values_list("pk", "date_format")
        if not has_time_of_day(fmt)
    ]
    Metric.objects.filter(pk__in=calendar).update(date_kind="calendar")


class Migration(migrations.Migration):
    dependencies = [
        ("builder", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="metric",
            name="date_kind",
            field=models.CharField(
                choices=[
                    ("instant", "Instants (date and time, shown in each viewer's zone)"),
                    ("calendar", "Calendar dates (the same date for every viewer)"),
                ],
                default="instant",
                editable=False,
                max_length=10,
            ),
        ),
        migrations.RunPython(set_kinds, migrations.RunPython.noop),
    ]
