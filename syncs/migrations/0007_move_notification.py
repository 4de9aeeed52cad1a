"""Notification now belongs to the notifications app (its 0001 took over the table and rows):
syncs forgets the model in its state only; the database is not touched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("syncs", "0006_syncrun_retry_at"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Notification")]),
    ]
