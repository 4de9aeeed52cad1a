"""Wizard drafts: starting one, opening a saved metric in one, closing one, and the defaults they begin with.

A draft's ``definition`` is the metric definition dict of product.md, with ``connection`` holding
the connection's uuid. The wizard keeps its own helper state (the VTQL helper's choices) under
``definition["_wizard"]``, which is dropped before a definition is validated or saved.
"""

from __future__ import annotations

import copy

from builder import definitions
from builder.models import ClosedDraft, DateMode, Draft, Metric
from connections.models import Connection

WIZARD_KEY = "_wizard"
# The JSONata step's "Break down by" choice: the field the generated expression takes its
# "dimension" from ("" for none). Wizard state, like the Date step's default: dropped on save.
BREAKDOWN_KEY = "breakdown"


def default_definition(connection: Connection | None) -> dict:
    vtiger = connection is not None and connection.is_vtiger
    pagination = connection.integration_module.default_pagination if connection is not None else "none"
    return {
        "name": "",
        "description": "",
        "connection": str(connection.uuid) if connection is not None else "",
        "request": {
            "method": "GET",
            "endpoint": "query" if vtiger else "",
            "params": [["query", ""]] if vtiger else [],
            "headers": [],
            "body": None,
            "pagination": {"type": pagination},
        },
        "date": {
            "mode": DateMode.NONE.value,
            "format": "",
            "timezone": connection.data_timezone if connection else "UTC",
        },
        "expression": "",
        "aggregation": "sum",
        "number_format": "number",
        "favourable_trend": "up",
        "sync": {"interval_minutes": 60, "window_days": 7, "history_days": 365},
    }


def new_draft(user, connection: Connection | None) -> Draft:
    return Draft.objects.create(owner=user, definition=default_definition(connection))


def _definition_of(metric: Metric) -> dict:
    definition = copy.deepcopy(definitions.from_metric(metric))
    # In a draft, the connection is its uuid (export files carry its name).
    definition["connection"] = str(metric.connection.uuid) if metric.connection_id else ""
    return definition


def draft_for_metric(metric: Metric, user) -> Draft:
    """A new draft, owned by ``user``, that edits ``metric``: saving it updates the metric."""
    return Draft.objects.create(owner=user, metric=metric, definition=_definition_of(metric))


def close_draft(draft: Draft, outcome: str, metric: Metric | None = None) -> None:
    """Delete the draft and remember what it became, for its old URLs (Browser Back, bookmarks)."""
    metric = metric or draft.metric
    ClosedDraft.objects.update_or_create(
        uuid=draft.uuid,
        defaults={
            "owner": draft.owner,
            "metric": metric,
            "metric_name": metric.name if metric else "",
            "outcome": outcome,
        },
    )
    draft.delete()


def clean_definition(definition: dict) -> dict:
    """The definition without the wizard's own state."""
    return {key: value for key, value in (definition or {}).items() if key != WIZARD_KEY}


def breakdown_field(draft: Draft) -> str:
    """The field the JSONata step's generated expression breaks the metric down by, or ""."""
    return str(((draft.definition or {}).get(WIZARD_KEY) or {}).get(BREAKDOWN_KEY) or "")


def choose_breakdown(draft: Draft, field: str) -> None:
    """Keep the "Break down by" choice on the draft (not saved: the caller saves)."""
    draft.definition.setdefault(WIZARD_KEY, {})[BREAKDOWN_KEY] = field or ""
