"""Playwright driving Debian's Chromium (never a downloaded browser).

Without Chromium these tests skip locally; with REQUIRE_BROWSER set (CI) they fail,
so a green CI run always includes them.
"""

import os
import shutil

import pytest

from config.env import env_bool
from conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags that keep Chromium from phoning home on a machine with a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if env_bool("REQUIRE_BROWSER", False):
            pytest.fail("Chromium is required (REQUIRE_BROWSER is set) but /usr/bin/chromium is missing.")
        pytest.skip("the browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Chromium's console line for anything the Content-Security-Policy blocked, in any frame.
CSP_CONSOLE_MARKS = ("Content Security Policy", "Content-Security-Policy")
# The page's own report of the same (a listener added before any of the page's scripts run).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("Content Security Policy violation: " + event.violatedDirective + " blocked "
    + (event.blockedURI || "inline") + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


@pytest.fixture
def csp_violations():
    """What the Content-Security-Policy blocked during the test; every journey ends with none."""
    return []


@pytest.fixture
def page(browser, live_server, csp_violations):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            csp_violations.append(f"{message.page.url if message.page else ''}: {message.text}")
            if any(mark in message.text for mark in CSP_CONSOLE_MARKS)
            else None
        ),
    )
    yield page
    context.close()
    assert not csp_violations, "The Content-Security-Policy blocked something:\n" + "\n".join(csp_violations)


@pytest.fixture
def login(page):
    """Log in through the real form, as a newcomer would."""

    def _login(user):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/")
        return page

    return _login
