from datetime import UTC, datetime

import pytest

from builder.dates import (
    DATE,
    DATETIME,
    ISO,
    UNIX,
    UNIX_MS,
    DateParseError,
    DatePreview,
    detect,
    detect_format,
    display,
    find_records,
    parse,
    preview,
)
from tests.recordings import recorded as fixture


def paths(candidates):
    return [candidate.path for candidate in candidates]


# ---------------------------------------------------------------- finding the records


@pytest.mark.parametrize(
    ("data", "path", "length"),
    [
        ([{"a": 1}, {"a": 2}], "", 2),
        ({"success": True, "result": [{"a": 1}]}, "result", 1),
        ({"data": [{"a": 1}, {"a": 2}, {"a": 3}], "meta": {"page": 1}}, "data", 3),
        ({"items": [], "next": None}, "items", 0),
        ({"records": [{"a": 1}], "total": 1}, "records", 1),
        ({"result": [1, 2], "data": [{"a": 1}]}, "result", 2),  # the preferred key wins
        ({"meta": {"count": 2}, "payload": {"rows": [{"a": 1}, {"a": 2}], "tags": [{"t": 1}]}}, "payload.rows", 2),
        ({"a": [1, 2, 3], "b": [{"x": 1}]}, "b", 1),  # an array of objects, not of numbers
        ({"count": 3}, None, 0),
        ("text", None, 0),
    ],
)
def test_find_records(data, path, length):
    found_path, records = find_records(data)
    assert found_path == path
    assert len(records) == length


def test_find_records_in_vtiger_answers():
    assert find_records(fixture("query_Potentials.json"))[0] == "result"
    assert len(find_records(fixture("query_Leads.json"))[1]) == 25
    sync_shape = {"success": True, "result": {"updated": [{"id": "10x77"}], "deleted": ["10x31"], "more": False}}
    assert find_records(sync_shape) == ("result.updated", [{"id": "10x77"}])


# ---------------------------------------------------------------- detecting date fields in the fixtures


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("query_Potentials.json", ["createdtime", "modifiedtime", "closingdate"]),
        ("query_Invoice.json", ["createdtime", "modifiedtime", "invoicedate", "duedate"]),
        ("query_Contacts.json", ["createdtime", "modifiedtime", "birthday"]),
        ("query_Leads.json", ["createdtime", "modifiedtime"]),
        ("query_Accounts.json", ["createdtime", "modifiedtime"]),
        ("query_HelpDesk.json", ["createdtime", "modifiedtime"]),
        ("query_Products.json", ["createdtime", "modifiedtime", "sales_start_date"]),
        ("query_where_example.json", ["closingdate"]),
        ("query_Users.json", []),
        ("query_count_leads.json", []),
    ],
)
def test_detects_the_date_fields_of_every_query_fixture(name, expected):
    assert paths(detect(fixture(name))) == expected


def test_potentials_candidates_in_detail():
    candidates = {c.path: c for c in detect(fixture("query_Potentials.json"))}
    created = candidates["createdtime"]
    assert created.format == DATETIME
    assert created.sample == "2026-11-28 20:08:55"
    assert created.parsed == datetime(2026, 11, 28, 20, 8, 55, tzinfo=UTC)
    assert (created.matched, created.checked) == (15, 15)
    closing = candidates["closingdate"]
    assert closing.format == DATE
    assert closing.sample == "2026-06-30"
    assert closing.parsed == datetime(2026, 6, 30, tzinfo=UTC)
    assert created.confidence > closing.confidence > 0.5
    # Numbers as strings are not dates: probability "100.000", amounts "185000.00000000".
    assert not {"probability", "amount", "forecast_amount", "isconvertedfromlead", "id"} & set(candidates)


def test_invoice_dates_detected_not_its_totals():
    candidates = {c.path: c.format for c in detect(fixture("query_Invoice.json"))}
    assert candidates["invoicedate"] == DATE
    assert candidates["duedate"] == DATE
    assert "hdnGrandTotal" not in candidates


def test_half_empty_date_field_ranks_below_full_ones():
    candidates = detect(fixture("query_Contacts.json"))
    birthday = next(c for c in candidates if c.path == "birthday")
    assert birthday.confidence < candidates[0].confidence
    assert "support_start_date" not in paths(candidates)  # every sampled value is ""


def test_naive_zone_applies_to_parsed_samples():
    candidate = detect(fixture("query_Potentials.json"), naive_tz="America/New_York")[0]
    assert candidate.parsed == datetime(2026, 11, 29, 1, 8, 55, tzinfo=UTC)


def test_sample_size_limits_the_records_looked_at():
    records = [{"when": "2026-01-01"}] * 3 + [{"when": "soon"}] * 30
    assert paths(detect(records, sample_size=3)) == ["when"]
    assert paths(detect(records)) == []


# ---------------------------------------------------------------- detecting other shapes


def test_detects_epochs_and_iso_variants():
    records = [
        {
            "ts": 1772946000 + i,
            "created_ms": 1772946000123 + i,
            "ts_string": str(1772946000 + i),
            "updated_ms_string": str(1772946000123 + i),
            "createdAt": f"2026-03-08T10:00:0{i}Z",
            "offset_time": f"2026-03-08T10:00:0{i}+05:30",
            "naive_iso": f"2026-03-08T10:00:0{i}.250",
            "phone": 2125550100 + i,
            "revenue": "1500000000.00000000",
            "employees": 320 + i,
            "name": "Ana",
            "flag": True,
        }
        for i in range(3)
    ]
    candidates = {c.path: c for c in detect({"data": records})}
    assert {path: c.format for path, c in candidates.items()} == {
        "ts": UNIX,
        "created_ms": UNIX_MS,
        "ts_string": UNIX,
        "updated_ms_string": UNIX_MS,
        "createdAt": ISO,
        "offset_time": ISO,
        "naive_iso": ISO,
    }
    assert candidates["ts"].parsed == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert candidates["created_ms"].parsed == datetime(2026, 3, 8, 5, 0, 0, 123000, tzinfo=UTC)
    assert candidates["offset_time"].parsed == datetime(2026, 3, 8, 4, 30, tzinfo=UTC)
    assert candidates["createdAt"].parsed == datetime(2026, 3, 8, 10, tzinfo=UTC)
    # Dates written as dates beat numbers that merely fall in the epoch range.
    assert candidates["createdAt"].confidence > candidates["ts"].confidence > candidates["ts_string"].confidence


def test_nested_fields_are_found_with_dotted_paths():
    records = [{"id": 1, "attributes": {"created_at": "2026-03-08T10:00:00Z", "meta": {"seen": 1772946000000}}}]
    assert paths(detect({"data": records})) == ["attributes.created_at", "attributes.meta.seen"]


def test_mixed_date_and_datetime_strings_fall_back_to_iso():
    records = [{"when": "2026-03-08"}, {"when": "2026-03-08 10:00:00"}, {"when": "2026-03-08T11:00:00Z"}]
    [candidate] = detect(records)
    assert candidate.format == ISO
    assert candidate.matched == 3


def test_the_sample_is_a_value_in_the_chosen_format():
    records = [{"when": 1772946000}] + [{"when": f"2026-03-0{i}T10:00:00Z"} for i in range(1, 6)]
    [candidate] = detect(records)
    assert (candidate.format, candidate.sample, candidate.matched) == (ISO, "2026-03-01T10:00:00Z", 5)


def test_mostly_non_dates_are_not_a_candidate():
    records = [{"note": "2026-03-08"}] + [{"note": "call back"}] * 4
    assert detect(records) == []


def test_out_of_range_epochs_and_invalid_dates_are_ignored():
    records = [{"small": 12345, "huge": 10**15, "bad_date": "2026-13-45", "ts": 4102444800}]
    assert detect(records) == []


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("2026-06-30", DATE),
        ("2026-06-30 14:05:09", DATETIME),
        ("2026-06-30T14:05:09", ISO),
        ("2026-06-30T14:05:09Z", ISO),
        ("2026-06-30T14:05:09.123456789+02:00", ISO),
        ("2026-06-30 14:05:09-0500", ISO),
        (1782828309, UNIX),
        (1782828309.5, UNIX),
        ("1782828309", UNIX),
        (1782828309000, UNIX_MS),
        ("1782828309000", UNIX_MS),
        (946684800, UNIX),  # 2000-01-01
        (946684799, None),
        ("0946684800", UNIX),
        (True, None),
        (None, None),
        ("", None),
        ("30/06/2026", None),
        ("100.000", None),
        ("185000.00000000", None),
        ("2026-W26-2", None),
        (float("nan"), None),
        ({"a": 1}, None),
    ],
)
def test_detect_format(value, fmt):
    assert detect_format(value) == fmt


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("value", "fmt", "naive_tz", "expected"),
    [
        ("2026-06-30", DATE, "UTC", datetime(2026, 6, 30, tzinfo=UTC)),
        # Calendar dates (no time of day) are midnight UTC of their date whatever the naive zone.
        ("2026-06-30", DATE, "America/New_York", datetime(2026, 6, 30, tzinfo=UTC)),
        ("2026-01-30", DATE, "America/New_York", datetime(2026, 1, 30, tzinfo=UTC)),
        ("2026-06-30", DATE, "Asia/Kolkata", datetime(2026, 6, 30, tzinfo=UTC)),
        ("2026-11-28 20:08:55", DATETIME, "UTC", datetime(2026, 11, 28, 20, 8, 55, tzinfo=UTC)),
        ("2026-11-28 20:08:55", "YYYY-MM-DD HH:MM:SS", "UTC", datetime(2026, 11, 28, 20, 8, 55, tzinfo=UTC)),
        (" 2026-11-28 20:08:55 ", DATETIME, "Asia/Kolkata", datetime(2026, 11, 28, 14, 38, 55, tzinfo=UTC)),
        # 01:30 happens twice in New York on 2026-11-01; the first (EDT) one is taken.
        ("2026-11-01 01:30:00", DATETIME, "America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        ("2026-06-30T14:05:09Z", ISO, "Asia/Kolkata", datetime(2026, 6, 30, 14, 5, 9, tzinfo=UTC)),
        ("2026-06-30t14:05:09z", ISO, "UTC", datetime(2026, 6, 30, 14, 5, 9, tzinfo=UTC)),
        ("2026-06-30T14:05:09+05:30", ISO, "America/New_York", datetime(2026, 6, 30, 8, 35, 9, tzinfo=UTC)),
        ("2026-06-30T14:05:09.5-04:00", ISO, "UTC", datetime(2026, 6, 30, 18, 5, 9, 500000, tzinfo=UTC)),
        ("2026-06-30T14:05", ISO, "America/New_York", datetime(2026, 6, 30, 18, 5, tzinfo=UTC)),
        ("2026-06-30", ISO, "Asia/Kolkata", datetime(2026, 6, 29, 18, 30, tzinfo=UTC)),
        (1782828309, UNIX, "Asia/Kolkata", datetime(2026, 6, 30, 14, 5, 9, tzinfo=UTC)),
        ("1782828309", UNIX, "UTC", datetime(2026, 6, 30, 14, 5, 9, tzinfo=UTC)),
        (1782828309.25, UNIX, "UTC", datetime(2026, 6, 30, 14, 5, 9, 250000, tzinfo=UTC)),
        (1782828309123, UNIX_MS, "UTC", datetime(2026, 6, 30, 14, 5, 9, 123000, tzinfo=UTC)),
        ("1782828309123", UNIX_MS, "UTC", datetime(2026, 6, 30, 14, 5, 9, 123000, tzinfo=UTC)),
        ("30/06/2026", "DD/MM/YYYY", "UTC", datetime(2026, 6, 30, tzinfo=UTC)),
        ("6/3/2026", "MM/DD/YYYY", "UTC", datetime(2026, 6, 3, tzinfo=UTC)),
        ("30.06.2026 14:05", "DD.MM.YYYY HH:mm", "Asia/Kolkata", datetime(2026, 6, 30, 8, 35, tzinfo=UTC)),
        ("2026-06", "YYYY-MM", "UTC", datetime(2026, 6, 1, tzinfo=UTC)),
        ("20260630", "YYYYMMDD", "UTC", datetime(2026, 6, 30, tzinfo=UTC)),
    ],
)
def test_parse(value, fmt, naive_tz, expected):
    parsed = parse(value, fmt, naive_tz)
    assert parsed == expected
    assert parsed.tzinfo == UTC


def test_parse_defaults_naive_values_to_utc():
    assert parse("2026-06-30", DATE) == datetime(2026, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "fmt", "message"),
    [
        ("30/06/2026", DATE, "Cannot read '30/06/2026' as YYYY-MM-DD, like 2026-06-30."),
        ("2026-13-01", DATE, "Cannot read '2026-13-01' as YYYY-MM-DD, like 2026-06-30 (month must be in 1..12)."),
        ("2026-06-30", DATETIME, "Cannot read '2026-06-30' as YYYY-MM-DD HH:MM:SS, like 2026-06-30 14:05:09."),
        ("yesterday", ISO, "Cannot read 'yesterday' as ISO 8601, like 2026-06-30T14:05:09Z."),
        ("2026-W26-2", ISO, "Cannot read '2026-W26-2' as ISO 8601"),
        (1782828309, ISO, "Cannot read 1782828309 as ISO 8601"),
        ("abc", UNIX, "Cannot read 'abc' as Epoch seconds, like 1782828309."),
        (True, UNIX, "Cannot read True as Epoch seconds"),
        ("12.5.3", UNIX_MS, "Cannot read '12.5.3' as Epoch milliseconds, like 1782828309000."),
        (10**30, UNIX, "Cannot read 1000000000000000000000000000000 as Epoch seconds, like 1782828309 (out of range)."),
        ("", DATE, "The date is empty; expected YYYY-MM-DD, like 2026-06-30."),
        (None, UNIX, "The date is empty; expected Epoch seconds"),
        ("2026-06-30", "QQ", "The date format 'QQ' cannot be used: 'QQ' is not a date part."),
        ("06/30", "MM/DD", "The date format 'MM/DD' cannot be used: it needs the year, YYYY."),
        (None, "QQ", "The date format 'QQ' cannot be used: 'QQ' is not a date part."),
        ("30/06/2026", "DD/MM/YYYY HH", "Cannot read '30/06/2026' as DD/MM/YYYY HH, like 30/06/2026 14."),
    ],
)
def test_parse_errors_show_the_value_and_the_format(value, fmt, message):
    with pytest.raises(DateParseError) as caught:
        parse(value, fmt, "UTC")
    assert str(caught.value).startswith(message)


def test_parse_rejects_an_unknown_zone():
    with pytest.raises(ValueError, match="Unknown time zone"):
        parse("2026-06-30", DATE, "Europe/Atlantis")


# ---------------------------------------------------------------- display


def test_display_in_zones():
    moment = datetime(2026, 6, 30, tzinfo=UTC)
    assert display(moment, "UTC") == "2026-06-30 00:00:00 UTC"
    assert display(moment, "America/New_York") == "2026-06-29 20:00:00 EDT"
    assert display(moment, "Asia/Kolkata") == "2026-06-30 05:30:00 IST"


def test_preview_raw_utc_and_local():
    assert preview("2026-11-28 20:08:55", DATETIME, "UTC", "Asia/Kolkata") == DatePreview(
        raw="2026-11-28 20:08:55", utc="2026-11-28 20:08:55 UTC", local="2026-11-29 01:38:55 IST"
    )
    assert preview(1782828309, UNIX, "UTC", "America/New_York").local == "2026-06-30 10:05:09 EDT"


def test_each_format_keeps_its_own_cached_reader():
    """The readers are cached per format string: MM and mm in either place keep their meanings."""
    minutes = parse("2026-07-01 05", "YYYY-MM-DD mm")
    months = parse("2026-05-01 07", "YYYY-mm-DD MM")
    assert minutes == datetime(2026, 7, 1, 0, 5, tzinfo=UTC)
    assert months == datetime(2026, 7, 1, 0, 5, tzinfo=UTC)
    assert parse("2026-07-01 05", "YYYY-MM-DD mm") == minutes
    assert parse("2026-01-07 05", "YYYY-DD-MM mm") == minutes
