"""Benchmark: one dispatcher tick over 10,000 metrics in use, on PostgreSQL and Redis (issue 4).

    .venv/bin/python bench/dispatch.py [--metrics N] [--rounds N] [--keep]

Creates its own database (SYNCS_BENCH_DATABASE_URL, default
``postgres://postgres@127.0.0.1:5432/metricbuilder_dispatch_bench``),
dropped first and at the end (unless ``--keep``), and publishes to a queue of its own on
SYNCS_BENCH_REDIS_URL (default ``redis://127.0.0.1:6379/14``), deleted at the end. No worker
runs: the messages stay in the queue, where they are counted and checked.

Measures ``syncs.dispatcher.dispatch()``: the claim (one conditional UPDATE whose subquery
selects the due rows ``FOR UPDATE SKIP LOCKED``), the commit, and publishing one task per batch
(at most SYNC_BATCH_SIZE metrics of one connection; target: at most 1 s for 10,000), then reads
the queue back: every due metric exactly once. The tick runs ``--rounds`` times (the claims
freed in between): ``seconds`` is the first, ``ticks`` all, ``median_seconds`` their median,
``cpu_seconds`` the first one's CPU time in this process (PostgreSQL's and Redis's work not
included: on a loaded machine it says what this code costs where wall time does not).

Then publishing alone, the same batches each way, ``--rounds`` times interleaved (in
``publish``: best and median wall time, best CPU time, per message):

* ``enqueue``: the dispatcher's (``send_task`` on one producer inside its publish batch,
  routed and declared once, ``retry=False``, the argument reprs given);
* ``in_a_batch``: ``send_task`` inside the publish batch, Celery's defaults otherwise;
* ``apply_async_each``: ``send_task`` on one producer, one round trip a message;
* ``group``: ``group(...).apply_async()``;
* ``hand_built``: protocol-2 messages built with ``app.amqp.create_task_message`` and
  published in a batch, the path ``enqueue`` replaced (it skips Celery's publish signals).

``SYNC_BATCH_SIZE=1`` makes a message per metric.

Prints progress, then one JSON object as the last line.
"""

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchdb  # noqa: E402 - bench/ is this script's folder

BENCH_URL, REDIS_URL, QUEUE = benchdb.use_syncs_stack(
    "postgres://postgres@127.0.0.1:5432/metricbuilder_dispatch_bench", "bench-dispatch"
)


def publishers():
    """The ways of publishing a tick's batches compared here: name -> f(batches, token, planned_at)."""
    # Imported here, after django.setup() in main(): the Celery app reads Django's settings.
    from celery import group
    from celery.utils import uuid

    from config.celery import app
    from syncs import dispatcher

    def in_a_batch(metric_batches, token, planned_at):
        kwargs = {"planned_at": planned_at.isoformat()}
        with app.producer_or_acquire() as producer, producer.batch():
            for metric_ids in metric_batches:
                app.send_task(dispatcher.SYNC_BATCH, (metric_ids, token), kwargs, producer=producer, ignore_result=True)

    def apply_async_each(metric_batches, token, planned_at):
        kwargs = {"planned_at": planned_at.isoformat()}
        with app.producer_or_acquire() as producer:
            for metric_ids in metric_batches:
                app.send_task(dispatcher.SYNC_BATCH, (metric_ids, token), kwargs, producer=producer, ignore_result=True)

    def in_a_group(metric_batches, token, planned_at):
        kwargs = {"planned_at": planned_at.isoformat()}
        signatures = [app.signature(dispatcher.SYNC_BATCH, (ids, token), kwargs) for ids in metric_batches]
        group(signatures).apply_async(ignore_result=True)

    def hand_built(metric_batches, token, planned_at):
        queue = app.amqp.router.route({}, dispatcher.SYNC_BATCH)["queue"]
        kwargs = {"planned_at": planned_at.isoformat()}
        kwargsrepr = repr(kwargs)
        with app.producer_or_acquire() as producer:
            producer.maybe_declare(queue)
            with producer.batch():
                for metric_ids in metric_batches:
                    headers, properties, body, _ = app.amqp.create_task_message(
                        uuid(),
                        dispatcher.SYNC_BATCH,
                        (metric_ids, token),
                        kwargs,
                        argsrepr=f"({metric_ids}, {token!r})",
                        kwargsrepr=kwargsrepr,
                        ignore_result=True,
                    )
                    producer.publish(
                        body,
                        exchange="",
                        routing_key=queue.name,
                        headers=headers,
                        serializer="json",
                        delivery_mode=2,
                        **properties,
                    )

    return {
        "enqueue": dispatcher.enqueue,
        "in_a_batch": in_a_batch,
        "apply_async_each": apply_async_each,
        "group": in_a_group,
        "hand_built": hand_built,
    }


def queued_metric_ids(client):
    """The metric ids in the bench queue's messages, in order, one entry per occurrence."""
    enqueued = []
    for item in client.lrange(QUEUE, 0, -1):
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        enqueued += body[0][0]  # a batch: the ids of its metrics
    return enqueued


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="Ticks, and publishing rounds of each way.")
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
    from syncs.models import SyncState

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
        SyncState.objects.bulk_create(
            [SyncState(metric=m, in_use=True, next_sync_at=due, definition_hash="x") for m in metrics],
            batch_size=2000,
        )
        # A few that must not be claimed: paused, not in use, not due yet.
        extra = Metric.objects.bulk_create(
            [Metric(name=f"Other {i}", connection=connection, endpoint="deals", expression="1") for i in range(3)]
        )
        SyncState.objects.bulk_create(
            [
                SyncState(metric=extra[0], in_use=True, status="paused", next_sync_at=due),
                SyncState(metric=extra[1], in_use=False, next_sync_at=due),
                SyncState(metric=extra[2], in_use=True, next_sync_at=timezone.now() + timezone.timedelta(hours=1)),
            ]
        )
        # Warm the broker connection and the ORM, as a running beat would be.
        from config.celery import app

        with app.producer_or_acquire():
            pass
        SyncState.objects.filter(pk=0).exists()
        expected = sorted(m.pk for m in metrics)

        print(f"{args.rounds} dispatcher ticks…", file=sys.stderr)
        ticks, tick_cpu, every_once = [], [], True
        for tick in range(args.rounds):
            started, cpu_started = time.perf_counter(), time.process_time()
            if os.environ.get("BENCH_PROFILE") and tick == 0:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                claimed = profiler.runcall(dispatcher.dispatch)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
            else:
                claimed = dispatcher.dispatch()
            ticks.append(time.perf_counter() - started)
            tick_cpu.append(time.process_time() - cpu_started)
            enqueued = queued_metric_ids(client)
            every_once &= sorted(enqueued) == expected and sorted(claimed) == expected
            if tick == 0:
                first = {"claimed": len(claimed), "messages": client.llen(QUEUE), "enqueued": len(enqueued)}
                first["duplicates"] = len(enqueued) - len(set(enqueued))
            client.delete(QUEUE)
            sync_state = SyncState.objects.get(metric=metrics[0])
            token, planned_at = sync_state.claimed_by, sync_state.claimed_at
            SyncState.objects.filter(metric__in=metrics).update(claimed_by="", claimed_at=None)

        metric_batches = dispatcher.batches(sorted((m.pk, connection.pk) for m in metrics))
        print(f"Publishing the tick's {len(metric_batches)} batches each way, {args.rounds} rounds…", file=sys.stderr)
        ways = publishers()
        timings = {name: [] for name in ways}
        cpu_timings = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, publish in ways.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                publish(metric_batches, token, planned_at)
                timings[name].append(time.perf_counter() - started)
                cpu_timings[name].append(time.process_time() - cpu_started)
                every_once &= sorted(queued_metric_ids(client)) == expected
                client.delete(QUEUE)
        publish = {
            name: {
                "best_seconds": round(min(seconds), 3),
                "median_seconds": round(statistics.median(seconds), 3),
                "per_message_us": round(min(seconds) / len(metric_batches) * 1e6, 1),
                "best_cpu_seconds": round(min(cpu_timings[name]), 3),
                "per_message_cpu_us": round(min(cpu_timings[name]) / len(metric_batches) * 1e6, 1),
            }
            for name, seconds in timings.items()
        }
        result = {
            "benchmark": "dispatch",
            "metrics_in_use_due": args.metrics,
            **first,
            "every_due_metric_once": every_once,
            "seconds": round(ticks[0], 3),
            "median_seconds": round(statistics.median(ticks), 3),
            "ticks": [round(t, 3) for t in ticks],
            "cpu_seconds": round(tick_cpu[0], 3),
            "per_metric_us": round(ticks[0] / max(1, first["claimed"]) * 1e6, 1),
            "publish": publish,
            "target_seconds": 1.0,
            "meets_target": ticks[0] <= 1.0,
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
