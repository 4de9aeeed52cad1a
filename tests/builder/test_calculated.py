"""Calculated metrics: the model and its cycles, the page (new, edit, delete refused), the metric
page, syncs (never synced itself, its inputs in use), exports and imports, and the gallery."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.urls import reverse

from builder import definitions, gallery, portability
from builder.models import Kind, Metric, MetricInput
from syncs import dispatcher, uses
from syncs.models import SyncState, Use
from tests.factories import MetricFactory


def url(name, *args):
    return reverse(f"builder:{name}", args=args)


def calculated(name, formula, inputs, **extra):
    metric = Metric.objects.create(name=name, kind=Kind.CALCULATED, formula=formula, **extra)
    metric.set_inputs(inputs)
    return metric


@pytest.fixture
def won(db):
    return MetricFactory(name="Deals won", aggregation="count")


@pytest.fixture
def created(db):
    return MetricFactory(name="Deals created", aggregation="count")


@pytest.fixture
def rate(won, created):
    return calculated("Win rate", "won / created * 100", [("won", won), ("created", created)], number_format="percent")


# ---------------------------------------------------------------- model


def test_a_calculated_metric_has_no_request(rate, won, created):
    rate.refresh_from_db()
    assert rate.is_calculated and rate.connection is None and rate.endpoint == "" and rate.expression == ""
    assert rate.request_spec is None
    assert rate.input_pairs() == [("won", won), ("created", created)]
    assert rate.api_sources() == [won, created]
    assert won.needed_by() == [rate]
    assert rate.get_aggregation_display() == "Calculated from its inputs"
    assert won.request_spec["endpoint"] == "query"


def test_definition_hash_follows_formula_and_inputs(rate, won):
    before = rate.definition_hash()
    rate.formula = "won / created"
    assert rate.definition_hash() != before
    rate.formula = "won / created * 100"
    assert rate.definition_hash() == before
    rate.set_inputs([("won", won), ("created", won)])
    assert rate.definition_hash() != before


def test_copy_keeps_the_inputs(rate, won, created):
    duplicate = rate.copy(name="Win rate 2", owner=None)
    assert duplicate.is_calculated and duplicate.formula == rate.formula
    assert duplicate.input_pairs() == [("won", won), ("created", created)]


def test_cycles_are_refused_with_a_clear_message(rate, won):
    loss = calculated("Loss rate", "100 - rate", [("rate", rate)])
    with pytest.raises(ValidationError) as caught:
        rate.set_inputs([("won", won), ("created", loss)])
    message = " ".join(caught.value.messages)
    assert "“Loss rate” cannot be an input" in message and "cycle" in message
    assert [name for name, _ in rate.input_pairs()] == ["won", "created"]  # nothing changed
    with pytest.raises(ValidationError, match="input of itself"):
        rate.set_inputs([("won", rate)])
    with pytest.raises(ValidationError, match="cycle"):
        MetricInput(metric=rate, source=loss, name="loss").save()


def test_inputs_are_checked(rate, won, created):
    others = [MetricFactory(name=f"Other {n}") for n in range(5)]
    cases = [
        ([], "at least one input"),
        ([(f"m{n}", m) for n, m in enumerate(others)] + [("won", won)], "at most 5 inputs"),
        ([("won", won), ("won", created)], "Two inputs are named “won”"),
        ([("1won", won)], "cannot name an input"),
        ([("won", won)], "Unknown input created"),
    ]
    for pairs, message in cases:
        with pytest.raises(ValidationError) as caught:
            rate.set_inputs(pairs)
        assert any(message in text for text in caught.value.messages), caught.value.messages


def test_an_input_cannot_be_deleted_while_needed(rate, won):
    with pytest.raises(ProtectedError):
        won.delete()
    rate.delete()
    won.delete()


# ---------------------------------------------------------------- pages


def form_data(**extra):
    data = {"name": "Win rate", "formula": "won / created * 100", "number_format": "percent", "currency": "USD"}
    data.update(favourable_trend="up", description="Won over created")
    data.update(extra)
    return data


def test_new_calculated_metric_page(analyst_client, won, created):
    page = analyst_client.get(url("calculated_new"))
    assert page.status_code == 200
    assert "Deals won" in page.content.decode()
    data = form_data(input_1_metric=str(won.uuid), input_1_name="won", input_2_metric=str(created.uuid))
    data["formula"] = "won / deals_created * 100"  # the second name is suggested from the metric's
    response = analyst_client.post(url("calculated_new"), data)
    metric = Metric.objects.get(name="Win rate")
    assert response.status_code == 302 and response.url == url("metric", metric.uuid)
    assert metric.is_calculated and metric.number_format == "percent"
    assert metric.input_pairs() == [("won", won), ("deals_created", created)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"formula": "won / lost"}, "Unknown input lost: the inputs are won."),
        ({"formula": "won / (2"}, "never closed"),
        ({"formula": ""}, "This field is required."),
        ({"input_1_metric": ""}, "Choose at least one input metric."),
        ({"input_2_name": "x"}, "Choose the metric that x stands for."),
        ({"name": "Deals won"}, "already exists"),
    ],
)
def test_bad_input_gets_a_message_and_saves_nothing(analyst_client, won, extra, message):
    data = form_data(input_1_metric=str(won.uuid), input_1_name="won", formula="won * 2")
    data.update(extra)
    response = analyst_client.post(url("calculated_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Metric.objects.filter(kind=Kind.CALCULATED).exists()


def test_edit_refuses_a_cycle(analyst_client, rate, won):
    loss = calculated("Loss rate", "100 - rate", [("rate", rate)])
    data = form_data(input_1_metric=str(won.uuid), input_1_name="won", input_2_metric=str(loss.uuid))
    data["input_2_name"] = "created"
    response = analyst_client.post(url("calculated_edit", rate.uuid), data)
    assert response.status_code == 400
    assert "would make a cycle" in response.content.decode()
    assert [source for _, source in rate.input_pairs()][1].name == "Deals created"


def test_edit_changes_the_formula(analyst_client, rate, won, created):
    page = analyst_client.get(url("calculated_edit", rate.uuid))
    assert page.status_code == 200 and "won / created * 100" in page.content.decode()
    data = form_data(
        input_1_metric=str(won.uuid), input_1_name="won", input_2_metric=str(created.uuid), input_2_name="created"
    )
    data["formula"] = "won ÷ created"
    assert analyst_client.post(url("calculated_edit", rate.uuid), data).status_code == 302
    rate.refresh_from_db()
    assert rate.formula == "won ÷ created"
    # The wizard's Edit of a calculated metric leads here.
    assert analyst_client.post(url("metric_edit", rate.uuid)).url == url("calculated_edit", rate.uuid)


def test_metric_page_shows_formula_and_inputs(analyst_client, rate, won):
    body = analyst_client.get(url("metric", rate.uuid)).content.decode()
    assert "won / created * 100" in body
    assert url("metric", won.uuid) in body
    assert "JSONata expression" not in body and "Method and endpoint" not in body
    input_page = analyst_client.get(url("metric", won.uuid)).content.decode()
    assert "Used as an input of" in input_page and "Win rate" in input_page
    listing = analyst_client.get(url("metric_list")).content.decode()
    assert url("calculated_new") in listing
    assert url("calculated_new") in analyst_client.get(url("start")).content.decode()


def test_delete_is_refused_while_needed(analyst_client, rate, won):
    page = analyst_client.get(url("metric_delete", won.uuid))
    body = page.content.decode()
    assert "cannot be deleted" in body and "Win rate" in body and "Delete metric" not in body
    response = analyst_client.post(url("metric_delete", won.uuid))
    assert response.status_code == 409
    assert Metric.objects.filter(pk=won.pk).exists()
    assert analyst_client.post(url("metric_delete", rate.uuid)).status_code == 302
    assert analyst_client.post(url("metric_delete", won.uuid)).status_code == 302
    assert not Metric.objects.filter(pk=won.pk).exists()


def test_admin_refuses_to_delete_a_needed_input(client, django_user_model, rate, won):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    response = client.post(reverse("admin:builder_metric_delete", args=[won.pk]), {"post": "yes"}, follow=True)
    assert "cannot be deleted while calculated metrics are made from it: “Win rate”" in response.content.decode()
    assert Metric.objects.filter(pk=won.pk).exists()


def test_pages_are_for_members(client, outsider_user, rate):
    for target in [url("calculated_new"), url("calculated_edit", rate.uuid)]:
        assert client.get(target).status_code == 302  # to the login
        client.force_login(outsider_user)
        assert client.get(target).status_code == 403
        assert client.post(target, form_data()).status_code == 403
        client.logout()
    assert Metric.objects.filter(kind=Kind.CALCULATED).count() == 1


def test_edit_of_a_fetched_metric_is_not_here(analyst_client, won):
    assert analyst_client.get(url("calculated_edit", won.uuid)).status_code == 404


# ---------------------------------------------------------------- syncs


def test_using_it_puts_its_inputs_in_use_and_never_syncs_it(rate, won, created):
    other = MetricFactory(name="Other")
    uses.add_use(rate, "screen")
    states = {s.metric_id: s for s in SyncState.objects.all()}
    assert states[won.pk].in_use and states[created.pk].in_use
    assert rate.pk not in states and other.pk not in states
    # Even a sync state somebody made for it in use is never claimed.
    SyncState.objects.create(metric=rate, in_use=True, next_sync_at=states[won.pk].next_sync_at)
    claimed = dispatcher.dispatch()
    assert set(claimed) == {won.pk, created.pk}


def test_removing_the_last_use_takes_inputs_out_unless_otherwise_used(rate, won, created):
    size = calculated("Won per created", "won / created", [("won", won), ("created", created)])
    uses.add_use(rate, "screen")
    uses.add_use(rate, "databoard", 3)
    uses.add_use(size, "goal", 1)
    uses.add_use(created, "screen")
    assert uses.remove_use(rate, "screen") is False
    assert uses.remove_use(rate, "databoard", 3) is True
    # won is still needed by size, created is used itself.
    assert SyncState.objects.get(metric=won).in_use and SyncState.objects.get(metric=created).in_use
    assert uses.remove_use(size, "goal", 1) is True
    assert not SyncState.objects.get(metric=won).in_use
    assert SyncState.objects.get(metric=created).in_use
    # A plain metric still an input of one in use keeps syncing when its own last use goes.
    uses.add_use(rate, "screen")
    assert uses.remove_use(created, "screen") is False
    assert SyncState.objects.get(metric=created).in_use


def test_the_syncs_panel_says_it_is_calculated(analyst_client, rate):
    uses.add_use(rate, "screen")
    body = analyst_client.get(reverse("syncs:panel", args=[rate.uuid])).content.decode()
    assert "calculated from its inputs: it is never synced itself" in body
    assert "Deals won" in body and "Active" in body
    assert "Sync now" not in body
    analyst_client.post(reverse("syncs:sync_now", args=[rate.uuid]))
    assert not SyncState.objects.filter(metric=rate).exists()
    assert Use.objects.filter(metric=rate).count() == 1


def test_saving_new_inputs_of_one_in_use_puts_them_in_use(analyst_client, rate, won):
    uses.add_use(rate, "screen")
    lost = MetricFactory(name="Deals lost", aggregation="count")
    data = form_data(
        input_1_metric=str(won.uuid), input_1_name="won", input_2_metric=str(lost.uuid), input_2_name="lost"
    )
    data["formula"] = "won / (won + lost) * 100"
    assert analyst_client.post(url("calculated_edit", rate.uuid), data).status_code == 302
    assert SyncState.objects.get(metric=lost).in_use


# ---------------------------------------------------------------- export and import


def test_export_names_the_inputs(rate):
    definition = definitions.from_metric(rate)
    assert definition["kind"] == "calculated"
    assert definition["inputs"] == [
        {"name": "won", "metric": "Deals won"},
        {"name": "created", "metric": "Deals created"},
    ]
    assert "request" not in definition and "connection" not in definition


def test_export_brings_the_inputs_along(rate, won, created, analyst_client):
    loss = calculated("Loss rate", "100 - rate", [("rate", rate)])
    names = [item["name"] for item in portability.export_document([loss])["metrics"]]
    assert names == ["Loss rate", "Win rate", "Deals won", "Deals created"]
    download = analyst_client.get(url("export") + f"?metric={loss.uuid}")
    assert [item["name"] for item in json.loads(download.content)["metrics"]] == names


def test_import_brings_inputs_from_the_same_document(rate, won, created):
    document = portability.export_document([rate, won, created])  # the calculated one first
    Metric.objects.filter(kind=Kind.CALCULATED).delete()
    Metric.objects.all().delete()
    result = portability.import_document(document)
    assert result.ok, result.errors
    imported = Metric.objects.get(name="Win rate")
    assert [(name, source.name) for name, source in imported.input_pairs()] == [
        ("won", "Deals won"),
        ("created", "Deals created"),
    ]


def test_import_follows_renamed_inputs(rate, won, created):
    document = portability.export_document([rate, won, created])
    result = portability.import_document(document, rename=True)
    assert result.ok, result.errors
    copy = Metric.objects.get(name="Win rate (copy)")
    assert [source.name for _, source in copy.input_pairs()] == ["Deals won (copy)", "Deals created (copy)"]


def test_import_uses_existing_inputs_and_refuses_missing_ones(rate, won, created):
    document = portability.export_document([rate], with_inputs=False)
    assert len(document["metrics"]) == 1
    document["metrics"][0]["name"] = "Win rate again"
    result = portability.import_document(document)
    assert result.ok, result.errors
    document["metrics"][0]["name"] = "Win rate third"
    document["metrics"][0]["inputs"][1]["metric"] = "Deals nowhere"
    result = portability.import_document(document)
    assert not result.ok
    assert (
        "metrics[0].inputs[1].metric",
        "No metric is named 'Deals nowhere': import it too (in the same file) or create it first.",
    ) in result.errors
    assert not Metric.objects.filter(name="Win rate third").exists()


def test_import_refuses_a_cycle_and_a_bad_formula(db):
    def item(name, formula, source):
        return {"name": name, "kind": "calculated", "formula": formula, "inputs": [{"name": "x", "metric": source}]}

    document = {"format": portability.FORMAT, "metrics": [item("A", "x", "B"), item("B", "x", "A")]}
    result = portability.import_document(document)
    assert not result.ok and "cycle" in result.errors[0][1]
    document = {"format": portability.FORMAT, "metrics": [item("A", "x / y", "Nothing")]}
    errors = dict(portability.import_document(document).errors)
    assert "Unknown input y" in errors["metrics[0].formula"]
    assert "Nothing" in errors["metrics[0].inputs[0].metric"]
    assert not Metric.objects.exists()


# ---------------------------------------------------------------- gallery


def test_gallery_win_rate_creates_its_missing_inputs(offline_vtiger):
    won = gallery.create_metric("deals-won-count", offline_vtiger)
    won.name = "Won deals, renamed"
    won.save()
    rate = gallery.create_metric("win-rate", offline_vtiger)
    assert rate.is_calculated and rate.number_format == "percent"
    pairs = rate.input_pairs()
    assert [name for name, _ in pairs] == ["won", "lost"]
    assert pairs[0][1] == won  # reused
    assert pairs[1][1].name == "Deals lost" and pairs[1][1].connection == offline_vtiger  # created
    size = gallery.create_metric("average-deal-size", offline_vtiger)
    assert size.number_format == "currency" and size.currency == "USD"
    assert [source.name for _, source in size.input_pairs()] == ["Deals won (amount)", "Won deals, renamed"]
    assert Metric.objects.filter(kind=Kind.API).count() == 3


def test_gallery_page_offers_the_calculated_items(analyst_client, offline_vtiger):
    body = analyst_client.get(url("gallery") + f"?connection={offline_vtiger.uuid}").content.decode()
    assert "Win rate" in body and "Average deal size" in body
    response = analyst_client.post(url("gallery_create", "win-rate"), {"connection": str(offline_vtiger.uuid)})
    assert response.status_code == 302
    assert Metric.objects.get(name="Win rate").is_calculated
