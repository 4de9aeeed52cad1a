"""The project's Celery app, tuned for tests that wait on a worker: ``celery -A tests.syncs.celery_app worker``.

* Redis: a short visibility timeout and a sweep for abandoned messages every second, so the
  SIGKILL test sees its message delivered again within seconds (settings refuse a visibility
  timeout under 60 s, a production safety net; kombu sweeps about every 100 s by default).
* The file-system broker: poll the queue folder every 0.1 s instead of every second.
"""

import os

from config.celery import app

_options = dict(app.conf.broker_transport_options or {})
if str(app.conf.broker_url or "").startswith("redis"):
    _options.update(
        visibility_timeout=float(os.environ.get("TEST_VISIBILITY_TIMEOUT", "30")),
        unacked_restore_interval=1,
        unacked_restore_throttle=1,
    )
else:
    _options.update(polling_interval=0.1)
app.conf.broker_transport_options = _options

__all__ = ["app"]
