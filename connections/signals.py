"""Signals other apps receive; `connections` imports none of them (arrows run left)."""

from django.dispatch import Signal

# Sent by services.delete_connection just before the row is deleted, inside the
# same transaction, with `connection`. Receivers (the metrics app) pause what uses
# it and detach it; nothing else is deleted with a connection.
connection_deleting = Signal()

# Sent after the delete has committed, with `connection_id`, `connection_uuid`, `name`.
connection_deleted = Signal()

# Sent after a live test saved a connection's new status, with `connection` and
# `outcome`; syncs can pause metrics on an authentication failure.
connection_tested = Signal()
