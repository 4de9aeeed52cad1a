""" "Break down by" on the JSONata step (issue 14, breakdowns item 1): the text fields offered, the
expression generated for each date mode, the choice kept on the draft, and what the expression gives."""

import json
from collections import Counter
from pathlib import Path

import pytest
from django.urls import reverse

from builder import steps, transform, wizard_drafts
from builder.models import Draft
from sandbox.data import build_dataset
from tests.builder.wizard_requests import send_query

FIXTURES = Path("/work/shared/fixtures/vtiger-8.2")
if not FIXTURES.exists():
    FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vtiger-8.2"


def _fixture(name):
    return json.loads((FIXTURES / name).read_text())["result"]


def _picklists(module):
    return [f["name"] for f in _fixture(f"describe_{module}.json")["fields"] if f["type"]["name"].endswith("picklist")]


# ---------------------------------------------------------------- the fields offered


@pytest.mark.parametrize(
    ("module", "offered", "not_offered"),
    [
        (
            "Leads",
            ["leadsource", "leadstatus", "industry", "rating", "assigned_user_id"],
            ["id", "lastname", "email", "createdtime", "annualrevenue", "lead_no", "emailoptout"],
        ),
        ("Potentials", ["sales_stage", "leadsource", "assigned_user_id", "related_to", "contact_id"], ["id", "amount"]),
        ("Accounts", ["industry", "accounttype", "assigned_user_id"], ["accountname", "id", "website"]),
    ],
)
def test_the_text_fields_of_the_recorded_vtiger_answers(module, offered, not_offered):
    fields = transform.text_fields(_fixture(f"query_{module}.json"), picklists=_picklists(module))
    assert set(offered) <= set(fields)
    assert not set(not_offered) & set(fields)
    references = [name for name in fields if name.endswith("_id") or name in ("related_to", "modifiedby")]
    assert fields[-len(references) :] == references, "references come after the text fields"


def test_without_describe_a_varied_sample_is_not_offered_but_repeated_values_are():
    leads = _fixture("query_Leads.json")
    fields = transform.text_fields(leads)
    assert {"leadsource", "leadstatus", "assigned_user_id"} <= set(fields)
    assert "industry" not in fields  # 24 industries in 24 leads: only describe's picklist says it is one


@pytest.mark.parametrize(
    ("module", "offered"),
    [
        ("Leads", ["leadsource", "industry", "leadstatus", "rating", "assigned_user_id"]),
        ("Potentials", ["sales_stage", "leadsource", "opportunity_type", "assigned_user_id", "related_to"]),
    ],
)
def test_the_text_fields_of_the_sandboxs_records(module, offered):
    records = build_dataset().records(module)
    fields = transform.text_fields(records)
    assert set(offered) <= set(fields)
    assert not {"id", "firstname", "lastname", "email", "createdtime", "amount", "potentialname"} & set(fields)


def test_values_that_are_not_all_text_are_not_offered():
    records = [{"stage": "Won", "n": "3", "when": f"2026-01-0{i % 3 + 1}", "mixed": i, "tags": ["a"]} for i in range(9)]
    records += [{"stage": "Lost"}] * 3
    assert transform.text_fields(records) == ["stage"]
    assert transform.text_fields([]) == []


# ---------------------------------------------------------------- the generated expression


@pytest.mark.parametrize(
    ("value_field", "date_field", "expected"),
    [
        (None, None, 'result.{"value": 1, "dimension": leadsource}'),
        ("amount", None, 'result.{"value": $number(amount), "dimension": leadsource}'),
        (None, "createdtime", 'result.{"date": createdtime, "value": 1, "dimension": leadsource}'),
        ("amount", "closingdate", 'result.{"date": closingdate, "value": $number(amount), "dimension": leadsource}'),
    ],
)
def test_the_generated_expression_sets_the_dimension(value_field, date_field, expected):
    assert transform.suggest_expression("result", value_field, date_field, None, "leadsource") == expected


def test_a_field_name_that_needs_quoting_is_quoted():
    text = transform.suggest_expression(None, None, None, None, "lead source")
    assert text == '$.{"value": 1, "dimension": `lead source`}'


@pytest.mark.parametrize("date_mode", transform.DATE_MODES)
def test_evaluating_the_generated_expression_gives_each_records_dimension(date_mode):
    """One item per record in every date mode; the records' totals per stage, computed here from the
    sandbox's records, are what the metric's sum aggregation will show for each stage."""
    potentials = build_dataset().records("Potentials")  # the open deals are the newest
    date_field = "closingdate" if date_mode == transform.FIELD_DATE else None
    text = transform.suggest_expression("result", "amount", date_field, None, "sales_stage")

    points = transform.to_datapoints(transform.evaluate(text, {"result": potentials}), date_mode)

    assert [p.dimension for p in points] == [r["sales_stage"] for r in potentials]
    expected, got = Counter(), Counter()
    for record in potentials:
        expected[record["sales_stage"]] += float(record["amount"])
    for point in points:
        got[point.dimension] += point.value
    assert got.keys() == expected.keys() and len(expected) > 3
    assert all(got[key] == pytest.approx(expected[key]) for key in expected)
    if date_mode == transform.FIELD_DATE:
        assert [p.date for p in points] == [r["closingdate"] for r in potentials]
    else:
        assert all(p.date is None for p in points)


def test_the_suggestion_of_a_draft_without_a_date_breaks_down_each_record(rf):
    draft = Draft(definition={"date": {"mode": "dynamic"}, "_wizard": {"breakdown": "leadsource"}})
    draft.response = {"success": True, "result": [{"leadsource": "Web", "amount": "2.5"}, {"leadsource": "Fax"}]}
    assert steps.suggestion(draft) == 'result.{"value": $number(amount), "dimension": leadsource}'
    draft.response = {"success": True, "result": [{"industry": "Retail"}]}
    assert steps.suggestion(draft) == "$count(result)", "a field the response no longer has is left out"


# ---------------------------------------------------------------- the step, and the choice kept on the draft


LEADS = "SELECT leadsource, industry, createdtime FROM Leads ORDER BY id LIMIT 0,100;"


@pytest.fixture
def draft(analyst_client, vtiger):
    analyst_client.post(reverse("builder:start"), {"connection": str(vtiger.uuid)})
    draft = Draft.objects.latest("created_at")
    send_query(analyst_client, draft, LEADS)
    return draft


def _step(client, draft, **data):
    return client.post(reverse("builder:expression", args=[draft.uuid]), data)


@pytest.mark.django_db
def test_choosing_a_field_writes_the_dimension_and_survives_a_reload(analyst_client, draft, sandbox):
    page = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    assert page.status_code == 200
    draft.refresh_from_db()
    assert dict(steps.breakdown_choices(draft)) == {"leadsource": "leadsource", "industry": "industry"}
    generated = Draft.objects.get(pk=draft.pk).definition["expression"]
    assert generated == 'result.{"date": createdtime, "value": 1}'

    answer = _step(analyst_client, draft, expression=generated, breakdown="leadsource", action="breakdown")

    assert answer.status_code == 302
    draft.refresh_from_db()
    assert wizard_drafts.breakdown_field(draft) == "leadsource"
    page = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    draft.refresh_from_db()
    expression = 'result.{"date": createdtime, "value": 1, "dimension": leadsource}'
    assert draft.definition["expression"] == expression
    html = page.content.decode()
    assert '<option value="leadsource" selected>' in html
    leads = build_dataset(seed=sandbox.dataset.seed, today=sandbox.dataset.today).records("Leads")[:100]
    for source in {lead["leadsource"] for lead in leads if lead["leadsource"]}:
        assert f"<td>{source}</td>" in html, "the preview's Dimension column"
    assert "_wizard" not in wizard_drafts.clean_definition(draft.definition)


@pytest.mark.django_db
def test_none_takes_the_dimension_out_again(analyst_client, draft):
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    _step(
        analyst_client,
        draft,
        expression='result.{"date": createdtime, "value": 1}',
        breakdown="industry",
        action="breakdown",
    )
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    draft.refresh_from_db()
    _step(analyst_client, draft, expression=draft.definition["expression"], breakdown="", action="breakdown")
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    draft.refresh_from_db()
    assert draft.definition["expression"] == 'result.{"date": createdtime, "value": 1}'


@pytest.mark.django_db
def test_a_hand_written_expression_is_kept_and_may_set_the_dimension_itself(analyst_client, draft):
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    mine = 'result.{"date": createdtime, "value": 2, "dimension": industry}'

    _step(analyst_client, draft, expression=mine, breakdown="leadsource", action="breakdown")
    page = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))

    draft.refresh_from_db()
    assert draft.definition["expression"] == mine
    assert "Your expression was edited, so it is kept" in page.content.decode()
    result = steps.evaluation(draft, mine, "UTC")
    assert {row["dimension"] for row in result["datapoints"]} > {""}


@pytest.mark.django_db
def test_a_field_that_is_not_offered_is_refused_and_nothing_is_saved(analyst_client, draft):
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    draft.refresh_from_db()
    before = draft.definition["expression"]

    page = _step(analyst_client, draft, expression=before, breakdown="createdtime", action="breakdown")

    assert page.status_code == 422
    assert "createdtime is not a text field of the response" in page.content.decode()
    draft.refresh_from_db()
    assert wizard_drafts.breakdown_field(draft) == ""
    assert draft.definition["expression"] == before


@pytest.mark.django_db
def test_next_keeps_the_chosen_breakdown_whatever_the_select_says(analyst_client, draft):
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    _step(analyst_client, draft, expression="x", breakdown="leadsource", action="breakdown")
    analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    draft.refresh_from_db()

    page = _step(analyst_client, draft, expression=draft.definition["expression"], breakdown="nonsense", action="next")

    assert page.status_code == 302
    draft.refresh_from_db()
    assert wizard_drafts.breakdown_field(draft) == "leadsource"
