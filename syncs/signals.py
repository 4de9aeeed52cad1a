"""Signals the syncs app sends; apps to its right (dashboards) receive them.

``sync_finished``  after a sync's data are committed: ``metric``, ``run`` (a SyncRun).
                   Alerts are evaluated on it.
``metric_paused``  after a metric's syncs were paused: ``metric``, ``reason`` (plain words).
"""

from django.dispatch import Signal

sync_finished = Signal()
metric_paused = Signal()
