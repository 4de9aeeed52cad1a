"""Where a newcomer stumbled in the wizard (issue 13, items 1-3), each as a Chromium journey."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from builder.models import Draft
from builder.wizard_drafts import new_draft
from conftest import wait_for
from tests.connections.factories import vtiger_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sent_draft(page, login, user, sandbox, query):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    draft = new_draft(user, connection)
    draft.definition["request"]["params"] = [["query", query]]
    draft.save()
    login(user)
    page.goto(reverse("builder:request", args=[draft.uuid]))
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("json-tree")).to_be_visible()
    return draft


def _type_expression(page, text):
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_a_text_amount_is_explained_and_fixed_in_one_click(page, login, analyst_user, sandbox):
    draft = _sent_draft(page, login, analyst_user, sandbox, "SELECT amount FROM Potentials;")
    page.goto(reverse("builder:expression", args=[draft.uuid]))
    _type_expression(page, "$sum(result.amount)")
    error = page.get_by_test_id("expression-error")
    expect(error).to_contain_text("$sum needs numbers")
    expect(error).to_contain_text("`amount` holds numbers written as text")
    expect(error).to_contain_text("Vtiger")
    expect(error).not_to_contain_text("of n")
    expect(error).not_to_contain_text("Object")
    expect(page.locator(".cm-jsonata-error")).to_have_count(1)  # the position is still marked

    page.get_by_role("button", name="Use $sum(result.$number(amount))").click()
    expect(page.locator(".CodeMirror")).to_contain_text("$sum(result.$number(amount))")
    expect(page.get_by_test_id("expression-error")).to_have_count(0)
    expect(page.get_by_test_id("datapoint-count")).to_have_text("1")
    draft.refresh_from_db()
    assert draft.definition["expression"] == "$sum(result.$number(amount))"


def test_the_vtql_helpers_date_field_is_the_default_on_the_date_step(page, login, analyst_user, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    draft = new_draft(analyst_user, connection)
    login(analyst_user)
    page.goto(reverse("builder:request", args=[draft.uuid]))
    page.get_by_label("Module").select_option("Potentials")
    page.get_by_role("button", name="Load fields").click()
    for name in ("amount", "closingdate", "createdtime"):
        page.locator(f'input[name="vtql_fields"][value="{name}"]').check()
    page.get_by_label("Date field (limited to the dynamic range)").select_option("closingdate")
    page.get_by_role("button", name="Write query").click()
    expect(page.get_by_label("Parameter 1 value")).to_have_value(re.compile("closingdate >="))
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("json-tree")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Next: Date field").click()

    expect(page.get_by_role("heading", name="Date field")).to_be_visible()
    expect(page.get_by_label("Use a field from response")).to_be_checked()
    expect(page.locator('input[name="field"][value="closingdate"]')).to_be_checked()
    expect(page.get_by_label("Format")).to_have_value("YYYY-MM-DD")
    expect(page.get_by_role("heading", name="How closingdate is read")).to_be_visible()
    page.get_by_role("button", name="Next: JSONata").click()

    expect(page.get_by_role("heading", name="JSONata")).to_be_visible()
    expect(page.locator(".CodeMirror")).to_contain_text('result.{"date": closingdate, "value": $number(amount)}')


def test_what_was_typed_survives_a_reload(page, login, analyst_user, sandbox):
    draft = _sent_draft(page, login, analyst_user, sandbox, "SELECT amount FROM Potentials;")
    page.goto(reverse("builder:expression", args=[draft.uuid]))
    # Submitted once (even an invalid one), then typed on: the typed text is what comes back.
    _type_expression(page, "$sum(result.")
    page.get_by_role("button", name="Evaluate").click()
    expect(page.get_by_test_id("expression-error")).to_be_visible()
    _type_expression(page, "$count(result)")
    expect(page.get_by_test_id("datapoint-count")).to_have_text("1")
    page.reload()
    expect(page.locator(".CodeMirror")).to_contain_text("$count(result)")
    expect(page.locator(".CodeMirror")).not_to_contain_text("$sum")
    assert Draft.objects.get(pk=draft.pk).definition["expression"] == "$count(result)"

    # Reloaded before the evaluation (400 ms after the last key) could save it: still there, and saved then.
    records = float(page.get_by_test_id("datapoint-total").inner_text())
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" * 2")
    page.reload()
    expect(page.locator(".CodeMirror")).to_contain_text("$count(result) * 2")
    expect(page.get_by_test_id("datapoint-total")).to_have_text(f"{records * 2:.2f}")
    wait_for(lambda: Draft.objects.get(pk=draft.pk).definition["expression"] == "$count(result) * 2")


def test_typing_on_any_step_survives_a_reload(page, login, analyst_user, sandbox):
    draft = _sent_draft(page, login, analyst_user, sandbox, "SELECT amount FROM Potentials;")
    query = page.get_by_label("Parameter 1 value")
    query.fill("SELECT amount, closingdate FROM Potentials;")
    page.reload()
    expect(page.get_by_label("Parameter 1 value")).to_have_value("SELECT amount, closingdate FROM Potentials;")
    # Posted, then typed again: the typed text, not the posted one.
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("json-tree")).to_be_visible()
    page.get_by_label("Parameter 1 value").fill("SELECT amount FROM Potentials LIMIT 3;")
    page.reload()
    expect(page.get_by_label("Parameter 1 value")).to_have_value("SELECT amount FROM Potentials LIMIT 3;")

    page.goto(reverse("builder:name", args=[draft.uuid]))
    page.get_by_label("Name your metric").fill("Won deal amount")
    page.reload()
    expect(page.get_by_label("Name your metric")).to_have_value("Won deal amount")
