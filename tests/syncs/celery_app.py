"""The project's Celery app with a short Redis visibility timeout, for the SIGKILL test's worker.

Settings refuse a visibility timeout under 60 s (a production safety net); a test that waits
for a redelivery sets its own here: ``celery -A tests.syncs.short_visibility worker``.
"""

import os

from config.celery import app

app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}),
    "visibility_timeout": float(os.environ.get("TEST_VISIBILITY_TIMEOUT", "5")),
    # Sweep for abandoned messages every second (kombu's default is about every 100 s).
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

__all__ = ["app"]
