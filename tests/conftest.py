"""Fixtures shared by the test suites: the Vtiger sandbox on a free loopback port."""

import pytest

from sandbox.server import SandboxServer


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
