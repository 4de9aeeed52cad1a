"""Signals the syncs app sends; apps to its right (dashboards) receive them.

``sync_finished``  after syncs' data are committed: ``runs`` (their SyncRuns, each with its
                   ``metric`` loaded; one or a worker's batch). Alerts are evaluated on it.
``metric_paused``  after a metric's syncs were paused: ``metric``, ``reason`` (plain words).
"""

from django.dispatch import Signal

sync_finished = Signal()
metric_paused = Signal()
