"""Driving the wizard's Send request from a test client, as the request step's form posts it."""

from django.urls import reverse


def send_query(client, draft, query):
    """Post the request step's Send with one `query` parameter; the draft comes back with its response."""
    data = {
        "connection": draft.definition["connection"],
        "endpoint": draft.definition["request"]["endpoint"],
        "method": "GET",
        "pagination": "none",
        "pagination_options": "",
        "preview_range": draft.preview_range,
        "body": "",
        "params-TOTAL_FORMS": "1",
        "params-0-key": "query",
        "params-0-value": query,
    }
    client.post(reverse("builder:send", args=[draft.uuid]), data)
    draft.refresh_from_db()
    assert draft.response is not None
