"""The Vtiger read operations, shared by the Cloud REST API and webservice.php.

Each function takes the dataset and the request's parameters and returns the `result`
value, or raises VtigerError. Transport concerns (auth, sessions, HTTP status) live in
server.py.
"""

import json
import re
from datetime import UTC, datetime

from sandbox import vtql
from sandbox.data import PREFIX_MODULE, SYNC_MODULES, describe_schema, recorded_listtypes
from sandbox.errors import (
    ACCESS_DENIED,
    INVALID_ID_ATTRIBUTE,
    MANDATORY_FIELDS_MISSING,
    VtigerError,
    access_denied_for_name,
)

SYNC_TYPES = ("user", "userandgroup", "application")
_ID_RE = re.compile(r"[0-9]+x[0-9]+")


def me(dataset):
    user = dataset.user
    return {name: user[name] for name in ("id", "user_name", "first_name", "last_name", "email1")}


def _requested_types(raw):
    """fieldTypeList as the SDKs send it: absent or "null", a JSON list, or repeated values."""
    values = [v for v in raw if v not in ("", "null")]
    wanted = []
    for value in values:
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = value
        wanted.extend(decoded if isinstance(decoded, list) else [decoded])
    return {str(v) for v in wanted if v is not None}


def listtypes(dataset, field_type_list=()):
    """The modules the sandbox serves, in the order and with the labels of the 8.2 fixture.

    Only served modules are listed, so every listed type can be described and queried.
    """
    recorded = recorded_listtypes()
    types = [name for name in recorded["types"] if name in dataset.modules]
    wanted = _requested_types(field_type_list)
    if wanted:
        types = [name for name in types if any(f["type"]["name"] in wanted for f in describe_schema(name)["fields"])]
    return {"types": types, "information": {name: recorded["information"][name] for name in types}}


def describe(dataset, element_type):
    if element_type not in dataset.modules:
        raise access_denied_for_name(element_type or "")
    return dataset.describe(element_type)


def query(dataset, text, max_rows=vtql.DEFAULT_MAX_ROWS):
    return vtql.run(text or "", dataset.table, max_rows=max_rows)


def retrieve(dataset, record_id):
    if not record_id or not _ID_RE.fullmatch(record_id):
        raise VtigerError(INVALID_ID_ATTRIBUTE, "Id specified is incorrect")
    record = dataset.get(record_id)
    if record is None:
        # 8.2 answers a missing record this way, not with RECORD_NOT_FOUND.
        raise VtigerError(ACCESS_DENIED, "Permission to perform the operation is denied")
    record["label"] = dataset.label(record)
    if PREFIX_MODULE[record_id.split("x")[0]] == "Invoice":
        record["LineItems"] = dataset.line_items(record_id)
    return record


def _epoch(timestamp):
    return int(datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def sync(dataset, modified_time, element_type=None, sync_type=None, max_rows=vtql.DEFAULT_MAX_ROWS):
    """Changes after `modified_time`, in pages of at most `max_rows` distinct modification times.

    Like GetUpdates.php: take up to max_rows distinct modifiedtime values after the given
    time, and return every change up to the last of them (so a page can hold more records
    than max_rows when times tie); `more` says whether later changes exist.
    """
    if modified_time in (None, ""):
        raise VtigerError(MANDATORY_FIELDS_MISSING, "modifiedTime does not have a value")
    try:
        since_epoch = int(float(modified_time))
    except ValueError:
        raise VtigerError(MANDATORY_FIELDS_MISSING, "modifiedTime is not a valid timestamp") from None
    if element_type:
        if element_type not in SYNC_MODULES:
            raise access_denied_for_name(element_type)
        modules = {element_type}
    else:
        modules = set(SYNC_MODULES)
    # The demo user is an admin: all sync types see every record, whoever it is assigned to.
    del sync_type
    since = datetime.fromtimestamp(max(since_epoch, 0), UTC).strftime("%Y-%m-%d %H:%M:%S")
    pending = [change for change in dataset.changes() if change[2] in modules and change[0] > since]
    times = sorted({change[0] for change in pending})
    if not times:
        return {"updated": [], "deleted": [], "more": False, "lastModifiedTime": since_epoch}
    cutoff = times[min(max_rows, len(times)) - 1]
    page = [change for change in pending if change[0] <= cutoff]
    return {
        "updated": [dict(change[4]) for change in page if change[4] is not None],
        "deleted": [change[3] for change in page if change[4] is None],
        "more": len(times) > max_rows,
        "lastModifiedTime": _epoch(cutoff),
    }
