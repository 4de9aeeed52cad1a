"""Seeded CRM data: two years of a small business, shaped like Vtiger 8.2 answers.

``build_dataset(seed, today)`` is deterministic: the same seed and the same ``today`` give the
same records, byte for byte, so tests can compute expected answers independently of the
server. Records are created on the 730 days before ``today`` (up to yesterday 23:59:59 UTC;
nothing is dated later than that, so the data does not depend on the time of day), with a
growth trend, fewer records at weekends and a year-end dip.

Values follow the recorded 8.2 fixtures: every value is a string; currency has 8 decimals,
probability and quantities 3; booleans are "0"/"1"; unset text, dates and references are "";
unset numbers are zero; ids are ``<idPrefix>x<crmid>`` from one crmid sequence shared by all
modules, in creation order. Picklist values come from the describe files in ``schemas/``.
"""

import bisect
import copy
import functools
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sandbox import (
    DEFAULT_SEED,
    DEMO_EMAIL,
    DEMO_FIRST_NAME,
    DEMO_LAST_NAME,
    DEMO_USER_ID,
    DEMO_USERNAME,
)
from sandbox import vocabulary as vocab
from sandbox.vtql import DATE, DATETIME, ID, NUMBER, OWNER, REFERENCE, TEXT, Table

SCHEMA_DIR = Path(__file__).with_name("schemas")
HISTORY_DAYS = 730

# The modules the sandbox serves, with the idPrefix of the 8.2 fixtures.
ID_PREFIX = {
    "Invoice": "7",
    "Leads": "10",
    "Accounts": "11",
    "Contacts": "12",
    "Potentials": "13",
    "Products": "14",
    "HelpDesk": "17",
    "Users": "19",
}
MODULES = ("Leads", "Contacts", "Accounts", "Potentials", "HelpDesk", "Invoice", "Products", "Users")
# Modules whose records carry createdtime/modifiedtime, i.e. what sync reports.
SYNC_MODULES = ("Leads", "Contacts", "Accounts", "Potentials", "HelpDesk", "Invoice", "Products")
PREFIX_MODULE = {prefix: module for module, prefix in ID_PREFIX.items()}

# Live record counts (deleted records come on top and only show up in sync).
COUNTS = {"Accounts": 200, "Contacts": 800, "Leads": 2000, "Potentials": 700, "HelpDesk": 900, "Invoice": 500}
DELETED_COUNTS = {"Leads": 30, "Potentials": 8, "HelpDesk": 12}
# Customers that already existed when the two-year window opened.
EXISTING_ACCOUNTS = 12

RECORD_NUMBER = {
    "Leads": ("lead_no", "LEA"),
    "Contacts": ("contact_no", "CON"),
    "Accounts": ("account_no", "ACC"),
    "Potentials": ("potential_no", "POT"),
    "Products": ("product_no", "PRO"),
    "HelpDesk": ("ticket_no", "TT"),
    "Invoice": ("invoice_no", "INV"),
}
LABEL_FIELDS = {
    "Leads": ("firstname", "lastname"),
    "Contacts": ("firstname", "lastname"),
    "Accounts": ("accountname",),
    "Potentials": ("potentialname",),
    "HelpDesk": ("ticket_title",),  # describe says "title"; the field is ticket_title
    "Invoice": ("subject",),
    "Products": ("productname",),
    "Users": ("first_name", "last_name"),
}

# Decimal places of numeric columns, where they differ from the 8 of currency and double.
DECIMALS = {
    "probability": 3,
    "quantity": 3,
    "qtyinstock": 3,
    "salescommission": 3,
    "exciseduty": 3,
    "conversion_rate": 3,
    "commissionrate": 3,
    "discount_percent": 3,
    "qty_per_unit": 2,
}
# Unset values that the type alone does not predict (Invoice's line-item columns are typed
# "string" in describe but hold numbers).
BLANK_OVERRIDES = {
    ("Invoice", "discount_percent"): "0.000",
    ("Invoice", "tax1"): "0.000",
    ("Invoice", "tax2"): "0.000",
    ("Invoice", "tax3"): "0.000",
}
# Columns of query rows that describe does not list (Invoice's flattened line item, ...).
EXTRA_COLUMN_TYPES = {"image": "string", "purchase_cost": "currency", "margin": "currency", "update_log": "text"}

# --- schemas ---------------------------------------------------------------------------


@functools.cache
def _schema_file(name):
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def recorded_listtypes():
    """The listtypes result recorded from a real 8.2 install (35 types)."""
    return copy.deepcopy(_schema_file("listtypes.json"))


def describe_schema(module):
    """The describe result of a module (a fresh copy)."""
    return copy.deepcopy(_schema_file(f"describe_{module}.json"))


@functools.cache
def query_columns(module):
    """The columns of SELECT * for a module, in the order the 8.2 server returns them."""
    return tuple(_schema_file("query_columns.json")[module])


@functools.cache
def field_types(module):
    """field name -> describe type name, for the describe fields and the extra query columns."""
    types = {f["name"]: f["type"]["name"] for f in _schema_file(f"describe_{module}.json")["fields"]}
    for column in query_columns(module):
        types.setdefault(column, EXTRA_COLUMN_TYPES.get(column, "string"))
    return types


@functools.cache
def picklist(module, name):
    for f in _schema_file(f"describe_{module}.json")["fields"]:
        if f["name"] == name:
            return tuple(p["value"] for p in f["type"].get("picklistValues", ()))
    raise KeyError(f"{module}.{name} is not a field")


@functools.cache
def field_kinds(module):
    """The VTQL comparison kind of each queryable field."""
    kinds = {}
    for name, type_name in field_types(module).items():
        if name not in query_columns(module):
            continue  # e.g. Users' passwords: describe lists them, queries cannot read them
        if type_name in ("currency", "double", "integer"):
            kinds[name] = NUMBER
        elif type_name == "reference":
            kinds[name] = REFERENCE
        elif type_name == "owner":
            kinds[name] = OWNER
        elif type_name == "date":
            kinds[name] = DATE
        elif type_name == "datetime":
            kinds[name] = DATETIME
        elif type_name == "autogenerated":
            kinds[name] = ID
        else:
            kinds[name] = TEXT
    return kinds


def decimals(column, type_name):
    if column in DECIMALS:
        return DECIMALS[column]
    return 0 if type_name == "integer" else 8


def fmt_number(column, value, module):
    places = decimals(column, field_types(module).get(column))
    return f"{Decimal(value):.{places}f}"


@functools.cache
def _blank_row(module):
    """A row with every column unset, formatted the way 8.2 reports unset values."""
    row = {}
    types = field_types(module)
    for column in query_columns(module):
        type_name = types[column]
        if (module, column) in BLANK_OVERRIDES:
            row[column] = BLANK_OVERRIDES[module, column]
        elif type_name in ("currency", "double", "integer"):
            row[column] = fmt_number(column, 0, module)
        elif type_name == "boolean":
            row[column] = "0"
        else:
            row[column] = ""
    row["assigned_user_id"] = DEMO_USER_ID
    if "modifiedby" in row:
        row["modifiedby"] = DEMO_USER_ID
    return row


# --- the demo user ----------------------------------------------------------------------

_USER_VALUES = {
    "user_name": DEMO_USERNAME,
    "is_admin": "on",
    "first_name": DEMO_FIRST_NAME,
    "last_name": DEMO_LAST_NAME,
    "roleid": "H2",
    "email1": DEMO_EMAIL,
    "status": "Active",
    "activity_view": "This Week",
    "lead_view": "Today",
    "hour_format": "12",
    "end_hour": "23:00",
    "start_hour": "00:00",
    "is_owner": "1",
    "title": "Sales Manager",
    "department": "Sales",
    "date_format": "yyyy-mm-dd",
    "time_zone": "UTC",
    "currency_id": "21x1",
    "currency_decimal_separator": ".",
    "currency_grouping_separator": ",",
    "internal_mailer": "1",
    "theme": "alphagrey",
    "language": "en_us",
    "reminder_interval": "1 Minute",
    "truncate_trailing_zeros": "1",
    "dayoftheweek": "Sunday",
    "callduration": "5",
    "othereventduration": "5",
    "calendarsharedtype": "public",
    "default_record_view": "Summary",
    "leftpanelhide": "0",
    "defaulteventstatus": "Planned",
    "defaultactivitytype": "Call",
    "defaultcalendarview": "MyCalendar",
    "defaultlandingpage": "Home",
    "userlabel": f"{DEMO_FIRST_NAME} {DEMO_LAST_NAME}",
    "id": DEMO_USER_ID,
}


# The other users records are assigned to: (id, user name, first name, last name, title). Users have
# their own id sequence in Vtiger (vtiger_users), so their numbers do not come from the crmids.
OTHER_USERS = (
    ("19x5", "ada", "Ada", "Admin", "Administrator"),
    ("19x6", "ben", "Ben", "Baker", "Account Executive"),
    ("19x7", "chloe", "Chloe", "Chen", "Account Executive"),
    ("19x8", "omar", "Omar", "Okafor", "Sales Development"),
)
USER_IDS = (DEMO_USER_ID, *(user[0] for user in OTHER_USERS))
# Who owns a record: ten slots, so some users own more than others (Dana and Ada three in ten each,
# Ben two, Chloe and Omar one). Chosen from the crmid, not from a random stream, so adding users
# changed no other generated value.
_OWNER_SLOTS = (0, 1, 0, 2, 1, 3, 0, 1, 2, 4)


def owner_of(crmid):
    """The id of the user a record with this crmid is assigned to (and last modified by)."""
    return USER_IDS[_OWNER_SLOTS[(crmid * 7) % len(_OWNER_SLOTS)]]


def _demo_user_row():
    row = {column: "" for column in query_columns("Users")}
    row.update(_USER_VALUES)
    return row


def _user_rows():
    """The demo user first (``Dataset.user``), then the others: not admins, no API access."""
    rows = [_demo_user_row()]
    for user_id, user_name, first, last, title in OTHER_USERS:
        row = _demo_user_row()
        row.update(
            {
                "user_name": user_name,
                "is_admin": "off",
                "first_name": first,
                "last_name": last,
                "email1": f"{user_name}@sandbox.example",
                "title": title,
                "is_owner": "0",
                "userlabel": f"{first} {last}",
                "id": user_id,
            }
        )
        rows.append(row)
    return rows


# --- the dataset ------------------------------------------------------------------------


@dataclass
class _Record:
    """A record while it is generated; references point at other _Records until ids exist."""

    module: str
    created: datetime
    modified: datetime
    values: dict
    refs: dict = field(default_factory=dict)
    deleted_at: datetime | None = None
    crmid: int = 0
    line_items: list = field(default_factory=list)
    short_name: str = ""  # how deals and invoices name an account ("Northwind")


class Dataset:
    """The seeded records of every module. Treat it as read-only: accessors return copies."""

    def __init__(self, seed, today, rows, deleted, line_items):
        self.seed = seed
        self.today = today
        self.start = today - timedelta(days=HISTORY_DAYS)
        self._rows = rows  # module -> list of row dicts, crmid order
        self._deleted = deleted  # module -> list of (webservice id, deletion time string)
        self._line_items = line_items  # invoice id -> list of line item dicts
        self._by_id = {row["id"]: row for module_rows in rows.values() for row in module_rows}
        self._changes = self._change_log()
        self._tables = {
            module: Table(columns=query_columns(module), kinds=field_kinds(module), rows=tuple(module_rows))
            for module, module_rows in rows.items()
        }

    @property
    def modules(self):
        return MODULES

    def records(self, module):
        """The live records of a module, as SELECT * returns them, in id order."""
        return [dict(row) for row in self._rows[module]]

    def count(self, module):
        return len(self._rows[module])

    def deleted(self, module):
        """(webservice id, deletion time) of the records deleted from a module."""
        return list(self._deleted.get(module, ()))

    def get(self, record_id):
        """One record by webservice id (a copy), or None."""
        row = self._by_id.get(record_id)
        return dict(row) if row is not None else None

    def line_items(self, invoice_id):
        return copy.deepcopy(self._line_items.get(invoice_id, []))

    def label(self, record):
        module = PREFIX_MODULE[record["id"].split("x")[0]]
        return " ".join(record[name] for name in LABEL_FIELDS[module] if record.get(name)).strip()

    def table(self, module):
        """The module as the VTQL evaluator sees it, or None if the sandbox does not serve it."""
        return self._tables.get(module)

    def describe(self, module):
        return describe_schema(module)

    def changes(self):
        """What sync reports, oldest first: (modifiedtime, crmid, module, webservice id, row or None).

        A deleted record appears with its deletion time and no row. Rows are shared: copy
        them before handing them out.
        """
        return self._changes

    def _change_log(self):
        changes = []
        for module in SYNC_MODULES:
            for row in self._rows[module]:
                changes.append((row["modifiedtime"], int(row["id"].split("x")[1]), module, row["id"], row))
            for webservice_id, deleted_at in self._deleted.get(module, ()):
                changes.append((deleted_at, int(webservice_id.split("x")[1]), module, webservice_id, None))
        changes.sort(key=lambda change: change[:2])
        return tuple(changes)

    @property
    def user(self):
        return dict(self._rows["Users"][0])


def _as_date(today):
    if today is None:
        return datetime.now(UTC).date()
    if isinstance(today, str):
        return date.fromisoformat(today)
    return today


def build_dataset(seed=DEFAULT_SEED, today=None, scale=1):
    """The dataset for a seed and a "today" (default: the current UTC date).

    ``scale`` multiplies the number of records of every module (benchmarks use it for
    responses larger than the small business of the default). Cached: the same
    arguments give the same read-only Dataset object.
    """
    return _cached(int(seed), _as_date(today), _as_scale(scale))


def generate_dataset(seed=DEFAULT_SEED, today=None, scale=1):
    """Like build_dataset, but generated afresh (to check that generation is deterministic)."""
    return _Generator(int(seed), _as_date(today), _as_scale(scale)).build()


def _as_scale(scale):
    scale = int(scale)
    if not 1 <= scale <= 50:
        raise ValueError(f"scale must be a whole number from 1 to 50, not {scale}.")
    return scale


@functools.lru_cache(maxsize=4)
def _cached(seed, today, scale):
    return _Generator(seed, today, scale).build()


# --- generation -------------------------------------------------------------------------


def _money(value):
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _whole(value):
    return Decimal(value).quantize(Decimal("1"), rounding=ROUND_HALF_UP)


def _thousands(value):
    return _whole(value) // 1000 * 1000


def _timestamp(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _slug(name):
    return "".join(ch for ch in name.lower().split(" ")[0] if ch.isalnum()) or "company"


def _flag(rng, probability):
    return "1" if rng.random() < probability else "0"


def _short_name(account):
    return account.short_name


class _Generator:
    def __init__(self, seed, today, scale=1):
        self.counts = {module: count * scale for module, count in COUNTS.items()}
        self.seed = seed
        self.today = today
        self.start = today - timedelta(days=HISTORY_DAYS)
        self.origin = datetime.combine(self.start, time(), tzinfo=UTC)
        # Nothing happens later than the end of yesterday, so the data ignores the time of day.
        self.end = datetime.combine(today, time(), tzinfo=UTC) - timedelta(seconds=1)
        self._day_cum = []
        total = 0.0
        for i in range(HISTORY_DAYS):
            day = self.start + timedelta(days=i)
            trend = 0.55 + 0.9 * i / (HISTORY_DAYS - 1)
            season = 1 + 0.12 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 100) / 365.25)
            holiday = 0.5 if (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day <= 2) else 1
            total += trend * season * holiday * vocab.WEEKDAY_WEIGHT[day.weekday()]
            self._day_cum.append(total)

    def rng(self, module):
        # One generator per module, so changing how one module is generated leaves the others alone.
        return random.Random(f"{self.seed}:{module}")

    # -- helpers --

    def moments(self, rng, n):
        """n creation times following the daily weights, sorted."""
        days = rng.choices(range(HISTORY_DAYS), cum_weights=self._day_cum, k=n)
        return sorted(self.at(rng, self.start + timedelta(days=d)) for d in days)

    def at(self, rng, day):
        hour = rng.choices(range(24), weights=vocab.HOUR_WEIGHT)[0]
        return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=UTC)

    def later(self, rng, moment, max_days, min_days=0):
        """A moment after `moment`, at most max_days later and never after the end of the data."""
        # Shrink the range rather than clamp, so recent records don't pile up on the last second.
        room = (self.end - moment).total_seconds() / 86400
        high = min(max_days, room)
        low = min(min_days, high)
        return (moment + timedelta(days=rng.uniform(low, high))).replace(microsecond=0)

    def maybe_later(self, rng, moment, probability, max_days):
        return self.later(rng, moment, max_days) if rng.random() < probability else moment

    def age(self, moment):
        return (self.end - moment).days

    @staticmethod
    def pick(rng, module, name, weights):
        """A picklist value by weight; "" stands for unset. Values must exist in describe."""
        allowed = picklist(module, name)
        unknown = [v for v in weights if v and v not in allowed]
        if unknown:
            raise ValueError(f"{module}.{name}: {unknown} not in the describe picklist")
        return rng.choices(list(weights), weights=list(weights.values()))[0]

    @staticmethod
    def weighted(rng, weights):
        return rng.choices(list(weights), weights=list(weights.values()))[0]

    @staticmethod
    def person(rng):
        salutation = rng.choice(["Mr.", "Ms.", "Mr.", "Ms.", "Mrs.", "Dr."])
        gender = vocab.SALUTATIONS[salutation] or rng.choice(["female", "male"])
        return salutation, rng.choice(vocab.FIRST_NAMES[gender]), rng.choice(vocab.LAST_NAMES)

    @staticmethod
    def phone(rng):
        return f"+1 555 {rng.randrange(100, 10000):04d}"

    @staticmethod
    def place(rng):
        city, state, country, digits = rng.choice(vocab.CITIES)
        code = str(rng.randrange(10 ** (digits - 1), 10**digits)) if digits else ""
        street = f"{rng.randrange(1, 200)} {rng.choice(vocab.STREETS)}"
        return {"city": city, "state": state, "country": country, "code": code, "street": street}

    @staticmethod
    def email(first, last, domain):
        local = f"{first}.{last}".lower().replace("'", "")
        return f"{local}@{domain}.example"

    @staticmethod
    def before(records, created_list, moment):
        """The records (sorted by creation) created before `moment`."""
        return records[: bisect.bisect_left(created_list, moment)]

    @staticmethod
    def contacts_by_account(contacts):
        by_account = {}
        for contact in contacts:
            if "account_id" in contact.refs:
                by_account.setdefault(id(contact.refs["account_id"]), []).append(contact)
        return by_account

    def delete_some(self, rng, records, n):
        for record in rng.sample(records, n):
            record.deleted_at = self.later(rng, record.created, 45, min_days=0.01)

    # -- modules --

    def products(self):
        out = []
        first = datetime.combine(self.start, time(0, 30), tzinfo=UTC)
        for i, (name, code, category, maker, glacct, unit, price, cost, reorder) in enumerate(vocab.PRODUCTS):
            created = first + timedelta(minutes=7 * i)
            values = {
                "productname": name,
                "productcode": code,
                "discontinued": "1",  # labelled "Product Active": 1 means on sale
                "manufacturer": maker,
                "productcategory": category,
                "sales_start_date": self.start.isoformat(),
                "glacct": glacct,
                "unit_price": fmt_number("unit_price", price, "Products"),
                "usageunit": unit,
                "qty_per_unit": fmt_number("qty_per_unit", 1, "Products"),
                "qtyinstock": fmt_number("qtyinstock", 500 if category == "Hardware" else 0, "Products"),
                "reorderlevel": str(reorder),
                "purchase_cost": fmt_number("purchase_cost", cost, "Products"),
                "description": f"{name} ({category.lower()}).",
                "source": "CRM",
            }
            out.append(_Record("Products", created, created, values))
        return out

    def accounts(self):
        rng = self.rng("Accounts")
        n = self.counts["Accounts"]
        # The existing customers come first, before the first working hour of day one, so every
        # later record finds an account to belong to.
        first = datetime.combine(self.start, time(1, 0), tzinfo=UTC)
        moments = [first + timedelta(minutes=11 * i) for i in range(EXISTING_ACCOUNTS)]
        moments += self.moments(rng, n - EXISTING_ACCOUNTS)
        combos = [(stem, trade) for stem in vocab.COMPANY_STEMS for trade in vocab.COMPANY_TRADES]
        out = []
        for i, (created, (stem, (trade, industry))) in enumerate(zip(moments, rng.sample(combos, n), strict=True)):
            name = " ".join(part for part in (stem, trade, rng.choice(vocab.COMPANY_SUFFIXES)) if part)
            where = self.place(rng)
            domain = _slug(stem)
            employees = int(rng.lognormvariate(math.log(120), 1.1)) + 3
            imported = i < EXISTING_ACCOUNTS
            values = {
                "accountname": name,
                "phone": self.phone(rng),
                "website": f"www.{domain}.example",
                "email1": f"info@{domain}.example",
                "employees": str(employees),
                "ownership": rng.choice(vocab.OWNERSHIP),
                "rating": self.pick(rng, "Accounts", "rating", vocab.ACCOUNT_RATING),
                "industry": industry,
                "accounttype": self.pick(rng, "Accounts", "accounttype", vocab.ACCOUNT_TYPE),
                "annual_revenue": fmt_number(
                    "annual_revenue", _thousands(employees * rng.uniform(60_000, 180_000)), "Accounts"
                ),
                "emailoptout": _flag(rng, 0.05),
                "isconvertedfromlead": "0" if imported else _flag(rng, 0.3),
                "source": "IMPORT" if imported else self.weighted(rng, vocab.SOURCES),
                "starred": _flag(rng, 0.04),
                "bill_street": where["street"],
                "ship_street": where["street"],
                "bill_city": where["city"],
                "ship_city": where["city"],
                "bill_state": where["state"],
                "ship_state": where["state"],
                "bill_code": where["code"],
                "bill_country": where["country"],
                "ship_country": where["country"],
            }
            record = _Record("Accounts", created, self.maybe_later(rng, created, 0.5, 300), values, short_name=stem)
            if out and rng.random() < 0.05:
                record.refs["account_id"] = rng.choice(out)  # "Member Of" an older organisation
            out.append(record)
        return out

    def contacts(self, accounts):
        rng = self.rng("Contacts")
        account_created = [a.created for a in accounts]
        out = []
        for created in self.moments(rng, self.counts["Contacts"]):
            salutation, first, last = self.person(rng)
            candidates = self.before(accounts, account_created, created)
            account = rng.choice(candidates) if candidates and rng.random() < 0.9 else None
            where = self.place(rng)
            birthday = support_start = support_end = ""
            if rng.random() < 0.4:
                birthday = (date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 38))).isoformat()
            if account and rng.random() < 0.2:
                support_start = created.date().isoformat()
                support_end = (created.date() + timedelta(days=365)).isoformat()
            domain = _slug(account.values["accountname"]) if account else rng.choice(["mail", "inbox", "post"])
            values = {
                "salutationtype": salutation,
                "firstname": first,
                "phone": self.phone(rng),
                "lastname": last,
                "mobile": self.phone(rng) if rng.random() < 0.35 else "",
                "leadsource": self.pick(rng, "Contacts", "leadsource", vocab.LEAD_SOURCE["Contacts"]),
                "title": rng.choice(vocab.JOB_TITLES) if rng.random() < 0.8 else "",
                "department": rng.choice(vocab.DEPARTMENTS) if rng.random() < 0.7 else "",
                "birthday": birthday,
                "email": self.email(first, last, domain),
                "donotcall": _flag(rng, 0.05),
                "emailoptout": _flag(rng, 0.08),
                "isconvertedfromlead": _flag(rng, 0.3),
                "source": self.weighted(rng, vocab.SOURCES),
                "starred": _flag(rng, 0.03),
                "portal": _flag(rng, 0.1),
                "support_start_date": support_start,
                "support_end_date": support_end,
                "mailingstreet": where["street"],
                "mailingcity": where["city"],
                "mailingstate": where["state"],
                "mailingzip": where["code"],
                "mailingcountry": where["country"],
            }
            record = _Record("Contacts", created, self.maybe_later(rng, created, 0.4, 200), values)
            if account:
                record.refs["account_id"] = account
            out.append(record)
        return out

    def leads(self):
        rng = self.rng("Leads")
        out = []
        for created in self.moments(rng, self.counts["Leads"] + DELETED_COUNTS["Leads"]):
            age = self.age(created)
            salutation, first, last = self.person(rng)
            stem = rng.choice(vocab.COMPANY_STEMS)
            trade, industry = rng.choice(vocab.COMPANY_TRADES)
            where = self.place(rng)
            leadsource = self.pick(rng, "Leads", "leadsource", vocab.LEAD_SOURCE["Leads"])
            status = self.pick(rng, "Leads", "leadstatus", vocab.by_age(vocab.LEAD_STATUS_BY_AGE, age))
            employees = int(rng.lognormvariate(math.log(60), 1.2)) + 1 if rng.random() < 0.7 else 0
            revenue = _thousands(employees * rng.uniform(40_000, 200_000)) if employees else 0
            values = {
                "salutationtype": salutation,
                "firstname": first,
                "phone": self.phone(rng),
                "lastname": last,
                "mobile": self.phone(rng) if rng.random() < 0.3 else "",
                "company": f"{stem} {trade}",
                "designation": rng.choice(vocab.JOB_TITLES) if rng.random() < 0.4 else "",
                "email": self.email(first, last, _slug(stem)),
                "leadsource": leadsource,
                "website": f"www.{_slug(stem)}.example" if rng.random() < 0.3 else "",
                "industry": industry if rng.random() < 0.85 else "",
                "leadstatus": status,
                "annualrevenue": fmt_number("annualrevenue", revenue, "Leads"),
                "rating": self.pick(rng, "Leads", "rating", vocab.LEAD_RATING),
                "noofemployees": str(employees),
                "emailoptout": _flag(rng, 0.06),
                "source": "WEBFORM"
                if leadsource == "Web Site" and rng.random() < 0.7
                else self.weighted(rng, vocab.SOURCES),
                "starred": _flag(rng, 0.02),
                "lane": where["street"] if rng.random() < 0.5 else "",
                "code": where["code"],
                "city": where["city"],
                "country": where["country"],
                "state": where["state"],
            }
            # A status other than unset means someone worked the lead after it came in.
            modified = self.later(rng, created, min(age, 60) + 1) if status else created
            out.append(_Record("Leads", created, modified, values))
        self.delete_some(rng, out, DELETED_COUNTS["Leads"])
        return out

    def potentials(self, accounts, contacts):
        rng = self.rng("Potentials")
        account_created = [a.created for a in accounts]
        contacts_of = self.contacts_by_account(contacts)
        stages = vocab.SALES_STAGES
        out = []
        for created in self.moments(rng, self.counts["Potentials"] + DELETED_COUNTS["Potentials"]):
            progress = (created - self.origin).days / HISTORY_DAYS  # deals grow and win more over time
            account = rng.choice(self.before(accounts, account_created, created))
            people = [c for c in contacts_of.get(id(account), ()) if c.created < created]
            amount = _whole(rng.lognormvariate(math.log(18_000 * (1 + 0.4 * progress)), 0.9)) // 50 * 50
            amount = max(Decimal(1000), min(amount, Decimal(900_000)))
            if rng.random() < 0.03:
                amount = Decimal(0)  # entered without an amount, as happens
            cycle = rng.uniform(14, 150)
            closing = (created + timedelta(days=cycle)).date()
            if closing < self.today:
                won = rng.random() < 0.32 + 0.12 * progress
                stage, probability = ("Closed Won", 100) if won else ("Closed Lost", 0)
                modified = min(max(self.at(rng, closing), created), self.end)
                nextstep = ""
            else:
                # Open deals close within three months; how far along they are follows elapsed time.
                closing = min(closing, self.today + timedelta(days=90))
                elapsed = (self.end - created).total_seconds() / (cycle * 86400)
                index = int(elapsed * len(stages)) + rng.choice((-1, 0, 0, 1))
                stage, probability = stages[max(0, min(len(stages) - 1, index))]
                modified = self.later(rng, created, 20)
                nextstep = rng.choice(vocab.NEXT_STEPS)
            values = {
                "potentialname": f"{_short_name(account)} - {rng.choice(vocab.DEAL_TOPICS)}",
                "amount": fmt_number("amount", amount, "Potentials"),
                "closingdate": closing.isoformat(),
                "opportunity_type": self.pick(rng, "Potentials", "opportunity_type", vocab.OPPORTUNITY_TYPE),
                "nextstep": nextstep,
                "leadsource": self.pick(rng, "Potentials", "leadsource", vocab.LEAD_SOURCE["Potentials"]),
                "sales_stage": self.pick(rng, "Potentials", "sales_stage", {stage: 1}),
                "probability": fmt_number("probability", probability, "Potentials"),
                # Computed by the server as amount x probability / 100, stored in whole units.
                "forecast_amount": fmt_number("forecast_amount", _whole(amount * probability / 100), "Potentials"),
                "isconvertedfromlead": _flag(rng, 0.35),
                "source": self.weighted(rng, vocab.SOURCES),
                "starred": _flag(rng, 0.05),
            }
            record = _Record("Potentials", created, modified, values, refs={"related_to": account})
            if people and rng.random() < 0.85:
                record.refs["contact_id"] = rng.choice(people)
            out.append(record)
        # Only open deals get deleted, so invoices never point at a deleted deal.
        open_deals = [r for r in out if not r.values["sales_stage"].startswith("Closed")]
        self.delete_some(rng, open_deals, DELETED_COUNTS["Potentials"])
        return out

    def tickets(self, accounts, contacts, products):
        rng = self.rng("HelpDesk")
        account_created = [a.created for a in accounts]
        contacts_of = self.contacts_by_account(contacts)
        out = []
        for created in self.moments(rng, self.counts["HelpDesk"] + DELETED_COUNTS["HelpDesk"]):
            status = self.pick(
                rng, "HelpDesk", "ticketstatus", vocab.by_age(vocab.TICKET_STATUS_BY_AGE, self.age(created))
            )
            account = rng.choice(self.before(accounts, account_created, created)) if rng.random() < 0.9 else None
            people = [c for c in contacts_of.get(id(account), ()) if c.created < created] if account else []
            title = rng.choice(vocab.TICKET_TITLES)
            portal = rng.random() < 0.25
            values = {
                "ticketpriorities": self.pick(rng, "HelpDesk", "ticketpriorities", vocab.TICKET_PRIORITY),
                "ticketseverities": self.pick(rng, "HelpDesk", "ticketseverities", vocab.TICKET_SEVERITY),
                "ticketstatus": status,
                "ticketcategories": self.pick(rng, "HelpDesk", "ticketcategories", vocab.TICKET_CATEGORY),
                "from_portal": "1" if portal else "0",
                "ticket_title": title,
                "source": "CUSTOMER PORTAL" if portal else self.weighted(rng, vocab.SOURCES),
                "starred": _flag(rng, 0.03),
                "description": f"Reported by customer. {title}.",
            }
            modified = self.later(rng, created, 5)
            if status == "Closed":
                hours = Decimal(rng.randrange(1, 64)) / 4
                values["hours"] = fmt_number("hours", hours, "HelpDesk")
                values["days"] = fmt_number("days", math.ceil(hours / 8), "HelpDesk")
                values["solution"] = rng.choice(vocab.SOLUTIONS)
                modified = self.later(rng, created, 12, min_days=0.05)
            record = _Record("HelpDesk", created, modified, values)
            if account:
                record.refs["parent_id"] = account
            if people and rng.random() < 0.8:
                record.refs["contact_id"] = rng.choice(people)
            if rng.random() < 0.5:
                record.refs["product_id"] = rng.choice(products)
            out.append(record)
        self.delete_some(rng, out, DELETED_COUNTS["HelpDesk"])
        return out

    def invoices(self, accounts, contacts, potentials, products):
        rng = self.rng("Invoice")
        account_created = [a.created for a in accounts]
        contacts_of = self.contacts_by_account(contacts)
        won_of = {}
        for deal in potentials:
            if deal.values["sales_stage"] == "Closed Won" and deal.deleted_at is None:
                won_of.setdefault(id(deal.refs["related_to"]), []).append(deal)
        out = []
        for created in self.moments(rng, self.counts["Invoice"]):
            account = rng.choice(self.before(accounts, account_created, created))
            people = [c for c in contacts_of.get(id(account), ()) if c.created < created]
            deals = [d for d in won_of.get(id(account), ()) if d.modified < created]
            invoice_date = created.date()
            weights = vocab.by_age(vocab.INVOICE_STATUS_BY_AGE, (self.today - invoice_date).days)
            status = self.pick(rng, "Invoice", "invoicestatus", weights)
            items = []
            for product in rng.sample(products, rng.choice((1, 1, 1, 2, 2, 3))):
                quantity = Decimal(rng.choice(vocab.INVOICE_QUANTITIES))
                items.append((product, quantity, Decimal(product.values["unit_price"])))
            total = sum((_money(quantity * price) for _, quantity, price in items), Decimal(0))
            # Query rows carry the fields of the last line item only, as 8.2 flattens them.
            last_product, last_quantity, last_price = items[-1]
            last_cost = Decimal(last_product.values["purchase_cost"]) * last_quantity
            paid = status == "Paid"
            values = {
                "subject": f"INV {_short_name(account)} {last_product.values['productname']}",
                "invoicedate": invoice_date.isoformat(),
                "duedate": (invoice_date + timedelta(days=30)).isoformat(),
                "hdnSubTotal": fmt_number("hdnSubTotal", total, "Invoice"),
                "hdnGrandTotal": fmt_number("hdnGrandTotal", total, "Invoice"),
                "hdnTaxType": self.pick(rng, "Invoice", "hdnTaxType", vocab.TAX_TYPE),
                "invoicestatus": status,
                "conversion_rate": fmt_number("conversion_rate", 1, "Invoice"),
                "quantity": fmt_number("quantity", last_quantity, "Invoice"),
                "listprice": fmt_number("listprice", last_price, "Invoice"),
                "pre_tax_total": fmt_number("pre_tax_total", total, "Invoice"),
                "received": fmt_number("received", total if paid else 0, "Invoice"),
                "balance": fmt_number("balance", 0 if paid else total, "Invoice"),
                "purchase_cost": fmt_number("purchase_cost", last_cost, "Invoice"),
                "margin": fmt_number("margin", last_price * last_quantity - last_cost, "Invoice"),
                "source": self.weighted(rng, vocab.SOURCES),
                "starred": _flag(rng, 0.03),
            }
            for name in ("street", "city", "state", "country"):
                values[f"bill_{name}"] = account.values[f"bill_{name}"]
                values[f"ship_{name}"] = account.values[f"ship_{name}"]
            values["bill_code"] = account.values["bill_code"]
            if status in ("Paid", "Cancel", "Credit Invoice"):
                modified = self.later(rng, created, 45, min_days=1)
            else:
                modified = self.maybe_later(rng, created, 0.5, 3)
            refs = {"account_id": account, "productid": last_product}
            if people and rng.random() < 0.8:
                refs["contact_id"] = rng.choice(people)
            if deals and rng.random() < 0.6:
                refs["potential_id"] = rng.choice(deals)
            out.append(_Record("Invoice", created, modified, values, refs=refs, line_items=items))
        return out

    # -- assembly --

    def build(self):
        products = self.products()
        accounts = self.accounts()
        contacts = self.contacts(accounts)
        potentials = self.potentials(accounts, contacts)
        by_module = {
            "Products": products,
            "Accounts": accounts,
            "Contacts": contacts,
            "Leads": self.leads(),
            "Potentials": potentials,
            "HelpDesk": self.tickets(accounts, contacts, products),
            "Invoice": self.invoices(accounts, contacts, potentials, products),
        }
        # One crmid sequence for all modules, in creation order, as in vtiger_crmentity.
        everything = sorted(
            ((record.created, rank, i, record) for rank, records in enumerate(by_module.values())
             for i, record in enumerate(records)),
            key=lambda entry: entry[:3],
        )  # fmt: skip
        numbers = dict.fromkeys(by_module, 0)
        rows = {module: [] for module in MODULES}
        deleted = {}
        line_items = {}
        next_line_item = 1
        for crmid, (_, _, _, record) in enumerate(everything, start=1):
            record.crmid = crmid
            numbers[record.module] += 1
            number_field, number_prefix = RECORD_NUMBER[record.module]
            record.values[number_field] = f"{number_prefix}{numbers[record.module]}"
        for _, _, _, record in everything:
            webservice_id = _webservice_id(record)
            if record.deleted_at is not None:
                deleted.setdefault(record.module, []).append((webservice_id, _timestamp(record.deleted_at)))
                continue
            rows[record.module].append(self.row(record))
            if record.line_items:
                line_items[webservice_id] = self.line_item_rows(record, first_id=next_line_item)
                next_line_item += len(record.line_items)
        rows["Users"] = _user_rows()
        for entries in deleted.values():
            entries.sort(key=lambda entry: entry[1])
        return Dataset(self.seed, self.today, rows, deleted, line_items)

    @staticmethod
    def row(record):
        row = dict(_blank_row(record.module))
        unknown = record.values.keys() - row.keys()
        if unknown:
            raise ValueError(f"{record.module}: generated unknown columns {sorted(unknown)}")
        row.update(record.values)
        for name, target in record.refs.items():
            row[name] = _webservice_id(target)
        row["createdtime"] = _timestamp(record.created)
        row["modifiedtime"] = _timestamp(record.modified)
        row["id"] = _webservice_id(record)
        row["assigned_user_id"] = owner_of(record.crmid)
        if "modifiedby" in row:
            row["modifiedby"] = row["assigned_user_id"]
        return row

    @staticmethod
    def line_item_rows(record, first_id):
        """The LineItems array that retrieve shows for an invoice (line item ids are 33x...)."""
        items = []
        for sequence, (product, quantity, price) in enumerate(record.line_items, start=1):
            cost = Decimal(product.values["purchase_cost"]) * quantity
            items.append(
                {
                    "parent_id": _webservice_id(record),
                    "productid": _webservice_id(product),
                    "sequence_no": str(sequence),
                    "quantity": f"{quantity:.3f}",
                    "listprice": f"{price:.8f}",
                    "discount_percent": "0.000",
                    "discount_amount": "0.00000000",
                    "comment": "",
                    "description": "",
                    "incrementondel": "1",
                    "tax1": "0.000",
                    "tax2": "0.000",
                    "tax3": "0.000",
                    "image": "",
                    "purchase_cost": f"{cost:.8f}",
                    "margin": f"{price * quantity - cost:.8f}",
                    "id": f"33x{first_id + sequence - 1}",
                    "product_name": product.values["productname"],
                    "entity_type": "Products",
                    "deleted": "0",
                }
            )
        return items


def _webservice_id(record):
    return f"{ID_PREFIX[record.module]}x{record.crmid}"
