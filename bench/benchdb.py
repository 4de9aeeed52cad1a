"""The benchmarks' own PostgreSQL databases: named ``*_bench``, created fresh and dropped after.

Never the development or test database: a URL whose database name does not end in
``_bench`` stops the benchmark before anything is touched.
"""

import os
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg


def bench_url(variable, default):
    """The database URL from the environment variable ``variable`` (or ``default``), checked."""
    url = os.environ.get(variable, default)
    name = urlsplit(url).path.lstrip("/")
    if not name.endswith("_bench"):
        sys.exit(f"Refusing to use {name!r}: the benchmark's database name must end in _bench.")
    return url


def use_syncs_stack(database_default, queue_prefix, **environment):
    """Point Django and Celery at a sync benchmark's own database and Redis, on a queue of its own.

    SYNCS_BENCH_DATABASE_URL (else ``database_default``) and SYNCS_BENCH_REDIS_URL (default
    ``redis://127.0.0.1:6379/14``); ``environment``: more variables. (database URL, Redis URL, queue).
    """
    database = bench_url("SYNCS_BENCH_DATABASE_URL", database_default)
    redis_url = os.environ.get("SYNCS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    queue = f"{queue_prefix}-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        DATABASE_URL=database,
        CELERY_BROKER_URL=redis_url,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
        **environment,
    )
    return database, redis_url, queue


def _admin(url):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def drop(url):
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate(url):
    drop(url)
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
