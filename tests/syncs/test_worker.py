"""Reliability, end to end: real worker processes on the configured broker and the test database.

Run them on both stacks:
    .venv/bin/pytest tests/syncs
    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://127.0.0.1:6379/15 .venv/bin/pytest tests/syncs
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import connections
from django.utils import timezone

from conftest import _database_url, free_port, wait_for
from connections import ratelimit
from connections.errors import RateLimited
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from syncs import dispatcher, engine, services, tasks, uses
from syncs.models import Datapoint, SyncRun, SyncState
from tests.syncs.conftest import REDIS_ONLY, expected_leads, leads_metric, on_redis

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _points(metric):
    return sorted(Datapoint.objects.filter(metric=metric).values_list("timestamp", flat=True))


def _runs(metric, **filters):
    return list(SyncRun.objects.filter(metric=metric, **filters).order_by("pk"))


def _succeeded(metric, kind="scheduled"):
    return SyncRun.objects.filter(metric=metric, kind=kind, status=SyncRun.Status.SUCCEEDED).first()


def _use_without_backfill(metric):
    uses.add_use(metric, "screen")
    # Only the scheduled sync matters here: stop the backfill the first use started.
    SyncState.objects.filter(metric=metric).update(backfill_total_windows=0)


def test_worker_syncs_a_metric_in_use_and_backfills_its_history(workers, sandbox, vtiger):
    workers.start()
    metric = leads_metric(vtiger, window_days=7, history_days=28, used_on="screen")
    dispatcher.dispatch()

    def done():
        sync_state = SyncState.objects.get(metric=metric)
        return not sync_state.backfill_running and _succeeded(metric)

    wait_for(done, timeout=60)
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.backfill_done_windows == sync_state.backfill_total_windows == 3
    rolling = engine.rolling_window(metric, _succeeded(metric).started_at)
    oldest = engine.backfill_window(metric, sync_state.backfill_anchor, sync_state.backfill_total_windows - 1)
    everything = type(rolling)(start=oldest.start, end=rolling.end, tz=rolling.tz)
    assert _points(metric) == expected_leads(sandbox, everything)
    assert len(_runs(metric, kind="backfill", status="succeeded")) == 3
    assert sync_state.claimed_by == "" and sync_state.next_sync_at > timezone.now()


def _recover_from_the_kill(workers, env, settings, metric_ids):
    """A new worker; on Redis the message comes back by itself, elsewhere the reaper and the
    dispatcher bring the killed syncs back (every one of them had a run record "running")."""
    workers.start(env=env)
    if not on_redis():
        # The beat entries, as they will run once the killed syncs have been silent long enough.
        later = timezone.now() + timedelta(seconds=settings.SYNC_STALE_SECONDS + 1)
        assert services.reap(now=later)["runs_closed"] == len(metric_ids)
        assert sorted(dispatcher.dispatch(now=later)) == sorted(metric_ids)


def test_sigkill_mid_sync_the_task_runs_again_and_stores_what_a_clean_run_stores(workers, sandbox, vtiger, settings):
    """acks_late + reject_on_worker_lost: on Redis the unacknowledged message comes back after the
    visibility timeout. kombu's file-system broker deletes a message when it hands it out, so there
    is nothing to deliver again: there the reaper (a beat entry) notices the dead sync and the
    dispatcher claims the metric again. Both paths must end with the data of a clean run."""
    env = {"SYNC_STALE_SECONDS": "2", "TEST_VISIBILITY_TIMEOUT": "4"}  # tests.syncs.celery_app reads it
    first = workers.start(env=env)
    metric = leads_metric(vtiger, window_days=60)
    _use_without_backfill(metric)
    sandbox.configure(latency_ms=700)  # three pages: about two seconds
    [metric_id] = dispatcher.dispatch()
    planned_at = SyncState.objects.get(metric=metric).claimed_at

    def mid_sync():
        run = SyncRun.objects.filter(metric=metric, status=SyncRun.Status.RUNNING).first()
        return run is not None and run.pages >= 1 and run

    killed_run = wait_for(mid_sync, timeout=30, interval=0.05)
    first.kill()
    assert not Datapoint.objects.filter(metric=metric).exists(), "killed before it stored anything"
    sandbox.configure(latency_ms=0)

    _recover_from_the_kill(workers, env, settings, [metric_id])
    wait_for(lambda: _succeeded(metric), timeout=60)
    killed_run.refresh_from_db()
    assert killed_run.status == SyncRun.Status.FAILED and "stopped before it finished" in killed_run.error
    succeeded = _succeeded(metric)
    if on_redis():
        assert succeeded.token == killed_run.token, "the same message, delivered again"
    expected = expected_leads(sandbox, engine.rolling_window(metric, planned_at))
    stored = _points(metric)
    assert len(stored) == len(set(stored)) == len(expected), "no duplicates"
    assert stored == expected


def test_sigkill_mid_batch_every_metric_of_it_ends_with_the_data_of_a_clean_run(workers, sandbox, vtiger, settings):
    """Killed while the second of three syncs fetches: the first one's data were not stored yet
    (a batch stores at its end), and none is stored twice when the batch runs again."""
    env = {"SYNC_STALE_SECONDS": "2", "TEST_VISIBILITY_TIMEOUT": "4"}
    first = workers.start(env=env)
    metrics = [leads_metric(vtiger, name=f"Leads {i}", window_days=60) for i in range(3)]
    for metric in metrics:
        _use_without_backfill(metric)
    sandbox.configure(latency_ms=300)  # three pages each: about a second a sync
    assert len(dispatcher.dispatch()) == 3
    planned_at = SyncState.objects.get(metric=metrics[0]).claimed_at

    def second_one_fetching():
        run = SyncRun.objects.filter(metric=metrics[1], status=SyncRun.Status.RUNNING).first()
        return run is not None and run.pages >= 1

    wait_for(second_one_fetching, timeout=30, interval=0.05)
    first.kill()
    assert not Datapoint.objects.filter(metric__in=metrics).exists()
    sandbox.configure(latency_ms=0)

    _recover_from_the_kill(workers, env, settings, [metric.pk for metric in metrics])
    wait_for(lambda: all(_succeeded(metric) for metric in metrics), timeout=60)
    for metric in metrics:
        assert [run.status for run in _runs(metric)] == ["failed", "succeeded"]
        stored = _points(metric)
        assert len(stored) == len(set(stored)), "no duplicates"
        assert stored == expected_leads(sandbox, engine.rolling_window(metric, planned_at))


FAULTS = {
    "5xx": ({"error_rate": 1}, "503"),
    "timeout": ({"hang_ms": 4000}, "did not answer within"),
    "malformed": ({"malformed_rate": 1}, "not valid JSON"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_sandbox_faults_are_retried_and_never_store_a_partial_window(workers, sandbox, vtiger, fault):
    switches, words = FAULTS[fault]
    workers.start(env={"OUTBOUND_READ_TIMEOUT": "1", "SYNC_RETRY_BASE_SECONDS": "0.3"})
    metric = leads_metric(vtiger, window_days=60)
    _use_without_backfill(metric)
    if fault == "5xx":
        sandbox.configure(error_rate=0.5)  # every second call fails: page 1 succeeds, page 2 fails
    else:
        sandbox.configure(**switches)
    dispatcher.dispatch()

    def two_retries():
        # The run is closed first, then the retry it asks for is added to its error.
        return len([run for run in _runs(metric, status="failed") if "Trying again in" in run.error]) >= 2

    wait_for(two_retries, timeout=40)
    assert not Datapoint.objects.filter(metric=metric).exists(), "no partial window"
    failed = _runs(metric, status="failed")
    assert all(words in run.error and "Trying again in" in run.error for run in failed[:2])
    assert failed[1].attempt == 2
    sandbox.configure(error_rate=0, hang_ms=0, malformed_rate=0)
    wait_for(lambda: _succeeded(metric), timeout=40)
    run = _succeeded(metric)
    assert _points(metric) == expected_leads(sandbox, engine.rolling_window(metric, run.started_at))
    assert SyncState.objects.get(metric=metric).consecutive_failures == 0


def test_429_storm_is_retried_at_the_reset_time_and_recorded_in_words(workers, sandbox, vtiger):
    workers.start()
    metric = leads_metric(vtiger)
    _use_without_backfill(metric)
    sandbox.configure(rate_limit_per_minute=3)
    for _ in range(3):  # another client of the same CRM account spends the minute's budget
        requests.get(f"{sandbox.url}/restapi/v1/vtiger/default/me", auth=(DEMO_USERNAME, DEMO_ACCESS_KEY), timeout=5)
    dispatcher.dispatch()
    run = wait_for(lambda: SyncRun.objects.filter(metric=metric, status="failed").first(), timeout=30)
    assert "rate limit was reached (HTTP 429" in run.error
    waited = float(run.error.split("Trying again in ")[1].split(" s")[0])
    assert 45 <= waited <= 62, "the retry waits for the reset, not a blind backoff"
    assert sandbox.stats()["rate_limited"] == 1, "one 429, then the budget is blocked for everyone"
    assert not Datapoint.objects.filter(metric=metric).exists()


def test_a_batch_blocked_by_the_budget_gives_its_worker_back_and_runs_later(workers, sandbox, vtiger):
    """Another worker saw a 429 asking for 8 s of quiet: the batch waits them out off the worker, whole."""
    workers.start()
    metrics = [leads_metric(vtiger, name=f"Leads {i}") for i in range(3)]
    for metric in metrics:
        _use_without_backfill(metric)
    ratelimit.for_connection(vtiger).block(RateLimited(retry_after=8))
    started = time.monotonic()
    dispatcher.dispatch()
    wait_for(lambda: all(_succeeded(metric) for metric in metrics), timeout=40)
    assert time.monotonic() - started >= 7, "nothing was sent before the block ended"
    for metric in metrics:
        assert [run.status for run in _runs(metric)] == ["succeeded"], "waiting is not a failed run"
    assert sandbox.stats()["rate_limited"] == 0
    assert sandbox.stats()["requests"]["rest/query"] == 3


def test_two_dispatchers_at_once_enqueue_each_due_metric_exactly_once(workers, sandbox, vtiger):
    metrics = [leads_metric(vtiger, name=f"Leads {i}") for i in range(30)]
    for metric in metrics:
        _use_without_backfill(metric)
    barrier = threading.Barrier(2)
    claimed = [None, None]

    def run(slot):
        try:
            barrier.wait()
            claimed[slot] = dispatcher.dispatch()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(claimed[0]).isdisjoint(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(m.pk for m in metrics)

    workers.start(concurrency=2)
    wait_for(lambda: SyncRun.objects.filter(status="succeeded").count() == 30, timeout=60)
    # A duplicate message would be queued before this one (it finds no metric and returns).
    marker = tasks.sync_metric.delay(0, "marker")
    wait_for(lambda: f"[{marker.id}] succeeded" in workers.logs(), timeout=60)
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()
    for metric in metrics:
        assert len(_runs(metric)) == 1
    assert sandbox.stats()["requests"]["rest/query"] == 30


class RedisServer:
    def __init__(self, port, log_path):
        self.port, self.log_path, self.process = port, log_path, None

    def start(self):
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        command += ["--bind", "127.0.0.1"]
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._up, timeout=10, interval=0.05)
        return self

    def _up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.mark.skipif(
    not shutil.which("redis-server"), reason="the Redis restart test needs redis-server (apt-get install redis-server)"
)
def test_redis_restarted_during_a_batch_syncs_resume_and_nothing_is_lost(workers, sandbox, vtiger, tmp_path):
    if not on_redis():
        pytest.skip(REDIS_ONLY)
    redis = RedisServer(free_port(), tmp_path / "redis.log").start()
    try:
        broker = f"redis://127.0.0.1:{redis.port}/0"
        env = {"CELERY_BROKER_URL": broker, "SYNC_CLAIM_TTL_SECONDS": "8", "SYNC_STALE_SECONDS": "3"}
        env["SYNC_BATCH_SIZE"] = "2"  # 8 batches: 2 being synced, 6 queued when Redis goes down
        workers.start(env=env, concurrency=2)
        metrics = [leads_metric(vtiger, name=f"Leads {i}") for i in range(16)]
        for metric in metrics:
            _use_without_backfill(metric)
        sandbox.configure(latency_ms=300)

        beat_env = {
            **os.environ,
            **env,
            "DATABASE_URL": _database_url(settings.DATABASES["default"]),
            "CELERY_TASK_DEFAULT_QUEUE": workers.queue_name,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        tick = "from syncs import dispatcher, services; services.reap(); print(len(dispatcher.dispatch()))"

        def beat():
            command = [sys.executable, "manage.py", "shell", "-c", tick]
            subprocess.run(command, env=beat_env, cwd=settings.BASE_DIR, check=True, capture_output=True, timeout=60)

        beat()
        # The dispatcher's token (one for the tick); a batch already synced has given its leases back.
        claims = SyncState.objects.filter(metric__in=metrics).values_list("claimed_by", flat=True)
        [first_batch] = set(claims) - {""}
        wait_for(lambda: SyncRun.objects.filter(status="succeeded").count() >= 2, timeout=30, interval=0.05)
        redis.stop()  # queued messages die with it: --save "" and no append-only file
        time.sleep(1)
        redis.start()
        sandbox.configure(latency_ms=0)

        def all_synced():
            beat()  # as the beat entries would, every minute
            return all(_succeeded(m) for m in metrics)

        wait_for(all_synced, timeout=90, interval=2)
        recovered = [m for m in metrics if _succeeded(m).token != first_batch]
        assert recovered, "the restart lost queued messages, and their metrics were claimed again"
        for metric in metrics:
            run = _succeeded(metric)
            stored = _points(metric)
            assert len(stored) == len(set(stored))
            assert stored == expected_leads(sandbox, engine.rolling_window(metric, run.started_at))
    finally:
        redis.stop()
