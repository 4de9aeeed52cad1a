"""Benchmark: sync throughput of a real worker against a plain `requests` loop (issue 4).

    .venv/bin/python bench/sync_throughput.py [--metrics 200] [--concurrency 2] [--keep]

On PostgreSQL (its own database ``metricbuilder_throughput_bench``, or SYNCS_BENCH_DATABASE_URL,
dropped first and at the end unless ``--keep``) and Redis (SYNCS_BENCH_REDIS_URL, default
``redis://127.0.0.1:6379/14``, on a queue of its own), with the sandbox in a process of its own
(no latency, no rate limit):

1. ``--metrics`` Vtiger metrics (new leads over the last 7 days: one page each), in use and
   due; one dispatcher tick enqueues them all (in batches of SYNC_BATCH_SIZE, as configured)
   and a `celery worker --concurrency N` process syncs them (render, fetch, evaluate, store,
   run record). Syncs per second, from the tick to the last run's end.
2. The same HTTP requests (the same rendered query, the same Basic auth) made by a plain
   `requests` loop in this process, one after the other, parsing the JSON and nothing else.

Prints progress, then one JSON object as the last line; ``ratio`` is (1) / (2), target >= 0.8.
It also gives the CPU time each arm spent per sync: the worker's processes (its main process, the
pool processes and their expression box workers), this process during the plain loop, and the
sandbox in each arm. Wall time on a shared machine follows whatever else runs there; CPU time
per sync says where a change saved work even then.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import benchdb  # noqa: E402 - bench/ is this script's folder

BENCH_URL, REDIS_URL, QUEUE = benchdb.use_syncs_stack(
    "postgres://postgres@127.0.0.1:5432/metricbuilder_throughput_bench", "bench-syncs", ALLOW_PRIVATE_HOSTS="true"
)


LEADS_QUERY = "SELECT createdtime FROM Leads WHERE createdtime >= '{{start}}' AND createdtime <= '{{end}}' ORDER BY id;"


def start_worker(log_path, concurrency, name, extra_env=None, db_reuse_max=None):
    """A `celery worker` on the bench queue; ``db_reuse_max`` overrides CELERY_DB_REUSE_MAX for it."""
    options = ["worker", "-Q", QUEUE, f"--concurrency={concurrency}", "--loglevel=INFO"]
    options += os.environ.get("SYNCS_BENCH_WORKER_OPTIONS", "").split()
    options += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", name]
    if db_reuse_max is None:
        command = [sys.executable, "-m", "celery", "-A", "config", *options]
    else:
        # Celery's Django fix-up closes the database connection before and after every task
        # unless CELERY_DB_REUSE_MAX is set; this measures the worker with it set.
        code = (
            "import sys, django; django.setup(); from django.conf import settings; "
            f"settings.CELERY_DB_REUSE_MAX = {int(db_reuse_max)}; "
            "from config.celery import app; app.worker_main(sys.argv[1:])"
        )
        command = [sys.executable, "-c", code, *options]
    log = open(log_path, "w")  # noqa: SIM115 - closed by the caller through the process
    process = subprocess.Popen(
        command, env={**os.environ, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    process.log_file = log
    deadline = time.monotonic() + 60
    while True:
        text = Path(log_path).read_text()
        if "ready." in text:
            break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"The worker did not start:\n{text[-3000:]}")
        time.sleep(0.2)
    return process


class SandboxProcess:
    """The sandbox in a process of its own (``python -m sandbox``), as a real API would be."""

    def __init__(self, extra_args=()):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        command = [sys.executable, "-m", "sandbox", "--port", str(self.port), "--quiet", *extra_args]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.rest_url = f"{self.url}/restapi/v1/vtiger/default"
        import requests

        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/_sandbox/info", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    sys.exit("The sandbox did not start.")
                time.sleep(0.1)

    def stats(self):
        import requests

        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()

    def reset(self):
        import requests

        requests.post(f"{self.url}/_sandbox/reset", timeout=5)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def due_lead_metrics(server, count, *, window_days, rate_limit_per_minute=None):
    """``count`` "new leads" metrics on one Vtiger connection to ``server``, in use and due now."""
    from django.utils import timezone

    from builder.models import Metric
    from connections.models import Connection
    from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
    from syncs.models import SyncState

    connection = Connection(
        name="Bench CRM",
        integration="vtiger",
        base_url=server.rest_url,
        auth_type="basic",
        username=DEMO_USERNAME,
        options={"data_timezone": "UTC"},
        rate_limit_per_minute=rate_limit_per_minute,
    )
    connection.set_secret("access_key", DEMO_ACCESS_KEY)
    connection.save()
    metrics = [
        Metric.objects.create(
            name=f"New leads {i}",
            connection=connection,
            endpoint="query",
            params=[["query", LEADS_QUERY]],
            pagination={"type": "vtiger"},
            date_mode="field",
            date_format="YYYY-MM-DD HH:mm:ss",
            expression='result.{"value": 1, "date": createdtime}',
            window_days=window_days,
        )
        for i in range(count)
    ]
    due = timezone.now() - timezone.timedelta(minutes=1)
    SyncState.objects.bulk_create(
        [SyncState(metric=m, in_use=True, next_sync_at=due, definition_hash=m.definition_hash()) for m in metrics]
    )
    return metrics


def _cpu_seconds(pid):
    """CPU time (user and system) of process ``pid`` and of its children it has waited for; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _process_tree(pid):
    """``pid`` and its descendants (Linux ``/proc``)."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):  # it ended meanwhile
                queue.extend(int(child) for child in children.read_text().split())
    return tree


def tree_cpu_seconds(pid):
    """{pid: CPU seconds} for ``pid`` and its descendants, now."""
    return {member: _cpu_seconds(member) for member in _process_tree(pid)}


def cpu_spent(before, after):
    """CPU seconds spent between two ``tree_cpu_seconds`` readings (processes started between them count whole)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def stop_worker(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    process.log_file.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--db-reuse-max",
        type=int,
        default=None,
        help="Run the worker with CELERY_DB_REUSE_MAX set to this (default: as the settings say).",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    benchdb.recreate(BENCH_URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import requests
    from django.conf import settings
    from django.db.models import Max
    from django.utils import timezone

    from builder import pagination
    from builder.fetching import rendered_request
    from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
    from syncs import dispatcher, engine
    from syncs.models import Datapoint, SyncRun

    server = SandboxProcess()
    worker = None
    try:
        metrics = due_lead_metrics(server, args.metrics, window_days=7)
        print(f"Starting a worker (concurrency {args.concurrency})…", file=sys.stderr)
        # The worker runs as in production: DEBUG off (Django would keep every query in memory).
        worker = start_worker(
            ROOT / ".local" / f"{QUEUE}.log",
            args.concurrency,
            f"{QUEUE}@%h",
            extra_env={"DEBUG": "false"},
            db_reuse_max=args.db_reuse_max,
        )

        print(f"Syncing {args.metrics} metrics through the worker…", file=sys.stderr)
        wall_start = timezone.now()
        worker_cpu_before = tree_cpu_seconds(worker.pid)
        sandbox_cpu_before = _cpu_seconds(server.process.pid)
        started = time.perf_counter()
        dispatcher.dispatch()
        deadline = time.monotonic() + 600
        while SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).count() < args.metrics:
            if time.monotonic() > deadline:
                sys.exit("The worker did not finish within 10 minutes.")
            time.sleep(0.05)
        last_end = SyncRun.objects.aggregate(last=Max("finished_at"))["last"]
        worker_cpu_s = cpu_spent(worker_cpu_before, tree_cpu_seconds(worker.pid))
        sandbox_cpu_worker_s = _cpu_seconds(server.process.pid) - sandbox_cpu_before
        worker_s = (last_end - wall_start).total_seconds()
        polled_s = time.perf_counter() - started
        succeeded = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).count()
        requests_sent = sum(SyncRun.objects.values_list("requests", flat=True))
        datapoints = Datapoint.objects.count()

        print("The same requests in a plain requests loop…", file=sys.stderr)
        window = engine.rolling_window(metrics[0])
        spec = {"endpoint": "query", "params": [["query", LEADS_QUERY]]}
        endpoint, params, _headers, _body = rendered_request(spec, window, "UTC")
        page = pagination.Pager({"type": "vtiger"}, endpoint, params).first()
        url = f"{server.rest_url.rstrip('/')}/{page.endpoint}"
        plain_rows = 0
        sandbox_cpu_before = _cpu_seconds(server.process.pid)
        loop_cpu_started = time.process_time()
        loop_started = time.perf_counter()
        for _ in range(requests_sent):
            response = requests.get(url, params=page.params, auth=(DEMO_USERNAME, DEMO_ACCESS_KEY), timeout=30)
            response.raise_for_status()
            plain_rows += len(response.json()["result"])
        loop_s = time.perf_counter() - loop_started
        loop_cpu_s = time.process_time() - loop_cpu_started
        sandbox_cpu_loop_s = _cpu_seconds(server.process.pid) - sandbox_cpu_before

        worker_rate = args.metrics / worker_s
        loop_rate = args.metrics / loop_s  # the loop made exactly the requests the syncs made
        result = {
            "benchmark": "sync_throughput",
            "metrics": args.metrics,
            "worker_concurrency": args.concurrency,
            "celery_db_reuse_max": args.db_reuse_max,
            "sync_batch_size": settings.SYNC_BATCH_SIZE,
            "succeeded": succeeded,
            "requests": requests_sent,
            "datapoints_stored": datapoints,
            "datapoints_plain_loop": plain_rows,
            "data_match": datapoints == plain_rows,
            "worker_seconds": round(worker_s, 3),
            "worker_seconds_polled": round(polled_s, 3),
            "syncs_per_s": round(worker_rate, 2),
            "plain_loop_seconds": round(loop_s, 3),
            "plain_loop_syncs_per_s": round(loop_rate, 2),
            "worker_cpu_ms_per_sync": round(worker_cpu_s / args.metrics * 1000, 2),
            "plain_loop_cpu_ms_per_sync": round(loop_cpu_s / args.metrics * 1000, 2),
            "sandbox_cpu_ms_per_sync": {
                "worker": round(sandbox_cpu_worker_s / args.metrics * 1000, 2),
                "plain_loop": round(sandbox_cpu_loop_s / args.metrics * 1000, 2),
            },
            "ratio": round(worker_rate / loop_rate, 3),
            "target_ratio": 0.8,
            "meets_target": worker_rate / loop_rate >= 0.8,
            "database": "postgresql",
            "broker": "redis",
        }
    finally:
        if worker is not None:
            stop_worker(worker)
        server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            benchdb.drop(BENCH_URL)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
