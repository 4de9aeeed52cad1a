"""The benchmarks' own PostgreSQL databases: named ``*_bench``, created fresh and dropped after.

Never the development or test database: a URL whose database name does not end in
``_bench`` stops the benchmark before anything is touched.
"""

import os
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg


def bench_url(variable, default):
    """The database URL from the environment variable ``variable`` (or ``default``), checked."""
    url = os.environ.get(variable, default)
    name = urlsplit(url).path.lstrip("/")
    if not name.endswith("_bench"):
        sys.exit(f"Refusing to use {name!r}: the benchmark's database name must end in _bench.")
    return url


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
