"""Every edge answers 400 or a form error, never 500: deep nesting in an import, dates outside
the supported range, control characters in names; and a name saved before the rule (CR/LF in
a scorecard's or a metric's name) never breaks a mail."""

import html
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from builder import portability, timeframes
from builder.forms import NameForm
from builder.models import Metric
from builder.validators import NAME_MESSAGE
from connections import safejson
from dashboards import alerts, scorecards
from dashboards.models import Alert, Databoard, Scorecard
from tests.factories import MetricFactory, datapoints

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
DEEP = "[" * 100_000 + "]" * 100_000
BAD_NAMES = [
    "Leads\r\nBcc: everyone@example.com",
    "Leads\nweekly",
    "Nul\x00name",
    "Tab\tname",
    "Bell\x07",
    "Evil\u202egpj",
]


@pytest.fixture
def quiet_client(analyst_client):
    """The analyst's client, answering 500 instead of raising, so a status can be asserted."""
    analyst_client.raise_request_exception = False
    return analyst_client


# ---------------------------------------------------------------- deep nesting


@pytest.mark.parametrize("document", [DEEP, '{"format":' * 100_000 + "1" + "}" * 100_000])
def test_an_import_nested_too_deeply_is_refused_in_plain_words(quiet_client, document):
    document_, errors = portability.loads(document)
    assert document_ is None and errors == [("", portability.TOO_DEEP_MESSAGE)]
    assert f"over {safejson.MAX_DEPTH} levels" in portability.TOO_DEEP_MESSAGE
    response = quiet_client.post(reverse("builder:import"), {"text": document})
    assert response.status_code == 400
    assert "nested too deeply" in response.content.decode()


def test_a_definition_nested_deep_inside_a_valid_document_is_refused(quiet_client):
    body = "[" * 500 + "]" * 500  # parses, but is far deeper than any metric needs
    text = '{"format": "metric-builder/metrics@1", "metrics": [{"name": "x", "request": {"body": ' + body + "}}]}"
    response = quiet_client.post(reverse("builder:import"), {"text": text})
    assert response.status_code == 400 and "nested too deeply" in response.content.decode()


def test_the_import_command_says_so_too(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_metrics", str(path))
    assert "nested too deeply" in capsys.readouterr().err


# ---------------------------------------------------------------- dates out of range


@pytest.fixture
def metric(analyst_user):
    return MetricFactory(name="Deals won", owner=analyst_user, current=True)


OUT_OF_RANGE = [("0001-01-01", "0001-01-03"), ("9999-12-29", "9999-12-31"), ("0001-01-01", "0001-01-01")]


@pytest.mark.parametrize(("start", "end"), OUT_OF_RANGE)
@pytest.mark.parametrize("page", ["home", "reading"])
def test_pages_with_a_custom_range_out_of_bounds_show_a_form_error(
    quiet_client, analyst_user, metric, page, start, end
):
    url = reverse(page) if page == "home" else reverse(f"dashboards:{page}", args=[metric.uuid])
    for zone in ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        analyst_user.profile.time_zone = zone
        analyst_user.profile.save()
        response = quiet_client.get(url, {"range": "custom", "start": start, "end": end})
        assert response.status_code == 200, (zone, response.status_code)
        assert timeframes.SUPPORTED_TEXT in response.content.decode()


@pytest.mark.parametrize(("start", "end"), OUT_OF_RANGE)
@pytest.mark.parametrize("export", ["csv", "json"])
def test_exports_with_a_range_out_of_bounds_answer_400(quiet_client, metric, export, start, end):
    response = quiet_client.get(
        reverse(f"dashboards:{export}", args=[metric.uuid]), {"range": "custom", "start": start, "end": end}
    )
    assert response.status_code == 400
    assert timeframes.SUPPORTED_TEXT in response.content.decode()


@pytest.mark.parametrize(("start", "end"), OUT_OF_RANGE)
def test_metric_values_refuses_dates_out_of_bounds(metric, start, end):
    for zone in ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        with pytest.raises(CommandError, match="supported"):
            call_command("metric_values", metric.name, "--from", start, "--to", end, "--tz", zone)


def test_a_goal_with_custom_dates_out_of_bounds_is_a_form_error(quiet_client, metric):
    response = quiet_client.post(
        reverse("dashboards:goals", args=[metric.uuid]),
        {"target": "10", "period": "custom", "start_date": "9999-01-01", "end_date": "9999-12-31"},
    )
    assert response.status_code == 200 and timeframes.SUPPORTED_TEXT in response.content.decode()
    assert not metric.goals.exists()


def test_ranges_guard_the_supported_dates():
    with pytest.raises(timeframes.OutOfRange, match="supported"):
        timeframes.custom(datetime(1, 1, 1).date(), datetime(1, 1, 2).date(), "Asia/Tokyo")
    with pytest.raises(timeframes.OutOfRange):
        timeframes.period("year", datetime(9999, 6, 1).date(), "UTC")
    # The edges themselves, and their previous period, work in every zone.
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        first = timeframes.custom(timeframes.MIN_DATE, timeframes.MIN_DATE.replace(month=12, day=31), zone)
        timeframes.previous(first)
        last = timeframes.custom(timeframes.MAX_DATE.replace(month=1, day=1), timeframes.MAX_DATE, zone)
        timeframes.buckets(last, "week")


# ---------------------------------------------------------------- control characters in names


def _refused(response):
    text = html.unescape(response.content.decode())
    # Django's own check catches a NUL first.
    return NAME_MESSAGE in text or "Null characters are not allowed." in text


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_metric_name_with_control_characters_is_a_form_error(name):
    form = NameForm(
        {"name": name, "aggregation": "sum", "number_format": "number", "favourable_trend": "up", "description": ""}
    )
    assert not form.is_valid() and NAME_MESSAGE in form.errors["name"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_imported_name_with_control_characters_is_refused(name, analyst_user):
    from tests.connections.factories import vtiger_connection

    connection = vtiger_connection()
    document = portability.export_document([MetricFactory.build(name="x", connection=connection)])
    document["metrics"][0]["name"] = name
    result = portability.import_document(json.loads(json.dumps(document)), owner=analyst_user)
    assert ("metrics[0].name", NAME_MESSAGE) in result.errors
    assert not Metric.objects.filter(name__contains="Leads").exists()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_board_name_with_control_characters_is_a_form_error(quiet_client, analyst_user, name):
    response = quiet_client.post(reverse("dashboards:databoard_create"), {"name": name})
    assert response.status_code == 200 and _refused(response)
    assert not Databoard.objects.exists()
    board = Databoard.objects.create(name="Sales", owner=analyst_user)
    quiet_client.post(reverse("dashboards:databoard_rename", args=[board.uuid]), {"name": name})
    board.refresh_from_db()
    assert board.name == "Sales"


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_scorecard_name_with_control_characters_is_a_form_error(quiet_client, analyst_user, metric, name):
    response = quiet_client.post(
        reverse("dashboards:scorecard_create"),
        {"name": name, "frequency": "weekly", "hour": "8", "metrics": [metric.pk], "recipients": [analyst_user.pk]},
    )
    assert response.status_code == 200 and _refused(response)
    assert not Scorecard.objects.exists()


# ---------------------------------------------------------------- names saved before the rule


@time_machine.travel(NOW, tick=False)
def test_a_scorecard_named_with_cr_lf_is_still_mailed_on_one_subject_line(analyst_user, metric):
    card = Scorecard.objects.create(name="Sales\r\nBcc: everyone@example.com", frequency="weekly", owner=analyst_user)
    card.metrics.set([metric])
    card.recipients.set([analyst_user])
    delivery = scorecards.send(card, NOW)
    assert delivery == scorecards.Delivery(sent=1, failed=0)
    [message] = mail.outbox
    assert message.subject.startswith("Sales Bcc: everyone@example.com: ")
    assert "\r" not in message.subject and "\n" not in message.subject
    assert message.recipients() == [analyst_user.email]


@time_machine.travel(NOW, tick=False)
def test_an_alert_on_a_metric_named_with_cr_lf_is_still_mailed(analyst_user):
    metric = MetricFactory(name="Deals\r\nwon", owner=analyst_user, current=True)
    datapoints(metric, [(NOW.replace(hour=8), 20_000)])
    alert = Alert.objects.create(
        metric=metric, condition="above", threshold=10, date_range="today", created_by=analyst_user
    )
    assert alerts.evaluate(alert, NOW) is not None
    [message] = mail.outbox
    assert message.subject.startswith("Alert: Deals won went above 10") and "\n" not in message.subject


@pytest.mark.parametrize("field", ["body", "pagination_options"])
def test_a_request_body_nested_too_deeply_is_a_form_error(quiet_client, field):
    from builder.models import Draft
    from tests.connections.factories import custom_connection

    connection = custom_connection("http://127.0.0.1:9/api", options={"allowed_methods": ["GET", "POST"]})
    quiet_client.post(reverse("builder:start"), {"connection": str(connection.uuid)})
    draft = Draft.objects.latest("created_at")
    data = {
        "connection": str(connection.uuid),
        "endpoint": "deals",
        "method": "POST",
        "pagination": "offset",
        "pagination_options": "",
        "preview_range": draft.preview_range,
        "body": "",
        "params-TOTAL_FORMS": "0",
        field: '{"a":' * 100_000 + "1" + "}" * 100_000,
    }
    for url in (reverse("builder:request", args=[draft.uuid]), reverse("builder:send", args=[draft.uuid])):
        response = quiet_client.post(url, {**data, "action": "next"})
        assert response.status_code in (200, 422), response.status_code
        assert "nested too deeply" in html.unescape(response.content.decode())


def test_a_notification_about_a_metric_named_with_cr_lf_is_still_mailed(analyst_user):
    from notifications.models import notify

    notify(analyst_user, "Deals\r\nwon was paused: the API refused the credentials.")
    [message] = mail.outbox
    assert message.subject == "Metric Builder: Deals won was paused: the API refused the credentials."
