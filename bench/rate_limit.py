"""Benchmark: one connection's shared request budget under load from two workers (issue 4).

    .venv/bin/python bench/rate_limit.py [--metrics 300] [--seconds 180] [--budget 120] [--keep]

PostgreSQL (its own database ``metricbuilder_ratelimit_bench``) and Redis (the broker and the
shared budget). The sandbox runs in a process of its own with a flood limit of ``--budget`` requests
per minute; the connection declares the same budget. ``--metrics`` metrics on that connection
(new leads over 60 days: three Vtiger pages each, so the demand is far above the budget) are
due at once; one dispatcher tick enqueues them and two worker processes (concurrency 1 each)
sync for ``--seconds``.

Reports the 429 answers the sandbox gave (target 0) and the share of the budget used: the
requests the sandbox accepted during the run over ``budget x minutes`` (target at least 95%).
Prints progress, then one JSON object as the last line.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SYNCS_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/metricbuilder_ratelimit_bench")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_throughput as common  # noqa: E402 - sets the environment (database, broker, queue)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--budget", type=int, default=120)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    common.benchdb.recreate(common.BENCH_URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from syncs import dispatcher
    from syncs.models import SyncRun

    server = common.SandboxProcess(["--rate-limit-per-minute", str(args.budget)])
    workers = []
    try:
        common.due_lead_metrics(server, args.metrics, window_days=60, rate_limit_per_minute=args.budget)
        print("Starting two workers…", file=sys.stderr)
        local = common.ROOT / ".local"
        for n in range(2):
            log = local / f"{common.QUEUE}-{n}.log"
            workers.append(common.start_worker(log, 1, f"{common.QUEUE}-{n}@%h"))

        print(f"{args.metrics} metrics due; syncing for {args.seconds} s…", file=sys.stderr)
        server.reset()  # counters and the flood window start with the run
        started = time.monotonic()
        dispatcher.dispatch()
        minutes = args.seconds / 60
        while time.monotonic() - started < args.seconds - 0.5:
            time.sleep(min(15, args.seconds - 0.5 - (time.monotonic() - started)))
            stats = server.stats()
            print(
                f"  {time.monotonic() - started:5.0f} s: {stats['total_requests'] - stats['rate_limited']} accepted, "
                f"{stats['rate_limited']} refused (429)",
                file=sys.stderr,
            )
        stats = server.stats()
        accepted = stats["total_requests"] - stats["rate_limited"]
        budget = args.budget * minutes
        runs = SyncRun.objects.all()
        result = {
            "benchmark": "rate_limit",
            "metrics_due": args.metrics,
            "workers": 2,
            "seconds": args.seconds,
            "budget_per_minute": args.budget,
            "requests_accepted": accepted,
            "responses_429": stats["rate_limited"],
            "budget": budget,
            "budget_used_share": round(accepted / budget, 4),
            "syncs_succeeded": runs.filter(status=SyncRun.Status.SUCCEEDED).count(),
            "syncs_failed": runs.filter(status=SyncRun.Status.FAILED).count(),
            "target_429": 0,
            "target_share": 0.95,
            "meets_target": stats["rate_limited"] == 0 and accepted / budget >= 0.95,
            "database": "postgresql",
            "broker": "redis",
            "budget_store": "redis",
        }
    finally:
        for worker in workers:
            common.stop_worker(worker)
        server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            common.benchdb.drop(common.BENCH_URL)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
