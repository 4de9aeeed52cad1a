"""A currency per metric (issue 13, item 8): the table's symbols and decimals, the definition's
"currency" key (exported, validated, optional on import), the Name step that stores it, and the
pages that show a currency metric's values with its symbol."""

import re

import pytest
from django.core.checks import ERROR, run_checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.template import Context, Template
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from builder import currencies, definitions, gallery
from builder.models import Draft, Metric
from builder.wizard_drafts import _definition_of
from dashboards.templatetags.metric_format import metric_value, signed
from syncs.uses import add_use
from tests.builder.test_definitions import EXAMPLE
from tests.factories import MetricFactory, datapoints


@pytest.mark.parametrize(
    ("value", "number_format", "currency", "shown"),
    [
        (1234.5, "currency", "EUR", "€1,234.50"),
        (1234.5, "currency", "USD", "$1,234.50"),
        (1234.5, "currency", "GBP", "£1,234.50"),
        (1234.5, "currency", "JPY", "¥1,235"),  # no decimals, and money rounds half up
        (1234.5, "currency", "INR", "₹1,234.50"),
        (1234.5, "currency", "CHF", "CHF 1,234.50"),  # the code is the symbol: a space between
        (0.125, "currency", "USD", "$0.13"),
        (-5, "currency", "EUR", "-€5.00"),
        (-0.001, "currency", "EUR", "€0.00"),  # no "-" before a rounded zero
        ("", "currency", "EUR", "—"),
        (None, "currency", "EUR", "—"),
        (1234.5, "currency", None, "$1,234.50"),  # no currency: settings.DEFAULT_CURRENCY
        (1234.5, "number", "EUR", "1,234.50"),  # the currency counts for the currency format only
        (1234, "number", "EUR", "1,234"),
        (12.5, "percent", "EUR", "12.5%"),
    ],
)
def test_metric_value_table(value, number_format, currency, shown):
    assert metric_value(value, number_format, currency) == shown


@pytest.mark.parametrize(
    ("change", "currency", "shown"),
    [(1200, "EUR", "+€1,200.00"), (-3.5, "JPY", "-¥4"), (0, "CHF", "±CHF 0.00"), (None, "EUR", "—")],
)
def test_signed_table(change, currency, shown):
    assert signed(change, "currency", currency) == shown


def test_the_default_currency_comes_from_settings(settings):
    settings.DEFAULT_CURRENCY = "GBP"
    assert metric_value(10, "currency") == "£10.00"
    assert Metric().currency == "GBP"


def test_every_code_is_iso_shaped_with_a_symbol():
    for code, currency in currencies.CURRENCIES.items():
        assert re.fullmatch(r"[A-Z]{3}", code) and currency.symbol and currency.decimals in (0, 2)


def test_the_tags_and_the_change_fragment_render_the_symbol():
    template = Template(
        "{% load metric_format %}{% metric_value v 'currency' c %} {% signed d 'currency' c %} "
        "{% include 'dashboards/_change.html' with c=comparison fmt='currency' currency=c %}"
    )

    class Comparison:
        comparable = True
        percent_text = "+10.0%"
        change = 12.5

    shown = template.render(Context({"v": 99.5, "d": -1, "c": "EUR", "comparison": Comparison()}))
    assert shown.strip() == "€99.50 -€1.00 +10.0% (+€12.50)"


# ---------------------------------------------------------------- the model


@pytest.mark.django_db
def test_the_model_refuses_an_unknown_code():
    metric = MetricFactory(current=True, currency="XYZ")
    with pytest.raises(ValidationError) as refused:
        metric.full_clean()
    assert "currency" in refused.value.message_dict


# ---------------------------------------------------------------- definitions


@pytest.mark.django_db
def test_definition_round_trip_keeps_the_currency(offline_vtiger):
    cleaned, errors = definitions.validate({**EXAMPLE, "currency": "JPY"})
    assert errors == []
    metric = definitions.to_metric(cleaned)
    metric.save()
    assert Metric.objects.get(pk=metric.pk).currency == "JPY"
    exported = definitions.from_metric(metric)
    assert exported["currency"] == "JPY"
    again, errors = definitions.validate(exported)
    assert errors == [] and again["currency"] == "JPY"


@pytest.mark.django_db
def test_an_import_without_currency_takes_the_default(offline_vtiger, settings):
    settings.DEFAULT_CURRENCY = "INR"
    without = {key: value for key, value in EXAMPLE.items() if key != "currency"}
    cleaned, errors = definitions.validate(without)
    assert errors == [] and cleaned["currency"] == "INR"


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["XYZ", "eur", "", None, 978])
def test_an_unknown_currency_is_refused_by_its_path(offline_vtiger, code):
    _, errors = definitions.validate({**EXAMPLE, "currency": code}, path="metrics[0]")
    assert [path for path, _ in errors] == ["metrics[0].currency"]
    assert "not one of: USD, EUR" in errors[0][1]


def test_the_gallery_money_metrics_are_in_usd():
    money = [item for item in gallery.ITEMS if item.definition["number_format"] == "currency"]
    assert money and all(item.definition["currency"] == "USD" for item in money)
    others = [item for item in gallery.ITEMS if item.definition["number_format"] != "currency"]
    assert all("currency" not in item.definition for item in others)


# ---------------------------------------------------------------- the Name step


@pytest.fixture
def new_draft(analyst_user, offline_vtiger):
    template = MetricFactory(name="Template", connection=offline_vtiger, owner=analyst_user)
    definition = _definition_of(template)
    template.delete()
    definition["name"] = ""
    return Draft.objects.create(owner=analyst_user, definition=definition)


NAME_DATA = {"name": "Won (EUR)", "aggregation": "sum", "number_format": "currency", "favourable_trend": "up"}


@pytest.mark.django_db
def test_the_name_step_offers_the_currencies_with_the_default_chosen(analyst_client, new_draft, settings):
    settings.DEFAULT_CURRENCY = "CHF"
    del new_draft.definition["currency"]  # as a draft begun in the wizard: no currency chosen yet
    new_draft.save()
    text = analyst_client.get(reverse("builder:name", args=[new_draft.uuid])).content.decode()
    select = re.search(r'<select name="currency"[^>]*>(.*?)</select>', text, re.S)
    assert select is not None
    assert '<option value="EUR">EUR (€)</option>' in select.group(1)
    assert '<option value="CHF" selected>CHF</option>' in select.group(1)


@pytest.mark.django_db
def test_the_name_step_stores_the_currency_and_shows_it_again(analyst_client, new_draft):
    url = reverse("builder:name", args=[new_draft.uuid])
    assert analyst_client.post(url, {**NAME_DATA, "currency": "EUR"}).status_code == 302
    new_draft.refresh_from_db()
    assert new_draft.definition["currency"] == "EUR"
    assert '<option value="EUR" selected>' in analyst_client.get(url).content.decode()


@pytest.mark.django_db
def test_save_keeps_the_currency_on_the_metric(analyst_client, new_draft):
    saved = analyst_client.post(
        reverse("builder:save", args=[new_draft.uuid]), {**NAME_DATA, "currency": "JPY", "action": "save"}
    )
    assert saved.status_code == 302
    assert Metric.objects.get(name="Won (EUR)").currency == "JPY"


@pytest.mark.django_db
def test_the_name_step_refuses_an_unknown_currency(analyst_client, new_draft):
    refused = analyst_client.post(reverse("builder:name", args=[new_draft.uuid]), {**NAME_DATA, "currency": "XYZ"})
    assert refused.status_code == 422
    assert "Select a valid choice. XYZ is not one of the available choices." in refused.content.decode()


@pytest.mark.django_db
def test_editing_a_metric_keeps_its_currency(analyst_client, analyst_user, offline_vtiger):
    metric = MetricFactory(name="Won", connection=offline_vtiger, owner=analyst_user, currency="GBP")
    draft = Draft.objects.create(owner=analyst_user, metric=metric, definition=_definition_of(metric))
    text = analyst_client.get(reverse("builder:name", args=[draft.uuid])).content.decode()
    assert '<option value="GBP" selected>' in text


# ---------------------------------------------------------------- where values show


@pytest.mark.django_db
def test_the_metrics_screen_shows_the_symbol(analyst_client):
    metric = MetricFactory(name="Won (EUR)", number_format="currency", currency="EUR", current=True)
    datapoints(metric, [(timezone.now(), 1234.5)])
    add_use(metric, "screen")
    page = analyst_client.get(reverse("home"), {"range": "today"}).content.decode()
    assert 'tile-value">€1,234.50<' in page


# ---------------------------------------------------------------- the DEFAULT_CURRENCY system check


def _currency_errors():
    return [message for message in run_checks() if message.id == "builder.E001"]


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "CHF"])
def test_the_check_accepts_a_known_default_currency(code):
    with override_settings(DEFAULT_CURRENCY=code):
        assert _currency_errors() == []


@pytest.mark.parametrize("value", ["XYZ", "US$", "", "dollar", None, 840])
def test_the_check_refuses_an_unknown_default_currency_naming_the_setting_the_value_and_codes(value):
    with override_settings(DEFAULT_CURRENCY=value):
        (error,) = _currency_errors()
    assert error.level == ERROR
    assert "DEFAULT_CURRENCY" in error.msg
    assert repr(value) in error.msg
    assert all(code in error.hint for code in ("USD", "EUR", "GBP"))


def test_the_check_suggests_capitals_for_a_lower_case_code():
    with override_settings(DEFAULT_CURRENCY="eur"):
        (error,) = _currency_errors()
    assert "'eur'" in error.msg
    assert "Here that is 'EUR'" in error.hint
    assert "USD, EUR" in error.hint


# DEBUG on: the production-only checks (generated keys, private hosts) stay out of the way.
def test_manage_py_check_fails_on_an_unknown_default_currency():
    with override_settings(DEBUG=True, DEFAULT_CURRENCY="XYZ"), pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "builder.E001" in str(raised.value)
    assert "DEFAULT_CURRENCY is 'XYZ'" in str(raised.value)
    with override_settings(DEBUG=True, DEFAULT_CURRENCY="EUR"):
        call_command("check")
