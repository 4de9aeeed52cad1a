"""Creating, testing, updating and deleting connections: used by the views and the commands.

Credentials are tested live before they are stored: a connection that fails its
test is not saved, and an edit that fails keeps the stored values untouched.
"""

import logging
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from connections import integrations, secrets
from connections.errors import ConnectionProblem
from connections.integrations import vtiger_selfhosted
from connections.integrations.base import Integration, TestOutcome, failed_test_outcome, status_for
from connections.models import Connection
from connections.signals import connection_deleted, connection_deleting, connection_tested

logger = logging.getLogger(__name__)

Status = Connection.Status


def _integration(integration):
    return integration if isinstance(integration, Integration) else integrations.get_or_raise(integration)


def _record(connection, outcome, now=None):
    """Copy a test outcome onto `connection` (not saved)."""
    if outcome.status == Status.NEW:
        # Nothing was tested (a custom API without a test path): leave the record as it was.
        connection.status = Status.NEW
        return
    now = now or timezone.now()
    connection.status = outcome.status
    connection.last_tested_at = now
    if outcome.ok:
        connection.last_error = ""
        connection.last_success_at = now
    else:
        connection.last_error = outcome.message


def _forget_sessions(connection):
    vtiger_selfhosted.forget_sessions(connection)


def create_connection(integration, cleaned_data, user=None):
    """Test the credentials in `cleaned_data` live and save a new connection only if they work.

    Returns (connection, outcome); connection is None when nothing was saved, and
    outcome.message says why in plain words.
    """
    integration = _integration(integration)
    connection = Connection(integration=integration.slug)
    if user is not None and getattr(user, "is_authenticated", False):
        connection.created_by = user
    integration.apply(connection, cleaned_data)
    outcome = integration.test(connection)
    if not outcome.ok:
        logger.info("New %s connection %r not saved: %s", integration.slug, connection.name, outcome.kind)
        return None, outcome
    _record(connection, outcome)
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        return None, TestOutcome(
            ok=False, status=Status.ERROR, message="A connection with this name already exists.", kind="duplicate"
        )
    logger.info("Connection %r (%s) created: %s", connection.name, connection.integration, connection.status)
    return connection, outcome


# TestOutcome.kind of an edit refused before any request: see secrets_to_reenter.
SECRETS_REQUIRED = "secrets_required"


def address(connection):
    """Where the connection's credentials are sent: integration, scheme, host, port and path."""
    parts = urlsplit(connection.base_url or "")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # not a port: never the same address as a valid one
        port = parts.netloc
    return (connection.integration, scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/"))


def reenter_message(label):
    return (
        f"The address changed: enter the {label.lower()} again. A stored secret is only ever sent "
        "to the address it was saved for."
    )


def _stale_secret_fields(original, candidate, integration, cleaned_data):
    if address(candidate) == address(original):
        return []
    return [
        field
        for field, name in integration.form_class.secret_fields.items()
        if not cleaned_data.get(field) and candidate.has_secret(name)
    ]


def secrets_to_reenter(connection, cleaned_data):
    """The edit form's secret fields left blank although the edit points the connection elsewhere.

    A blank secret keeps the stored one; kept for a new URL, host or subdomain, the live test
    (and every sync after it) would hand it to whoever answers there. So those must be typed again.
    """
    integration = _integration(connection.integration)
    candidate = Connection.objects.get(pk=connection.pk)
    integration.apply(candidate, cleaned_data)
    return _stale_secret_fields(connection, candidate, integration, cleaned_data)


def update_connection(connection, cleaned_data):
    """Apply an edit form to `connection`, re-test, and save only if the test passes.

    On failure the stored row is untouched and `connection` keeps its values. An edit that
    would send a stored secret to a new address is refused before any request
    (kind SECRETS_REQUIRED, details["fields"] naming the form fields to fill in).
    Returns the TestOutcome.
    """
    integration = _integration(connection.integration)
    candidate = Connection.objects.get(pk=connection.pk)
    integration.apply(candidate, cleaned_data)
    stale = _stale_secret_fields(connection, candidate, integration, cleaned_data)
    if stale:
        logger.info("Edit of connection %r not tested: new address, stored secrets not re-entered", connection.name)
        return TestOutcome(
            ok=False,
            status=connection.status,
            message="The connection now points to a new address: enter its secrets again.",
            details={"fields": stale},
            kind=SECRETS_REQUIRED,
        )
    outcome = integration.test(candidate)
    if not outcome.ok:
        logger.info("Edit of connection %r not saved: %s", connection.name, outcome.kind)
        return outcome
    _record(candidate, outcome)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        return TestOutcome(
            ok=False, status=Status.ERROR, message="A connection with this name already exists.", kind="duplicate"
        )
    _forget_sessions(connection)
    connection.refresh_from_db()
    logger.info("Connection %r updated: %s", connection.name, connection.status)
    return outcome


def test_connection(connection):
    """Test a saved connection live; record its status, last error and times. Returns the TestOutcome."""
    integration = _integration(connection.integration)
    try:
        outcome = integration.test(connection)
    except ConnectionProblem as problem:  # integrations return outcomes, but stay safe
        outcome = failed_test_outcome(problem)
    _record(connection, outcome)
    connection.save(update_fields=["status", "last_error", "last_tested_at", "last_success_at", "updated_at"])
    connection_tested.send(sender=Connection, connection=connection, outcome=outcome)
    return outcome


def record_success(connection):
    """A request through the connection worked (used by syncs): mark it connected.

    Nothing is written when it already is: syncs call this after every success.
    """
    if connection.status == Status.CONNECTED:
        return
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        status=Status.CONNECTED, last_error="", last_success_at=now, updated_at=now
    )
    connection.status, connection.last_error, connection.last_success_at = Status.CONNECTED, "", now


def record_problem(connection, problem):
    """A request through the connection failed (used by syncs): store the status and plain-words error."""
    status = status_for(problem)
    Connection.objects.filter(pk=connection.pk).update(
        status=status, last_error=problem.message, updated_at=timezone.now()
    )
    connection.status, connection.last_error = status, problem.message


def delete_connection(connection):
    """Delete `connection`. Receivers of `connection_deleting` pause the metrics that use it."""
    pk, uuid, name = connection.pk, connection.uuid, connection.name
    with transaction.atomic():
        connection_deleting.send(sender=Connection, connection=connection)
        _forget_sessions(connection)
        connection.delete()
        transaction.on_commit(
            lambda: connection_deleted.send(sender=Connection, connection_id=pk, connection_uuid=uuid, name=name)
        )
    logger.info("Connection %r deleted", name)


def rotate_secrets():
    """Re-encrypt every connection's credentials with the first key in FIELD_ENCRYPTION_KEYS.

    One short transaction per row, and a conditional update, so an edit saved
    meanwhile (already encrypted with the new key) is never overwritten. Returns
    counts and the names that failed.
    """
    counts = {"rotated": 0, "empty": 0, "changed_meanwhile": 0, "failed": 0}
    failed_names = []
    for pk, name, token in Connection.objects.order_by("pk").values_list("pk", "name", "secrets_encrypted"):
        if not token:
            counts["empty"] += 1
            continue
        try:
            new_token = secrets.rotate(token)
        except ConnectionProblem:
            counts["failed"] += 1
            failed_names.append(name)
            continue
        with transaction.atomic():
            updated = Connection.objects.filter(pk=pk, secrets_encrypted=token).update(secrets_encrypted=new_token)
        counts["rotated" if updated else "changed_meanwhile"] += 1
    return counts, failed_names
