"""The per-connection budget, on the database (embedded setup) and on Redis (production)."""

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connections

from connections import ratelimit
from connections.errors import RateLimited
from connections.ratelimit import BudgetWait
from tests.syncs.conftest import REDIS_ONLY, on_redis


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    if request.param == "redis":
        if not on_redis():
            pytest.skip(REDIS_ONLY)
        return ratelimit.RedisStore(settings.CELERY_BROKER_URL)
    return ratelimit.DatabaseStore()


def _connection(per_minute):
    import uuid

    return SimpleNamespace(uuid=uuid.uuid4(), rate_limit_per_minute=per_minute)


def _now_deadline():
    return time.monotonic()


@pytest.mark.django_db(transaction=True)
def test_budget_is_counted_and_then_waits_for_the_window(store):
    limiter = ratelimit.for_connection(_connection(3), backend=store)
    # The clock stands still, so the wait does not depend on how loaded the machine is.
    with time_machine.travel("2026-05-04 10:00:00Z", tick=False):
        for _ in range(3):
            assert limiter.acquire(_now_deadline()) == 0
        with pytest.raises(BudgetWait) as wait:
            limiter.acquire(_now_deadline())
    assert 55 <= wait.value.seconds <= 60


@pytest.mark.django_db(transaction=True)
def test_floodcontrol_headers_block_until_the_reset(store):
    limiter = ratelimit.for_connection(_connection(None), backend=store)
    reset = time.time() + 30
    limiter.observe(SimpleNamespace(headers={"x-floodcontrol-remaining": "0", "x-floodcontrol-reset": str(reset)}))
    with pytest.raises(BudgetWait) as wait:
        limiter.acquire(_now_deadline())
    assert 28 <= wait.value.seconds <= 30


@pytest.mark.django_db(transaction=True)
def test_the_servers_count_wins_when_higher(store):
    limiter = ratelimit.for_connection(_connection(10), backend=store)
    limiter.acquire()
    # Another client of the account used 8 more: the server says 1 left.
    reset = time.time() + 50
    limiter.observe(SimpleNamespace(headers={"x-floodcontrol-remaining": "1", "x-floodcontrol-reset": str(reset)}))
    assert limiter.acquire(_now_deadline()) == 0
    with pytest.raises(BudgetWait) as wait:
        limiter.acquire(_now_deadline())
    # The window ends at the later of ours and the server's reset: never a request into a
    # window the server has not reopened yet (clocks differ; a 429 costs more than a second).
    assert 58 <= wait.value.seconds <= 60


@pytest.mark.django_db(transaction=True)
def test_a_later_server_window_moves_ours(store):
    limiter = ratelimit.for_connection(_connection(2), backend=store)
    limiter.acquire()
    time.sleep(0.2)
    # The server's window opened after ours (at its first request): ours now ends with it.
    reset = time.time() + 60
    limiter.observe(SimpleNamespace(headers={"x-floodcontrol-remaining": "0", "x-floodcontrol-reset": str(reset)}))
    with pytest.raises(BudgetWait) as wait:
        limiter.acquire(_now_deadline())
    assert 59 <= wait.value.seconds <= 60


@pytest.mark.django_db(transaction=True)
def test_a_429_blocks_every_sender_until_retry_after(store):
    connection = _connection(100)
    first = ratelimit.for_connection(connection, backend=store)
    other = ratelimit.for_connection(connection, backend=store)
    first.block(RateLimited(retry_after=20, reset_at=datetime.now(UTC) + timedelta(seconds=20)))
    with pytest.raises(BudgetWait) as wait:
        other.acquire(_now_deadline())
    assert 18 <= wait.value.seconds <= 20


@pytest.mark.django_db(transaction=True)
def test_budget_is_shared_by_concurrent_senders(store):
    connection = _connection(7)
    taken = []

    def sender():
        limiter = ratelimit.for_connection(connection, backend=store)
        try:
            for _ in range(5):
                try:
                    limiter.acquire(_now_deadline())
                    taken.append(1)
                except BudgetWait:
                    pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 7
