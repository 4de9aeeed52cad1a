"""A stored secret is only ever sent to the address it was saved for.

Editing a connection to point elsewhere with its secret left blank used to keep the stored
secret and test it live against the new address: whoever listens there got the key. Here the
new address is a listener of the test's own, which records what reaches it.
"""

import pytest
from django.urls import reverse

from connections import services
from connections.models import Connection
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.connections.factories import custom_connection, selfhosted_connection, vtiger_connection
from tests.listener import Listener

pytestmark = pytest.mark.django_db

TOKEN = "bearer-token-0123456789abcdef"


@pytest.fixture
def listener():
    with Listener() as running:
        yield running


def _cloud(sandbox, **overrides):
    data = {
        "name": "Vtiger",
        "subdomain": "",
        "username": DEMO_USERNAME,
        "access_key": "",
        "plan": "growth",
        "rate_limit_per_minute": "",
        "instance_url": sandbox.url,
    }
    return {**data, **overrides}


def _selfhosted(sandbox, **overrides):
    data = {"name": "Self", "instance_url": sandbox.url, "username": DEMO_USERNAME, "access_key": ""}
    return {**data, **overrides}


def _custom(sandbox, **overrides):
    data = {
        "name": "Custom",
        "base_url": sandbox.url + "/custom/v1" if sandbox else "",
        "auth_type": "bearer",
        "token": "",
        "allowed_methods": "GET",
        "data_timezone": "UTC",
        "test_path": "/ping",
    }
    return {**data, **overrides}


def _connections(sandbox):
    return {
        "vtiger": (vtiger_connection(sandbox.url, name="Vtiger"), _cloud, "instance_url", "access_key"),
        "vtiger-selfhosted": (
            selfhosted_connection(sandbox.url, name="Self"),
            _selfhosted,
            "instance_url",
            "access_key",
        ),
        "custom": (
            custom_connection(
                sandbox.url,
                name="Custom",
                auth_type=Connection.AuthType.BEARER,
                secrets={"token": TOKEN},
                options={"test_path": "/ping"},
            ),
            _custom,
            "base_url",
            "token",
        ),
    }


@pytest.mark.parametrize("slug", ["vtiger", "vtiger-selfhosted", "custom"])
def test_pointing_a_connection_elsewhere_with_the_secret_blank_is_refused_on_the_field(
    admin_client, sandbox, listener, slug
):
    connection, form, url_field, secret_field = _connections(sandbox)[slug]
    stored = connection.get_secret("token" if slug == "custom" else "access_key")
    before = Connection.objects.values().get(pk=connection.pk)

    response = admin_client.post(
        reverse("connections:edit", args=[connection.uuid]), form(sandbox, **{url_field: listener.url})
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The address changed: enter the" in page and "only ever sent to the address it was saved for" in page
    errors = response.context["form"].errors
    assert list(errors) == [secret_field], errors
    assert listener.received == [], "nothing at all may go to the new address before the secret is typed again"
    assert not listener.leaked(stored, DEMO_USERNAME)
    assert Connection.objects.values().get(pk=connection.pk) == before


def test_the_host_counts_not_only_the_url_text(admin_client, sandbox, listener):
    """localhost and 127.0.0.1 on the listener's port: another host, so the key must be typed again."""
    connection = vtiger_connection(listener.url, name="Vtiger")
    other = listener.url.replace("127.0.0.1", "localhost")
    response = admin_client.post(
        reverse("connections:edit", args=[connection.uuid]), _cloud(sandbox, instance_url=other)
    )
    assert list(response.context["form"].errors) == ["access_key"]
    assert listener.received == []


def test_typing_the_secret_again_saves_the_new_address(admin_client, sandbox, listener):
    """The new address only ever sees the secret typed for it; the stored one stays home."""
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    response = admin_client.post(
        reverse("connections:edit", args=[connection.uuid]),
        _cloud(sandbox, instance_url=listener.url, access_key="aNewKeyForTheNewHost"),
    )
    assert listener.received, "the live test went to the new address"
    assert not listener.leaked(DEMO_ACCESS_KEY, DEMO_USERNAME)
    assert response.status_code in (200, 302)


def test_the_same_address_keeps_the_stored_secret(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    same = sandbox.url + "/restapi/v1/vtiger/default/"  # the API path and a slash: still the same address
    response = admin_client.post(
        reverse("connections:edit", args=[connection.uuid]), _cloud(sandbox, name="Renamed", instance_url=same)
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.get_secret("access_key") == DEMO_ACCESS_KEY


def test_the_service_refuses_too_without_sending_anything(sandbox, listener):
    """Commands and future callers go through services.update_connection: it holds the line by itself."""
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    cleaned = {
        "name": "Vtiger",
        "subdomain": "",
        "username": DEMO_USERNAME,
        "access_key": "",
        "plan": "growth",
        "rate_limit_per_minute": None,
        "instance_url": listener.url,
    }
    outcome = services.update_connection(connection, cleaned)
    assert not outcome.ok and outcome.kind == services.SECRETS_REQUIRED
    assert outcome.details["fields"] == ["access_key"]
    assert listener.received == []
    connection.refresh_from_db()
    assert connection.base_url.startswith(sandbox.url)


def test_a_redirect_during_the_test_on_save_carries_no_secret_away(admin_client):
    """The saved address answers the live test with a redirect to another host: that host gets no token."""
    with Listener() as home, Listener() as elsewhere:
        home.redirects["/api/ping"] = elsewhere.url + "/api/ping"
        connection = custom_connection(
            home.url + "/api",
            name="Custom",
            auth_type=Connection.AuthType.BEARER,
            secrets={"token": TOKEN},
            options={"test_path": "/ping"},
        )
        form = _custom(None, name="Renamed", base_url=home.url + "/api")
        admin_client.post(reverse("connections:edit", args=[connection.uuid]), form)
        assert home.leaked(TOKEN), "the saved address does get the stored token"
        assert elsewhere.received, "the redirect was followed"
        assert not elsewhere.leaked(TOKEN)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("https://a.example.com/v1", "https://A.example.com:443/v1/", True),
        ("http://a.example.com/v1", "http://a.example.com:80/v1", True),
        ("https://a.example.com/v1", "http://a.example.com/v1", False),
        ("https://a.example.com/v1", "https://a.example.com:8443/v1", False),
        ("https://a.example.com/v1", "https://b.example.com/v1", False),
        ("https://a.example.com/v1", "https://a.example.com/v2", False),
        ("https://a.example.com/v1", "https://a.example.com.evil.test/v1", False),
    ],
)
def test_what_counts_as_the_same_address(first, second, same):
    one, other = Connection(integration="custom", base_url=first), Connection(integration="custom", base_url=second)
    assert (services.address(one) == services.address(other)) is same
