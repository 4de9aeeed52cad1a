"""Save ends on the metric page with a confirmation and, by default, the new metric on the Metrics
screen and syncing; a saved or discarded draft's old URLs lead on (to the metric or the Builder)
with a message instead of a 404, and a second Save of the same draft makes no second metric.

Through the Django test client, no sandbox: the drafts are filled in from a factory metric's
definition, as the wizard's Edit does.
"""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from builder.models import ClosedDraft, Draft, Metric
from builder.wizard_drafts import _definition_of, draft_for_metric
from syncs.models import SyncState, Use
from tests.factories import MetricFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
STEPS = ("request", "date", "expression", "name")
NOT_SYNCING = "Not syncing: add it to the Metrics screen, a databoard, a goal, an alert or a scorecard."


def _text(response):
    return response.content.decode()


def _plain(html):
    """The page's words without tags or runs of white space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def _last_message(response):
    return _messages(response)[-1]


@pytest.fixture
def new_draft(analyst_user, offline_vtiger):
    """A new metric's draft, complete up to the name step (Leads by creation time, with history)."""
    template = MetricFactory(name="Template", connection=offline_vtiger, owner=analyst_user)
    definition = _definition_of(template)
    template.delete()
    definition["name"] = ""
    return Draft.objects.create(owner=analyst_user, definition=definition)


def _save(client, draft, name="New leads", **extra):
    data = {"name": name, "aggregation": "sum", "number_format": "number", "favourable_trend": "up", "action": "save"}
    data.update(extra)
    return client.post(reverse("builder:save", args=[draft.uuid]), data)


# ---------------------------------------------------------------- Save: a used metric, or how to become one


def test_the_save_step_offers_the_metrics_screen_ticked(analyst_client, new_draft):
    text = _text(analyst_client.get(reverse("builder:name", args=[new_draft.uuid])))
    box = re.search(r'<input type="checkbox" name="add_to_screen"[^>]*>', text)
    assert box is not None and "checked" in box.group(0)
    assert "Add to the Metrics screen and start syncing" in text


def test_save_confirms_and_puts_the_new_metric_on_the_metrics_screen_syncing(analyst_client, new_draft):
    # As the browser sends the ticked box: the hidden "0" and the checkbox's "1".
    saved = _save(analyst_client, new_draft, add_to_screen=["0", "1"])
    metric = Metric.objects.get(name="New leads")
    assert saved.status_code == 302 and saved["Location"] == reverse("builder:metric", args=[metric.uuid])
    assert _messages(saved) == ["Saved “New leads”. It is on the Metrics screen and its first sync is on its way."]
    assert Use.objects.filter(metric=metric, kind="screen", ref="").exists()
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.in_use and sync_state.next_sync_at is not None, "due at once"
    assert sync_state.backfill_total_windows > 0, "its history is planned"
    assert metric.name in _text(analyst_client.get(reverse("home")))


def test_save_without_the_box_field_still_puts_it_on_the_screen(analyst_client, new_draft):
    """The default is on: a client that never showed the box (the test client, a script) gets it too."""
    _save(analyst_client, new_draft)
    assert Use.objects.filter(metric__name="New leads", kind="screen").exists()


def test_unticked_the_metric_is_saved_not_syncing_and_says_how_to_start(analyst_client, new_draft):
    saved = _save(analyst_client, new_draft, add_to_screen=["0"])
    metric = Metric.objects.get(name="New leads")
    assert not Use.objects.filter(metric=metric).exists()
    assert not SyncState.objects.filter(metric=metric, in_use=True).exists()
    assert _messages(saved) == [
        "Saved “New leads”. It is not syncing yet: add it to the Metrics screen or a databoard to start."
    ]
    panel = _text(analyst_client.get(reverse("syncs:panel", args=[metric.uuid]), **HX))
    assert NOT_SYNCING in _plain(panel)
    for url in (
        reverse("syncs:screen_use", args=[metric.uuid]),
        reverse("dashboards:databoards"),
        reverse("dashboards:goals", args=[metric.uuid]),
        reverse("dashboards:alerts", args=[metric.uuid]),
        reverse("dashboards:scorecard_create"),
    ):
        assert url in panel, url
    # Its first action works: on the screen, and the notice is gone.
    after = _text(analyst_client.post(reverse("syncs:screen_use", args=[metric.uuid]), **HX))
    assert NOT_SYNCING not in _plain(after) and "Remove from Metrics screen" in after


def test_a_failed_save_keeps_the_unticked_box(analyst_client, new_draft):
    page = _save(analyst_client, new_draft, name="", add_to_screen=["0"])
    assert page.status_code == 422
    box = re.search(r'<input type="checkbox" name="add_to_screen"[^>]*>', _text(page))
    assert box is not None and "checked" not in box.group(0)


def test_editing_a_metric_changes_none_of_its_uses(analyst_client, analyst_user, offline_vtiger):
    metric = MetricFactory(name="Leads", current=True, connection=offline_vtiger)
    draft = draft_for_metric(metric, analyst_user)
    assert 'name="add_to_screen"' not in _text(analyst_client.get(reverse("builder:name", args=[draft.uuid])))
    saved = _save(analyst_client, draft, name="Leads (all)", add_to_screen=["0", "1"])
    assert _messages(saved) == ["Saved your changes to “Leads (all)”."]
    assert not Use.objects.filter(metric=metric).exists()


# ---------------------------------------------------------------- stale pages


def test_a_saved_drafts_urls_lead_to_the_metric_with_a_message(analyst_client, new_draft):
    _save(analyst_client, new_draft)
    metric = Metric.objects.get(name="New leads")
    assert not Draft.objects.filter(pk=new_draft.pk).exists()
    for step in STEPS:
        page = analyst_client.get(reverse(f"builder:{step}", args=[new_draft.uuid]))
        assert page.status_code == 302 and page["Location"] == reverse("builder:metric", args=[metric.uuid]), step
        assert _last_message(page) == "This draft was already saved as “New leads”: here it is."
    landed = analyst_client.get(reverse("builder:name", args=[new_draft.uuid]), follow=True)
    assert landed.status_code == 200 and "This draft was already saved as “New leads”" in _text(landed)


def test_saving_the_same_draft_again_makes_no_second_metric(analyst_client, new_draft):
    _save(analyst_client, new_draft)
    again = _save(analyst_client, new_draft, name="New leads 2")
    metric = Metric.objects.get(name="New leads")
    assert again.status_code == 302 and again["Location"] == reverse("builder:metric", args=[metric.uuid])
    assert Metric.objects.count() == 1 and not Draft.objects.exists()
    # Nor does the name step's own POST (Back, then Enter) bring the draft back.
    back = analyst_client.post(reverse("builder:name", args=[new_draft.uuid]), {"name": "x", "action": "back"})
    assert back.status_code == 302 and not Draft.objects.exists()


def test_htmx_requests_of_a_saved_draft_redirect_the_page(analyst_client, new_draft):
    _save(analyst_client, new_draft)
    metric = Metric.objects.get(name="New leads")
    for name in ("evaluate", "send"):
        answer = analyst_client.post(reverse(f"builder:{name}", args=[new_draft.uuid]), {"expression": "$"}, **HX)
        assert answer["HX-Redirect"] == reverse("builder:metric", args=[metric.uuid]), name


def test_a_discarded_new_draft_leads_to_the_builder(analyst_client, new_draft):
    analyst_client.post(reverse("builder:discard", args=[new_draft.uuid]))
    for step in STEPS:
        page = analyst_client.get(reverse(f"builder:{step}", args=[new_draft.uuid]))
        assert page.status_code == 302 and page["Location"] == reverse("builder:start"), step
    assert _last_message(page) == "That draft was discarded. Start a new one here."
    again = analyst_client.post(reverse("builder:discard", args=[new_draft.uuid]))
    assert again.status_code == 302 and again["Location"] == reverse("builder:start")
    assert _save(analyst_client, new_draft)["Location"] == reverse("builder:start")
    assert not Metric.objects.exists()


def test_a_discarded_edit_leads_to_its_metric_unchanged(analyst_client, analyst_user, offline_vtiger):
    metric = MetricFactory(name="Leads", current=True, connection=offline_vtiger)
    draft = draft_for_metric(metric, analyst_user)
    analyst_client.post(reverse("builder:discard", args=[draft.uuid]))
    page = analyst_client.get(reverse("builder:request", args=[draft.uuid]))
    assert page["Location"] == reverse("builder:metric", args=[metric.uuid])
    assert _last_message(page) == "That draft was discarded: “Leads” is as it was last saved."


def test_a_saved_draft_whose_metric_was_deleted_leads_to_the_builder(analyst_client, new_draft):
    _save(analyst_client, new_draft)
    Metric.objects.get(name="New leads").delete()
    page = analyst_client.get(reverse("builder:name", args=[new_draft.uuid]))
    assert page.status_code == 302 and page["Location"] == reverse("builder:start")
    assert _last_message(page) == "This draft was saved as “New leads”, which has since been deleted. Start a new one."


def test_another_users_saved_draft_stays_404(client, admin_user, new_draft):
    client.force_login(new_draft.owner)
    _save(client, new_draft)
    assert ClosedDraft.objects.filter(uuid=new_draft.uuid).exists()
    client.force_login(admin_user)
    for step in STEPS:
        assert client.get(reverse(f"builder:{step}", args=[new_draft.uuid])).status_code == 404
    assert _save(client, new_draft).status_code == 404


def test_step_pages_are_not_kept_by_the_browser(analyst_client, new_draft):
    """So Browser Back after Save asks the server again, and is sent to the metric."""
    for step in STEPS:
        page = analyst_client.get(reverse(f"builder:{step}", args=[new_draft.uuid]))
        assert page.status_code == 200 and "no-store" in page["Cache-Control"], step


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_one_draft_at_once_make_one_metric(analyst_user, offline_vtiger):
    """A double click, or Back and Save in a second tab: the second Save waits for the first and is
    sent to the metric it made."""
    import threading

    from django.db import connection
    from django.test import Client

    template = MetricFactory(name="Template", connection=offline_vtiger, owner=analyst_user)
    definition = _definition_of(template)
    template.delete()
    draft = Draft.objects.create(owner=analyst_user, definition=definition)
    start = threading.Barrier(2)
    answers = []

    def press_save():
        client = Client()
        client.force_login(analyst_user)
        start.wait()
        try:
            answers.append(_save(client, draft))
        finally:
            connection.close()

    threads = [threading.Thread(target=press_save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metric = Metric.objects.get()
    assert [(a.status_code, a["Location"]) for a in answers] == [
        (302, reverse("builder:metric", args=[metric.uuid]))
    ] * 2
    assert not Draft.objects.exists()
