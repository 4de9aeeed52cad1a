"""The request budget's buckets move here from syncs (syncs 0003 drops the old table): the wizard's
Send spends the budget too, and builder may not import syncs. Buckets live a minute; none is copied."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("connections", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="RateBucket",
            fields=[
                ("key", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("window_start", models.DateTimeField()),
                ("count", models.PositiveIntegerField(default=0)),
                ("blocked_until", models.DateTimeField(blank=True, null=True)),
            ],
        ),
    ]
