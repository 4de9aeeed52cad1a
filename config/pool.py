"""The worker's process pool, safe against a pool process killed on a polling broker.

On a broker Celery polls (kombu's file-system transport, the embedded default) the prefork
pool is billiard's blocking Pool: every idle pool process waits for its next job on one shared
pipe *while holding the pipe's lock*. A pool process killed while it waits (the OOM killer, a
stray ``kill``) takes the lock with it, no other process can read a job again, and the worker
receives tasks that never run until it is restarted. (On Redis Celery uses its asynchronous
pool, one pipe per process, which does not have this problem.)

Here an idle process waits for the pipe to become readable *without* the lock and holds it only
for the instant it reads one job. And when a pool process dies while it runs a task, the
worker's main process, which knows that for certain, sends ``pool_process_lost`` at once, so
the task's lease is given back before its message is delivered again (``syncs.receivers``)
instead of waiting for the heartbeat to go stale.

Used through ``CELERY_WORKER_POOL = "config.pool:TaskPool"``.
"""

import logging

from billiard import pool as billiard_pool
from billiard.common import pickle_loads
from celery.concurrency import asynpool, prefork
from celery.utils.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent in the worker's main process with the task's name, id, args and kwargs when the pool
# process running it died; the message is requeued right after the receivers return.
pool_process_lost = Signal(name="pool_process_lost")

WAIT_S = 1.0  # how long an idle process waits before checking whether it should shut down


class Worker(billiard_pool.Worker):
    def _make_recv_method(self, conn):
        reader = getattr(conn, "_reader", None)
        lock = getattr(conn, "_rlock", None)
        if reader is None or lock is None:
            return super()._make_recv_method(conn)

        def receive(timeout):
            if not reader.poll(timeout):
                return False, None
            if not lock.acquire(True, timeout):
                return False, None
            try:
                # Another idle process may have taken the job since the poll said readable.
                if not reader.poll(0):
                    return False, None
                payload = reader.recv_bytes()
            finally:
                lock.release()
            return True, pickle_loads(payload)

        return receive


class _TellsWhenAProcessIsLost:
    def mark_as_worker_lost(self, job, exitcode):
        request = getattr(getattr(job, "_error_callback", None), "__self__", None)
        if request is not None:
            try:
                pool_process_lost.send(
                    sender=request.name, task_id=request.id, args=request.args, kwargs=request.kwargs
                )
            except Exception:  # the requeue below must happen whatever a receiver did
                logger.exception("A pool_process_lost receiver failed for task %s", request.id)
        super().mark_as_worker_lost(job, exitcode)


class BlockingPool(_TellsWhenAProcessIsLost, billiard_pool.Pool):
    """billiard's blocking pool (polling brokers), with idle processes that hold no lock."""

    Worker = Worker


class AsyncPool(_TellsWhenAProcessIsLost, asynpool.AsynPool):
    """Celery's asynchronous pool (Redis), one pipe per process already."""


class TaskPool(prefork.TaskPool):
    Pool = AsyncPool
    BlockingPool = BlockingPool
