"""Sync settings: read from Django settings when the lead adds them there, else from the environment.

SYNC_MAX_RETRIES        retries of one sync on transient failures (5xx, timeouts, 429), default 4
SYNC_RETRY_BASE_SECONDS first backoff, doubled each retry, with jitter (default 30)
SYNC_RETRY_MAX_SECONDS  the longest backoff (default 900)
SYNC_MAX_FAILURES       failed syncs in a row before a metric pauses (default 3)
SYNC_STALE_SECONDS      a running sync silent this long is dead (default 300; it beats per page)
SYNC_CLAIM_TTL_SECONDS  a claimed, never started sync is given up after this (default 3600)
SYNC_RATELIMIT_URL      redis://... for the shared rate limiter (default: the broker when it is
                        Redis, else the database)
SYNC_MIN_INTERVAL_MINUTES the site-wide minimum interval (default 5)
"""

from django.conf import settings

from config.env import env_float, env_int, env_str


def _get(name, reader, default, **kwargs):
    if hasattr(settings, name):
        return getattr(settings, name)
    return reader(name, default, **kwargs)


def max_retries():
    return _get("SYNC_MAX_RETRIES", env_int, 4, minimum=0)


def retry_base():
    return _get("SYNC_RETRY_BASE_SECONDS", env_float, 30.0)


def retry_max():
    return _get("SYNC_RETRY_MAX_SECONDS", env_float, 900.0)


def max_failures():
    return _get("SYNC_MAX_FAILURES", env_int, 3, minimum=1)


def stale_seconds():
    return _get("SYNC_STALE_SECONDS", env_float, 300.0)


def claim_ttl_seconds():
    return _get("SYNC_CLAIM_TTL_SECONDS", env_float, 3600.0)


def min_interval_minutes():
    return _get("SYNC_MIN_INTERVAL_MINUTES", env_int, 5, minimum=1)


def ratelimit_url():
    url = _get("SYNC_RATELIMIT_URL", env_str, "")
    if url:
        return url
    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    return broker if broker.startswith(("redis://", "rediss://")) else ""
