"""No user's text becomes markup in another user's browser.

Every field a user (or an upstream API) can put text in carries script payloads; then every
page of the URLconf is fetched as an admin and as an analyst (plain and as an htmx fragment,
with the payload in the query string too), and the scorecard and alert emails are rendered.
A page that prints any of that text raw fails here, so a template added tomorrow is covered.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import URLPattern, URLResolver, get_resolver

from builder.definitions import from_metric
from builder.models import Draft
from dashboards import alerts as alert_service
from dashboards import scorecards
from dashboards.models import Alert, AlertEvent, Databoard, Goal, Scorecard, Tile
from notifications.models import Notification
from syncs.models import Datapoint, SyncRun
from syncs.uses import add_use
from tests.connections.factories import custom_connection
from tests.factories import MetricFactory, SyncRunFactory, UserFactory

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
PAYLOAD = SCRIPT + ATTRIBUTE
ESCAPED_PAYLOAD = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
# What must never reach a page: the payloads' markup, unescaped.
RAW = ("<script>alert(1)", "<img src=x onerror", "</script><")
PARAMETER = re.compile(r"<(\w+):(\w+)>")


def _evil(label):
    return f"{label} {PAYLOAD}"


@pytest.fixture
def world(db, sandbox):
    """One of everything, every text field carrying the payloads."""

    def user(name, role):
        return UserFactory(
            username=_evil(name)[:150],
            first_name=_evil(name)[:150],
            email=f"{name}{ATTRIBUTE}@example.com"[:254],
            role=role,
        )

    admin, analyst = user("admin", "admin"), user("analyst", "analyst")
    connection = custom_connection(
        sandbox.url,
        name=_evil("Connection"),
        username=_evil("user"),
        last_error=_evil("upstream said"),
        options={
            "allowed_methods": ["GET"],
            "data_timezone": "UTC",
            "default_headers": [["X-Evil", PAYLOAD]],
            "api_key_name": PAYLOAD,
            "test_path": "/" + PAYLOAD,
        },
    )
    metric = MetricFactory(
        name=_evil("Metric"),
        description=_evil("Description"),
        owner=analyst,
        connection=connection,
        endpoint="/" + PAYLOAD,
        params=[[PAYLOAD, PAYLOAD]],
        headers=[["X-Evil", PAYLOAD]],
        pagination={},
        date_mode="field",
        date_field=PAYLOAD,
        date_format=PAYLOAD,
        expression=f'"{PAYLOAD}"',
        history_days=365,
    )
    now = datetime.now(UTC)
    Datapoint.objects.bulk_create(
        Datapoint(
            metric=metric, timestamp=now - timedelta(days=day), value=day, dimension=_evil("dim")[:200], synced_at=now
        )
        for day in range(1, 40)
    )
    add_use(metric, "screen")
    SyncRunFactory(
        metric=metric,
        status=SyncRun.Status.FAILED,
        started_at=now,
        finished_at=now,
        error=_evil("failed"),
        warning=_evil("warning"),
        token="tok",
    )
    board = Databoard.objects.create(name=_evil("Board"), owner=analyst)
    tile = Tile.objects.create(databoard=board, metric=metric, kind=Tile.Kind.LINE)
    goal = Goal.objects.create(metric=metric, target=5, created_by=analyst)
    alert = Alert.objects.create(metric=metric, condition=Alert.Condition.ABOVE, threshold=1, created_by=analyst)
    AlertEvent.objects.create(alert=alert, value=3, message=_evil("Alert event"))
    card = Scorecard.objects.create(name=_evil("Scorecard"), owner=analyst)
    card.metrics.add(metric)
    card.recipients.add(admin, analyst)
    drafts = {}
    for person in (admin, analyst):
        definition = {**from_metric(metric), "connection": str(connection.uuid)}
        drafts[person.pk] = Draft.objects.create(
            owner=person,
            metric=metric,
            definition=definition,
            response={"result": [{PAYLOAD: PAYLOAD, "createdtime": "2026-01-01", "n": 1}]},
            response_meta={"status": 200, "error": {"kind": "http", "message": PAYLOAD, "snippet": PAYLOAD}},
        )
        Notification.objects.create(user=person, text=_evil("Notification"), url="/")
    return {
        "admin": admin,
        "analyst": analyst,
        "connection": connection,
        "metric": metric,
        "board": board,
        "tile": tile,
        "goal": goal,
        "alert": alert,
        "card": card,
        "drafts": drafts,
        "token": "tok",
    }


def _routes(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if not text.startswith("admin/"):
                yield from _routes(entry.url_patterns, text)
        elif isinstance(entry, URLPattern):
            yield text


def _path(text, world, user):
    """`text` with each parameter replaced by the key of the world's object it names."""

    def key(match):
        name, _ = match[2], match[1]
        if name == "draft":
            return str(world["drafts"][user.pk].uuid)
        if name in ("tile", "goal", "alert"):
            return str(world[name].pk)
        if name == "token":
            return world["token"]
        if name == "slug":
            return "custom" if text.startswith("data-manager/") else "leads-by-source"
        if text.startswith("data-manager/"):
            return str(world["connection"].uuid)
        if text.startswith("dashboards/boards/"):
            return str(world["board"].uuid)
        if text.startswith("dashboards/scorecards/"):
            return str(world["card"].uuid)
        return str(world["metric"].uuid)

    return "/" + PARAMETER.sub(key, text)


def _assert_escaped(body, where):
    for raw in RAW:
        assert raw not in body, f"{where} prints user text as markup: …{body[max(0, body.find(raw) - 200) :][:400]}…"


ROUTES = sorted(_routes())


def test_the_walk_reaches_the_pages_that_show_user_text(world, client):
    client.force_login(world["admin"])
    shown = 0
    for text in ROUTES:
        response = client.get(_path(text, world, world["admin"]))
        if response.status_code == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in response.content.decode():
            shown += 1
    # The walk is only worth something if the payload is actually rendered (escaped) on many pages.
    assert shown >= 15, shown


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_every_page_escapes_every_user_text(world, client, role):
    person = world[role]
    client.force_login(person)
    checked = 0
    for text in ROUTES:
        path = _path(text, world, person)
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(path, {"q": PAYLOAD, "range": PAYLOAD, "next": PAYLOAD}, **headers)
            if response.status_code >= 500:
                pytest.fail(f"GET {path} answered {response.status_code}")
            if "html" not in response.get("Content-Type", "") or response.streaming:
                continue
            _assert_escaped(response.content.decode(), f"GET {path} as {role}")
            checked += 1
    assert checked > 40


def test_the_scorecard_preview_escapes_the_plain_text_part(world, client):
    client.force_login(world["admin"])
    page = client.get(f"/dashboards/scorecards/{world['card'].uuid}/").content.decode()
    pre = page[page.index('<pre class="code">') :]
    pre = pre[: pre.index("</pre>")]
    assert "Scorecard &lt;script&gt;alert(1)&lt;/script&gt;" in pre
    _assert_escaped(page, "the scorecard preview")


def test_emails_escape_html_and_keep_text_plain(world):
    rendered = scorecards.render(world["card"])
    _assert_escaped(rendered.html, "the scorecard email's HTML")
    # The text part is plain text: the name as typed (never HTML-escaped), so any page showing it must escape it.
    assert PAYLOAD in rendered.text and "&lt;" not in rendered.text

    scorecards.send(world["card"])
    event = AlertEvent.objects.get()
    alert_service.notify(world["alert"], event)
    assert len(mail.outbox) >= 3
    for message in mail.outbox:
        for body, kind in message.alternatives:
            assert kind == "text/html"
            _assert_escaped(body, f"the HTML part of {message.subject!r}")
        assert "&lt;" not in message.body and "&quot;" not in message.body, "plain text must not be HTML-escaped"


def test_no_template_marks_text_safe():
    """|safe and autoescape off are kept out of the page templates (the text emails are plain text)."""
    from pathlib import Path

    from django.conf import settings

    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        source = template.read_text()
        assert "|safe" not in source and "autoescape off" not in source, template


FORM_FIELDS = (
    "name",
    "description",
    "expression",
    "endpoint",
    "q",
    "base_url",
    "instance_url",
    "subdomain",
    "username",
    "target",
    "threshold",
    "hour",
    "condition",
    "frequency",
    "date_range",
    "kind",
    "range",
    "start",
    "end",
    "date_field",
    "date_format",
    "date_timezone",
    "data_timezone",
    "time_zone",
    "api_key_name",
    "default_headers",
    "test_path",
    "docs_url",
    "body",
    "pagination_options",
    "vtql_module",
    "definitions",
    "connection",
    "action",
    "params-TOTAL_FORMS",
    "params-0-key",
    "params-0-value",
    "headers-TOTAL_FORMS",
    "headers-0-key",
    "headers-0-value",
)


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_forms_sent_back_with_errors_escape_what_was_typed(world, client, role):
    """Every form POSTed with the payloads in every field: the page that answers shows them as text."""
    person = world[role]
    client.force_login(person)
    data = dict.fromkeys(FORM_FIELDS, PAYLOAD)
    echoed = 0
    for text in ROUTES:
        if text.endswith(("delete/", "discard/", "logout/", "remove/")):
            continue  # nothing to echo, and the objects are needed by the next routes
        path = _path(text, world, person)
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.post(path, data, **headers)
            assert response.status_code < 500, f"POST {path} answered {response.status_code}"
            if "html" in response.get("Content-Type", "") and not response.streaming:
                body = response.content.decode()
                _assert_escaped(body, f"POST {path} as {role}")
                echoed += 'value="' + ESCAPED_PAYLOAD in body or ">" + ESCAPED_PAYLOAD in body
    # Forms re-rendered with what was typed, in inputs or text areas: the walk reached them.
    assert echoed >= 5, echoed
