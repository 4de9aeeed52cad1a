"""Labels for reference values: a Vtiger reference such as ``19x5`` (a user) or ``11x42`` (an account)
read as the record's name ("Ada Admin", "Acme Ltd").

The raw id stays the key everywhere (datapoints, breakdown lines, exports); the label is only what
a reader sees, so a renamed user keeps one line.

Labels are cached per connection (``ReferenceLabel``). ``labels_for`` reads only that cache: a
page never waits on the API. ``refresh_labels`` fetches the labels of keys that are unknown or
older than ``REFRESH_AFTER``, through the connection's integration (``Integration.lookup_labels``;
only the Vtiger ones have one) and the client, so the egress rules and the connection's rate
budget apply to every request. The syncs app calls it after a sync stored datapoints whose
dimensions look like references (``syncs.references``). A failed lookup is logged and changes
nothing: the old labels stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from connections import ratelimit
from connections.client import Client
from connections.errors import ConnectionProblem, RateLimited
from connections.integrations.vtiger_labels import is_reference
from connections.models import Connection, ReferenceLabel

logger = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(days=1)

__all__ = ["REFRESH_AFTER", "due_keys", "is_reference", "labels_for", "refresh_labels"]


def _reference_keys(keys: Iterable[str]) -> set[str]:
    return {key for key in keys if is_reference(key)}


def labels_for(connection: Connection | None, keys: Iterable[str]) -> dict[str, str]:
    """The labels known for these keys on this connection: {key: label}; a key without a label is left out.

    Reads the cache only (no request): a key looked up for the first time after the next sync.
    """
    if connection is None or connection.pk is None:
        return {}
    wanted = _reference_keys(keys)
    if not wanted:
        return {}
    rows = ReferenceLabel.objects.filter(connection=connection, key__in=wanted).exclude(label="")
    return dict(rows.values_list("key", "label"))


def due_keys(connection: Connection, keys: Iterable[str], now=None) -> list[str]:
    """The reference keys whose label is unknown, or was fetched longer than REFRESH_AFTER ago."""
    wanted = _reference_keys(keys)
    if not wanted:
        return []
    fresh_since = (now or timezone.now()) - REFRESH_AFTER
    fresh = set(
        ReferenceLabel.objects.filter(connection=connection, key__in=wanted, fetched_at__gt=fresh_since).values_list(
            "key", flat=True
        )
    )
    return sorted(wanted - fresh)


def _budgeted(client: Client, limiter: ratelimit.ConnectionLimiter):
    """``request(endpoint, params)``: one GET on the connection's budget (its flood headers counted,
    a 429 blocking every sender until the reset)."""

    def request(endpoint, params):
        limiter.acquire()
        try:
            response = client.request("GET", endpoint, params=params)
        except RateLimited as problem:
            limiter.block(problem)
            raise
        limiter.observe(response)
        return response

    return request


def refresh_labels(
    connection: Connection, keys: Iterable[str], limiter: ratelimit.ConnectionLimiter | None = None
) -> int:
    """Fetch and cache the labels of the due keys (``due_keys``); the number of labels stored.

    Every request waits on the connection's budget (``limiter``: its own, unless given), as long
    as it takes: this runs in a background task, never in a page view.

    A key the API has no record for is remembered without a label (asked again after a day), and
    keeps the label it had. Without a lookup (custom APIs) or with nothing due, nothing is sent.
    """
    lookup = connection.integration_module.lookup_labels
    due = due_keys(connection, keys) if lookup is not None else []
    if not due:
        return 0
    try:
        with Client(connection) as client:
            found = lookup(_budgeted(client, limiter or ratelimit.for_connection(connection)), due)
    except ConnectionProblem as problem:
        logger.warning(
            "Reference labels of connection %s not refreshed (%d keys): %s", connection.pk, len(due), problem.message
        )
        return 0
    now = timezone.now()

    def row(key, label):
        return ReferenceLabel(connection=connection, key=key, label=label[:255], fetched_at=now)

    labelled = [row(key, found[key]) for key in due if key in found]
    unknown = [row(key, "") for key in due if key not in found]
    upsert = {"update_conflicts": True, "unique_fields": ["connection", "key"]}
    if labelled:
        ReferenceLabel.objects.bulk_create(labelled, update_fields=["label", "fetched_at"], **upsert)
    if unknown:  # no record: the old label, if any, stays
        ReferenceLabel.objects.bulk_create(unknown, update_fields=["fetched_at"], **upsert)
    return len(labelled)
