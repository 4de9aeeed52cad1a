"""Export and import of metric definitions: ``{"format": "metric-builder/metrics@1", "metrics": [...]}``.

Each item of ``metrics`` is a definition of ``builder.definitions`` (connections by name, never
a credential). Import is all or nothing: the whole document is checked first and every
problem is reported by its field path (``metrics[2].request.method``); only when there is none
are the metrics created, in one transaction.

Name clashes (a metric of that name exists already, or the file names two metrics alike) are
problems at ``metrics[i].name``, unless the import is asked to rename: then a clashing metric
gets ``definitions.unique_name`` ("Deals won (amount) (copy)") and the result lists the rename.
Import only creates metrics; it never overwrites one.

A calculated metric names its inputs by metric name: an input is a metric of the same document
(created first, whatever the order in the file, and followed through a rename) or a metric that
exists already; an input that is neither is an error naming it, and inputs of the same document
that make a cycle are refused.

Public API
    ``FORMAT``
    ``export_document(metrics, *, with_inputs=True) -> dict``  the document for an iterable of Metric
                                                   rows (and the inputs of the calculated ones)
    ``dumps(document) -> str``                     pretty JSON, as the commands and the download write it
    ``loads(data: str | bytes) -> (document, errors)``  JSON parsing with a readable error
    ``check(document, *, rename=False) -> Plan``   validate everything, write nothing
    ``import_document(document, *, owner=None, rename=False) -> Result``  check, then create all or none
    ``Plan``: ``.errors`` [(path, message)], ``.items`` [(cleaned definition, final name)], ``.renamed``
    ``Result``: ``.errors``, ``.created`` (Metric rows, saved), ``.renamed`` [(old, new)], ``.ok``
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from builder import definitions
from builder.models import Metric
from connections import safejson

FORMAT = definitions.FORMAT
DOCUMENT_KEYS = ("format", "metrics")
MAX_METRICS = 1000
TOO_DEEP_MESSAGE = (
    f"The file is nested too deeply to read (over {safejson.MAX_DEPTH} levels of lists and objects): "
    "a metric definition needs only a few. Export the metrics again and import that file."
)

Errors = list[tuple[str, str]]


def export_document(metrics, *, with_inputs: bool = True) -> dict:
    """The document of ``metrics``; with ``with_inputs``, a calculated metric's inputs (transitively)
    come along after them when they are not among ``metrics``, so that the file imports on its own."""
    metrics = list(metrics)
    if with_inputs:
        metrics = _with_inputs(metrics)
    return {"format": FORMAT, "metrics": [definitions.from_metric(metric) for metric in metrics]}


def _with_inputs(metrics: list[Metric]) -> list[Metric]:
    found = {metric.pk: metric for metric in metrics}
    pending = [metric for metric in metrics if metric.is_calculated]
    while pending:
        metric = pending.pop(0)
        for _, source in metric.input_pairs():
            if source.pk not in found:
                found[source.pk] = source
                if source.is_calculated:
                    pending.append(source)
    return list(found.values())


def dumps(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def loads(data: str | bytes) -> tuple[Any, Errors]:
    """The parsed JSON, or ``(None, [("", message)])`` saying where the JSON breaks."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None, [("", "The file is not UTF-8 text: export a JSON file and try again.")]
    if not data.strip():
        return None, [("", "The file is empty.")]
    try:
        return safejson.loads(data), []
    except safejson.NestingTooDeep:
        return None, [("", TOO_DEEP_MESSAGE)]
    except json.JSONDecodeError as exc:
        return None, [("", f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")]


@dataclass
class Plan:
    errors: Errors = field(default_factory=list)
    items: list[tuple[dict, str]] = field(default_factory=list)  # (cleaned definition, name to create)
    renamed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Result:
    errors: Errors = field(default_factory=list)
    created: list[Metric] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "created": [{"name": metric.name, "uuid": str(metric.uuid)} for metric in self.created],
            "renamed": [{"from": old, "to": new} for old, new in self.renamed],
            "errors": [{"path": path, "message": message} for path, message in self.errors],
        }


def _document_errors(document: Any) -> Errors:
    if not isinstance(document, dict):
        return [("", f'Expected an object like {{"format": "{FORMAT}", "metrics": [...]}}.')]
    errors: Errors = []
    for key in document:
        if key not in DOCUMENT_KEYS:
            errors.append((str(key), f"Unknown key {key!r}; a document has only format and metrics."))
    if "format" not in document:
        errors.append(("format", f'This key is required: "{FORMAT}".'))
    elif document["format"] != FORMAT:
        errors.append(
            ("format", f"Unsupported format {json.dumps(document['format'])}: this version reads {FORMAT!r}.")
        )
    metrics = document.get("metrics")
    if "metrics" not in document:
        errors.append(("metrics", "This key is required: a list of metric definitions."))
    elif not isinstance(metrics, list):
        errors.append(("metrics", "Expected a list of metric definitions."))
    elif not metrics:
        errors.append(("metrics", "The list is empty: there is nothing to import."))
    elif len(metrics) > MAX_METRICS:
        errors.append(("metrics", f"At most {MAX_METRICS} metrics per file."))
    return errors


def check(document: Any, *, rename: bool = False, connection_lookup=definitions.by_name) -> Plan:
    """Validate the whole document; nothing is written. See the module docstring."""
    plan = Plan(errors=_document_errors(document))
    if plan.errors and not (isinstance(document, dict) and isinstance(document.get("metrics"), list)):
        return plan
    if any(path == "format" for path, _ in plan.errors):
        return plan  # another format's metrics would only add noise
    cache: dict[str, Any] = {}

    def lookup(name):
        key = name.strip() if isinstance(name, str) else name
        if key not in cache:
            cache[key] = connection_lookup(name)
        return cache[key]

    in_file = {
        item["name"].strip()
        for item in document["metrics"]
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }

    def input_lookup(name):
        return name in in_file or Metric.objects.filter(name=name).exists()

    taken: set[str] = set()
    first_in_file: dict[str, int] = {}
    for index, item in enumerate(document["metrics"]):
        path = f"metrics[{index}]"
        cleaned, errors = definitions.validate(item, connection_lookup=lookup, path=path, input_lookup=input_lookup)
        plan.errors.extend(errors)
        name = cleaned.get("name")
        if errors or not name:
            if name:
                first_in_file.setdefault(name, index)
                taken.add(name)
            continue
        clash = name in taken or Metric.objects.filter(name=name).exists()
        final = name
        if clash and rename:
            final = definitions.unique_name(name, taken=taken)
            plan.renamed.append((name, final))
        elif clash:
            where = (
                f"metric {first_in_file[name]} of this file has it too"
                if name in first_in_file
                else "a metric with that name exists already"
            )
            plan.errors.append(
                (f"{path}.name", f"The name {name!r} is taken ({where}): rename it, or import with renaming on.")
            )
        first_in_file.setdefault(name, index)
        taken.add(final)
        plan.items.append((cleaned, final))
    if not plan.errors:
        plan.items, cycle = _inputs_first(plan.items)
        if cycle:
            names = " → ".join(f"“{name}”" for name in cycle)
            plan.errors.append(("metrics", f"These calculated metrics are made from each other, a cycle: {names}."))
    return plan


def _inputs_first(items):
    """``items`` with every calculated metric after the metrics of the file it is made from;
    ``(ordered, [])``, or ``(items, [names in a cycle])``."""
    index_of: dict[str, int] = {}
    for index, (cleaned, _) in enumerate(items):
        index_of.setdefault(cleaned["name"], index)
    ordered, state = [], {}

    def visit(index, trail):
        if state.get(index) == "done":
            return []
        if state.get(index) == "visiting":
            return [items[i][0]["name"] for i in trail[trail.index(index) :]] + [items[index][0]["name"]]
        state[index] = "visiting"
        for _, source in items[index][0].get("inputs", []):
            if source in index_of:
                cycle = visit(index_of[source], [*trail, index])
                if cycle:
                    return cycle
        state[index] = "done"
        ordered.append(items[index])
        return []

    for index in range(len(items)):
        cycle = visit(index, [])
        if cycle:
            return items, cycle
    return ordered, []


def import_document(
    document: Any, *, owner=None, rename: bool = False, connection_lookup=definitions.by_name
) -> Result:
    """Check everything, then create every metric in one transaction, or none."""
    plan = check(document, rename=rename, connection_lookup=connection_lookup)
    result = Result(errors=list(plan.errors), renamed=list(plan.renamed))
    if result.errors:
        return result
    try:
        with transaction.atomic():
            created: dict[str, Metric] = {}  # by the name in the file
            for cleaned, name in plan.items:
                metric = definitions.to_metric({**cleaned, "name": name}, owner=owner)
                metric.save()
                if metric.is_calculated:
                    metric.set_inputs(
                        [
                            (input_name, created.get(source) or Metric.objects.get(name=source))
                            for input_name, source in cleaned["inputs"]
                        ]
                    )
                created[cleaned["name"]] = metric
                result.created.append(metric)
    except ValidationError as exc:
        result.created = []
        result.errors.extend(("", message) for message in exc.messages)
    except IntegrityError:
        # Someone created a metric of the same name between the check and the write.
        result.created = []
        result.errors.append(("", "Another metric with one of these names was created meanwhile: try again."))
    return result
