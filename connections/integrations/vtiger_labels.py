"""What Vtiger references read as: ``19x5`` -> "Ada Admin", ``11x42`` -> "Acme Ltd".

Both Vtiger integrations (the Cloud REST API and self-hosted webservice.php) answer the same
operations through ``Client.request``, so one lookup serves both:

1. ``listtypes``, then ``describe`` of the modules references usually point at (Users, Accounts,
   Contacts, ...) until every id prefix is matched to a module by its ``idPrefix`` (never
   hard-coded: it differs by install); describe's ``labelFields`` names the fields a record's
   label is made of (``first_name,last_name``; ``accountname``).
2. ``SELECT <label fields> FROM <Module> WHERE id IN ('19x1', ...);`` in batches of 100 ids, the
   query's row cap. A module whose label fields are not among its fields is read record by
   record with ``retrieve``, whose answer carries a ``label``.

``request(endpoint, params)`` sends one GET and returns its Response (``connections.references``
passes one that spends the connection's rate budget). Ids are checked against ``NxM`` before
they are written into a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from connections.errors import VtigerError

REFERENCE_RE = re.compile(r"^([0-9]{1,9})x([0-9]{1,18})$")
BATCH_SIZE = 100  # VTQL returns at most 100 rows
# The modules a reference field refers to (describe's refersTo, owner fields), most common first;
# only these are described to find a prefix, so an unknown prefix costs a bounded number of calls.
REFERENCED_MODULES = (
    "Users",
    "Groups",
    "Accounts",
    "Contacts",
    "Leads",
    "Potentials",
    "Products",
    "Services",
    "Vendors",
    "Campaigns",
    "HelpDesk",
    "Quotes",
    "SalesOrder",
    "PurchaseOrder",
    "Invoice",
    "Project",
    "ProjectTask",
    "ProjectMilestone",
    "Assets",
    "ServiceContracts",
    "Currency",
)

Request = Callable[[str, list], object]


@dataclass(frozen=True)
class Module:
    name: str
    prefix: str
    label_fields: tuple[str, ...]  # empty: read labels with retrieve


def is_reference(value) -> bool:
    return isinstance(value, str) and REFERENCE_RE.fullmatch(value) is not None


def label_fields(describe: dict) -> tuple[str, ...]:
    """describe's ``labelFields`` that are fields of the module (HelpDesk says ``title`` for ``ticket_title``)."""
    names = [str(f.get("name")) for f in describe.get("fields") or [] if isinstance(f, dict)]
    out = []
    for wanted in str(describe.get("labelFields") or "").split(","):
        wanted = wanted.strip()
        if not wanted:
            continue
        if wanted in names:
            out.append(wanted)
        else:
            out.extend(name for name in names if name.endswith(f"_{wanted}") and name not in out)
    return tuple(name for name in out if re.fullmatch(r"[A-Za-z0-9_]+", name))


def modules_for(request: Request, prefixes: Iterable[str]) -> dict[str, Module]:
    """{id prefix: Module} for the prefixes some listed module has; the others are left out."""
    wanted = set(prefixes)
    listed = request("listtypes", []).result or {}
    types = listed.get("types") or [] if isinstance(listed, dict) else []
    found: dict[str, Module] = {}
    for name in (module for module in REFERENCED_MODULES if module in types):
        if wanted <= found.keys():
            break
        try:
            describe = request("describe", [("elementType", name)]).result
        except VtigerError:  # a type this user may not describe
            continue
        if not isinstance(describe, dict):
            continue
        prefix = str(describe.get("idPrefix") or "")
        if prefix in wanted and prefix not in found:
            found[prefix] = Module(name, prefix, label_fields(describe))
    return found


def _label(row: dict, fields: tuple[str, ...]) -> str:
    return " ".join(str(row.get(name) or "").strip() for name in fields if str(row.get(name) or "").strip())


def labels_in(request: Request, module: Module, ids: list[str]) -> dict[str, str]:
    """{id: label} for the ids of one module that have a record (and a label)."""
    out: dict[str, str] = {}
    ids = [record_id for record_id in ids if is_reference(record_id)]
    if not module.label_fields:
        for record_id in ids:
            try:
                record = request("retrieve", [("id", record_id)]).result
            except VtigerError:  # deleted, or not visible to this user
                continue
            if isinstance(record, dict) and str(record.get("label") or "").strip():
                out[record_id] = str(record["label"]).strip()
        return out
    columns = ", ".join(module.label_fields)
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        listed = ", ".join(f"'{record_id}'" for record_id in batch)
        # Every part is checked: ids match NxM, columns are word characters, the module is one of ours.
        query = f"SELECT {columns} FROM {module.name} WHERE id IN ({listed}) LIMIT 0,{BATCH_SIZE};"  # noqa: S608
        rows = request("query", [("query", query)]).result or []
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("id") in batch:
                label = _label(row, module.label_fields)
                if label:
                    out[row["id"]] = label
    return out


def lookup_labels(request: Request, keys: Iterable[str]) -> dict[str, str]:
    """{key: label} for the keys that are Vtiger references to a record with a label.

    Raises the ConnectionProblem of a failed request (the caller keeps what it had).
    """
    by_prefix: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        match = REFERENCE_RE.fullmatch(key) if isinstance(key, str) else None
        if match:
            by_prefix.setdefault(match.group(1), []).append(key)
    if not by_prefix:
        return {}
    out: dict[str, str] = {}
    for prefix, module in modules_for(request, by_prefix).items():
        out.update(labels_in(request, module, by_prefix[prefix]))
    return out
