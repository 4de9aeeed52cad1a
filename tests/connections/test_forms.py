"""The authorization forms: validation, and write-only secrets on edit."""

import pytest

from connections.integrations import custom_rest, vtiger_cloud
from connections.integrations.custom_rest import CustomRestForm
from connections.integrations.vtiger_cloud import VtigerCloudForm
from connections.integrations.vtiger_selfhosted import VtigerSelfHostedForm
from connections.models import Connection
from tests.connections.factories import ConnectionFactory, vtiger_connection

pytestmark = pytest.mark.django_db

STORED_KEY = "stored-access-key-7c21"


def cloud_data(**overrides):
    return {
        "name": "Acme CRM",
        "subdomain": "acme",
        "username": "ana@example.com",
        "access_key": "a-new-access-key-0001",
        "plan": "professional",
        "rate_limit_per_minute": "",
        "instance_url": "",
        **overrides,
    }


@pytest.mark.parametrize("subdomain", ["acme", "acme.od2", "ACME", "my-company", "acme.od2.vtiger.com", "x1"])
def test_subdomain_accepts_dns_labels(subdomain):
    form = VtigerCloudForm(cloud_data(subdomain=subdomain))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["subdomain"] == subdomain.lower().removesuffix(".vtiger.com")


@pytest.mark.parametrize(
    "subdomain",
    ["https://acme.vtiger.com", "acme/crm", "acme_corp", "-acme", "acme-", "ac me", "acme..od2", "acme:8080", "a" * 64],
)
def test_subdomain_refuses_anything_else(subdomain):
    form = VtigerCloudForm(cloud_data(subdomain=subdomain))
    assert not form.is_valid()
    assert "part before .vtiger.com" in form.errors["subdomain"][0]


def test_cloud_base_url_and_rate_budget_from_the_plan():
    form = VtigerCloudForm(cloud_data())
    assert form.is_valid(), form.errors
    conn = Connection()
    vtiger_cloud.apply(conn, form.cleaned_data)
    assert conn.base_url == "https://acme.vtiger.com/restapi/v1/vtiger/default"
    assert conn.rate_limit_per_minute == 60
    assert conn.auth_type == "basic" and conn.get_secret("access_key") == "a-new-access-key-0001"


@pytest.mark.parametrize(
    "pasted",
    [
        "https://acme.od2.vtiger.com",
        "https://acme.od2.vtiger.com/",
        "https://acme.od2.vtiger.com/restapi/v1/vtiger/default",
        "https://acme.od2.vtiger.com/restapi/v1/vtiger/default/",
    ],
)
def test_instance_url_overrides_with_or_without_the_api_suffix(pasted):
    form = VtigerCloudForm(cloud_data(subdomain="", instance_url=pasted, rate_limit_per_minute="45"))
    assert form.is_valid(), form.errors
    conn = Connection()
    vtiger_cloud.apply(conn, form.cleaned_data)
    assert conn.base_url == "https://acme.od2.vtiger.com/restapi/v1/vtiger/default"
    assert conn.rate_limit_per_minute == 45


@pytest.mark.parametrize("bad", ["ftp://acme.example", "https://user:pw@acme.example", "acme.example"])
def test_instance_url_must_be_plain_http(bad):
    form = VtigerCloudForm(cloud_data(instance_url=bad))
    assert not form.is_valid() and "instance_url" in form.errors


def test_cloud_form_needs_a_subdomain_or_instance_url_and_a_key():
    form = VtigerCloudForm(cloud_data(subdomain="", access_key=""))
    assert not form.is_valid()
    assert set(form.errors) == {"subdomain", "access_key"}


def test_names_are_unique_case_insensitively():
    ConnectionFactory(name="Acme CRM")
    form = VtigerCloudForm(cloud_data(name="acme  crm"))
    assert not form.is_valid() and "already exists" in form.errors["name"][0]


def test_edit_form_shows_the_masked_key_and_never_its_value():
    conn = vtiger_connection("https://acme.vtiger.com", access_key=STORED_KEY, name="Acme")
    form = VtigerCloudForm(instance=conn)
    html = form.as_div()
    assert STORED_KEY not in html
    assert "Stored: ••••7c21" in form.fields["access_key"].help_text
    assert form.initial["name"] == "Acme" and form.initial["username"] == "demo"


def test_blank_access_key_on_edit_keeps_the_stored_value():
    conn = vtiger_connection("https://acme.vtiger.com", access_key=STORED_KEY, name="Acme")
    form = VtigerCloudForm(cloud_data(name="Acme", access_key=""), instance=conn)
    assert form.is_valid(), form.errors  # not required: a value is stored
    vtiger_cloud.apply(conn, form.cleaned_data)
    assert conn.get_secret("access_key") == STORED_KEY


def test_self_hosted_form_strips_webservice_php():
    form = VtigerSelfHostedForm(
        {
            "name": "Our CRM",
            "instance_url": "https://crm.example.com/vtigercrm/webservice.php",
            "username": "admin",
            "access_key": "k" * 16,
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["instance_url"] == "https://crm.example.com/vtigercrm"


def custom_data(**overrides):
    return {
        "name": "Deals API",
        "base_url": "https://api.example.com/v1/",
        "auth_type": "none",
        "username": "",
        "password": "",
        "token": "",
        "api_key_name": "",
        "api_key_value": "",
        "default_headers": "",
        "allowed_methods": "GET",
        "docs_url": "",
        "rate_limit_per_minute": "",
        "data_timezone": "UTC",
        "test_path": "",
        **overrides,
    }


def test_custom_form_builds_the_connection():
    form = CustomRestForm(
        custom_data(
            auth_type="api_key_query",
            api_key_name="api_key",
            api_key_value="sandbox-api-key",
            default_headers="Accept-Language: en\n\nX-Client: metric-builder",
            allowed_methods="GET,POST",
            data_timezone="Europe/Berlin",
            test_path="deals?limit=1",
        )
    )
    assert form.is_valid(), form.errors
    conn = Connection()
    custom_rest.apply(conn, form.cleaned_data)
    assert conn.base_url == "https://api.example.com/v1"
    assert conn.options["default_headers"] == [["Accept-Language", "en"], ["X-Client", "metric-builder"]]
    assert conn.options["allowed_methods"] == ["GET", "POST"]
    assert conn.options["api_key_name"] == "api_key"
    assert conn.data_timezone == "Europe/Berlin"
    assert conn.get_secret("api_key") == "sandbox-api-key"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"auth_type": "basic", "username": "", "password": "pw"}, "username"),
        ({"auth_type": "basic", "username": "bob", "password": ""}, "password"),
        ({"auth_type": "bearer"}, "token"),
        ({"auth_type": "api_key_header", "api_key_value": "k"}, "api_key_name"),
        ({"auth_type": "api_key_header", "api_key_name": "Bad Name", "api_key_value": "k"}, "api_key_name"),
        ({"auth_type": "api_key_query", "api_key_name": "api_key"}, "api_key_value"),
        ({"default_headers": "no colon here"}, "default_headers"),
        ({"default_headers": "Authorization: Bearer x"}, "default_headers"),
        ({"default_headers": "Host: evil.example"}, "default_headers"),
        ({"data_timezone": "Mars/Olympus"}, "data_timezone"),
        ({"test_path": "../admin"}, "test_path"),
        ({"test_path": "https://evil.example/x"}, "test_path"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
    ],
)
def test_custom_form_errors(overrides, field):
    form = CustomRestForm(custom_data(**overrides))
    assert not form.is_valid()
    assert field in form.errors


def test_switching_auth_type_drops_the_old_secret():
    conn = ConnectionFactory(auth_type="bearer", secrets={"token": "old-token-123456"})
    form = CustomRestForm(custom_data(name=conn.name, auth_type="basic", username="bob", password="pw"), instance=conn)
    assert form.is_valid(), form.errors
    custom_rest.apply(conn, form.cleaned_data)
    assert conn.get_secret("password") == "pw"
    assert not conn.has_secret("token")
