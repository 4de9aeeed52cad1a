"""JSONata errors in plain words (issue 13, item 1): every code, the $number fix, the wizard and the sync."""

import re
from pathlib import Path

import jsonata
import pytest
from django.urls import reverse
from jsonata.jexception import JException

from builder import explain, transform
from builder.explain import PLAIN
from builder.models import Draft
from syncs import engine
from tests.factories import MetricFactory

HX = {"HTTP_HX_REQUEST": "true"}
VTIGER = {"result": [{"amount": "12.50000000", "n": "x"}, {"amount": "3.50000000", "n": "y"}]}


def _installed_codes() -> set[str]:
    """The codes of the installed jsonata package, as `grep -rhoE '"[DTS][0-9]{4}"' jsonata/` lists them."""
    folder = Path(jsonata.__file__).parent
    codes = set()
    for path in folder.rglob("*.py"):
        codes.update(re.findall(r'"([DTS][0-9]{4})"', path.read_text(encoding="utf-8")))
    return codes


def test_the_installed_codes_are_the_ones_worded():
    codes = _installed_codes()
    assert len(codes) > 90
    assert codes == set(PLAIN), f"not worded: {sorted(codes - set(PLAIN))}; stale: {sorted(set(PLAIN) - codes)}"


def _raw(code: str) -> str:
    """jsonata's own message for ``code``, as its exception would carry it, with made-up details."""
    return JException.msg(code, 4, "amount", "value2", "extra") if code in JException.error_codes else code


@pytest.mark.parametrize("code", sorted(_installed_codes()))
def test_every_code_is_a_sentence(code):
    message = explain.explain(code, _raw(code), 4, "$sum(amount)").message
    assert message.strip() and message != code and code not in message, "not the code alone"
    assert message[0].isupper() or message[0] in "$`\\" or message.startswith(("amount", '"')), message
    assert message.rstrip().endswith((".", "?")), message
    assert not re.search(r"\bof n\b|\bObject\b|\{\{|\{\w+\}|\?\?|JSonata", message), message
    assert "  " not in message
    assert not re.search(r"(^|\s)\?(\s|\.|$)|\$\{\}", message), "a detail lost: " + message


@pytest.mark.parametrize(
    ("expression", "code", "fixed"),
    [
        ("$sum(result.amount)", "T0412", "$sum(result.$number(amount))"),
        ("$average(result.amount)", "T0412", "$average(result.$number(amount))"),
        ("$max(result.amount) * 2", "T0412", "$max(result.$number(amount)) * 2"),
        ("$round(result[0].amount)", "T0410", "$round(result[0].$number(amount))"),
        ("result[0].amount * 2", "T2001", "result[0].$number(amount) * 2"),
        ("2 * result[0].amount", "T2002", "2 * result[0].$number(amount)"),
        ('result.{"value": amount * 1}', "T2001", 'result.{"value": $number(amount) * 1}'),
    ],
)
def test_a_number_written_as_text_names_the_field_and_the_fix(expression, code, fixed):
    with pytest.raises(transform.ExpressionError) as caught:
        transform.evaluate(expression, VTIGER)
    error = caught.value
    assert error.code == code and error.fix == fixed
    assert "`amount` holds numbers written as text" in error.message and '"12.50000000"' in error.message
    assert "Vtiger" in error.message and "$number" in error.message and fixed in error.message
    assert transform.evaluate(fixed, VTIGER) is not None, "the fix runs"


def test_the_position_is_kept():
    with pytest.raises(transform.ExpressionError) as caught:
        transform.evaluate("$sum(result.amount)", VTIGER)
    assert caught.value.position == 5
    assert str(caught.value).startswith("T0412: $sum needs numbers.") and str(caught.value).endswith("(at character 5)")


def test_text_that_is_no_number_gets_no_number_fix():
    with pytest.raises(transform.ExpressionError) as caught:
        transform.evaluate("$sum(result.n)", VTIGER)
    assert caught.value.fix is None
    assert caught.value.message == '$sum needs numbers. `n` holds text such as "x", which is not a number.'


def test_syntax_and_python_errors_in_words():
    with pytest.raises(transform.ExpressionError) as caught:
        transform.evaluate("$sum(result.$number(amount)", VTIGER)
    assert caught.value.code == "S0203" and caught.value.message == "The expression ends too early: a ) is missing."
    assert caught.value.position == 27
    with pytest.raises(transform.ExpressionError) as caught:
        transform.evaluate("$number(result[0].n)", VTIGER)
    assert caught.value.code == "ValueError"
    assert caught.value.message == "$number cannot read 'x' as a number: it is not written with digits only."


def test_our_own_codes_keep_their_words():
    assert explain.explain("INPUT_TOO_LARGE", "The response is too large.").message == "The response is too large."
    took = "The expression took too long (over 500 ms) and was stopped."
    assert explain.explain("D1012", took).message == took


# ---------------------------------------------------------------- the wizard and the sync


@pytest.fixture
def sent_draft(analyst_client, vtiger):
    analyst_client.post(reverse("builder:start"), {"connection": str(vtiger.uuid)})
    draft = Draft.objects.latest("created_at")
    draft.response = VTIGER
    draft.response_meta = {"status": 200, "size_bytes": 100}
    draft.save()
    return draft


@pytest.mark.django_db
def test_the_wizard_shows_the_sentence_and_the_fix_button(analyst_client, sent_draft):
    page = analyst_client.post(
        reverse("builder:evaluate", args=[sent_draft.uuid]), {"expression": "$sum(result.amount)"}, **HX
    )
    text = page.content.decode()
    assert "$sum needs numbers." in text and "of n" not in text and "Object" not in text
    assert 'data-error-code="T0412"' in text and 'data-error-position="5"' in text and "(at character 5)" in text
    assert 'name="fix" value="$sum(result.$number(amount))" data-jsonata-fix' in text


@pytest.mark.django_db
def test_the_fix_button_works_without_javascript(analyst_client, sent_draft):
    page = analyst_client.post(
        reverse("builder:expression", args=[sent_draft.uuid]),
        {"expression": "$sum(result.amount)", "fix": "$sum(result.$number(amount))"},
    )
    text = page.content.decode()
    assert page.status_code == 200 and 'data-testid="datapoint-total">16.00<' in text
    sent_draft.refresh_from_db()
    assert sent_draft.definition["expression"] == "$sum(result.$number(amount))"


@pytest.mark.django_db
def test_a_sync_failure_reads_the_same(vtiger):
    metric = MetricFactory(connection=vtiger, expression="$sum(result.amount)", date_mode="none")
    with pytest.raises(engine.DefinitionProblem) as caught:
        engine.to_points(metric, VTIGER, "UTC")
    message = str(caught.value.message)
    assert "$sum needs numbers. `amount` holds numbers written as text" in message
    assert "$sum(result.$number(amount))" in message and "(at character 5)" in message and "of n" not in message
