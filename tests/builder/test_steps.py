"""The wizard's step functions save what they change (issue 12, item 4): each in the one query the
view used to spend, writing the fields it used to write, without a request or a browser."""

import pytest
from django.http import QueryDict

from builder import keyvalue, steps, vtql
from builder.forms import CUSTOM_FORMAT, DateForm
from builder.models import ClosedDraft, DateMode, Draft, Metric
from builder.wizard_drafts import new_draft
from tests.connections.factories import vtiger_connection

pytestmark = pytest.mark.django_db

STORED_RESPONSE = {"success": True, "result": [{"amount": "5", "closingdate": "2026-11-30"}]}


@pytest.fixture
def berlin_vtiger(db):
    """A Vtiger connection (nothing answers at its address) whose naive dates are Berlin time."""
    return vtiger_connection(name="Vtiger", options={"data_timezone": "Europe/Berlin"})


@pytest.fixture
def draft(analyst_user, berlin_vtiger):
    return new_draft(analyst_user, berlin_vtiger)


def _posted(**fields) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in fields.items():
        data.setlist(key, value if isinstance(value, list) else [value])
    return data


def test_the_live_editor_writes_only_the_definition_in_one_query(draft, django_assert_num_queries):
    typing = Draft.objects.get(pk=draft.pk)
    sending = Draft.objects.get(pk=draft.pk)
    sending.response = STORED_RESPONSE  # a Send request that finished while the analyst typed
    sending.save()
    with django_assert_num_queries(1):
        steps.store_typed_expression(typing, "$count(result)")
    stored = Draft.objects.get(pk=draft.pk)
    assert stored.definition["expression"] == "$count(result)"
    assert stored.definition["_wizard"]["typed"] is True
    assert stored.response == STORED_RESPONSE, "the stale response in memory was not written back"


def test_the_posted_jsonata_step_keeps_its_expression(draft, django_assert_num_queries):
    with django_assert_num_queries(1):
        steps.store_expression(draft, "$sum(result.$number(amount))")
    assert Draft.objects.get(pk=draft.pk).definition["expression"] == "$sum(result.$number(amount))"


def test_a_valid_date_step_is_saved_once_with_what_the_form_resolved(draft, django_assert_num_queries):
    data = _posted(mode="field", field=" closingdate ", format=CUSTOM_FORMAT, custom_format=" DD/MM/YYYY ", timezone="")
    form = DateForm(data)
    assert form.is_valid(), form.errors
    with django_assert_num_queries(1):
        steps.store_date(draft, data, form.cleaned_data)
    stored = Draft.objects.get(pk=draft.pk)
    assert stored.definition["date"] == {
        "mode": "field",
        "field": "closingdate",
        "format": "DD/MM/YYYY",
        "timezone": "UTC",  # the form reads a blank zone as UTC
    }
    assert stored.definition["_wizard"]["date_answered"] is True


def test_an_unchecked_date_step_keeps_what_was_typed(draft):
    steps.store_date(draft, _posted(mode="field", field="", format="", timezone=""))
    stored = Draft.objects.get(pk=draft.pk)
    assert stored.definition["date"]["timezone"] == "Europe/Berlin", "the draft's zone, as no zone was typed"
    assert stored.definition["date"]["mode"] == "field"


def test_a_valid_date_step_without_a_field_forgets_the_field_typed(draft):
    data = _posted(mode="dynamic", field="closingdate", format="iso", timezone="Asia/Tokyo")
    form = DateForm(data)
    assert form.is_valid(), form.errors
    steps.store_date(draft, data, form.cleaned_data)
    spec = Draft.objects.get(pk=draft.pk).definition["date"]
    assert (spec["mode"], spec["field"], spec["timezone"]) == ("dynamic", "", "Asia/Tokyo")


def test_opening_the_date_step_saves_only_when_it_proposes_a_field(draft, django_assert_num_queries):
    with django_assert_num_queries(0):
        steps.open_date_step(draft, [])
    candidate = {"path": "closingdate", "format": "YYYY-MM-DD"}
    with django_assert_num_queries(1):
        steps.open_date_step(draft, [candidate])
    spec = Draft.objects.get(pk=draft.pk).definition["date"]
    assert (spec["mode"], spec["field"], spec["format"]) == (DateMode.FIELD, "closingdate", "YYYY-MM-DD")
    with django_assert_num_queries(0):  # proposed already: nothing changes, nothing is written
        steps.open_date_step(draft, [candidate])


def test_opening_the_jsonata_step_saves_the_suggestion(draft, berlin_vtiger):
    expression = steps.open_expression_step(draft, berlin_vtiger, "UTC")
    stored = Draft.objects.get(pk=draft.pk).definition
    assert expression and stored["expression"] == expression
    assert stored["_wizard"]["suggested"] == expression


def test_the_helpers_write_query_is_stored_with_the_step_in_one_query(draft, berlin_vtiger, django_assert_num_queries):
    steps.wizard_state(draft)["vtql"] = {
        "modules": [["Leads", "Leads"]],
        "modules_for": str(berlin_vtiger.uuid),  # loaded: nothing is fetched
        "module": "Leads",
        "fields_for": "Leads",
        "fields": [
            {"name": "leadsource", "label": "Lead source", "type": "picklist", "is_date": False, "picklist": []}
        ],
    }
    data = _posted(endpoint="query", method="GET", pagination="none", vtql_module="Leads", vtql_fields=["leadsource"])
    data["action"] = "vtql-write"
    typed = [keyvalue.Row("query", "SELECT * FROM Leads;"), keyvalue.Row("debug", "1")]
    with django_assert_num_queries(1):
        rows = steps.store_request(draft, data, typed, [], berlin_vtiger)
    query = vtql.build_query("Leads", ["leadsource"], None, "date", [])
    assert rows == [keyvalue.Row("query", query), keyvalue.Row("debug", "1")]
    stored = Draft.objects.get(pk=draft.pk).definition
    assert stored["request"]["params"] == [["query", query], ["debug", "1"]]
    assert stored["request"]["pagination"] == {"type": "vtiger"}
    assert "error" not in stored["_wizard"]["vtql"]


def test_opening_the_request_step_of_a_loaded_helper_writes_nothing(draft, berlin_vtiger, django_assert_num_queries):
    steps.wizard_state(draft)["vtql"] = {"modules": [["Leads", "Leads"]], "modules_for": str(berlin_vtiger.uuid)}
    with django_assert_num_queries(0):
        steps.open_request_step(draft, berlin_vtiger)


def test_the_name_step_keeps_the_screen_box_unticked(draft):
    steps.store_name(draft, _posted(name=" New leads ", add_to_screen=["0"]))
    stored = Draft.objects.get(pk=draft.pk)
    assert stored.definition["name"] == "New leads"
    assert steps.adds_to_screen(stored) is False


def test_save_metric_with_problems_writes_nothing(draft, analyst_user):
    saved, problems = steps.save_metric(draft, analyst_user)
    assert saved is None
    assert ("name", "This cannot be empty.") in problems
    assert Draft.objects.filter(pk=draft.pk).exists()
    assert not Metric.objects.exists() and not ClosedDraft.objects.exists()


def test_save_metric_saves_the_metric_and_closes_the_draft(draft, analyst_user):
    draft.definition["request"]["params"] = [["query", "SELECT count(*) FROM Leads;"]]
    draft.definition["expression"] = "result[0].count"
    steps.store_name(draft, _posted(name="New leads"))
    saved, problems = steps.save_metric(draft, analyst_user)
    assert problems == []
    assert saved == steps.Saved(Metric.objects.get(name="New leads"), created=True, on_screen=True)
    assert saved.metric.owner == analyst_user
    assert not Draft.objects.filter(pk=draft.pk).exists()
    closed = ClosedDraft.objects.get(uuid=draft.uuid)
    assert (closed.outcome, closed.metric) == (ClosedDraft.Outcome.SAVED, saved.metric)
