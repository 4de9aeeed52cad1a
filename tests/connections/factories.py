"""Factories for connections; the helpers point them at a sandbox URL."""

from urllib.parse import urlsplit

import factory
from factory.django import DjangoModelFactory

from connections.models import Connection
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME

OFFLINE_URL = "http://127.0.0.1:9"  # the discard port: for connections whose tests never send
VTIGER_PATH = "/restapi/v1/vtiger/default"


class ConnectionFactory(DjangoModelFactory):
    """`secrets={"access_key": ...}` stores encrypted credentials; `save=False` via .build()."""

    class Meta:
        model = Connection

    name = factory.Sequence(lambda n: f"Connection {n}")
    integration = Connection.Integration.CUSTOM
    base_url = "https://api.example.com/v1"
    auth_type = Connection.AuthType.NONE
    options = factory.LazyFunction(lambda: {"allowed_methods": ["GET"], "data_timezone": "UTC"})

    @classmethod
    def _build(cls, model_class, *args, secrets=None, **kwargs):
        connection = model_class(*args, **kwargs)
        for key, value in (secrets or {}).items():
            connection.set_secret(key, value)
        return connection

    @classmethod
    def _create(cls, model_class, *args, secrets=None, **kwargs):
        connection = cls._build(model_class, *args, secrets=secrets, **kwargs)
        connection.save()
        return connection


class VtigerConnectionFactory(ConnectionFactory):
    """A Vtiger Cloud connection with the sandbox's demo credentials, at an address nothing answers on."""

    integration = Connection.Integration.VTIGER
    base_url = OFFLINE_URL + VTIGER_PATH
    auth_type = Connection.AuthType.BASIC
    username = DEMO_USERNAME
    rate_limit_per_minute = 30  # the Growth plan's budget
    options = factory.LazyFunction(lambda: {"plan": "growth", "data_timezone": "UTC"})
    secrets = factory.LazyFunction(lambda: {"access_key": DEMO_ACCESS_KEY})


def _with_path(url, path):
    return url.rstrip("/") + path if not urlsplit(url).path.strip("/") else url.rstrip("/")


def vtiger_connection(url=OFFLINE_URL, *, access_key=DEMO_ACCESS_KEY, save=True, **kwargs):
    """A Vtiger Cloud connection to `url` (the sandbox root or a full REST base URL)."""
    make = VtigerConnectionFactory.create if save else VtigerConnectionFactory.build
    return make(base_url=_with_path(url, VTIGER_PATH), secrets={"access_key": access_key}, **kwargs)


def selfhosted_connection(url, *, access_key=DEMO_ACCESS_KEY, save=True, **kwargs):
    kwargs.setdefault("username", DEMO_USERNAME)
    make = ConnectionFactory.create if save else ConnectionFactory.build
    return make(
        integration=Connection.Integration.VTIGER_SELFHOSTED,
        base_url=url.rstrip("/"),
        auth_type=Connection.AuthType.NONE,
        options={"data_timezone": "UTC"},
        secrets={"access_key": access_key},
        **kwargs,
    )


def custom_connection(url, *, save=True, options=None, **kwargs):
    """A custom REST connection to `url` (the sandbox root, or any base URL with a path)."""
    make = ConnectionFactory.create if save else ConnectionFactory.build
    return make(
        integration=Connection.Integration.CUSTOM,
        base_url=_with_path(url, "/custom/v1"),
        options={"allowed_methods": ["GET"], "data_timezone": "UTC", **(options or {})},
        **kwargs,
    )
