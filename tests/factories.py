"""Factories for the rows tests make again and again: users, metrics, datapoints and sync runs.

    UserFactory(role="analyst")              # in the analyst group; password conftest.PASSWORD
    MetricFactory()                          # New leads on an offline Vtiger connection, with an owner
    MetricFactory(connection=vtiger, owner=None, window_days=60)
    MetricFactory(name="Revenue", current=True)   # holds the datapoints a test writes: no request sent
    MetricFactory(closing=True, connection=vtiger)   # Won amount per closing date (a calendar date)
    DatapointFactory(metric=metric, timestamp=when, value=3)   # synced when it happened
    point(metric, when, 3, "north")          # the same, positionally
    datapoints(metric, [(when, value), (when, value, "north")], synced_at=NOW)   # one INSERT
    SyncRunFactory(metric=metric, status=SyncRun.Status.SUCCEEDED)

Connections come from tests/connections/factories.py (ConnectionFactory, vtiger_connection, ...).
Uses go through the real `syncs.uses.add_use`, never raw rows: `MetricFactory(used_on="screen")`.
"""

import factory
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from builder.models import Metric
from conftest import PASSWORD
from syncs.models import Datapoint, SyncRun
from tests.connections.factories import VtigerConnectionFactory

LEADS_QUERY = "SELECT createdtime FROM Leads WHERE createdtime >= '{{start}}' AND createdtime <= '{{end}}' ORDER BY id;"
DEALS_QUERY = (
    "SELECT amount, closingdate FROM Potentials WHERE closingdate >= '{{start:YYYY-MM-DD}}' "
    "AND closingdate <= '{{end:YYYY-MM-DD}}' ORDER BY id;"
)


class UserFactory(DjangoModelFactory):
    """A user with no e-mail address and no group unless given: `role="admin"` or `role="analyst"`."""

    class Meta:
        model = settings.AUTH_USER_MODEL
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    # Hashed with the test settings' hasher (MD5 in conftest), so users stay cheap.
    password = Password(PASSWORD)

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if extracted and create:
            # get_or_create: transactional tests flush the groups the migration made.
            user.groups.add(Group.objects.get_or_create(name=extracted)[0])


class MetricFactory(DjangoModelFactory):
    """New leads per creation time: one datapoint per lead, Vtiger paging, dates from the response.

    `current=True` is a metric the test fills itself: no connection, no owner, one current value
    (date mode None), so using it plans no backfill. `used_on="screen"` (or ("databoard", 7)) puts
    it in use through `syncs.uses.add_use`.

    `closing=True` is the won amount per closing date: Vtiger's closingdate, a calendar date
    (YYYY-MM-DD), summed, over a 30-day window and 120 days of history.
    """

    class Meta:
        model = Metric
        skip_postgeneration_save = True

    class Params:
        current = factory.Trait(
            connection=None,
            owner=None,
            params=factory.LazyFunction(lambda: [["query", "SELECT count(*) FROM Leads;"]]),
            pagination=factory.LazyFunction(lambda: {"type": "none"}),
            date_mode="none",
            date_field="",
            date_format="",
            expression="$number(result[0].count)",
        )
        closing = factory.Trait(
            params=factory.LazyFunction(lambda: [["query", DEALS_QUERY]]),
            date_field="closingdate",
            date_format="YYYY-MM-DD",
            expression='result.{"value": $number(amount), "date": closingdate}',
            aggregation="sum",
            window_days=30,
            history_days=120,
        )

    name = factory.Sequence(lambda n: f"Metric {n}")
    owner = factory.SubFactory(UserFactory)
    connection = factory.SubFactory(VtigerConnectionFactory)
    endpoint = "query"
    params = factory.LazyFunction(lambda: [["query", LEADS_QUERY]])
    pagination = factory.LazyFunction(lambda: {"type": "vtiger"})
    date_mode = "field"
    date_field = "createdtime"
    date_format = "YYYY-MM-DD HH:mm:ss"
    expression = 'result.{"value": 1, "date": createdtime}'
    window_days = 7
    history_days = 28
    interval_minutes = 60

    @factory.post_generation
    def used_on(metric, create, extracted, **kwargs):
        if extracted and create:
            from syncs import uses

            kind, ref = (extracted, "") if isinstance(extracted, str) else extracted
            uses.add_use(metric, kind, ref)


class DatapointFactory(DjangoModelFactory):
    """One stored value; `synced_at` defaults to its own timestamp."""

    class Meta:
        model = Datapoint

    metric = factory.SubFactory(MetricFactory, current=True)
    timestamp = factory.LazyFunction(timezone.now)
    value = 1.0
    dimension = ""
    synced_at = factory.LazyAttribute(lambda point: point.timestamp)


def point(metric, when, value, dimension=""):
    """One stored value, synced when it happened."""
    return DatapointFactory(metric=metric, timestamp=when, value=value, dimension=dimension)


def datapoints(metric, points, synced_at=None):
    """Store `(timestamp, value)` or `(timestamp, value, dimension)` tuples in one INSERT."""
    rows = [
        Datapoint(metric=metric, timestamp=when, value=value, dimension="".join(dimension), synced_at=synced_at or when)
        for when, value, *dimension in points
    ]
    return Datapoint.objects.bulk_create(rows)


class SyncRunFactory(DjangoModelFactory):
    """A run of a metric's sync, started now and still running unless told otherwise."""

    class Meta:
        model = SyncRun

    metric = factory.SubFactory(MetricFactory)
    started_at = factory.LazyFunction(timezone.now)
