"""What the syncs app does when the apps to its left say something happened."""

import logging

from django.db import connection as db_connection
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from builder.models import Metric
from builder.signals import metric_saved
from config.pool import pool_process_lost
from connections.signals import connection_deleting, connection_tested
from syncs import services, uses
from syncs.models import Datapoint, SyncState

logger = logging.getLogger(__name__)


@receiver(connection_deleting, dispatch_uid="syncs.pause_on_connection_delete")
def pause_on_connection_delete(sender, connection, **kwargs):
    services.pause_connection_metrics(
        connection,
        f"its connection “{connection.name}” was deleted. Choose another connection in the metric's definition.",
    )


@receiver(connection_tested, dispatch_uid="syncs.resume_on_connection_ok")
def resume_on_connection_ok(sender, connection, outcome, **kwargs):
    if getattr(outcome, "ok", False):
        services.resume_connection_metrics(connection)


@receiver(post_save, sender=Metric, dispatch_uid="syncs.resync_on_definition_change")
def resync_on_definition_change(sender, instance, created, raw=False, **kwargs):
    """An edited definition makes the stored data stale: drop them and sync the history again."""
    if created or raw:
        return
    new_hash = instance.definition_hash()
    with transaction.atomic():
        sync_state = SyncState.objects.select_for_update().filter(metric=instance).first()
        if sync_state is None or not sync_state.definition_hash or sync_state.definition_hash == new_hash:
            return
        Datapoint.objects.filter(metric=instance).delete()
        sync_state.definition_hash = new_hash
        sync_state.consecutive_failures = 0
        sync_state.last_synced_at = None
        sync_state.history_start = None  # the data are gone: the history starts again with the next sync
        update = ["definition_hash", "consecutive_failures", "last_synced_at", "history_start", "updated_at"]
        if sync_state.in_use:
            sync_state.next_sync_at = timezone.now()
            update.append("next_sync_at")
        sync_state.save(update_fields=update)
        if sync_state.in_use:
            uses.start_backfill(instance, sync_state)


@receiver(metric_saved, dispatch_uid="syncs.screen_use_on_wizard_save")
def screen_use_on_wizard_save(sender, metric, add_to_screen=False, **kwargs):
    """Saved in the wizard with "Add to the Metrics screen" ticked: on the screen, syncing (as its button does)."""
    if add_to_screen:
        uses.add_use(metric, "screen")


# The syncs' tasks and where their metric ids and token are among the task's arguments.
_LEASED_TASKS = {"syncs.sync_metric": False, "syncs.backfill_metric": False, "syncs.sync_batch": True}


@receiver(pool_process_lost, dispatch_uid="syncs.release_lease_of_lost_process")
def release_lease_of_lost_process(sender, task_id, args, kwargs, **extra):
    """The pool process running a sync died (config.pool): its lease is dead for certain, so give it
    back now; the message comes again, finds the run left "running" under its token and closes it."""
    if sender not in _LEASED_TASKS or len(args) < 2 or not args[1]:
        return
    ids, token = args[0], args[1]
    ids = list(ids) if _LEASED_TASKS[sender] else [ids]
    try:
        freed = SyncState.objects.filter(metric_id__in=ids, claimed_by=token).update(
            claimed_by="", claimed_at=None, heartbeat_at=None
        )
        logger.warning("A pool process died running %s[%s]: %d lease(s) given back", sender, task_id, freed)
    finally:
        db_connection.close()  # this runs on a thread of the worker's main process
