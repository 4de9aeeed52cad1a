"""builder.fetching: rendering a request and walking its pages, the one path of Send and the sync,
against the sandbox over HTTP."""

import pytest
import requests
import time_machine

from builder import fetching, pagination, timeframes
from connections import ratelimit
from connections.client import Client
from connections.errors import RateLimited, ResponseTooLarge
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.connections.factories import custom_connection

pytestmark = pytest.mark.django_db

WINDOW = timeframes.preview_window("last_30_days", "UTC")
DEALS = 700  # the sandbox's Potentials, every one a deal of the custom API


def _deals(limit=100, **params):
    """All the custom API's deals, ``limit`` per page (offset pagination: stops on a short or empty page)."""
    query = {"paginate": "offset", "limit": str(limit), **params}
    return {
        "method": "GET",
        "endpoint": "deals",
        "params": [[name, value] for name, value in query.items()],
        "pagination": {"type": "offset", "limit": limit, "records": "data"},
    }


def _fetch(connection, spec, **options):
    with Client(connection) as client:
        return fetching.fetch(client, spec, WINDOW, connection.data_timezone, **options)


def _spend_the_apis_minute(sandbox):
    """Another client of the account spends the API's one request this minute."""
    sandbox.configure(rate_limit_per_minute=1)
    requests.get(f"{sandbox.url}/restapi/v1/vtiger/default/me", auth=(DEMO_USERNAME, DEMO_ACCESS_KEY), timeout=5)


def test_every_page_is_fetched_and_merged_into_the_first_pages_body(sandbox):
    fetched = _fetch(custom_connection(sandbox.url), _deals(limit=100))
    ids = [deal["id"] for deal in fetched.data["data"]]
    expected = sorted(int(row["id"].split("x")[1]) for row in sandbox.dataset.records("Potentials"))
    assert len(expected) == DEALS and sorted(ids) == expected
    assert fetched.data["offset"] == 0, "the first page's body, with every page's records in it"
    # Seven full pages, then the empty eighth that says there are no more.
    assert fetched.pages == fetched.requests == 8 and fetched.cap_hit is False
    assert fetched.status == 200 and fetched.content_type == "application/json"
    assert fetched.size_bytes > 0 and fetched.truncated is False


def test_placeholders_are_rendered_for_the_window_in_the_connections_zone(sandbox):
    spec = {"endpoint": "echo", "params": [["from", "{{start}}"], ["to", "{{end:YYYY-MM-DD}}"]]}
    fetched = _fetch(custom_connection(sandbox.url), spec)
    assert fetched.data["query"] == {
        "from": WINDOW.start.strftime("%Y-%m-%d %H:%M:%S"),
        "to": WINDOW.end.strftime("%Y-%m-%d"),
    }


def test_the_page_cap_stops_paging_and_says_so(sandbox):
    fetched = _fetch(custom_connection(sandbox.url), _deals(limit=100), max_pages=3)
    assert fetched.pages == fetched.requests == 3 and fetched.cap_hit is True
    assert len(fetched.data["data"]) == 300


def test_the_byte_cap_stops_following_pages_and_says_so(sandbox):
    fetched = _fetch(custom_connection(sandbox.url), _deals(limit=100), max_bytes=1)
    assert fetched.pages == fetched.requests == 1 and fetched.cap_hit is True
    assert len(fetched.data["data"]) == 100


def test_a_last_page_over_the_byte_cap_is_no_cap_hit(sandbox):
    fetched = _fetch(custom_connection(sandbox.url), _deals(limit=1000), max_bytes=1)
    assert fetched.pages == 1 and fetched.cap_hit is False, "nothing was left unfetched"
    assert len(fetched.data["data"]) == DEALS


def test_on_page_runs_after_each_page_with_the_counts_so_far(sandbox):
    seen = []
    _fetch(custom_connection(sandbox.url), _deals(limit=250), on_page=lambda f: seen.append((f.requests, f.pages)))
    assert seen == [(1, 1), (2, 2), (3, 3)]


def test_a_first_request_that_would_wait_too_long_raises_budget_wait_and_sends_nothing(sandbox):
    connection = custom_connection(sandbox.url, rate_limit_per_minute=1)
    limiter = ratelimit.for_connection(connection)
    fetched = fetching.Fetched()
    before = sandbox.stats()["total_requests"]
    # The clock stands still, so the wait does not depend on how loaded the machine is.
    with time_machine.travel("2026-05-04 10:00:00Z", tick=False):
        limiter.acquire()  # a sync spent this minute's budget
        with pytest.raises(ratelimit.BudgetWait) as wait:
            _fetch(connection, _deals(), limiter=limiter, first_wait_s=0, result=fetched)
    assert 55 <= wait.value.seconds <= 60
    assert fetched.requests == 0 and sandbox.stats()["total_requests"] == before


def test_after_the_first_request_later_pages_wait_for_the_budget(sandbox):
    connection = custom_connection(sandbox.url, rate_limit_per_minute=1)
    with time_machine.travel("2026-05-04 10:00:00Z", tick=False) as traveller:
        # The budget's wait passes on the travelled clock instead of the wall clock.
        limiter = ratelimit.for_connection(connection, sleep=traveller.shift)
        fetched = _fetch(connection, _deals(limit=250), limiter=limiter, first_wait_s=0)
    assert fetched.pages == 3 and len(fetched.data["data"]) == DEALS
    assert fetched.waited_s >= 2 * 55, "pages two and three each waited for the next minute"


def test_wait_s_bounds_every_requests_wait_and_keeps_the_count_so_far(sandbox):
    connection = custom_connection(sandbox.url, rate_limit_per_minute=1)
    fetched = fetching.Fetched()
    with pytest.raises(ratelimit.BudgetWait):
        _fetch(connection, _deals(limit=250), limiter=ratelimit.for_connection(connection), wait_s=0, result=fetched)
    assert fetched.requests == fetched.pages == 1 and fetched.data is None


def test_a_429_blocks_the_budget_for_every_sender(sandbox):
    connection = custom_connection(sandbox.url, rate_limit_per_minute=None)
    _spend_the_apis_minute(sandbox)
    with pytest.raises(RateLimited):
        _fetch(connection, _deals(), limiter=ratelimit.for_connection(connection))
    with pytest.raises(ratelimit.BudgetWait) as wait:
        ratelimit.for_connection(connection).acquire(deadline=0)  # another sync or Send
    assert wait.value.seconds > 0 and sandbox.stats()["rate_limited"] == 1


def test_the_flood_control_headers_are_observed(sandbox):
    connection = custom_connection(sandbox.url, rate_limit_per_minute=None)
    sandbox.configure(rate_limit_per_minute=1)
    fetched = _fetch(connection, _deals(limit=1000), limiter=ratelimit.for_connection(connection))
    assert fetched.pages == 1, "the API's one request this minute: Remaining 0"
    with pytest.raises(ratelimit.BudgetWait):
        ratelimit.for_connection(connection).acquire(deadline=0)


def test_a_cut_body_is_kept_as_text_when_allowed(sandbox, settings):
    settings.OUTBOUND_MAX_BYTES = 64 * 1024
    spec = {"endpoint": "big", "params": [["kb", "200"]]}
    fetched = _fetch(custom_connection(sandbox.url), spec, allow_truncated=True)
    assert fetched.truncated is True and fetched.data is None and fetched.pages == 1
    assert fetched.size_bytes == 64 * 1024 and fetched.text.startswith('{"kb":200,"items":[')
    with pytest.raises(ResponseTooLarge):
        _fetch(custom_connection(sandbox.url), spec)


def test_a_page_that_cannot_be_paged_on_is_counted(sandbox):
    spec = {**_deals(), "pagination": {"type": "offset", "records": "nowhere"}}
    fetched = fetching.Fetched()
    with pytest.raises(pagination.PaginationError):
        _fetch(custom_connection(sandbox.url), spec, result=fetched)
    assert fetched.requests == fetched.pages == 1 and fetched.status == 200
