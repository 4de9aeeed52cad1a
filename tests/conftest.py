"""Fixtures shared by the test suites: the Vtiger sandbox on a free loopback port, connections to it, and a
mail server that is down."""

import pytest

from conftest import free_port
from sandbox.server import SandboxServer
from tests.connections.factories import vtiger_connection


@pytest.fixture(scope="session")
def sandbox_server():
    """One sandbox for the whole run; use `sandbox` in tests so switches are reset after each."""
    server = SandboxServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox, reset (switches, counters, sessions, flood window) after the test."""
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def vtiger(sandbox, db):
    """A Vtiger Cloud connection named "Vtiger" to the sandbox, with no rate budget of its own."""
    return vtiger_connection(sandbox.url, name="Vtiger", rate_limit_per_minute=None)


@pytest.fixture
def offline_vtiger(db):
    """A Vtiger Cloud connection named "Vtiger" at an address nothing answers on: for tests that send
    nothing (definitions, imports, exports, pages), so no sandbox is started for them."""
    return vtiger_connection(name="Vtiger")


@pytest.fixture
def mail_server_down(settings):
    """SMTP to a port nobody listens on: every message is refused, as when the mail server is down."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return settings
