"""The request budget's buckets now live in connections (connections 0002): drop the old table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("syncs", "0002_calendar_datapoints"), ("connections", "0002_ratebucket")]

    operations = [migrations.DeleteModel(name="RateBucket")]
