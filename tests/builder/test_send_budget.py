"""The wizard's Send spends the connection's request budget, the one syncs spend, and says so
when it is used up instead of sending (before, 40 Sends at 30/min made 10 of them 429s)."""

import pytest
import requests
import time_machine
from django.urls import reverse

from builder import preview, steps
from builder.models import Draft
from connections import ratelimit
from connections.errors import RateLimited
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.builder.test_wizard_views import _request_data
from tests.connections.factories import custom_connection, vtiger_connection

pytestmark = pytest.mark.django_db

ONE_PAGE = {"endpoint": "echo", "method": "GET", "pagination": "none"}


def _send(client, draft):
    response = client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft, **ONE_PAGE))
    assert response.status_code in (200, 302)
    draft.refresh_from_db()
    return draft.response_meta


def test_the_third_send_on_a_budget_of_two_a_minute_is_refused_and_not_sent(analyst_client, sandbox):
    connection = custom_connection(sandbox.url, name="Echo API", rate_limit_per_minute=2)
    analyst_client.post(reverse("builder:start"), {"connection": str(connection.uuid)})
    draft = Draft.objects.latest("created_at")
    before = sandbox.stats()["total_requests"]

    with time_machine.travel("2026-05-04 10:00:10Z", tick=False):
        assert _send(analyst_client, draft)["error"] is None
        assert _send(analyst_client, draft)["error"] is None
        meta = _send(analyst_client, draft)
        page = analyst_client.get(reverse("builder:request", args=[draft.uuid])).content.decode()

    assert meta["error"]["kind"] == "budget" and meta["pages"] == 0
    message = "This connection&#x27;s request budget (2 per minute) is used up; try again in 60 seconds."
    assert message in page, "the Send panel says why"
    assert sandbox.stats()["total_requests"] - before == 2, "the third Send sent nothing"


def test_the_vtql_helper_spends_the_budget_too(analyst_client, sandbox):
    connection = vtiger_connection(sandbox.url, rate_limit_per_minute=1)
    ratelimit.for_connection(connection).acquire()  # a sync spent this minute's budget
    draft_page = analyst_client.post(reverse("builder:start"), {"connection": str(connection.uuid)}, follow=True)
    before = sandbox.stats()["total_requests"]
    draft = Draft.objects.latest("created_at")
    message = steps.vtql_load(draft, connection, "modules")
    assert message.startswith("This connection's request budget (1 per minute) is used up; try again in")
    assert sandbox.stats()["total_requests"] == before
    assert draft_page.status_code == 200


def test_sends_and_syncs_share_the_budget(sandbox):
    """A sync that spent the minute's budget leaves a Send nothing to spend, and the other way round."""
    connection = vtiger_connection(sandbox.url, rate_limit_per_minute=1)
    spec = {"endpoint": "me", "method": "GET", "params": [], "pagination": {"type": "none"}}
    with time_machine.travel("2026-05-04 10:00:30Z", tick=False):
        ratelimit.for_connection(connection).acquire()  # what a sync does before each request
        result = preview.send(connection, spec)
    assert result.error["kind"] == "budget" and "try again in 60 seconds" in result.error["message"]


def test_flood_control_and_429s_on_send_block_the_budget_for_everyone(sandbox):
    """The API's own count (X-FloodControl-Remaining: 0) and a 429 stop the next Send, and syncs, before sending."""
    connection = vtiger_connection(sandbox.url, rate_limit_per_minute=None)
    spec = {"endpoint": "me", "method": "GET", "params": [], "pagination": {"type": "none"}}
    sandbox.configure(rate_limit_per_minute=2)
    requests.get(f"{sandbox.url}/restapi/v1/vtiger/default/me", auth=(DEMO_USERNAME, DEMO_ACCESS_KEY), timeout=5)
    assert preview.send(connection, spec).ok  # the API's last request this minute: Remaining 0
    sent = sandbox.stats()["total_requests"]
    refused = preview.send(connection, spec)
    assert refused.error["kind"] == "budget" and "asked for a pause" in refused.error["message"]
    assert sandbox.stats()["total_requests"] == sent and sandbox.stats()["rate_limited"] == 0
    with pytest.raises(ratelimit.BudgetWait):
        ratelimit.for_connection(connection).acquire(deadline=0)  # a sync waits too


def test_a_429_on_send_blocks_the_budget(sandbox):
    connection = vtiger_connection(sandbox.url, rate_limit_per_minute=None)
    spec = {"endpoint": "me", "method": "GET", "params": [], "pagination": {"type": "none"}}
    sandbox.configure(rate_limit_per_minute=1)
    requests.get(f"{sandbox.url}/restapi/v1/vtiger/default/me", auth=(DEMO_USERNAME, DEMO_ACCESS_KEY), timeout=5)
    assert preview.send(connection, spec).error["kind"] == RateLimited.kind  # another client spent it
    sent = sandbox.stats()["total_requests"]
    assert preview.send(connection, spec).error["kind"] == "budget"
    assert sandbox.stats()["total_requests"] == sent and sandbox.stats()["rate_limited"] == 1
