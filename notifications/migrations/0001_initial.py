"""Notification moves from syncs to this app with its rows.

The table already exists (``syncs_notification``), so the model is taken over in the migration
state only, then its table is renamed to this app's name; the rows, their ids and the index
``notification_user_unread`` stay as they are. The content type follows the model, so the
permissions given on it and the admin's history of it are kept (a content type left behind
under syncs would be stale, and removing stale content types deletes what points at them).
syncs 0007 then forgets the model in syncs' state.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move_content_type(apps, from_label, to_label):
    content_types = apps.get_model("contenttypes", "ContentType").objects
    if not content_types.filter(app_label=to_label, model="notification").exists():
        content_types.filter(app_label=from_label, model="notification").update(app_label=to_label)


def content_type_to_notifications(apps, schema_editor):
    _move_content_type(apps, "syncs", "notifications")


def content_type_back_to_syncs(apps, schema_editor):
    _move_content_type(apps, "notifications", "syncs")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("syncs", "0006_syncrun_retry_at"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("text", models.TextField()),
                        ("url", models.CharField(blank=True, max_length=300)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("read", models.BooleanField(default=False)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [
                            models.Index(fields=["user", "read", "-created_at"], name="notification_user_unread")
                        ],
                        "db_table": "syncs_notification",
                    },
                ),
            ],
        ),
        # None: the app's default name, notifications_notification.
        migrations.AlterModelTable(name="notification", table=None),
        migrations.RunPython(content_type_to_notifications, content_type_back_to_syncs),
    ]
