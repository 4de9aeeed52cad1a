"""Fast live evaluation (issue 13, item 7): the live editor reads the stored response from the
database once per Send, not on each pause in typing, and still evaluates what was last sent."""

import re

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from builder import expression_box, steps
from builder.models import Draft
from tests.builder.wizard_requests import send_query

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
READS_RESPONSE = re.compile(r'"builder_draft"\."response"\s*(,|FROM)', re.I)


@pytest.fixture
def draft(analyst_client, vtiger):
    analyst_client.post(reverse("builder:start"), {"connection": str(vtiger.uuid)})
    return Draft.objects.latest("created_at")


def _evaluate(client, draft, expression):
    """The live evaluation's fragment, and the queries it ran."""
    with CaptureQueriesContext(db_connection) as queries:
        page = client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": expression}, **HX)
    assert page.status_code == 200
    return page.content.decode(), [query["sql"] for query in queries.captured_queries]


def _count(fragment) -> int:
    return int(re.search(r'data-testid="datapoint-count">(\d+)<', fragment).group(1))


def test_typing_on_reads_the_stored_response_once_persend_query(analyst_client, draft):
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 7;")
    fragment, _ = _evaluate(analyst_client, draft, "$count(result)")
    assert "datapoint-count" in fragment
    for typed in ("$count(result) + 1", "$sum(result.$number(amount))"):
        fragment, queries = _evaluate(analyst_client, draft, typed)
        assert "datapoint-count" in fragment and 'data-error-code="' not in fragment
        assert not [sql for sql in queries if READS_RESPONSE.search(sql)], queries
    assert Draft.objects.get(pk=draft.pk).definition["expression"] == "$sum(result.$number(amount))"


def test_after_a_new_send_the_live_editor_evaluates_the_new_response(analyst_client, draft):
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 7;")
    expression = 'result.{"value": $number(amount)}'
    assert _count(_evaluate(analyst_client, draft, expression)[0]) == 7
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 3;")
    fragment, queries = _evaluate(analyst_client, draft, expression)
    assert _count(fragment) == 3
    assert [sql for sql in queries if READS_RESPONSE.search(sql)], "the new response was read"


def test_a_response_stored_without_a_send_is_read_each_time(draft):
    """Only a Send stamps the response (``sent_at``); a response written otherwise is never taken
    for one this process holds."""
    draft.response = {"result": [{"amount": "1"}]}
    draft.save()
    assert steps.evaluation(draft, "$count(result)", "UTC")["count"] == 1
    draft.response = {"result": [{"amount": "1"}, {"amount": "2"}]}
    draft.save()
    assert steps.stored_response(draft) == draft.response
    assert steps.evaluation(Draft.objects.get(pk=draft.pk), "$count(result)", "UTC")["total"] == 2


def test_the_box_is_not_sent_the_stored_response_again_while_typing(analyst_client, draft):
    send_query(analyst_client, draft, "SELECT amount FROM Potentials LIMIT 7;")
    _evaluate(analyst_client, draft, "$count(result)")
    box = expression_box.default_box()
    sent = box.inputs_sent
    for typed in ("$count(result) + 1", "$count(result) + 2", "$count(result) + 3"):
        _evaluate(analyst_client, draft, typed)
    assert box.inputs_sent == sent


def test_the_live_editor_shows_the_first_rows_and_counts_every_datapoint(draft):
    """The box checks the result and answers its first rows with the count and total of all."""
    records = [{"amount": str(n), "stage": f"Stage {n % 3}"} for n in range(1, 151)]
    draft.response = {"result": records}
    draft.definition["date"] = {"mode": "dynamic"}
    draft.save()
    shown = steps.evaluation(draft, 'result.{"value": $number(amount), "dimension": stage}', "UTC")
    assert "error" not in shown
    assert (shown["count"], shown["total"], shown["more"]) == (150, float(sum(range(1, 151))), 50)
    assert len(shown["datapoints"]) == steps.DATAPOINT_ROWS
    assert shown["datapoints"][0] == {
        "value": 1.0,
        "dimension": "Stage 1",
        "date": "the time of each sync",
        "raw_date": None,
    }
    assert shown["result"].endswith("\n… and 50 more items")
    assert shown["result"].count('"value"') == steps.DATAPOINT_ROWS


def test_a_shape_error_past_the_rows_shown_is_still_told(draft):
    records = [{"amount": str(n)} for n in range(150)]
    records[120]["amount"] = "n/a"
    draft.response = {"result": records}
    draft.definition["date"] = {"mode": "none"}
    draft.save()
    shown = steps.evaluation(draft, 'result.{"value": $exists(amount) ? amount}', "UTC")
    assert shown["error"] == {
        "code": "SHAPE",
        "message": 'Item 120: "value" is "n/a", which is not a number.',
        "position": None,
    }
    assert "datapoints" not in shown
