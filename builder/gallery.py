"""Pre-built Vtiger metrics: ready definitions that create a metric in one click.

Each item is a metric definition in the format of ``builder.definitions`` without its
``connection`` (the analyst picks a Vtiger connection in the gallery). Every request is a VTQL
``query`` paged the Vtiger way (``LIMIT offset,100`` until an empty page), ordered by ``id`` so
pages never overlap, with the window written as dynamic date placeholders: date columns
(``closingdate``, ``invoicedate``) as ``'{{start:YYYY-MM-DD}}'``, datetime columns
(``createdtime``, ``modifiedtime``) as ``'{{start:YYYY-MM-DD HH:mm:ss}}'``; both ends inclusive.

Expressions are written for the merged response (``builder.pagination.Pager.merged``: the first
page's envelope with every page's records in ``result``) and return either one datapoint per
record (``[{"date", "value", "dimension"?}]``, date from the record) or, for snapshots of what
is open now, one value per sync (``date.mode == "dynamic"``, aggregated with ``latest``).

Calculated items (``CALCULATED_ITEMS``: Win rate, Average deal size) are made from the gallery's
own items: creating one on a connection reuses the metrics of those items already on it (the same
definition) and creates the missing ones.

Public API
    ``ITEMS``                      the gallery's fetched metrics, in display order (tuple of ``Item``)
    ``CALCULATED_ITEMS``           the calculated ones (tuple of ``CalculatedItem``)
    ``get(slug) -> Item | None``
    ``definition(slug_or_item, connection_name) -> dict``  a full definition, ready for
                                   ``definitions.validate``
    ``create_metric(slug, connection, *, owner=None) -> Metric``  validates, gives the metric a
                                   unique name (``definitions.unique_name``) and saves it;
                                   ``GalleryError`` when the item or connection is unusable.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db import transaction

from builder import definitions
from builder.models import DateMode, Kind, Metric

DATE = "YYYY-MM-DD"
DATETIME = "YYYY-MM-DD HH:mm:ss"
FIELD_SYNC = {"interval_minutes": 60, "window_days": 7, "history_days": 365}
SNAPSHOT_SYNC = {"interval_minutes": 60, "window_days": 0, "history_days": 0}


class GalleryError(ValueError):
    """A gallery item that cannot be created (unknown slug, wrong connection, invalid definition)."""


@dataclass(frozen=True)
class Item:
    slug: str
    module: str  # the Vtiger module it reads, for the gallery card
    definition: dict  # without "connection"

    @property
    def name(self) -> str:
        return self.definition["name"]

    @property
    def description(self) -> str:
        return self.definition["description"]

    @property
    def query(self) -> str:
        return dict(self.definition["request"]["params"])["query"]


@dataclass(frozen=True)
class CalculatedItem:
    slug: str
    name: str
    description: str
    formula: str
    inputs: tuple[tuple[str, str], ...]  # (name in the formula, slug of a gallery item)
    number_format: str = "number"
    currency: str | None = None
    trend: str = "up"

    @property
    def input_items(self) -> list[Item]:
        return [_BY_SLUG[slug] for _, slug in self.inputs]

    @property
    def explained(self) -> str:
        """The formula with the inputs' names: "won / (won + lost) * 100, where won is Deals won, ..."."""
        parts = ", ".join(f"{name} is {_BY_SLUG[slug].name}" for name, slug in self.inputs)
        return f"{self.formula}, where {parts}"


def _window(field: str, fmt: str) -> str:
    return f"{field} >= '{{{{start:{fmt}}}}}' AND {field} <= '{{{{end:{fmt}}}}}'"


def _query(module: str, fields: str, where: str) -> str:
    # VTQL text for Vtiger built from the constants below, not SQL run here.
    return f"SELECT {fields} FROM {module} WHERE {where} ORDER BY id;"  # noqa: S608


def _item(
    slug: str,
    module: str,
    name: str,
    description: str,
    query: str,
    expression: str,
    *,
    date: dict,
    aggregation: str = "sum",
    number_format: str = "number",
    currency: str | None = None,
    trend: str = "up",
) -> Item:
    snapshot = date["mode"] == DateMode.DYNAMIC
    return Item(
        slug=slug,
        module=module,
        definition={
            "name": name,
            "description": description,
            "request": {
                "method": "GET",
                "endpoint": "query",
                "params": [["query", query]],
                "headers": [],
                "body": None,
                "pagination": {"type": "vtiger"},
            },
            "date": date,
            "expression": expression,
            "aggregation": aggregation,
            "number_format": number_format,
            **({"currency": currency} if currency else {}),
            "favourable_trend": trend,
            "sync": dict(SNAPSHOT_SYNC if snapshot else FIELD_SYNC),
        },
    )


def _by(field: str, fmt: str) -> dict:
    return {"mode": DateMode.FIELD.value, "format": fmt, "timezone": "UTC", "field": field}


DYNAMIC = {"mode": DateMode.DYNAMIC.value}
OPEN_STAGES = "sales_stage != 'Closed Won' AND sales_stage != 'Closed Lost'"

ITEMS: tuple[Item, ...] = (
    _item(
        "new-leads",
        "Leads",
        "New leads",
        "Leads created, counted by creation time.",
        _query("Leads", "id, createdtime", _window("createdtime", DATETIME)),
        'result.{"date": createdtime, "value": 1}',
        date=_by("createdtime", DATETIME),
    ),
    _item(
        "leads-by-source",
        "Leads",
        "Leads by source",
        "Leads created, counted by creation time, split by lead source.",
        _query("Leads", "id, createdtime, leadsource", _window("createdtime", DATETIME)),
        'result.{"date": createdtime, "value": 1, "dimension": leadsource ? leadsource : "No source"}',
        date=_by("createdtime", DATETIME),
    ),
    _item(
        "new-contacts",
        "Contacts",
        "New contacts",
        "Contacts created, counted by creation time.",
        _query("Contacts", "id, createdtime", _window("createdtime", DATETIME)),
        'result.{"date": createdtime, "value": 1}',
        date=_by("createdtime", DATETIME),
    ),
    _item(
        "new-accounts",
        "Accounts",
        "New organizations",
        "Organizations (accounts) created, counted by creation time.",
        _query("Accounts", "id, createdtime", _window("createdtime", DATETIME)),
        'result.{"date": createdtime, "value": 1}',
        date=_by("createdtime", DATETIME),
    ),
    _item(
        "deals-created",
        "Potentials",
        "Deals created",
        "Deals (opportunities) created, counted by creation time.",
        _query("Potentials", "id, createdtime", _window("createdtime", DATETIME)),
        'result.{"date": createdtime, "value": 1}',
        date=_by("createdtime", DATETIME),
    ),
    _item(
        "deals-won-count",
        "Potentials",
        "Deals won",
        "Deals in the stage Closed Won, counted by closing date.",
        _query("Potentials", "id, closingdate", f"sales_stage = 'Closed Won' AND {_window('closingdate', DATE)}"),
        'result.{"date": closingdate, "value": 1}',
        date=_by("closingdate", DATE),
    ),
    _item(
        "deals-won-amount",
        "Potentials",
        "Deals won (amount)",
        "Sum of won deal amounts by closing date.",
        _query(
            "Potentials", "id, amount, closingdate", f"sales_stage = 'Closed Won' AND {_window('closingdate', DATE)}"
        ),
        'result.{"date": closingdate, "value": $number(amount)}',
        date=_by("closingdate", DATE),
        number_format="currency",
        currency="USD",  # Vtiger amounts are in the CRM's base currency, USD on the sandbox
    ),
    _item(
        "average-deal-won",
        "Potentials",
        "Average won deal size",
        "Average amount of the deals won, by closing date.",
        _query(
            "Potentials", "id, amount, closingdate", f"sales_stage = 'Closed Won' AND {_window('closingdate', DATE)}"
        ),
        'result.{"date": closingdate, "value": $number(amount)}',
        date=_by("closingdate", DATE),
        aggregation="average",
        number_format="currency",
        currency="USD",  # Vtiger amounts are in the CRM's base currency, USD on the sandbox
    ),
    _item(
        "deals-lost",
        "Potentials",
        "Deals lost",
        "Deals in the stage Closed Lost, counted by closing date.",
        _query("Potentials", "id, closingdate", f"sales_stage = 'Closed Lost' AND {_window('closingdate', DATE)}"),
        'result.{"date": closingdate, "value": 1}',
        date=_by("closingdate", DATE),
        trend="down",
    ),
    _item(
        "open-pipeline-by-stage",
        "Potentials",
        "Open pipeline by stage",
        "Total amount of the deals not yet won or lost, by sales stage, as of each sync.",
        _query("Potentials", "id, amount, sales_stage", OPEN_STAGES),
        # Grouping an empty result would give one bogus group, hence the guard.
        "$exists(result[0]) ? $each(result{sales_stage: $sum($.$number(amount))}, "
        'function($v, $k) {{"dimension": $k, "value": $v}}) : []',
        date=DYNAMIC,
        aggregation="latest",
        number_format="currency",
        currency="USD",  # Vtiger amounts are in the CRM's base currency, USD on the sandbox
    ),
    _item(
        "new-tickets",
        "HelpDesk",
        "New tickets",
        "Support tickets created, counted by creation time.",
        _query("HelpDesk", "id, createdtime", _window("createdtime", DATETIME)),
        'result.{"date": createdtime, "value": 1}',
        date=_by("createdtime", DATETIME),
        trend="down",
    ),
    _item(
        "open-tickets",
        "HelpDesk",
        "Open tickets",
        "Support tickets not closed, as of each sync.",
        _query("HelpDesk", "id, ticketstatus", "ticketstatus != 'Closed'"),
        "$count(result)",
        date=DYNAMIC,
        aggregation="latest",
        trend="down",
    ),
    _item(
        "open-tickets-by-priority",
        "HelpDesk",
        "Open tickets by priority",
        "Support tickets not closed, by priority, as of each sync.",
        _query("HelpDesk", "id, ticketpriorities", "ticketstatus != 'Closed'"),
        '$exists(result[0]) ? $each(result{(ticketpriorities ? ticketpriorities : "No priority"): $count($)}, '
        'function($v, $k) {{"dimension": $k, "value": $v}}) : []',
        date=DYNAMIC,
        aggregation="latest",
        trend="down",
    ),
    _item(
        "closed-tickets",
        "HelpDesk",
        "Closed tickets",
        "Support tickets in the status Closed, counted by their last change (Vtiger keeps no closing date).",
        _query("HelpDesk", "id, modifiedtime", f"ticketstatus = 'Closed' AND {_window('modifiedtime', DATETIME)}"),
        'result.{"date": modifiedtime, "value": 1}',
        date=_by("modifiedtime", DATETIME),
    ),
    _item(
        "invoiced-revenue",
        "Invoice",
        "Invoiced revenue",
        "Grand total of invoices by invoice date, cancelled and credit invoices left out.",
        _query(
            "Invoice",
            "id, hdnGrandTotal, invoicedate",
            f"invoicestatus != 'Cancel' AND invoicestatus != 'Credit Invoice' AND {_window('invoicedate', DATE)}",
        ),
        'result.{"date": invoicedate, "value": $number(hdnGrandTotal)}',
        date=_by("invoicedate", DATE),
        number_format="currency",
        currency="USD",  # Vtiger amounts are in the CRM's base currency, USD on the sandbox
    ),
    _item(
        "invoices-paid",
        "Invoice",
        "Paid invoices",
        "Invoices in the status Paid, counted by invoice date.",
        _query("Invoice", "id, invoicedate", f"invoicestatus = 'Paid' AND {_window('invoicedate', DATE)}"),
        'result.{"date": invoicedate, "value": 1}',
        date=_by("invoicedate", DATE),
    ),
)

CALCULATED_ITEMS: tuple[CalculatedItem, ...] = (
    CalculatedItem(
        "win-rate",
        "Win rate",
        "Deals won out of the deals closed (won or lost), by closing date, in percent.",
        "won / (won + lost) * 100",
        (("won", "deals-won-count"), ("lost", "deals-lost")),
        number_format="percent",
    ),
    CalculatedItem(
        "average-deal-size",
        "Average deal size",
        "The amount won divided by the number of deals won, by closing date.",
        "won_amount / won_count",
        (("won_amount", "deals-won-amount"), ("won_count", "deals-won-count")),
        number_format="currency",
        currency="USD",  # Vtiger amounts are in the CRM's base currency, USD on the sandbox
    ),
)

_BY_SLUG = {item.slug: item for item in ITEMS}
_CALCULATED_BY_SLUG = {item.slug: item for item in CALCULATED_ITEMS}


def get(slug: str) -> Item | CalculatedItem | None:
    return _BY_SLUG.get(slug) or _CALCULATED_BY_SLUG.get(slug)


def definition(item: str | Item, connection_name: str) -> dict:
    """The item's full definition for a connection (a deep copy: callers may change it)."""
    item = item if isinstance(item, Item) else _BY_SLUG[item]
    result = copy.deepcopy(item.definition)
    return {
        "name": result.pop("name"),
        "description": result.pop("description"),
        "connection": connection_name,
        **result,
    }


def create_metric(slug: str, connection, *, owner=None):
    """Create the item's metric on ``connection`` (a Vtiger one), named uniquely; returns it, saved.

    A calculated item reuses its inputs' metrics already on the connection and creates the others."""
    item = get(slug)
    if item is None:
        raise GalleryError(f"There is no pre-built metric {slug!r}.")
    if connection is None or not connection.is_vtiger:
        raise GalleryError("Pre-built metrics need a Vtiger connection.")
    if isinstance(item, CalculatedItem):
        return _create_calculated(item, connection, owner)
    return _create_fetched(item, connection, owner)


def _create_fetched(item: Item, connection, owner):
    cleaned, errors = definitions.validate(definition(item, connection.name), connection_lookup=lambda _: connection)
    if errors:  # a bug in ITEMS, which tests catch; say so plainly rather than crash
        raise GalleryError("; ".join(f"{path}: {message}" for path, message in errors))
    with transaction.atomic():
        cleaned["name"] = definitions.unique_name(cleaned["name"])
        metric = definitions.to_metric(cleaned, owner=owner)
        metric.save()
    return metric


def existing_metric(item: Item, connection):
    """A metric on ``connection`` with the item's definition (whatever its name), or None."""
    cleaned, errors = definitions.validate(definition(item, connection.name), connection_lookup=lambda _: connection)
    if errors:
        return None
    wanted = definitions.to_metric(cleaned).definition_hash()
    for metric in Metric.objects.filter(connection=connection, kind=Kind.API):
        if metric.definition_hash() == wanted:
            return metric
    return None


def _create_calculated(item: CalculatedItem, connection, owner):
    with transaction.atomic():
        pairs = []
        for (name, _), input_item in zip(item.inputs, item.input_items, strict=True):
            source = existing_metric(input_item, connection) or _create_fetched(input_item, connection, owner)
            pairs.append((name, source))
        metric = Metric(
            kind=Kind.CALCULATED,
            owner=owner,
            name=definitions.unique_name(item.name),
            description=item.description,
            formula=item.formula,
            number_format=item.number_format,
            favourable_trend=item.trend,
        )
        if item.currency:
            metric.currency = item.currency
        metric.save()
        metric.set_inputs(pairs)
    return metric
