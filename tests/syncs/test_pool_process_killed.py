"""A pool process of a worker killed (the OOM killer, a stray kill) on the default setup, the
file-system broker: the worker itself lives on, the next Sync now completes within a minute,
and the run the dead process left behind is closed.

The SIGKILL tests of tests/syncs/test_worker.py kill the whole worker; these kill one child.
"""

import os
import signal
from pathlib import Path

import pytest

from conftest import wait_for
from syncs import services, tasks
from syncs.models import SyncRun, SyncState
from tests.syncs.conftest import leads_metric

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _pool_processes(worker):
    """The pids of the worker's pool processes: its children, read from /proc."""
    children = set()
    for task in Path(f"/proc/{worker.process.pid}/task").iterdir():
        children.update(int(pid) for pid in (task / "children").read_text().split())
    return children


def _kill(worker, pids):
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    # The pool replaces them: as many processes as before, none of the killed ones.
    wait_for(lambda: len(_pool_processes(worker) - set(pids)) == worker.concurrency, timeout=30)
    assert worker.process.poll() is None, "the worker itself is still running"


def _sync_now_succeeds(metric):
    token = tasks.sync_now(metric)

    def succeeded():
        return SyncRun.objects.filter(metric=metric, token=token, status=SyncRun.Status.SUCCEEDED).first()

    return wait_for(succeeded, timeout=60)


def test_the_pool_process_running_a_sync_killed_the_next_sync_now_completes(workers, sandbox, vtiger):
    """SYNC_STALE_SECONDS keeps its default (5 minutes): the killed sync's lease is given back when the
    worker learns its process died, not when its heartbeat goes stale."""
    worker = workers.start(concurrency=1)
    metric = leads_metric(vtiger, window_days=60)
    services.sync_state_for(metric)
    sandbox.configure(latency_ms=700)  # three pages: about two seconds
    killed_token = tasks.sync_now(metric)

    def mid_sync():
        run = SyncRun.objects.filter(metric=metric, token=killed_token, status=SyncRun.Status.RUNNING).first()
        return run is not None and run.pages >= 1 and run

    killed_run = wait_for(mid_sync, timeout=30, interval=0.05)
    _kill(worker, _pool_processes(worker))
    sandbox.configure(latency_ms=0)

    _sync_now_succeeds(metric)
    # The killed Sync now's message came back and ran again: its dead run closed, a new one stored.
    wait_for(lambda: not SyncRun.objects.filter(metric=metric, status=SyncRun.Status.RUNNING).exists(), timeout=60)
    killed_run.refresh_from_db()
    assert killed_run.status == SyncRun.Status.FAILED and "stopped before it finished" in killed_run.error
    rerun = wait_for(lambda: SyncRun.objects.filter(token=killed_token, status="succeeded").first(), timeout=60)
    assert rerun.started_at > killed_run.started_at
    assert SyncState.objects.get(metric=metric).claimed_by == ""
    assert "A pool process died running syncs.sync_metric" in worker.log()


def test_idle_pool_processes_killed_the_next_sync_now_completes(workers, sandbox, vtiger):
    """An idle pool process waits for its next job on a pipe shared by all of them; killed while it
    held that pipe's lock, no process could read a job again (billiard's blocking pool, used with
    polling brokers such as the file-system one)."""
    worker = workers.start(concurrency=2)
    metric = leads_metric(vtiger)
    services.sync_state_for(metric)
    _sync_now_succeeds(metric)  # both pool processes are up and waiting for work
    _kill(worker, _pool_processes(worker))  # one of them held the lock
    _sync_now_succeeds(metric)
    assert "Process 'ForkPoolWorker-" in worker.log()
