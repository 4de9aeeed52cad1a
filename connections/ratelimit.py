"""A per-connection request budget shared by every process that calls the connection.

Syncs and the wizard's Send spend the same budget, so a preview never takes the quota syncs need.

    limiter = for_connection(connection)
    limiter.acquire()             # blocks until one more request may be sent
    limiter.observe(response)     # X-FloodControl-Remaining / -Reset from a successful answer
    limiter.block(problem)        # a 429: nobody sends before Retry-After / the reset time

The budget is ``connection.rate_limit_per_minute`` requests per 60 s window (no limit when
unset; blocks from 429s and ``Remaining: 0`` still apply). The window is aligned on the
server's own (``X-FloodControl-Reset``), so a request is never sent into a window the server
has already used up, and the server's count (``MinuteLimit - Remaining``) wins over ours when
it is higher (another client on the same account).

Two stores with the same algorithm: Redis (a Lua script, atomic; production and any setup
whose broker is Redis) and the database (a ``RateBucket`` row locked with
``select_for_update``; SQLite takes its write lock at BEGIN IMMEDIATE), for the embedded setup.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import IntegrityError, transaction

from connections.errors import ConnectionProblem
from connections.models import RateBucket

logger = logging.getLogger(__name__)

WINDOW_S = 60.0
MAX_WAIT_S = 3600.0


def _headers_state(headers):
    """(remaining, reset epoch s) from flood-control headers, or (None, None)."""
    try:
        remaining = int(headers.get("x-floodcontrol-remaining", ""))
    except (TypeError, ValueError):
        remaining = None
    try:
        reset = float(headers.get("x-floodcontrol-reset", ""))
    except (TypeError, ValueError):
        reset = None
    if reset is not None and reset < 1e9:  # seconds from now, as some APIs send
        reset = time.time() + reset
    return remaining, reset


def _blocked_until(problem):
    if getattr(problem, "reset_at", None) is not None:
        return problem.reset_at.timestamp()
    if getattr(problem, "retry_after", None) is not None:
        return time.time() + float(problem.retry_after)
    return time.time() + WINDOW_S


class _Store:
    def take(self, key: str, limit: int, now: float) -> float:
        """Count one request if the budget allows; else the seconds to wait (0 when taken)."""
        raise NotImplementedError

    def align(self, key: str, limit: int, remaining: int | None, reset: float | None) -> None:
        raise NotImplementedError

    def block(self, key: str, until: float) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------- Redis

_TAKE = """
local h = redis.call('HMGET', KEYS[1], 'ws', 'n', 'bu')
local ws = tonumber(h[1]) or 0
local n = tonumber(h[2]) or 0
local bu = tonumber(h[3]) or 0
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
if bu > now then return tostring(bu - now) end
if limit <= 0 then return '0' end
if now - ws >= win then ws = now; n = 0 end
if n < limit then
  redis.call('HSET', KEYS[1], 'ws', tostring(ws), 'n', n + 1)
  redis.call('EXPIRE', KEYS[1], 86400)
  return '0'
end
return tostring(ws + win - now)
"""

_ALIGN = """
local h = redis.call('HMGET', KEYS[1], 'ws', 'n')
local ws = tonumber(h[1]) or 0
local n = tonumber(h[2]) or 0
local used = tonumber(ARGV[1])
local server_ws = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
if server_ws > ws then
  if server_ws - ws > win / 2 then n = 0 end
  ws = server_ws
end
if used > n then n = used end
redis.call('HSET', KEYS[1], 'ws', tostring(ws), 'n', n)
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""

_BLOCK = """
local bu = tonumber(redis.call('HGET', KEYS[1], 'bu')) or 0
local until_ = tonumber(ARGV[1])
if until_ > bu then redis.call('HSET', KEYS[1], 'bu', tostring(until_)) end
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""


class LimiterUnavailable(ConnectionProblem):
    """The shared budget could not be read (Redis down or restarting): retried like a network error."""

    kind = "limiter_unavailable"
    default_message = (
        "The shared request budget (Redis) could not be reached, so no request was sent; the sync will try again."
    )
    transient = True


class RedisStore(_Store):
    def __init__(self, url):
        self.errors = (redis.exceptions.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._take = self._guarded(self.client.register_script(_TAKE))
        self._align = self._guarded(self.client.register_script(_ALIGN))
        self._block = self._guarded(self.client.register_script(_BLOCK))

    def _guarded(self, script):
        def call(**kwargs):
            try:
                return script(**kwargs)
            except self.errors as exc:
                logger.warning("Rate limiter store unavailable: %s", exc)
                raise LimiterUnavailable() from exc

        return call

    @staticmethod
    def _key(key):
        return f"metricbuilder:ratelimit:{key}"

    def take(self, key, limit, now):
        return float(self._take(keys=[self._key(key)], args=[repr(now), limit, WINDOW_S]))

    def align(self, key, limit, remaining, reset):
        used = max(0, limit - remaining) if (limit and remaining is not None) else 0
        server_ws = (reset - WINDOW_S) if reset is not None else 0
        self._align(keys=[self._key(key)], args=[used, repr(server_ws), WINDOW_S])

    def block(self, key, until):
        self._block(keys=[self._key(key)], args=[repr(until)])


# ---------------------------------------------------------------- the database


def _ts(value):
    return value.timestamp() if value is not None else 0.0


def _dt(epoch):
    return datetime.fromtimestamp(epoch, UTC)


class DatabaseStore(_Store):
    def _locked(self, key):
        bucket = RateBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            try:
                with transaction.atomic():
                    RateBucket.objects.create(key=key, window_start=_dt(0), count=0)
            except IntegrityError:
                pass  # another process made it first
            bucket = RateBucket.objects.select_for_update().get(key=key)
        return bucket

    def take(self, key, limit, now):
        with transaction.atomic():
            bucket = self._locked(key)
            blocked = _ts(bucket.blocked_until)
            if blocked > now:
                return blocked - now
            if limit <= 0:
                return 0.0
            start = _ts(bucket.window_start)
            if now - start >= WINDOW_S:
                bucket.window_start, bucket.count = _dt(now), 0
                start = now
            if bucket.count < limit:
                bucket.count += 1
                bucket.save(update_fields=["window_start", "count"])
                return 0.0
            return start + WINDOW_S - now

    def align(self, key, limit, remaining, reset):
        used = max(0, limit - remaining) if (limit and remaining is not None) else 0
        with transaction.atomic():
            bucket = self._locked(key)
            start = _ts(bucket.window_start)
            if reset is not None and reset - WINDOW_S > start:
                if reset - WINDOW_S - start > WINDOW_S / 2:
                    bucket.count = 0
                bucket.window_start = _dt(reset - WINDOW_S)
            bucket.count = max(bucket.count, used)
            bucket.save(update_fields=["window_start", "count"])

    def block(self, key, until):
        with transaction.atomic():
            bucket = self._locked(key)
            if _ts(bucket.blocked_until) < until:
                bucket.blocked_until = _dt(until)
                bucket.save(update_fields=["blocked_until"])


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def store() -> _Store:
    url = _store_url()
    with _stores_lock:
        if url not in _stores:
            _stores[url] = RedisStore(url) if url else DatabaseStore()
        return _stores[url]


class ConnectionLimiter:
    """The budget of one connection, as one sync uses it."""

    def __init__(self, connection, backend: _Store | None = None, sleep=time.sleep):
        self.key = f"connection:{connection.uuid}"
        self.limit = int(connection.rate_limit_per_minute or 0)
        self.backend = backend or store()
        self.sleep = sleep
        self.waited_s = 0.0

    def acquire(self, deadline: float | None = None) -> float:
        """Wait until one more request may be sent and count it; the seconds waited.

        ``deadline`` (``time.monotonic()`` value): raise ``BudgetWait`` instead of waiting past it.
        """
        waited = 0.0
        while True:
            wait = self.backend.take(self.key, self.limit, time.time())
            if wait <= 0:
                self.waited_s += waited
                return waited
            wait = min(wait, MAX_WAIT_S)
            if deadline is not None and time.monotonic() + wait > deadline:
                raise BudgetWait(wait)
            # A little jitter, so processes woken by the same window do not stampede.
            pause = wait + random.uniform(0, 0.05)
            self.sleep(pause)
            waited += pause

    def observe(self, response) -> None:
        remaining, reset = _headers_state(getattr(response, "headers", None) or {})
        if remaining is None or reset is None:
            return
        if remaining <= 0:
            self.backend.block(self.key, reset)
        if self.limit:
            self.backend.align(self.key, self.limit, remaining, reset)

    def block(self, problem) -> float:
        until = _blocked_until(problem)
        self.backend.block(self.key, until)
        return until


class BudgetWait(Exception):
    """The budget frees up only after the caller's deadline: ``seconds`` from now."""

    def __init__(self, seconds):
        super().__init__(f"The connection's request budget frees up in {seconds:.0f} s.")
        self.seconds = seconds


def for_connection(connection, **kwargs) -> ConnectionLimiter:
    return ConnectionLimiter(connection, **kwargs)


def _store_url():
    """Where the buckets live: SYNC_RATELIMIT_URL, else the broker when it is Redis, else "" (the database)."""
    if settings.SYNC_RATELIMIT_URL:
        return settings.SYNC_RATELIMIT_URL
    broker = str(settings.CELERY_BROKER_URL or "")
    return broker if broker.startswith(("redis://", "rediss://")) else ""
