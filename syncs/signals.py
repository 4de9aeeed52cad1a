"""Signals the syncs app sends; apps to its right (dashboards) receive them.

``sync_finished``  after syncs' data are committed: ``runs`` (their SyncRuns, each with its
                   ``metric`` loaded; one or a worker's batch). Alerts are evaluated on it.
``metric_paused``  after a metric's syncs were paused: ``metric``, ``reason`` (plain words).
``describe_uses``  sent by the Syncs panel with ``uses`` (a metric's Use rows); a receiver answers
                   ``{(kind, ref): (label, url)}`` for the uses it knows (a board's name, not "Databoard 3").
"""

from django.dispatch import Signal

sync_finished = Signal()
metric_paused = Signal()
describe_uses = Signal()
