"""A strict Content-Security-Policy on every response, and templates that need nothing looser.

The browser journeys (tests/browser/) fail on any violation Chromium reports, so the pages
are known to work under this policy; here: the header everywhere, and no inline script,
event-handler attribute or inline style left in a template for the policy to break.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from config import security
from tests.test_xss import ROUTES, _path, world  # noqa: F401 -- `world` is a fixture used below

TEMPLATES = Path(settings.BASE_DIR, "templates")
# Emails go to mail clients, which ignore stylesheets; they are shown in a frame of their own.
EMAILS = TEMPLATES / "email"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def _directives(policy):
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def test_the_policy_forbids_inline_script_and_other_origins():
    directives = _directives(security.POLICY)
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["form-action"] == ["'self'"]
    for values in directives.values():
        assert not any(v.startswith(("http", "'unsafe")) or v == "*" for v in values), values


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_every_response_carries_the_policy(world, client, role):  # noqa: F811 -- the fixture
    client.force_login(world[role])
    for text in ROUTES:
        path = _path(text, world, world[role])
        for response in (client.get(path), client.get(path, HTTP_HX_REQUEST="true")):
            policy = response.get("Content-Security-Policy")
            if text == "dashboards/scorecards/<uuid:uuid>/email/" and response.status_code == 200:
                assert policy == security.EMAIL_FRAME_POLICY
            else:
                assert policy == security.POLICY, f"GET {path}: {response.status_code}"


def test_anonymous_pages_errors_and_static_files_carry_it_too(client, db):
    for path in ("/accounts/login/", "/", "/no-such-page/", "/static/css/app.css"):
        response = client.get(path)
        response.close()  # the static file's handle
        assert response["Content-Security-Policy"] == security.POLICY, path


def test_the_email_frame_runs_nothing_and_only_frames_here():
    directives = _directives(security.EMAIL_FRAME_POLICY)
    assert directives["default-src"] == ["'none'"] and "script-src" not in directives
    assert directives["frame-ancestors"] == ["'self'"]


def test_no_template_has_inline_script_handlers_or_styles():
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = template.read_text()
        for pattern, what in ((INLINE_SCRIPT, "inline <script>"), (HANDLER, "on…= handler")):
            found += [f"{template.relative_to(TEMPLATES)}: {what} {m[0]!r}" for m in pattern.finditer(source)]
        if EMAILS not in template.parents:
            found += [f"{template.relative_to(TEMPLATES)}: inline style {m[0]!r}" for m in STYLE.finditer(source)]
        if JS_URL.search(source):
            found.append(f"{template.relative_to(TEMPLATES)}: a javascript: URL")
    assert not found, "\n".join(found)


def test_the_scan_would_see_them():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>") and INLINE_SCRIPT.search("<script type='module'>")
    assert not INLINE_SCRIPT.search("<script src=\"{% static 'js/x.js' %}\" defer></script>")
    assert HANDLER.search('<button onclick="go()">') and HANDLER.search("<img src=x\nonerror=alert(1)>")
    assert not HANDLER.search('<a data-one="x" hx-get="/y">')
    assert JS_URL.search('<a href="javascript:go()">') and not JS_URL.search("Without JavaScript: a page")
    assert STYLE.search('<div style="padding:0">') and STYLE.search("<style>p{}</style>")


def test_htmx_injects_no_style_and_evaluates_nothing():
    base = (TEMPLATES / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base
    assert base.index('name="htmx-config"') < base.index("{% htmx_script %}")
