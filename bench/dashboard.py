"""Benchmark: reading metrics on PostgreSQL (issue 5), through dashboards.queries.

    DEBUG=true .venv/bin/python bench/dashboard.py [--repeat N] [--keep]

Creates its own database (``metricbuilder_bench`` on the server of BENCH_DATABASE_URL, by
default ``postgres://postgres@127.0.0.1:5432/metricbuilder_bench``), dropped first and at the
end (unless ``--keep``); never the development or test database. Loads, with
``INSERT ... SELECT generate_series`` on the server:

* 50 metrics with two years of hourly datapoints each (876,000 rows), their aggregations
  cycling through Sum, Average, Min, Max, Latest value and Count;
* one metric of 1,000,000 datapoints over the same two years (one every 63 s), Sum;
* 10 broken-down metrics (issue 14), Sum and Count alternating: every hour of the two years one
  datapoint per dimension, 20 dimensions ("Source 01" ... "Source 20"; 3,504,000 rows): the dense
  worst case, not a sparser spread; dimension d's values lie in [0, 1000 / d);
* 10 calculated metrics over pairs of the plain ones (Hourly 00 and 01, 02 and 03, ...): ratios
  ``a / b * 100`` and averages ``(a + b) / 2``, alternating.

and measures, in the viewer zone America/New_York:

1. ``by_day``: the big metric's This year by-day aggregation through ``queries.aggregate``
   against a hand-written ``GROUP BY date_trunc('day', timestamp AT TIME ZONE ...)`` on the
   same table in the same run, alternating, median of ``--repeat`` runs each (target: ratio
   at most 1.5). The same for an hourly metric, and for Latest value against a hand-written
   ``DISTINCT ON``, for information.
2. ``screen``: the server-side cost of what the Metrics screen computes at Last 30 days for
   all 50 metrics: value, previous value and ``comparison.compare``, and (``_with_chart``)
   each metric's by-day series for the small chart; p50/p95 over ``--repeat`` runs (target
   p95 at most 150 ms). Two paths: ``batched`` (``queries.totals`` and ``queries.series``:
   a few grouped queries for the whole screen) and ``per_metric`` (``value_and_previous`` and
   ``aggregate`` per metric: 2-3 queries each).
3. ``screen_view``: the Metrics screen itself (``GET /?range=last_30_days`` through Django's
   test client: middleware, view, queries and template) with all 51 metrics on it, for an
   analyst in America/New_York; p50/p95 of the server time (target p95 at most 150 ms), and
   the number of queries of one request with their database time and the slowest three.
4. ``breakdown``: one broken-down metric at Last 30 days through ``breakdowns.breakdown`` (top
   10 + Other, against the previous period) against a hand-written ``GROUP BY period,
   dimension`` on the same table, alternating, median times and ratio (for information).
5. ``screen_view_without_calculated`` (61 metrics: the 51 and the broken-down ones) and
   ``screen_view_mixed`` (all 71: 50 + 1 + 10 + 10; target p95 at most 150 ms), and the
   calculated metrics' share of the mixed screen's time (``1 - without / mixed``, at p50).

Prints progress, then one JSON object as the last line.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchdb  # noqa: E402 - bench/ is this script's folder

BENCH_URL = benchdb.bench_url("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/metricbuilder_bench")
BENCH_DB = urlsplit(BENCH_URL).path.lstrip("/")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


ZONE = "America/New_York"
METRICS = 50
HOURS = 2 * 365 * 24
BIG_ROWS = 1_000_000
BIG_STEP_S = 63
BROKEN_DOWN = 10
DIMENSIONS = 20
CALCULATED = 10


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def ms(seconds):
    return round(seconds * 1000, 2)


def setup_schema():
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    if "syncs_datapoint" not in connection.introspection.table_names():
        # Until syncs has its first migration: create the table from the model as it stands.
        from syncs.models import Datapoint

        with connection.schema_editor() as editor:
            editor.create_model(Datapoint)
        log("syncs has no migration yet: created syncs_datapoint from the model.")


def load(now):
    from django.db import connection

    from builder.models import Metric

    aggregations = ["sum", "average", "min", "max", "latest", "count"]
    metrics = Metric.objects.bulk_create(
        Metric(
            name=f"Hourly {i:02d}",
            endpoint="query",
            expression="result",
            aggregation=aggregations[i % len(aggregations)],
            favourable_trend="up" if i % 2 else "down",
        )
        for i in range(METRICS)
    )
    big = Metric.objects.create(name="Big", endpoint="query", expression="result", aggregation="sum")
    first_hour = (now - timedelta(hours=HOURS)).replace(minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO syncs_datapoint (metric_id, timestamp, value, dimension, synced_at)
            SELECT m.id, t.ts, round((random() * 1000)::numeric, 2)::float8, '', %s
            FROM unnest(%s::bigint[]) AS m(id)
            CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', interval '1 hour') AS t(ts)
            """,
            [now, [m.pk for m in metrics], first_hour, first_hour + timedelta(hours=HOURS)],
        )
        hourly_rows = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO syncs_datapoint (metric_id, timestamp, value, dimension, synced_at)
            SELECT %s, %s::timestamptz + (n * %s) * interval '1 second', (n %% 997)::float8, '', %s
            FROM generate_series(0, %s - 1) AS n
            """,
            [big.pk, first_hour, BIG_STEP_S, now, BIG_ROWS],
        )
        big_rows = cursor.rowcount
        broken_down, dimension_rows = load_broken_down(cursor, now, first_hour)
        cursor.execute("ANALYZE syncs_datapoint")
    calculated = load_calculated(metrics)
    rows = {"hourly": hourly_rows, "big_metric": big_rows, "by_dimension": dimension_rows}
    return metrics, big, broken_down, calculated, rows, time.perf_counter() - started


def load_broken_down(cursor, now, first_hour):
    """10 metrics by dimension (Sum and Count, alternating): every hour of the two years, one
    datapoint per dimension (20: "Source 01" ... "Source 20"), the worst case of a dense
    breakdown; dimension d's values are drawn from [0, 1000 / d) so the ranking is stable and
    "Other" (the 10 smallest) is a real tail."""
    from builder.models import Metric

    broken_down = Metric.objects.bulk_create(
        Metric(
            name=f"By source {i:02d}",
            endpoint="query",
            expression="result",
            aggregation="sum" if i % 2 == 0 else "count",
        )
        for i in range(BROKEN_DOWN)
    )
    cursor.execute(
        """
        INSERT INTO syncs_datapoint (metric_id, timestamp, value, dimension, synced_at)
        SELECT m.id, t.ts, round((random() * 1000 / d)::numeric, 2)::float8, 'Source ' || lpad(d::text, 2, '0'), %s
        FROM unnest(%s::bigint[]) AS m(id)
        CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', interval '1 hour') AS t(ts)
        CROSS JOIN generate_series(1, %s) AS d
        """,
        [now, [m.pk for m in broken_down], first_hour, first_hour + timedelta(hours=HOURS), DIMENSIONS],
    )
    return broken_down, cursor.rowcount


def load_calculated(metrics):
    """10 calculated metrics over pairs of the plain ones (Hourly 00 and 01, 02 and 03, ...): ratios
    ``a / b * 100`` (percent) and averages ``(a + b) / 2``, alternating."""
    from builder.models import Kind, Metric

    calculated = []
    for i in range(CALCULATED):
        a, b = metrics[2 * i], metrics[2 * i + 1]
        ratio = i % 2 == 0
        metric = Metric.objects.create(
            name=f"Calculated {i:02d}",
            kind=Kind.CALCULATED,
            formula="a / b * 100" if ratio else "(a + b) / 2",
            number_format="percent" if ratio else "number",
        )
        metric.set_inputs([("a", a), ("b", b)])
        calculated.append(metric)
    return calculated


HAND_SUM = """
    SELECT date_trunc('day', "timestamp" AT TIME ZONE %s) AS day, SUM(value)
    FROM syncs_datapoint
    WHERE metric_id = %s AND "timestamp" >= %s AND "timestamp" < %s
    GROUP BY 1 ORDER BY 1
"""
HAND_LATEST = """
    SELECT DISTINCT ON (1) date_trunc('day', "timestamp" AT TIME ZONE %s) AS day, value
    FROM syncs_datapoint
    WHERE metric_id = %s AND "timestamp" >= %s AND "timestamp" < %s
    ORDER BY 1, "timestamp" DESC
"""


def compare_with_sql(metric, current, aggregation, sql, repeat):
    """Median times of queries.aggregate and of the hand-written SQL, alternating; checks they agree."""
    from django.db import connection

    from dashboards import queries

    ours, theirs = [], []
    result = rows = None
    for _ in range(repeat + 2):  # the first two warm the caches and are dropped
        started = time.perf_counter()
        result = queries.aggregate(metric, current, "day", aggregation=aggregation)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, [ZONE, metric.pk, current.start, current.end])
            rows = cursor.fetchall()
        theirs.append(time.perf_counter() - started)
    ours, theirs = ours[2:], theirs[2:]
    by_day = {day.date(): value for day, value in rows}
    agree = all(
        (p.value is None and p.start.date() not in by_day) or abs((p.value or 0) - by_day[p.start.date()]) < 1e-6
        for p in result
    )
    ours_ms, theirs_ms = ms(statistics.median(ours)), ms(statistics.median(theirs))
    return {
        "aggregation": aggregation,
        "buckets": len(result),
        "queries_aggregate_ms": ours_ms,
        "hand_sql_ms": theirs_ms,
        "ratio": round(ours_ms / theirs_ms, 3),
        "same_answer": agree,
    }


def screen(metrics, current, repeat, with_chart, batched):
    """What the Metrics screen computes: per metric (2-3 queries each) or batched (2-4 queries in all)."""
    from dashboards import comparison, queries

    times = []
    for _ in range(repeat + 2):
        started = time.perf_counter()
        if batched:
            pairs = queries.totals(metrics, current)
            for metric in metrics:
                comparison.compare(*pairs[metric.pk], metric.favourable_trend)
            if with_chart:
                queries.series(metrics, current, "day")
        else:
            for metric in metrics:
                value, previous = queries.value_and_previous(metric, current)
                comparison.compare(value, previous, metric.favourable_trend)
                if with_chart:
                    queries.aggregate(metric, current, "day")
        times.append(time.perf_counter() - started)
    times = times[2:]
    return {
        "metrics": len(metrics),
        "path": "queries.totals + queries.series" if batched else "queries.value_and_previous per metric",
        "p50_ms": ms(statistics.median(times)),
        "p95_ms": ms(percentile(times, 0.95)),
        "max_ms": ms(max(times)),
    }


HAND_BREAKDOWN = """
    SELECT CASE WHEN "timestamp" >= %(start)s AND "timestamp" < %(end)s THEN 0 ELSE 1 END AS period,
        dimension, SUM(value)
    FROM syncs_datapoint
    WHERE metric_id = %(metric)s AND (("timestamp" >= %(start)s AND "timestamp" < %(end)s)
        OR ("timestamp" >= %(previous_start)s AND "timestamp" < %(previous_end)s))
    GROUP BY 1, 2
"""


def compare_breakdown(metric, current, repeat):
    """``breakdowns.breakdown`` (top 10 + Other, shares, change against the previous period) against
    a hand-written GROUP BY period, dimension over the same two periods; median times, alternating."""
    from django.db import connection

    from builder import timeframes
    from dashboards import breakdowns

    previous = timeframes.previous(current)
    ours, theirs = [], []
    table = rows = None
    for _ in range(repeat + 2):  # the first two warm the caches and are dropped
        started = time.perf_counter()
        table = breakdowns.breakdown(metric, current)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            bounds = {"start": current.start, "end": current.end, "metric": metric.pk}
            cursor.execute(HAND_BREAKDOWN, {**bounds, "previous_start": previous.start, "previous_end": previous.end})
            rows = cursor.fetchall()
        theirs.append(time.perf_counter() - started)
    ours, theirs = ours[2:], theirs[2:]
    now = {dim: value for period, dim, value in rows if period == 0}
    then = {dim: value for period, dim, value in rows if period == 1}
    ranked = sorted(now, key=lambda dim: -now[dim])
    expected = [(dim, now[dim], then.get(dim)) for dim in ranked[: breakdowns.TOP]]
    rest = ranked[breakdowns.TOP :]
    expected.append((None, sum(now[dim] for dim in rest), sum(then.get(dim, 0) for dim in rest)))
    got = [(line.key, line.value, line.previous) for line in table.lines]
    agree = len(got) == len(expected) and all(
        key == want_key and abs(value - want) < 1e-6 and abs(before - want_before) < 1e-6
        for (key, value, before), (want_key, want, want_before) in zip(got, expected, strict=True)
    )
    ours_ms, theirs_ms = ms(statistics.median(ours)), ms(statistics.median(theirs))
    return {
        "metric": metric.name,
        "aggregation": metric.aggregation,
        "dimensions": table.dimensions,
        "lines": len(table.lines),
        "breakdowns_breakdown_ms": ours_ms,
        "hand_sql_ms": theirs_ms,
        "ratio": round(ours_ms / theirs_ms, 3),
        "same_answer": agree,
    }


def screen_client():
    """A test client signed in as an analyst in America/New_York."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client's host through ALLOWED_HOSTS
    analyst = get_user_model().objects.create_user("bench-analyst")
    analyst.groups.add(Group.objects.get_or_create(name="analyst")[0])
    analyst.profile.time_zone = ZONE
    analyst.profile.save()
    client = Client()
    client.force_login(analyst)
    return client


def put_on_screen(metrics):
    from syncs.models import Use

    Use.objects.bulk_create([Use(metric=metric, kind="screen") for metric in metrics], ignore_conflicts=True)


def screen_view(client, count, repeat):
    """The whole Metrics screen, server side, with the ``count`` metrics on it: p50/p95 of the
    server time, and (one more request) its queries: how many and their time in the database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get():
        response = client.get("/", {"range": "last_30_days"})
        if response.status_code != 200 or response.content.count(b'class="card tile"') != count:
            sys.exit(f"The Metrics screen answered {response.status_code} without its {count} metrics.")

    times = []
    for _ in range(repeat + 2):
        started = time.perf_counter()
        get()
        times.append(time.perf_counter() - started)
    times = times[2:]
    with CaptureQueriesContext(connection) as captured:
        get()
    slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
    return {
        "metrics": count,
        "p50_ms": ms(statistics.median(times)),
        "p95_ms": ms(percentile(times, 0.95)),
        "max_ms": ms(max(times)),
        "queries": len(captured.captured_queries),
        "queries_ms": ms(sum(float(q["time"]) for q in captured.captured_queries)),
        "slowest_queries": [{"ms": ms(float(q["time"])), "sql": q["sql"][:120]} for q in slowest],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="Timed runs per measure (default 30).")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    options = parser.parse_args()

    if not BENCH_URL.startswith(("postgres://", "postgresql://")):
        sys.exit("The dashboard benchmark runs on PostgreSQL only (BENCH_DATABASE_URL).")
    log(f"Creating the database {BENCH_DB} ...")
    benchdb.recreate(BENCH_URL)
    try:
        import django

        django.setup()
        from django.db import connection

        from builder import timeframes

        setup_schema()
        now = datetime.now(UTC)
        metrics, big, broken_down, calculated, rows, load_s = load(now)
        log(
            f"Loaded {rows['hourly']:,} hourly, {rows['big_metric']:,} big-metric and "
            f"{rows['by_dimension']:,} by-dimension datapoints in {load_s:.1f} s."
        )

        this_year = timeframes.resolve("this_year", ZONE, now)
        last_30 = timeframes.resolve("last_30_days", ZONE, now)
        hourly_sum = next(m for m in metrics if m.aggregation == "sum")
        hourly_latest = next(m for m in metrics if m.aggregation == "latest")

        by_day = compare_with_sql(big, this_year, "sum", HAND_SUM, options.repeat)
        log(f"Big metric, This year by day: {by_day}")
        by_day_hourly = compare_with_sql(hourly_sum, this_year, "sum", HAND_SUM, options.repeat)
        log(f"Hourly metric, This year by day: {by_day_hourly}")
        latest = compare_with_sql(hourly_latest, this_year, "latest", HAND_LATEST, options.repeat)
        log(f"Hourly metric, This year by day, Latest value: {latest}")

        screens = {}
        for batched in (True, False):
            for with_chart in (False, True):
                name = ("batched" if batched else "per_metric") + ("_with_chart" if with_chart else "")
                screens[name] = screen(metrics, last_30, options.repeat, with_chart, batched)
                log(f"Metrics screen query layer at Last 30 days, {name}: {screens[name]}")

        by_dimension = compare_breakdown(broken_down[0], last_30, options.repeat)
        log(f"Broken-down metric, Last 30 days by dimension: {by_dimension}")

        client = screen_client()
        put_on_screen([*metrics, big])
        view = screen_view(client, METRICS + 1, options.repeat)
        log(f"Metrics screen view at Last 30 days, {view['metrics']} metrics: {view}")
        put_on_screen(broken_down)
        without_calculated = screen_view(client, METRICS + 1 + BROKEN_DOWN, options.repeat)
        log(f"... with the broken-down ones, {without_calculated['metrics']} metrics: {without_calculated}")
        put_on_screen(calculated)
        mixed = screen_view(client, METRICS + 1 + BROKEN_DOWN + CALCULATED, options.repeat)
        log(f"... and the calculated ones (screen_view_mixed), {mixed['metrics']} metrics: {mixed}")
        calculated_share = round(1 - without_calculated["p50_ms"] / mixed["p50_ms"], 3)
        log(f"Calculated metrics' share of the mixed screen's time (p50): {calculated_share:.1%}")

        result = {
            "bench": "dashboard",
            "database": "postgresql",
            "server_version": connection.cursor().connection.info.server_version,
            "zone": ZONE,
            "now": now.isoformat(),
            "rows": {**rows, "load_s": round(load_s, 1)},
            "by_day_this_year_big_metric": by_day,
            "by_day_this_year_hourly_metric": by_day_hourly,
            "by_day_this_year_latest": latest,
            "screen_last_30_days": screens,
            "screen_view_last_30_days": view,
            "breakdown_last_30_days": by_dimension,
            "screen_view_without_calculated_last_30_days": without_calculated,
            "screen_view_mixed_last_30_days": mixed,
            "calculated_share_of_mixed_screen": calculated_share,
            "targets": {
                "ratio_max": 1.5,
                "ratio_ok": by_day["ratio"] <= 1.5,
                "screen_p95_ms_max": 150,
                "screen_p95_ok": view["p95_ms"] <= 150,
                "screen_mixed_p95_ok": mixed["p95_ms"] <= 150,
            },
        }
        connection.close()
    finally:
        if not options.keep:
            benchdb.drop(BENCH_URL)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
