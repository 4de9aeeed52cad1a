"""The Connection model: secrets write-only and masked, names unique, a safe repr."""

import pytest
from django.db import IntegrityError

from connections.models import Connection
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

KEY = "abcdefgh12343f9a"


def test_set_and_get_secret():
    conn = ConnectionFactory(secrets={"api_key": KEY})
    assert Connection.objects.get(pk=conn.pk).get_secret("api_key") == KEY
    assert conn.get_secret("missing") == ""


def test_blank_secret_keeps_the_stored_value():
    conn = ConnectionFactory(secrets={"api_key": KEY})
    conn.set_secret("api_key", "")
    conn.set_secret("api_key", None)
    assert conn.get_secret("api_key") == KEY
    conn.set_secret("api_key", "new-value-0000")
    assert conn.get_secret("api_key") == "new-value-0000"


def test_secrets_are_independent():
    conn = ConnectionFactory(secrets={"api_key": KEY, "token": "tok-123456789"})
    conn.clear_secret("token")
    assert conn.get_secret("api_key") == KEY
    assert not conn.has_secret("token")


def test_masked_secret_shows_the_last_four_only():
    conn = ConnectionFactory(secrets={"api_key": KEY, "short": "abc12"})
    assert conn.masked_secret("api_key") == "••••3f9a"
    assert conn.masked_secret("short") == "••••"
    assert conn.masked_secret("missing") == ""


def test_str_and_repr_never_show_a_secret():
    conn = ConnectionFactory(name="CRM", secrets={"api_key": KEY})
    assert str(conn) == "CRM"
    assert KEY not in repr(conn) and "3f9a" not in repr(conn)


def test_names_and_uuids_are_unique():
    first = ConnectionFactory(name="CRM")
    assert first.uuid
    with pytest.raises(IntegrityError):
        ConnectionFactory(name="CRM")


def test_defaults():
    conn = ConnectionFactory()
    assert conn.status == Connection.Status.NEW
    assert conn.get_status_display() == "Not tested"
    assert conn.data_timezone == "UTC"
    assert conn.integration_module.slug == "custom"
