"""Sync settings, read when used so tests can override them (defaults in config/settings.py).

SYNC_MAX_RETRIES        retries of one sync on transient failures (5xx, timeouts, 429)
SYNC_RETRY_BASE_SECONDS first backoff, doubled each retry, with jitter
SYNC_RETRY_MAX_SECONDS  the longest backoff
SYNC_MAX_FAILURES       failed syncs in a row before a metric pauses
SYNC_STALE_SECONDS      a running sync silent this long is dead (it beats per page)
SYNC_CLAIM_TTL_SECONDS  a claimed, never started sync is given up after this
SYNC_RATELIMIT_URL      redis://... for the shared rate limiter (default: the broker when it is
                        Redis, else the database)
SYNC_MIN_INTERVAL_MINUTES the site-wide minimum interval
"""

from django.conf import settings


def max_retries():
    return settings.SYNC_MAX_RETRIES


def retry_base():
    return settings.SYNC_RETRY_BASE_SECONDS


def retry_max():
    return settings.SYNC_RETRY_MAX_SECONDS


def max_failures():
    return settings.SYNC_MAX_FAILURES


def stale_seconds():
    return settings.SYNC_STALE_SECONDS


def claim_ttl_seconds():
    return settings.SYNC_CLAIM_TTL_SECONDS


def min_interval_minutes():
    return settings.SYNC_MIN_INTERVAL_MINUTES


def ratelimit_url():
    if settings.SYNC_RATELIMIT_URL:
        return settings.SYNC_RATELIMIT_URL
    broker = str(settings.CELERY_BROKER_URL or "")
    return broker if broker.startswith(("redis://", "rediss://")) else ""
