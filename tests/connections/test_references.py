"""Reference labels (connections.references): Vtiger ids read as names, through both protocols against
the sandbox over HTTP, cached per connection and refreshed after a day; a failure keeps the old labels."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from connections import ratelimit, references
from connections.integrations import vtiger_labels
from connections.models import ReferenceLabel
from sandbox.data import build_dataset
from tests.connections.factories import custom_connection, selfhosted_connection, vtiger_connection

pytestmark = pytest.mark.django_db


def _expected(sandbox, module, fields):
    """{id: label} computed from the sandbox's records, independently of the lookup."""
    dataset = build_dataset(seed=sandbox.dataset.seed, today=sandbox.dataset.today)
    return {row["id"]: " ".join(row[f] for f in fields if row[f]).strip() for row in dataset.records(module)}


def _connection(kind, sandbox, **kwargs):
    if kind == "cloud":
        return vtiger_connection(sandbox.url, rate_limit_per_minute=None, **kwargs)
    return selfhosted_connection(sandbox.url, **kwargs)


def _api_requests(sandbox):
    stats = sandbox.stats()
    return sum(count for name, count in stats["requests"].items() if not name.startswith("custom/"))


@pytest.mark.parametrize("kind", ["cloud", "selfhosted"])
def test_users_and_accounts_read_as_their_names_through_both_protocols(sandbox, kind):
    connection = _connection(kind, sandbox)
    users = _expected(sandbox, "Users", ("first_name", "last_name"))
    accounts = dict(list(_expected(sandbox, "Accounts", ("accountname",)).items())[:7])
    keys = [*users, *accounts, "Web Site", ""]

    assert references.labels_for(connection, keys) == {}  # nothing fetched yet: keys show as they are
    stored = references.refresh_labels(connection, keys)

    assert stored == len(users) + len(accounts)
    labels = references.labels_for(connection, keys)
    assert labels == users | accounts
    assert labels["19x5"] == "Ada Admin" and labels["19x1"] == "Dana Demo"
    prefix = "rest/" if kind == "cloud" else "webservice/"
    assert sandbox.stats()["requests"].get(prefix + "query") == 2  # one query per module


def test_more_than_100_ids_are_asked_in_batches_of_100(sandbox):
    connection = _connection("cloud", sandbox)
    accounts = _expected(sandbox, "Accounts", ("accountname",))
    assert len(accounts) > 100

    references.refresh_labels(connection, accounts)

    assert references.labels_for(connection, accounts) == accounts
    assert sandbox.stats()["requests"]["rest/query"] == -(-len(accounts) // vtiger_labels.BATCH_SIZE)


def test_labels_are_cached_per_connection_and_refreshed_after_a_day(sandbox, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    connection = _connection("cloud", sandbox)
    other = _connection("selfhosted", sandbox, name="Other Vtiger")
    references.refresh_labels(connection, ["19x5", "19x6"])
    sent = _api_requests(sandbox)

    assert references.refresh_labels(connection, ["19x5", "19x6"]) == 0
    assert _api_requests(sandbox) == sent, "fresh labels are not asked again"
    assert references.labels_for(other, ["19x5"]) == {}, "another connection has its own cache"

    ReferenceLabel.objects.filter(connection=connection, key="19x5").update(label="Ada (old name)")
    time_machine.shift(timedelta(hours=23))
    assert references.due_keys(connection, ["19x5", "19x6", "19x7"]) == ["19x7"]
    time_machine.shift(timedelta(hours=2))
    assert references.due_keys(connection, ["19x5", "19x6", "19x7"]) == ["19x5", "19x6", "19x7"]

    references.refresh_labels(connection, ["19x5", "19x6", "19x7"])
    assert references.labels_for(connection, ["19x5", "19x7"]) == {"19x5": "Ada Admin", "19x7": "Chloe Chen"}


def test_a_key_without_a_record_has_no_label_and_is_not_asked_again_the_same_day(sandbox):
    connection = _connection("cloud", sandbox)
    missing = ["19x99", "20x3", "99x1"]  # no such user; groups and prefix 99 are not served

    assert references.refresh_labels(connection, [*missing, "19x6"]) == 1

    assert references.labels_for(connection, [*missing, "19x6"]) == {"19x6": "Ben Baker"}
    assert references.due_keys(connection, missing) == []


def test_a_failed_lookup_is_logged_and_keeps_the_old_labels(sandbox, time_machine, caplog):
    time_machine.move_to(timezone.now(), tick=False)
    connection = _connection("cloud", sandbox)
    references.refresh_labels(connection, ["19x5", "11x2"])
    before = references.labels_for(connection, ["19x5", "11x2"])
    time_machine.shift(timedelta(days=2))
    sandbox.configure(error_rate=1)

    with caplog.at_level(logging.WARNING, logger="connections.references"):
        assert references.refresh_labels(connection, ["19x5", "11x2", "19x6"]) == 0

    assert references.labels_for(connection, ["19x5", "11x2", "19x6"]) == before
    assert "not refreshed" in caplog.text
    assert references.due_keys(connection, ["19x5", "19x6"]) == ["19x5", "19x6"], "asked again next time"


def test_the_egress_rules_apply_no_request_reaches_a_refused_host(sandbox, settings, caplog):
    connection = _connection("cloud", sandbox)
    settings.ALLOW_PRIVATE_HOSTS = False  # the sandbox listens on loopback

    with caplog.at_level(logging.WARNING, logger="connections.references"):
        assert references.refresh_labels(connection, ["19x5"]) == 0

    assert sandbox.stats()["total_requests"] == 0
    assert references.labels_for(connection, ["19x5"]) == {}
    assert "not refreshed" in caplog.text


def test_the_lookup_waits_on_the_rate_budget_instead_of_being_refused(sandbox, time_machine):
    """The flood-control headers go to the connection's budget: once Vtiger says none are left, the
    next request waits for the reset (the clock is moved on by the wait) and is never answered 429."""
    time_machine.move_to(timezone.now(), tick=False)
    connection = vtiger_connection(sandbox.url, rate_limit_per_minute=30)
    sandbox.configure(rate_limit_per_minute=2)  # listtypes and describe Users; the query must wait
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time_machine.shift(timedelta(seconds=seconds))

    limiter = ratelimit.ConnectionLimiter(connection, sleep=sleep)
    assert references.refresh_labels(connection, ["19x5"], limiter=limiter) == 1

    assert references.labels_for(connection, ["19x5"]) == {"19x5": "Ada Admin"}
    assert sandbox.stats()["rate_limited"] == 0
    assert len(waits) >= 1 and sum(waits) > 0


def test_custom_apis_have_no_labels_and_send_nothing(sandbox):
    connection = custom_connection(sandbox.url)

    assert references.refresh_labels(connection, ["19x5", "11x2"]) == 0

    assert sandbox.stats()["total_requests"] == 0
    assert references.labels_for(connection, ["19x5"]) == {}
    assert references.labels_for(None, ["19x5"]) == {}


def test_only_reference_shaped_keys_are_written_into_a_query():
    asked = []

    class Answer:
        def __init__(self, result):
            self.result = result

    def request(endpoint, params):
        asked.append((endpoint, params))
        if endpoint == "listtypes":
            return Answer({"types": ["Users"]})
        if endpoint == "describe":
            return Answer({"idPrefix": "19", "labelFields": "first_name,last_name", "fields": [
                {"name": "first_name"}, {"name": "last_name"}, {"name": "id"}]})  # fmt: skip
        return Answer([{"first_name": "Ada", "last_name": "Admin", "id": "19x5"}])

    labels = vtiger_labels.lookup_labels(request, ["19x5", "19x5') OR ('1'='1", "Web Site", "19x"])

    assert labels == {"19x5": "Ada Admin"}
    [(_, [(_, query)])] = [call for call in asked if call[0] == "query"]
    assert query == "SELECT first_name, last_name FROM Users WHERE id IN ('19x5') LIMIT 0,100;"


def test_label_fields_follow_describe_including_helpdesks_title():
    fields = [{"name": "ticket_title"}, {"name": "ticketstatus"}, {"name": "id"}]
    assert vtiger_labels.label_fields({"labelFields": "title", "fields": fields}) == ("ticket_title",)
    people = [{"name": "firstname"}, {"name": "lastname"}]
    assert vtiger_labels.label_fields({"labelFields": "firstname,lastname", "fields": people}) == (
        "firstname",
        "lastname",
    )
    assert vtiger_labels.label_fields({"labelFields": "", "fields": people}) == ()
