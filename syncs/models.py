"""Running metrics and keeping their data.

The data of a metric are its ``Datapoint`` rows, whatever its date mode:

* **field from response**: one row per item the expression returned, stamped with the item's
  date (UTC); a sync replaces the rows inside its window.
* **Dynamic**: one row per sync (per dimension), stamped with the sync's planned time.
* **None** (a single current value): the rows *are* the current value (one per dimension),
  stamped with the time of the sync that fetched them; each sync replaces all of them. So the
  current value is ``Datapoint.objects.filter(metric=m)``, and the dashboards read every mode
  with the same queries.

``SyncState`` is the metric's sync state (one per metric, created on first use), ``Use`` says
where a metric is used (a metric syncs only while it has one), ``SyncRun`` is the record each
sync leaves; the ``notifications`` app tells a metric's owner when its syncs stopped.
"""

import uuid

from django.db import models


class Datapoint(models.Model):
    metric = models.ForeignKey("builder.Metric", on_delete=models.CASCADE, related_name="datapoints")
    timestamp = models.DateTimeField()  # UTC
    value = models.FloatField()
    dimension = models.CharField(max_length=200, blank=True, default="")
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["metric", "timestamp", "pk"]
        indexes = [
            # Every read is "this metric's points in [start, end]": the dashboards' range
            # aggregation and the storage's "replace the window".
            models.Index(fields=["metric", "timestamp"], name="datapoint_metric_time"),
        ]

    def __str__(self):
        return f"{self.metric_id} @ {self.timestamp:%Y-%m-%d %H:%M} = {self.value}"


class SyncState(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    class PausedBy(models.TextChoices):
        NONE = "", "-"
        FAILURES = "failures", "Repeated failures"
        CONNECTION = "connection", "Its connection"
        USER = "user", "A person"

    metric = models.OneToOneField("builder.Metric", on_delete=models.CASCADE, related_name="sync_state")
    in_use = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.TextField(blank=True)  # in plain words, shown on the metric page
    paused_by = models.CharField(max_length=12, choices=PausedBy.choices, blank=True, default="")
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The definition the stored data were synced with; an edit re-syncs the history.
    definition_hash = models.CharField(max_length=64, blank=True)

    # Backfill: windows of the metric's history walked back from ``backfill_anchor`` (the first
    # day of the rolling window when it started), newest first.
    backfill_anchor = models.DateField(null=True, blank=True)
    backfill_done_windows = models.PositiveIntegerField(default=0)
    backfill_total_windows = models.PositiveIntegerField(default=0)
    # How far back the stored history reaches: the start of the earliest window stored since the
    # data were last dropped (syncs.storage); what the dashboards compare against (syncs.history).
    history_start = models.DateTimeField(null=True, blank=True)

    # The lease: who may sync this metric now. Empty ``claimed_by`` is free. A claim the
    # dispatcher made and no worker has started (``heartbeat_at`` null) expires after
    # SYNC_CLAIM_TTL; a running sync beats after each page and is dead after SYNC_STALE_SECONDS.
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The dispatcher's "due now": in use, active, free, next_sync_at <= now.
            models.Index(fields=["next_sync_at"], name="syncstate_due", condition=models.Q(in_use=True)),
        ]

    def __str__(self):
        return f"Sync of {self.metric}"

    @property
    def backfill_running(self):
        return self.backfill_done_windows < self.backfill_total_windows

    @property
    def backfill_percent(self):
        if not self.backfill_total_windows:
            return 100
        return round(100 * self.backfill_done_windows / self.backfill_total_windows)

    @property
    def is_paused(self):
        return self.status == self.Status.PAUSED


class Use(models.Model):
    class Kind(models.TextChoices):
        SCREEN = "screen", "Metrics screen"
        DATABOARD = "databoard", "Databoard"
        GOAL = "goal", "Goal"
        ALERT = "alert", "Alert"
        SCORECARD = "scorecard", "Scorecard"

    metric = models.ForeignKey("builder.Metric", on_delete=models.CASCADE, related_name="uses")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    ref = models.CharField(max_length=64, blank=True, default="")  # the board, goal, ... id; "" for the screen
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # add_use is idempotent: one row per place a metric is used.
            models.UniqueConstraint(fields=["metric", "kind", "ref"], name="use_metric_kind_ref_unique"),
        ]

    def __str__(self):
        return f"{self.metric} on {self.get_kind_display()} {self.ref}".rstrip()


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "Sync now"
        BACKFILL = "backfill", "Backfill"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PARTIAL = "partial", "Partial (page cap hit)"

    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    metric = models.ForeignKey("builder.Metric", on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SCHEDULED)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    token = models.CharField(max_length=64, blank=True, default="")  # the claim it ran under
    attempt = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    requests = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    datapoints_written = models.PositiveIntegerField(default=0)
    cap_hit = models.BooleanField(default=False)
    # The points fetched but not stored (outside the window, no date, a date the format cannot
    # read), and the first few per reason: [{"reason", "count", "examples": [{"value", "record"}]}]
    # (``storage.Dropped``). They are said in words in ``warning``, which a page cap also uses.
    dropped = models.PositiveIntegerField(default=0)
    dropped_examples = models.JSONField(default=list, blank=True)
    warning = models.TextField(blank=True)
    error = models.TextField(blank=True)  # in plain words
    error_kind = models.CharField(max_length=32, blank=True)
    # A failed attempt that will be tried again: when (its task is queued with that countdown).
    # Null for a run that is final; a view tells "retrying" from "gave up" by this, not the words.
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["uuid"], name="syncrun_uuid_unique")]
        indexes = [
            # The metric page's run records, newest first.
            models.Index(fields=["metric", "-started_at"], name="syncrun_metric_started"),
            # The reaper's "still running since before ...".
            models.Index(fields=["status", "started_at"], name="syncrun_status_started"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} sync of {self.metric_id}: {self.status}"

    @property
    def duration_s(self):
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 2)

    def as_dict(self):
        return {
            "id": self.pk,
            "uuid": str(self.uuid),
            "metric": self.metric.name,
            "kind": self.kind,
            "status": self.status,
            "attempt": self.attempt,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration_s,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "requests": self.requests,
            "pages": self.pages,
            "datapoints_written": self.datapoints_written,
            "cap_hit": self.cap_hit,
            "dropped": self.dropped,
            "dropped_examples": self.dropped_examples,
            "warning": self.warning,
            "error": self.error,
            "error_kind": self.error_kind,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
        }
