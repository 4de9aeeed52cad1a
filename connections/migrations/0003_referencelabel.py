"""Reference labels cached per connection (connections.references): what a Vtiger 19x5 reads as."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("connections", "0002_ratebucket")]

    operations = [
        migrations.CreateModel(
            name="ReferenceLabel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=200)),
                ("label", models.CharField(blank=True, max_length=255)),
                ("fetched_at", models.DateTimeField()),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reference_labels",
                        to="connections.connection",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("connection", "key"), name="reference_label_unique")],
            },
        ),
    ]
