"""Fixtures for the syncs tests: metrics on the sandbox, and worker processes with their own settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.conf import settings

from builder.models import Metric
from config.celery import app as celery_app
from conftest import _database_url
from tests.connections.factories import custom_connection
from tests.factories import MetricFactory


def leads_metric(connection, name="New leads", owner=None, **overrides) -> Metric:
    """New leads per created time (MetricFactory's default), on `connection`, with no owner unless given."""
    return MetricFactory(connection=connection, name=name, owner=owner, **overrides)


def deals_metric(connection, paginate="offset", name=None, **overrides) -> Metric:
    """Deal amounts by creation time on the sandbox's custom JSON API, paged the way asked."""
    params = [["paginate", paginate], ["since", "{{start:iso}}"], ["until", "{{end:iso}}"]]
    spec = {
        "none": {"type": "none"},
        "offset": {"type": "offset", "limit": 20, "records": "data"},
        "page": {"type": "page", "size_param": "per_page", "size": 20, "total_pages_path": "total_pages"},
        "cursor": {"type": "cursor", "cursor_path": "next_cursor", "records": "data"},
        "next": {"type": "next", "next_path": "next", "records": "data"},
    }[paginate]
    if paginate in ("offset", "cursor"):
        params.append(["limit", "20"])
    if paginate == "next":
        params.append(["per_page", "20"])
    records = "$" if paginate == "none" else "data"
    fields = {
        "name": name or f"Deals ({paginate})",
        "connection": connection,
        "owner": None,
        "endpoint": "deals",
        "params": params,
        "pagination": spec,
        "date_mode": "field",
        "date_field": "created_at",
        "date_format": "iso",
        "expression": f'{records}.{{"value": amount, "date": created_at, "dimension": stage}}',
        "window_days": 30,
        "history_days": 90,
    }
    fields.update(overrides)
    return MetricFactory(**fields)


def expected_leads(sandbox, window):
    """Independent expectation: the sandbox's own lead records created inside the window."""
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    out = []
    for row in sandbox.dataset.records("Leads"):
        created = datetime.strptime(row["createdtime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if start.replace(microsecond=0) <= created <= end:
            out.append(created)
    return sorted(out)


def expected_deals(sandbox, window):
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    out = []
    for row in sandbox.dataset.records("Potentials"):
        created = datetime.strptime(row["createdtime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if start <= created <= end:
            out.append((created, float(row["amount"]), row["sales_stage"]))
    return sorted(out)


def unlimited(connection, per_minute=None):
    """The factory fixes a Vtiger plan's 30/min budget; most tests want none (or their own)."""
    connection.rate_limit_per_minute = per_minute
    connection.save(update_fields=["rate_limit_per_minute"])
    return connection


@pytest.fixture
def custom(sandbox, db):
    return custom_connection(sandbox.url, name="Sandbox JSON")


# ---------------------------------------------------------------- worker processes


class Worker:
    """A `celery worker` process on the test database and broker, with its own environment."""

    def __init__(self, queue, log_path, env, concurrency=1, app="tests.syncs.celery_app"):
        self.queue, self.log_path = queue, log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(settings.DATABASES["default"]),
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "ALLOW_PRIVATE_HOSTS": "true",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **env,
        }
        self.concurrency = concurrency
        self.app = app
        self.process = None
        self.base_dir = settings.BASE_DIR

    def start(self):
        command = [sys.executable, "-m", "celery", "-A", self.app, "worker", "-Q", self.queue]
        command += [f"--concurrency={self.concurrency}", "--loglevel=INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{uuid.uuid4().hex[:8]}@%h"]
        self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.base_dir, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while "ready." not in self.log_path.read_text()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"The Celery worker did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def kill(self):
        """SIGKILL the worker and its pool children at once, as an OOM killer or a lost host would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._close()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._close()

    def _close(self):
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def log(self):
        return self.log_path.read_text()


@pytest.fixture
def workers(django_db_setup, tmp_path):
    """Start workers with `workers.start(env={...}, concurrency=n)`; tasks go to this test's own queue."""
    queue = f"test-syncs-{uuid.uuid4().hex[:10]}"
    started = []
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue

    class Factory:
        def start(self, env=None, concurrency=1, app="tests.syncs.celery_app"):
            base = {"SYNC_RETRY_BASE_SECONDS": "0.2", "SYNC_RETRY_MAX_SECONDS": "2"}
            log_path = tmp_path / f"worker{len(started)}.log"
            worker = Worker(queue, log_path, {**base, **(env or {})}, concurrency, app)
            started.append(worker)
            return worker.start()

        queue_name = queue

        def logs(self):
            """What every worker of this test has logged so far."""
            return "".join(worker.log() for worker in started)

    yield Factory()
    celery_app.conf.task_default_queue = previous
    for worker in started:
        if "COVERAGE_PROCESS_CONFIG" in os.environ:
            # Under `coverage run` (patch = subprocess): a warm shutdown, so the worker and its pool
            # children leave through their exit paths and save what they measured (a SIGKILL loses it).
            worker.stop()
        else:
            worker.kill()  # the queue is this test's own: nothing is left to finish


REDIS_ONLY = "the Redis-only tests need the Redis stack (CELERY_BROKER_URL=redis://127.0.0.1:6379/15 runs them)"


def on_redis():
    return str(settings.CELERY_BROKER_URL).startswith("redis://")
