import pytest

from connections.integrations import vtiger_selfhosted


@pytest.fixture(autouse=True)
def _outbound_defaults(settings):
    # The sandbox listens on loopback; the egress tests turn this off where they mean to.
    settings.ALLOW_PRIVATE_HOSTS = True
    settings.OUTBOUND_CONNECT_TIMEOUT = 2.0
    settings.OUTBOUND_READ_TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _no_cached_vtiger_sessions():
    # Sessions are cached per process; each test starts from a clean slate.
    vtiger_selfhosted.forget_sessions()
    yield
    vtiger_selfhosted.forget_sessions()
