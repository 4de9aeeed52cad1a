"""Credentials at rest: encrypted with Fernet, rotated without downtime."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db

from connections import secrets
from connections.errors import SecretUnreadable
from connections.models import Connection
from tests.connections.factories import ConnectionFactory

ACCESS_KEY = "k3y-THAT-must-never-leak-9f3a"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def key_a(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    return settings


def raw_column(pk):
    with db.cursor() as cursor:
        cursor.execute("SELECT secrets_encrypted FROM connections_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_roundtrip_and_tokens_differ(key_a):
    token = secrets.encrypt("hello")
    assert token != "hello"
    assert secrets.decrypt(token) == "hello"
    assert secrets.encrypt("hello") != token  # Fernet tokens carry a random IV


def test_decrypting_with_an_unknown_key_is_a_clear_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    token = secrets.encrypt("hello")
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(SecretUnreadable, match="can't be decrypted with any key in FIELD_ENCRYPTION_KEYS") as excinfo:
        secrets.decrypt(token)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_garbage_token_is_a_clear_error(key_a):
    with pytest.raises(SecretUnreadable):
        secrets.decrypt("not-a-token")


def test_rotate_reencrypts_with_the_first_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    token = secrets.encrypt("hello")
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    rotated = secrets.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert secrets.decrypt(rotated) == "hello"


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest(key_a):
    conn = ConnectionFactory(secrets={"api_key": ACCESS_KEY})
    stored = raw_column(conn.pk)
    assert stored and ACCESS_KEY not in stored
    assert ACCESS_KEY not in json.dumps(Connection.objects.filter(pk=conn.pk).values()[0], default=str)
    assert Connection.objects.get(pk=conn.pk).get_secret("api_key") == ACCESS_KEY


@pytest.mark.django_db
def test_rotate_encryption_key_command(settings, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    first = ConnectionFactory(secrets={"api_key": ACCESS_KEY})
    second = ConnectionFactory(secrets={"token": "another-secret-value"})
    ConnectionFactory()  # no credentials at all
    old_tokens = {first.pk: raw_column(first.pk), second.pk: raw_column(second.pk)}

    # Roll out: the new key first, the old one still listed (everything keeps working).
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert Connection.objects.get(pk=first.pk).get_secret("api_key") == ACCESS_KEY
    call_command("rotate_encryption_key")
    out = capsys.readouterr().out
    assert "Re-encrypted 2 connection(s) with the first key." in out
    assert "1 had no stored credentials" in out
    assert raw_column(first.pk) != old_tokens[first.pk]

    # The old key removed: the new key alone decrypts everything...
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert Connection.objects.get(pk=first.pk).get_secret("api_key") == ACCESS_KEY
    assert Connection.objects.get(pk=second.pk).get_secret("token") == "another-secret-value"
    # ...and the old key alone decrypts nothing any more.
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    with pytest.raises(SecretUnreadable):
        Connection.objects.get(pk=first.pk).get_secret("api_key")


@pytest.mark.django_db
def test_rotate_reports_undecryptable_rows_without_a_traceback(settings, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    ConnectionFactory(name="Lost key", secrets={"api_key": ACCESS_KEY})
    ok = ConnectionFactory(name="Fine", secrets={"api_key": "fine-secret-value"})
    # KEY_A is gone from the list entirely; re-save "Fine" under the new key.
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    ok.secrets_encrypted = ""
    ok.set_secret("api_key", "fine-secret-value")
    ok.save()
    with pytest.raises(CommandError, match="1 could not be decrypted with any key in FIELD_ENCRYPTION_KEYS: Lost key"):
        call_command("rotate_encryption_key", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload.pop("error").startswith("Re-encrypted 1 connection(s), but 1 could not be decrypted")
    assert payload == {
        "ok": False,
        "rotated": 1,
        "empty": 0,
        "changed_meanwhile": 0,
        "failed": 1,
        "failed_connections": ["Lost key"],
    }
