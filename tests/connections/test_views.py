"""The Data Manager pages, driven through the Django test client (no JavaScript)."""

import pytest
from django.urls import reverse

from connections.models import Connection
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.connections.factories import vtiger_connection
from tests.factories import MetricFactory


def _cloud_form(sandbox, **overrides):
    data = {
        "name": "Vtiger",
        "subdomain": "demo",
        "username": DEMO_USERNAME,
        "access_key": DEMO_ACCESS_KEY,
        "plan": "growth",
        "rate_limit_per_minute": "",
        "instance_url": sandbox.url,
    }
    data.update(overrides)
    return data


def _data_manager_urls(connection):
    return [
        reverse("connections:list"),
        reverse("connections:catalogue"),
        reverse("connections:integration", args=["vtiger"]),
        reverse("connections:connect", args=["vtiger"]),
        reverse("connections:detail", args=[connection.uuid]),
        reverse("connections:edit", args=[connection.uuid]),
        reverse("connections:test", args=[connection.uuid]),
        reverse("connections:delete", args=[connection.uuid]),
    ]


def test_analysts_get_403_on_every_data_manager_url(analyst_client, sandbox):
    connection = vtiger_connection(sandbox.url)
    for url in _data_manager_urls(connection):
        assert analyst_client.get(url).status_code == 403, url
        assert analyst_client.post(url, {"name": "x"}).status_code == 403, url
    assert Connection.objects.count() == 1


def test_anonymous_visitors_are_sent_to_login(client, sandbox, db):
    connection = vtiger_connection(sandbox.url)
    for url in _data_manager_urls(connection):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


def test_empty_list_says_what_to_do_next(admin_client):
    page = admin_client.get(reverse("connections:list"))
    assert b"No connections yet" in page.content
    assert b"+ New connection" in page.content


@pytest.mark.parametrize("query", ["tvitger", "VTIGER", "vtig", "Vtiger self"])
def test_catalogue_search_is_forgiving(admin_client, query):
    page = admin_client.get(reverse("connections:catalogue"), {"q": query})
    assert b'data-integration="vtiger"' in page.content or b'data-integration="vtiger-selfhosted"' in page.content


def test_catalogue_search_htmx_returns_only_the_results(admin_client):
    page = admin_client.get(reverse("connections:catalogue"), {"q": "tvitger"}, headers={"HX-Request": "true"})
    assert b'id="catalogue-results"' in page.content
    assert b"<html" not in page.content
    assert b'data-integration="vtiger"' in page.content


def test_catalogue_search_with_no_match_says_so(admin_client):
    page = admin_client.get(reverse("connections:catalogue"), {"q": "zzzqqq"})
    assert "Nothing matches “zzzqqq”".encode() in page.content


def test_integration_details_page_lists_the_basics(admin_client):
    page = admin_client.get(reverse("connections:integration", args=["vtiger"])).content.decode()
    for label in ("Authorization type", "Available requests", "Pagination", "Rate limits", "Beta", "Connect now"):
        assert label in page
    assert "My Preferences" in page


def test_connect_vtiger_to_the_sandbox(admin_client, admin_user, sandbox):
    response = admin_client.post(reverse("connections:connect", args=["vtiger"]), _cloud_form(sandbox))
    connection = Connection.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:detail", args=[connection.uuid])
    assert connection.status == Connection.Status.CONNECTED
    assert connection.created_by == admin_user
    assert connection.get_secret("access_key") == DEMO_ACCESS_KEY
    assert DEMO_ACCESS_KEY not in connection.secrets_encrypted

    detail = admin_client.get(response["Location"]).content.decode()
    assert "Connected as Dana Demo" in detail
    assert DEMO_ACCESS_KEY not in detail


def test_wrong_access_key_is_explained_and_nothing_is_saved(admin_client, sandbox):
    response = admin_client.post(
        reverse("connections:connect", args=["vtiger"]), _cloud_form(sandbox, access_key="wrongwrongwrong1")
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Could not connect." in page
    assert "username or access key" in page.lower()
    assert "wrongwrongwrong1" not in page
    assert Connection.objects.count() == 0


def test_bad_subdomain_is_a_form_error(admin_client, sandbox):
    response = admin_client.post(
        reverse("connections:connect", args=["vtiger"]), _cloud_form(sandbox, subdomain="https://acme.vtiger.com")
    )
    assert response.status_code == 200
    assert b'class="field has-error"' in response.content
    assert Connection.objects.count() == 0


def test_edit_with_blank_access_key_keeps_the_stored_one(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    page = admin_client.get(reverse("connections:edit", args=[connection.uuid])).content.decode()
    assert DEMO_ACCESS_KEY not in page
    assert "Stored: ••••" in page

    form = _cloud_form(sandbox, access_key="", name="Vtiger renamed")
    response = admin_client.post(reverse("connections:edit", args=[connection.uuid]), form)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Vtiger renamed"
    assert connection.get_secret("access_key") == DEMO_ACCESS_KEY


def test_edit_with_a_wrong_key_changes_nothing(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    before = connection.secrets_encrypted
    form = _cloud_form(sandbox, access_key="wrongwrongwrong1", name="Renamed")
    response = admin_client.post(reverse("connections:edit", args=[connection.uuid]), form)
    assert response.status_code == 200
    assert b"Could not connect." in response.content
    connection.refresh_from_db()
    assert connection.name == "Vtiger"
    assert connection.secrets_encrypted == before


def test_test_again_records_the_outcome(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url)
    response = admin_client.post(reverse("connections:test", args=[connection.uuid]))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.CONNECTED
    assert connection.last_success_at is not None


def test_test_again_with_htmx_returns_the_status_fragment(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, access_key="wrongwrongwrong1")
    response = admin_client.post(reverse("connections:test", args=[connection.uuid]), headers={"HX-Request": "true"})
    page = response.content.decode()
    assert 'id="connection-status"' in page
    assert "<html" not in page
    assert "Authentication failed" in page
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED
    assert connection.last_error


def test_delete_asks_first_then_deletes(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, name="Doomed")
    confirm = admin_client.get(reverse("connections:delete", args=[connection.uuid]))
    assert "Delete “Doomed”?".encode() in confirm.content
    assert Connection.objects.filter(pk=connection.pk).exists()
    response = admin_client.post(reverse("connections:delete", args=[connection.uuid]))
    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_list_shows_status_and_last_error_in_words(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, access_key="wrongwrongwrong1", name="Broken")
    admin_client.post(reverse("connections:test", args=[connection.uuid]))
    page = admin_client.get(reverse("connections:list")).content.decode()
    assert "Broken" in page
    assert "Authentication failed" in page
    connection.refresh_from_db()
    assert connection.last_error in page


def test_delete_warns_that_metrics_using_it_will_be_paused_and_keeps_them(admin_client, sandbox):
    connection = vtiger_connection(sandbox.url, name="Used")
    metric = MetricFactory(name="Leads", connection=connection, current=True)
    list_page = admin_client.get(reverse("connections:list")).content.decode()
    assert "<td>1</td>" in list_page

    confirm = admin_client.get(reverse("connections:delete", args=[connection.uuid])).content.decode()
    assert "1 metric uses this connection. It will be paused" in confirm

    admin_client.post(reverse("connections:delete", args=[connection.uuid]))
    metric.refresh_from_db()
    assert metric.connection is None
