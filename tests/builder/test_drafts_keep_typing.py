"""Drafts keep what was typed, and the date choice carries through (issue 13, items 2 and 3), without a browser."""

import re

import pytest
from django.urls import reverse

from builder.models import Draft
from tests.builder.wizard_requests import send_query

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _draft(client, connection) -> Draft:
    client.post(reverse("builder:start"), {"connection": str(connection.uuid)})
    return Draft.objects.latest("created_at")


def _editor_text(page) -> str:
    match = re.search(r"data-jsonata-editor[^>]*>(.*?)</textarea>", page.content.decode(), re.S)
    return match.group(1)


# ---------------------------------------------------------------- 3. what was typed


def test_the_live_evaluation_saves_what_was_typed_and_the_step_shows_it(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 3;")
    url = reverse("builder:expression", args=[draft.uuid])
    assert analyst_client.post(url, {"expression": "$sum(result.", "action": "evaluate"}).status_code == 200
    # Typed on: each live evaluation (the one request per pause in typing) saves the text.
    for typed in ("$count(", "$count(result)"):
        analyst_client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": typed}, **HX)
    assert Draft.objects.get(pk=draft.pk).definition["expression"] == "$count(result)"
    assert _editor_text(analyst_client.get(url)) == "$count(result)"


def test_an_invalid_expression_typed_last_is_what_comes_back(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 3;")
    analyst_client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": "$sum(result."}, **HX)
    page = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    assert _editor_text(page) == "$sum(result." and 'data-error-code="S0203"' in page.content.decode()


def test_every_step_turns_a_reload_of_a_posted_page_into_a_get(analyst_client, vtiger):
    """A step answering a POST would be posted again on reload; the history script makes it a GET."""
    draft = _draft(analyst_client, vtiger)
    for step in ("request", "date", "expression", "name"):
        text = analyst_client.get(reverse(f"builder:{step}", args=[draft.uuid])).content.decode()
        assert "js/wizard-history" in text, step
    page = analyst_client.post(
        reverse("builder:expression", args=[draft.uuid]), {"expression": "1", "action": "evaluate"}
    )
    assert "js/wizard-history" in page.content.decode()


# ---------------------------------------------------------------- 2. the date choice


def _write_query(client, draft, module, fields, date_field):
    base = {"connection": draft.definition["connection"], "endpoint": "query", "method": "GET"}
    base.update({"pagination": "vtiger", "pagination_options": "", "preview_range": draft.preview_range, "body": ""})
    base.update({"params-TOTAL_FORMS": "1", "params-0-key": "query", "params-0-value": ""})
    url = reverse("builder:request", args=[draft.uuid])
    client.post(url, {**base, "vtql_module": module, "action": "vtql-fields"})
    client.post(
        url,
        {**base, "vtql_module": module, "vtql_fields": fields, "vtql_date_field": date_field, "action": "vtql-write"},
    )
    draft.refresh_from_db()
    query = dict(draft.definition["request"]["params"])["query"]
    assert date_field in query
    client.post(reverse("builder:send", args=[draft.uuid]), {**base, "params-0-value": query})
    draft.refresh_from_db()
    assert draft.response is not None


def test_the_vtql_helpers_date_field_is_the_default_with_its_preview(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    _write_query(analyst_client, draft, "Potentials", ["amount", "closingdate", "createdtime"], "closingdate")
    text = analyst_client.get(reverse("builder:date", args=[draft.uuid])).content.decode()
    assert re.search(r'value="field"[^>]*checked', text), "Use a field from response is chosen"
    assert re.search(r'name="field" value="closingdate"[^>]*checked', text)
    assert re.search(r'<option value="YYYY-MM-DD" selected', text)
    assert "How <code>closingdate</code> is read" in text
    # Next → Next: the generated expression uses it.
    page = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    assert _editor_text(page) == "result.{&quot;date&quot;: closingdate, &quot;value&quot;: $number(amount)}"


def test_the_only_date_field_of_the_response_is_the_default(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount, closingdate FROM Potentials LIMIT 5;")
    text = analyst_client.get(reverse("builder:date", args=[draft.uuid])).content.decode()
    assert re.search(r'name="field" value="closingdate"[^>]*checked', text)
    assert Draft.objects.get(pk=draft.pk).definition["date"]["mode"] == "field"


def test_several_date_fields_and_no_helper_keep_none(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount, closingdate, createdtime FROM Potentials LIMIT 5;")
    analyst_client.get(reverse("builder:date", args=[draft.uuid]))
    assert Draft.objects.get(pk=draft.pk).definition["date"]["mode"] == "none"


def test_the_analysts_answer_is_kept(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount, closingdate FROM Potentials LIMIT 5;")
    url = reverse("builder:date", args=[draft.uuid])
    analyst_client.post(url, {"mode": "none", "timezone": "UTC", "action": "next"})
    analyst_client.get(url)
    assert Draft.objects.get(pk=draft.pk).definition["date"]["mode"] == "none"


def test_an_emptied_editor_stays_empty(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 3;")
    url = reverse("builder:expression", args=[draft.uuid])
    assert _editor_text(analyst_client.get(url)) == "$sum(result.$number(amount))", "generated at first"
    analyst_client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": ""}, **HX)
    assert _editor_text(analyst_client.get(url)) == ""


def test_straight_to_the_jsonata_step_the_date_default_is_used_too(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    send_query(analyst_client, draft, "SELECT amount, closingdate FROM Potentials LIMIT 5;")
    page = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    assert _editor_text(page) == "result.{&quot;date&quot;: closingdate, &quot;value&quot;: $number(amount)}"
    assert Draft.objects.get(pk=draft.pk).definition["date"] == {
        "mode": "field",
        "field": "closingdate",
        "format": "YYYY-MM-DD",
        "timezone": vtiger.data_timezone,
    }
