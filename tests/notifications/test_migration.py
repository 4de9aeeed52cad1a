"""Moving Notification from syncs to notifications keeps the rows, the index and the content type."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from notifications.models import Notification

SYNCS_0006 = ("syncs", "0006_syncrun_retry_at")
CONTENTTYPES = ("contenttypes", "0002_remove_content_type_name")


@pytest.mark.django_db(transaction=True)
def test_a_notification_written_before_the_move_is_found_after_it():
    executor = MigrationExecutor(connection)
    executor.migrate([SYNCS_0006, ("notifications", None)])  # None: none of the app's migrations
    old = executor.loader.project_state([SYNCS_0006, CONTENTTYPES]).apps
    owner = old.get_model("auth", "User").objects.create(username="owen", email="owen@example.com")
    old.get_model("syncs", "Notification").objects.create(
        user_id=owner.pk, text="Syncs of the metric “Leads” are paused", url="/builder/metrics/x/"
    )
    content_type, _ = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="syncs", model="notification"
    )
    assert "syncs_notification" in connection.introspection.table_names()

    executor = MigrationExecutor(connection)  # a fresh graph: the one above has run backwards
    executor.migrate(executor.loader.graph.leaf_nodes())

    note = Notification.objects.get()
    assert (note.user.username, note.text, note.url, note.read) == (
        "owen",
        "Syncs of the metric “Leads” are paused",
        "/builder/metrics/x/",
        False,
    )
    tables = connection.introspection.table_names()
    assert "notifications_notification" in tables and "syncs_notification" not in tables
    with connection.cursor() as cursor:
        assert "notification_user_unread" in connection.introspection.get_constraints(
            cursor, "notifications_notification"
        )
    ContentType.objects.clear_cache()
    moved = ContentType.objects.get(pk=content_type.pk)
    assert (moved.app_label, moved.model) == ("notifications", "notification")
    assert moved.model_class() is Notification
