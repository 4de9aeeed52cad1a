"""Credentials at rest: Fernet tokens made with settings.FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts. Rolling out a new key is: put it
first in the list (old keys still decrypt everything), run
`manage.py rotate_encryption_key`, then drop the old key.
"""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from connections.errors import SecretUnreadable

_cache = {}


def _fernet():
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise SecretUnreadable("FIELD_ENCRYPTION_KEYS is empty: no key to encrypt or decrypt credentials with.")
    # Settings can change under tests (the `settings` fixture); cache per key list.
    fernet = _cache.get(keys)
    if fernet is None:
        fernet = MultiFernet([Fernet(k) for k in keys])
        _cache.clear()
        _cache[keys] = fernet
    return fernet


@sensitive_variables()
def encrypt(plaintext):
    """Encrypt a string with the first configured key; returns the token as text."""
    return _fernet().encrypt(plaintext.encode()).decode()


@sensitive_variables()
def decrypt(token):
    """Decrypt a token made by `encrypt`. Raises SecretUnreadable when no configured key fits."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError, AttributeError):
        raise SecretUnreadable() from None


def rotate(token):
    """Re-encrypt `token` with the first configured key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError, AttributeError):
        raise SecretUnreadable() from None


@sensitive_variables()
def encrypt_dict(values):
    """Encrypt a dict of secret strings as one token (blank values are dropped)."""
    return encrypt(json.dumps({k: v for k, v in values.items() if v}, sort_keys=True))


@sensitive_variables()
def decrypt_dict(token):
    if not token:
        return {}
    data = json.loads(decrypt(token))
    if not isinstance(data, dict):
        raise SecretUnreadable("The stored credentials are damaged: re-enter them.")
    return data
