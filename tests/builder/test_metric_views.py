"""The saved-metric pages: list, metric page, Edit/Duplicate/Delete, gallery, export and import."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from builder import definitions, gallery, portability
from builder.models import Draft, Metric
from sandbox import DEMO_ACCESS_KEY
from tests.builder.test_definitions import EXAMPLE
from tests.connections.factories import custom_connection

ACCESS_KEY = "Zq9SecretAccessKey7731"


@pytest.fixture
def metric(offline_vtiger):
    return gallery.create_metric("deals-won-amount", offline_vtiger)


def url(name, *args):
    return reverse(f"builder:{name}", args=args)


def assert_no_credential(response, connection):
    body = response.content.decode()
    assert ACCESS_KEY not in body
    assert DEMO_ACCESS_KEY not in body
    assert connection.secrets_encrypted not in body


# ---------------------------------------------------------------- permissions


def test_outsiders_get_403_everywhere(client, outsider_user, metric, offline_vtiger):
    client.force_login(outsider_user)
    for name, args in [
        ("metric_list", ()),
        ("metric", (metric.uuid,)),
        ("metric_edit", (metric.uuid,)),
        ("metric_delete", (metric.uuid,)),
        ("gallery", ()),
        ("export", ()),
        ("import", ()),
    ]:
        assert client.get(url(name, *args)).status_code == 403, name
    assert client.post(url("metric_duplicate", metric.uuid)).status_code == 403
    assert client.post(url("metric_delete", metric.uuid)).status_code == 403
    assert client.post(url("gallery_create", "new-leads"), {"connection": offline_vtiger.uuid}).status_code == 403
    assert Metric.objects.count() == 1


def test_anonymous_users_are_sent_to_log_in(client, metric):
    response = client.get(url("metric", metric.uuid))
    assert response.status_code == 302 and "login" in response["Location"]


def test_unknown_metric_is_404(analyst_client, db):
    missing = "00000000-0000-4000-8000-000000000000"
    for name in ("metric", "metric_edit", "metric_delete"):
        assert analyst_client.get(url(name, missing)).status_code == 404
    assert analyst_client.post(url("metric_duplicate", missing)).status_code == 404
    assert analyst_client.get(url("export") + f"?metric={missing}").status_code == 404
    assert analyst_client.get(url("export") + "?metric=nope").status_code == 400


# ---------------------------------------------------------------- list and page


def test_empty_list_points_to_the_builder_and_the_gallery(analyst_client):
    body = analyst_client.get(url("metric_list")).content.decode()
    assert "No metrics yet" in body
    assert url("start") in body and url("gallery") in body


def test_list_and_page_show_the_definition_and_no_credential(analyst_client, metric, offline_vtiger):
    response = analyst_client.get(url("metric_list"))
    assert "Deals won (amount)" in response.content.decode()
    assert f'name="metric" value="{metric.uuid}"' in response.content.decode()  # "Export selected"
    assert_no_credential(response, offline_vtiger)

    response = analyst_client.get(url("metric", metric.uuid))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Deals won (amount)",
        "Sum of won deal amounts by closing date",
        "Vtiger",
        "GET query",
        "sales_stage = &#x27;Closed Won&#x27;",
        "Use a field from response",
        "closingdate",
        "YYYY-MM-DD",
        "$number(amount)",
        "Sum",
        "Currency",
        "Trending UP is positive",
        "Every 60 minutes",
        "365 days",
        "Vtiger (LIMIT offset,100 until an empty page)",
    ):
        assert text in body, text
    assert_no_credential(response, offline_vtiger)


def test_a_deleted_connection_is_said_plainly(analyst_client, metric, offline_vtiger):
    offline_vtiger.delete()
    body = analyst_client.get(url("metric", metric.uuid)).content.decode()
    assert "The connection this metric used was deleted" in body
    assert "Connection deleted" in analyst_client.get(url("metric_list")).content.decode()


# ---------------------------------------------------------------- actions


def test_edit_opens_the_wizard_on_a_draft(analyst_client, analyst_user, metric):
    response = analyst_client.post(url("metric_edit", metric.uuid))
    draft = Draft.objects.get(metric=metric)
    assert draft.owner == analyst_user
    assert response.status_code == 302
    assert response["Location"] == url("request", draft.uuid)
    assert draft.definition["expression"] == metric.expression


def test_duplicate_gives_a_new_name_and_opens_the_copy(analyst_client, analyst_user, metric):
    response = analyst_client.post(url("metric_duplicate", metric.uuid))
    copy = Metric.objects.get(name="Deals won (amount) (copy)")
    assert response["Location"] == url("metric", copy.uuid)
    assert copy.uuid != metric.uuid and copy.owner == analyst_user
    assert {**definitions.from_metric(copy), "name": metric.name} == definitions.from_metric(metric)

    analyst_client.post(url("metric_duplicate", metric.uuid))
    analyst_client.post(url("metric_duplicate", copy.uuid))
    assert sorted(Metric.objects.values_list("name", flat=True)) == [
        "Deals won (amount)",
        "Deals won (amount) (copy 2)",
        "Deals won (amount) (copy 3)",
        "Deals won (amount) (copy)",
    ]
    assert analyst_client.get(url("metric_duplicate", metric.uuid)).status_code == 405


def test_delete_asks_first_then_deletes(analyst_client, metric):
    response = analyst_client.get(url("metric_delete", metric.uuid))
    body = response.content.decode()
    assert "Delete “Deals won (amount)”?" in body and "cannot be undone" in body
    assert Metric.objects.filter(pk=metric.pk).exists()

    response = analyst_client.post(url("metric_delete", metric.uuid), follow=True)
    assert not Metric.objects.filter(pk=metric.pk).exists()
    assert "Deleted the metric “Deals won (amount)”." in response.content.decode()


# ---------------------------------------------------------------- gallery


def test_gallery_lists_items_for_the_vtiger_connection(analyst_client, offline_vtiger):
    custom_connection("https://api.example.com", name="Other API")
    response = analyst_client.get(url("gallery"))
    body = response.content.decode()
    assert "Other API" not in body  # only Vtiger connections can run these
    for item in gallery.ITEMS:
        assert item.name in body
        assert url("gallery_create", item.slug) in body
    assert_no_credential(response, offline_vtiger)


def test_gallery_without_a_vtiger_connection(analyst_client, db):
    body = analyst_client.get(url("gallery")).content.decode()
    assert "No Vtiger connection yet" in body and "Ask an admin" in body


def test_gallery_create_in_one_click(analyst_client, analyst_user, offline_vtiger):
    response = analyst_client.post(url("gallery_create", "open-pipeline-by-stage"), {"connection": offline_vtiger.uuid})
    metric = Metric.objects.get(name="Open pipeline by stage")
    assert response["Location"] == url("metric", metric.uuid)
    assert metric.owner == analyst_user and metric.connection == offline_vtiger
    analyst_client.post(url("gallery_create", "open-pipeline-by-stage"), {"connection": offline_vtiger.uuid})
    assert Metric.objects.filter(name="Open pipeline by stage (copy)").exists()


def test_gallery_create_refuses_bad_input(analyst_client, offline_vtiger):
    other = custom_connection("https://api.example.com", name="Other API")
    assert analyst_client.post(url("gallery_create", "nope"), {"connection": offline_vtiger.uuid}).status_code == 404
    assert analyst_client.get(url("gallery_create", "new-leads")).status_code == 405
    for connection in ("", "garbage", str(other.uuid)):
        response = analyst_client.post(url("gallery_create", "new-leads"), {"connection": connection})
        assert response.status_code == 302 and response["Location"] == url("gallery")
    assert not Metric.objects.exists()


# ---------------------------------------------------------------- export and import


def test_export_downloads_all_or_the_chosen(analyst_client, metric, offline_vtiger):
    other = gallery.create_metric("new-leads", offline_vtiger)
    response = analyst_client.get(url("export"))
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="metrics-')
    document = json.loads(response.content)
    assert [m["name"] for m in document["metrics"]] == ["Deals won (amount)", "New leads"]
    assert_no_credential(response, offline_vtiger)

    response = analyst_client.get(url("export") + f"?metric={other.uuid}")
    assert [m["name"] for m in json.loads(response.content)["metrics"]] == ["New leads"]
    assert 'filename="new-leads-' in response["Content-Disposition"]
    both = analyst_client.get(url("export") + f"?metric={other.uuid}&metric={metric.uuid}")
    assert [m["name"] for m in json.loads(both.content)["metrics"]] == ["New leads", "Deals won (amount)"]


def upload(document):
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile("defs.json", content, content_type="application/json")


def test_import_page_and_upload(analyst_client, analyst_user, offline_vtiger):
    assert "Import metrics" in analyst_client.get(url("import")).content.decode()
    response = analyst_client.post(
        url("import"), {"file": upload({"format": portability.FORMAT, "metrics": [EXAMPLE]})}
    )
    metric = Metric.objects.get()
    assert response["Location"] == url("metric", metric.uuid)
    assert metric.owner == analyst_user
    assert definitions.from_metric(metric) == EXAMPLE


def test_import_shows_each_problem_by_field_and_writes_nothing(analyst_client, offline_vtiger):
    bad = {**EXAMPLE, "name": "Bad", "aggregation": "median", "request": {**EXAMPLE["request"], "method": "POST"}}
    response = analyst_client.post(
        url("import"), {"file": upload({"format": portability.FORMAT, "metrics": [EXAMPLE, bad]})}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported: 2 problems found." in body
    assert "<code>metrics[1].request.method</code>: Vtiger connections allow GET only" in body
    assert "<code>metrics[1].aggregation</code>" in body
    assert not Metric.objects.exists()

    response = analyst_client.post(url("import"), {"file": upload(b"{broken")})
    assert "The file is not valid JSON" in response.content.decode()
    response = analyst_client.post(url("import"), {})
    assert "Choose a file to import" in response.content.decode()
    assert not Metric.objects.exists()


def test_import_name_clash_and_the_rename_checkbox(analyst_client, metric):
    exported = analyst_client.get(url("export")).content
    response = analyst_client.post(url("import"), {"file": upload(exported)})
    assert "The name &#x27;Deals won (amount)&#x27; is taken" in response.content.decode()
    assert Metric.objects.count() == 1
    response = analyst_client.post(url("import"), {"text": exported.decode(), "rename": "on"})
    assert response.status_code == 302
    assert Metric.objects.filter(name="Deals won (amount) (copy)").exists()


def test_a_custom_post_metric_shows_its_body_and_headers(analyst_client):
    api = custom_connection(
        "https://api.example.com",
        name="API",
        options={"allowed_methods": ["GET", "POST"]},
        secrets={"token": ACCESS_KEY},
    )
    definition = {
        **EXAMPLE,
        "connection": "API",
        "request": {
            "method": "POST",
            "endpoint": "reports",
            "params": [],
            "headers": [["X-Team", "analytics"]],
            "body": {"since": "{{start:unix}}"},
            "pagination": {"type": "cursor", "cursor_path": "meta.next"},
        },
    }
    cleaned, errors = definitions.validate(definition)
    assert errors == []
    metric = definitions.to_metric(cleaned)
    metric.save()
    response = analyst_client.get(url("metric", metric.uuid))
    body = response.content.decode()
    for text in ("POST reports", "X-Team", "&quot;since&quot;: &quot;{{start:unix}}&quot;", "Cursor", "meta.next"):
        assert text in body, text
    assert_no_credential(response, api)


def test_admins_can_use_the_pages_too(admin_client, metric):
    assert admin_client.get(url("metric", metric.uuid)).status_code == 200
    assert admin_client.get(url("metric_list")).status_code == 200
