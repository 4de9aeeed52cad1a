"""Benchmark: one dispatcher tick over 10,000 metrics in use, on PostgreSQL and Redis (issue 4).

    .venv/bin/python bench/dispatch.py [--metrics N] [--keep]

Creates its own database (SYNCS_BENCH_DATABASE_URL, default
``postgres://postgres@127.0.0.1:5432/metricbuilder_dispatch_bench``),
dropped first and at the end (unless ``--keep``), and publishes to a queue of its own on
SYNCS_BENCH_REDIS_URL (default ``redis://127.0.0.1:6379/14``), deleted at the end. No worker
runs: the messages stay in the queue, where they are counted and checked.

Measures ``syncs.dispatcher.dispatch()``: the claim (one conditional UPDATE after
``SELECT ... FOR UPDATE SKIP LOCKED``), the commit, and publishing one task per batch (at
most SYNC_BATCH_SIZE metrics of one connection; target: at most 1 s for 10,000), then reads
the queue back: every due metric exactly once.

Prints progress, then one JSON object as the last line.
"""

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchdb  # noqa: E402 - bench/ is this script's folder

BENCH_URL, REDIS_URL, QUEUE = benchdb.use_syncs_stack(
    "postgres://postgres@127.0.0.1:5432/metricbuilder_dispatch_bench", "bench-dispatch"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    benchdb.recreate(BENCH_URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import redis
    from django.utils import timezone

    from builder.models import Metric
    from connections.models import Connection
    from syncs import dispatcher
    from syncs.models import MetricSync

    client = redis.Redis.from_url(REDIS_URL)
    try:
        print(f"Creating {args.metrics:,} metrics in use…", file=sys.stderr)
        connection = Connection.objects.create(
            name="Bench", integration="custom", base_url="http://127.0.0.1:9/custom/v1", options={}
        )
        metrics = Metric.objects.bulk_create(
            [
                Metric(name=f"Metric {i}", connection=connection, endpoint="deals", expression="1")
                for i in range(args.metrics)
            ],
            batch_size=2000,
        )
        due = timezone.now() - timezone.timedelta(minutes=1)
        MetricSync.objects.bulk_create(
            [MetricSync(metric=m, in_use=True, next_sync_at=due, definition_hash="x") for m in metrics],
            batch_size=2000,
        )
        # A few that must not be claimed: paused, not in use, not due yet.
        extra = Metric.objects.bulk_create(
            [Metric(name=f"Other {i}", connection=connection, endpoint="deals", expression="1") for i in range(3)]
        )
        MetricSync.objects.bulk_create(
            [
                MetricSync(metric=extra[0], in_use=True, status="paused", next_sync_at=due),
                MetricSync(metric=extra[1], in_use=False, next_sync_at=due),
                MetricSync(metric=extra[2], in_use=True, next_sync_at=timezone.now() + timezone.timedelta(hours=1)),
            ]
        )
        # Warm the broker connection and the ORM, as a running beat would be.
        from config.celery import app

        with app.producer_or_acquire():
            pass
        MetricSync.objects.filter(pk=0).exists()

        print("One dispatcher tick…", file=sys.stderr)
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            claimed = profiler.runcall(dispatcher.dispatch)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        else:
            claimed = dispatcher.dispatch()
        elapsed = time.perf_counter() - started

        raw = client.lrange(QUEUE, 0, -1)
        enqueued = []
        for item in raw:
            message = json.loads(item)
            body = json.loads(base64.b64decode(message["body"]))
            enqueued += body[0][0]  # a batch: the ids of its metrics
        expected = sorted(m.pk for m in metrics)
        result = {
            "benchmark": "dispatch",
            "metrics_in_use_due": args.metrics,
            "claimed": len(claimed),
            "messages": len(raw),
            "enqueued": len(enqueued),
            "duplicates": len(enqueued) - len(set(enqueued)),
            "every_due_metric_once": sorted(enqueued) == expected and sorted(claimed) == expected,
            "seconds": round(elapsed, 3),
            "per_metric_us": round(elapsed / max(1, len(claimed)) * 1e6, 1),
            "target_seconds": 1.0,
            "meets_target": elapsed <= 1.0,
            "database": "postgresql",
            "broker": "redis",
        }
    finally:
        client.delete(QUEUE)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            benchdb.drop(BENCH_URL)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
