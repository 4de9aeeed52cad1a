"""A newcomer connects Vtiger to the sandbox in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from connections.models import Connection
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_vtiger_form(page, query="tvitger"):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Data Manager").click()
    page.get_by_role("link", name="+ New connection").first.click()
    page.get_by_label("Search integrations").fill(query)
    # The results update live (htmx) while typing.
    expect(page.locator('[data-integration="custom"]')).to_have_count(0)
    card = page.locator('[data-integration="vtiger"]')
    card.get_by_role("link", name="Connect").click()
    page.get_by_role("link", name="Connect now").click()


def _fill(page, sandbox, access_key):
    page.get_by_role("textbox", name="Name", exact=True).fill("Vtiger")
    page.get_by_role("textbox", name="Subdomain", exact=True).fill("demo")
    page.get_by_role("textbox", name="Username", exact=True).fill(DEMO_USERNAME)
    page.get_by_label(re.compile(r"^Access Key")).fill(access_key)
    page.get_by_text("Advanced", exact=True).click()
    page.get_by_role("textbox", name="Instance URL (advanced)").fill(sandbox.url)
    page.get_by_role("button", name="Connect").click()


def test_newcomer_connects_vtiger_to_the_sandbox(page, login, admin_user, sandbox):
    login(admin_user)
    _open_vtiger_form(page)
    _fill(page, sandbox, DEMO_ACCESS_KEY)

    page.get_by_text("Connected as Dana Demo").wait_for()
    assert "Connected" in page.locator("#connection-status").inner_text()
    assert DEMO_ACCESS_KEY not in page.content()

    page.get_by_role("link", name="← Data Manager").click()
    row = page.get_by_role("row", name="Vtiger")
    assert "Connected" in row.inner_text()
    assert Connection.objects.get().status == Connection.Status.CONNECTED


def test_wrong_access_key_shows_a_clear_message_and_saves_nothing(page, login, admin_user, sandbox):
    login(admin_user)
    _open_vtiger_form(page, query="VTIGER")
    _fill(page, sandbox, "wrongwrongwrong1")

    alert = page.get_by_role("alert").filter(has_text="Could not connect.")
    alert.wait_for()
    assert "access key" in alert.inner_text().lower()
    assert "wrongwrongwrong1" not in page.content()
    # What was typed is kept (except the secret), so the admin only fixes the key.
    assert page.get_by_role("textbox", name="Username", exact=True).input_value() == DEMO_USERNAME
    assert Connection.objects.count() == 0


def test_catalogue_search_finds_nothing_for_nonsense(page, login, admin_user):
    login(admin_user)
    page.goto("/data-manager/new/")
    page.get_by_label("Search integrations").fill("qqqzzz")
    page.get_by_text("Nothing matches").wait_for()
    expect(page.locator("[data-integration]")).to_have_count(0)
