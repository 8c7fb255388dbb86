"""Ingest: every kind of bad row with its exact message, file formats, strict mode, reject files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from ledgerkit import KEY, ORG, PERSON, PERSON_2, Clock, events_table

from glasscredit import ids
from glasscredit.errors import IdError, IngestError
from glasscredit.ledger.ingest import ingest_file, ingest_table, write_rejects
from glasscredit.ledger.ledger import Ledger


def _id_reason(value: str) -> str:
    with pytest.raises(IdError) as info:
        ids.check_id(value)
    return info.value.reason


BAD_ID = "110105194912310021"  # check character should be X

#: (changes to a good row, field, exact reason). One case per kind of bad row.
BAD_ROWS = {
    "empty source_event_id": ({"source_event_id": ""}, "source_event_id",
                              "source_event_id is empty"),
    "empty subject": ({"subject": " "}, "subject", "subject is empty"),
    "bad subject checksum": ({"subject": BAD_ID}, "subject",
                             f"subject {BAD_ID!r}: {_id_reason(BAD_ID)}"),
    "bad subject_kind": ({"subject_kind": "robot"}, "subject_kind",
                         "subject_kind 'robot' is not one of person, organisation"),
    "subject_kind mismatch": (
        {"subject_kind": "organisation"}, "subject_kind",
        f"subject_kind 'organisation' does not match subject {PERSON!r} "
        "(its id identifies: person)"),
    "empty kind": ({"kind": ""}, "kind", "kind is empty"),
    "unknown kind": ({"kind": "bill_paymnt"}, "kind",
                     "unknown event kind 'bill_paymnt' (did you mean 'bill_payment'?)"),
    "kind not for organisations": (
        {"kind": "blood_donation", "subject": ORG, "attrs": "{}"}, "kind",
        "event kind 'blood_donation' is for person subjects, not organisations"),
    "empty occurred_at": ({"occurred_at": ""}, "occurred_at", "occurred_at is empty"),
    "unparseable occurred_at": ({"occurred_at": "yesterday"}, "occurred_at",
                                "occurred_at 'yesterday' is not an ISO 8601 timestamp"),
    "future occurred_at": ({"occurred_at": "2026-06-01T12:00:01Z"}, "occurred_at",
                           "occurred_at '2026-06-01T12:00:01Z' is in the future"),
    "non-numeric value": ({"value": "ten"}, "value", "value 'ten' is not a finite number"),
    "infinite value": ({"value": "inf"}, "value", "value 'inf' is not a finite number"),
    "missing value for a measured kind": (
        {"kind": "debt_settled", "value": None, "attrs": "{}"}, "value",
        "value is required for kind 'debt_settled' (measured in rmb)"),
    "attrs not JSON": ({"attrs": "{days_late: 1"}, "attrs",
                       "attrs '{days_late: 1' is not a JSON object"),
    "attrs not an object": ({"attrs": "[1, 2]"}, "attrs", "attrs '[1, 2]' is not a JSON object"),
    "unknown attribute": ({"attrs": '{"dayslate": 1}'}, "attrs",
                          "unknown attribute 'dayslate' for 'bill_payment' "
                          "(did you mean 'days_late'?)"),
    "attribute type": ({"attrs": '{"days_late": "3"}'}, "attrs",
                       "attribute 'days_late': expected int, got str '3'"),
    "attribute enum": ({"attrs": '{"bill_type": "water"}'}, "attrs",
                       "attribute 'bill_type': 'water' is not one of utility, phone, rent, "
                       "credit_card, loan_instalment, other (did you mean 'other'?)"),
    "attribute date": ({"kind": "credit_repair_completed",
                        "attrs": '{"repaired_on": "2025-02-30"}'}, "attrs",
                       "attribute 'repaired_on': expected ISO date, got str '2025-02-30'"),
    "attribute bool": ({"kind": "debt_settled", "value": "10", "attrs": '{"negotiated": "yes"}'},
                       "attrs", "attribute 'negotiated': expected bool, got str 'yes'"),
}


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Ledger]:
    """Validation does not depend on the store: most ingest tests run on DuckDB only."""
    book = Ledger.init(tmp_path / "l.duckdb", KEY, clock=Clock())
    book.add_source("bank", 0.9)
    yield book
    book.close()


def _events(book: Ledger) -> list[dict[str, object]]:
    return book.table("events").to_pylist()


@pytest.mark.parametrize("change, field, reason", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_each_kind_of_bad_row_is_rejected_with_its_exact_reason(duck, change, field, reason):
    table = events_table([{"source_event_id": "good"}, {"source_event_id": "bad", **change}])
    report = ingest_table(duck, table, "bank")
    assert [(p.row, p.field, p.reason) for p in report.rejected] == [(2, field, reason)]
    assert report.stored == 1 and len(_events(duck)) == 1


@pytest.mark.parametrize("change, field, reason", list(BAD_ROWS.values())[:3],
                         ids=list(BAD_ROWS)[:3])
def test_strict_mode_rejects_the_file_at_the_first_bad_row(duck, change, field, reason):
    table = events_table([{"source_event_id": "good"}, {"source_event_id": "bad", **change},
                          {"source_event_id": "x", "kind": "nope"}])
    with pytest.raises(IngestError) as info:
        ingest_table(duck, table, "bank", strict=True)
    assert str(info.value) == f"row 2: {reason} (strict: nothing written)"
    assert info.value.rows[0].field == field
    assert _events(duck) == []


def test_a_file_of_only_unknown_kinds_stores_nothing(duck: Ledger) -> None:
    """With no catalogue kind in the file, every row is still checked (and refused)."""
    table = events_table([{"source_event_id": "a", "kind": "bill_paymnt"},
                          {"source_event_id": "b", "kind": "nope"}])
    report = ingest_table(duck, table, "bank")
    assert report.stored == 0 and _events(duck) == []
    assert [(p.row, p.field) for p in report.rejected] == [(1, "kind"), (2, "kind")]
    assert report.rejected[1].reason == "unknown event kind 'nope'"


def test_good_rows_are_normalised(duck: Ledger) -> None:
    table = events_table([
        {"source_event_id": "a", "occurred_at": "2025-01-01T08:00:00+08:00", "value": None},
        {"source_event_id": "b", "occurred_at": "2025-01-01 00:00:00", "subject": f" {ORG} ",
         "attrs": '{ "days_late" : 3 }', "value": "2.5"},
    ])
    assert ingest_table(duck, table, "bank").stored == 2
    rows = sorted(_events(duck), key=lambda r: r["event_id"])
    assert [r["occurred_at"] for r in rows] == [datetime(2025, 1, 1)] * 2
    assert [r["value"] for r in rows] == [1.0, 2.5]  # count kinds default to one
    assert [r["attrs"] for r in rows] == ['{"days_late":0}', '{"days_late":3}']


def _write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    elif path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        with path.open("w") as fh:
            for row in table.to_pylist():
                attrs = row.pop("attrs")
                fh.write(json.dumps({**row, "attrs": json.loads(attrs)}) + "\n")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_format_ingests_the_same_events(duck: Ledger, tmp_path: Path, suffix: str) -> None:
    table = events_table([{"source_event_id": str(i), "attrs": f'{{"days_late": {i}}}'}
                          for i in range(5)] + [{"source_event_id": "bad", "kind": "x"}])
    seen: list[int] = []
    report = ingest_file(duck, _write(table, tmp_path / f"e{suffix}"), "bank",
                         progress=seen.append, chunk_rows=4)
    assert (report.rows, report.stored, len(report.rejected)) == (6, 5, 1)
    assert report.rejected[0].row == 6 and sum(seen) == 6
    assert sorted(r["attrs"] for r in _events(duck)) == [
        f'{{"days_late":{i}}}' for i in range(5)]


def test_attribute_columns_are_typed_by_the_catalogue(duck: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("source_event_id,subject,kind,occurred_at,value,attr.days_overdue,"
                    "attr.negotiated\n"
                    f"a,{PERSON},debt_settled,2025-01-01,100,12,true\n"
                    f"b,{PERSON},debt_settled,2025-01-01,100,,\n"
                    f"c,{PERSON},debt_settled,2025-01-01,100,twelve,\n")
    report = ingest_file(duck, path, "bank")
    assert [r["attrs"] for r in sorted(_events(duck), key=lambda r: r["event_id"])] == [
        '{"days_overdue":12,"negotiated":true}', "{}"]
    assert [(p.row, p.reason) for p in report.rejected] == [
        (3, "attribute 'days_overdue': expected int, got str 'twelve'")]


def test_parquet_with_native_types(duck: Ledger, tmp_path: Path) -> None:
    table = pa.table({"source_event_id": ["a"], "subject": [PERSON], "kind": ["bill_payment"],
                      "occurred_at": pa.array([datetime(2025, 3, 1, 9)], pa.timestamp("ms")),
                      "value": [1.0], "attr.days_late": pa.array([4], pa.int32())})
    pq.write_table(table, tmp_path / "e.parquet")
    assert ingest_file(duck, tmp_path / "e.parquet", "bank").stored == 1
    assert _events(duck)[0]["occurred_at"] == datetime(2025, 3, 1, 9)
    assert _events(duck)[0]["attrs"] == '{"days_late":4}'


@pytest.mark.parametrize("header, message", [
    ("source_event_id,subject,kind", "missing column(s): occurred_at"),
    ("source_event_id,subject,kind,occurred_at,ocurred", "unknown column(s): ocurred"),
    ("source_event_id,subject,kind,occurred_at,attrs,attr.x",
     "use either an attrs column or attr.<name> columns, not both"),
    ('source_event_id,subject,kind,occurred_at,"attr.x"" OR 1"', 'unknown column(s): attr.x" OR 1'),
])
def test_unusable_files_are_refused_whole(duck, tmp_path, header, message):
    path = tmp_path / "e.csv"
    path.write_text(header + "\n")
    with pytest.raises(IngestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ingest_file(duck, path, "bank")


def test_unknown_format_and_missing_file(duck: Ledger, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"e.xlsx: unknown format; use one of \.csv"):
        ingest_file(duck, tmp_path / "e.xlsx", "bank")
    with pytest.raises(IngestError, match="no such file"):
        ingest_file(duck, tmp_path / "missing.csv", "bank")


def test_reject_file_lists_row_field_and_reason(tmp_path: Path, duck: Ledger) -> None:
    table = events_table([{"source_event_id": "a", "kind": "nope"}, {"source_event_id": "b"}])
    report = ingest_table(duck, table, "bank")
    write_rejects(tmp_path / "r.csv", report.rejected)
    with (tmp_path / "r.csv").open() as fh:
        assert list(csv.reader(fh)) == [["row", "field", "reason"],
                                        ["1", "kind", "unknown event kind 'nope'"]]


def test_ingest_reaches_postgres_too(ledger: Ledger, tmp_path: Path) -> None:
    """The ingest path is store-independent, but the file-to-store route runs on both."""
    table = events_table([{"source_event_id": str(i)} for i in range(50)]
                         + [{"source_event_id": "bad", "value": "x"}])
    report = ingest_file(ledger, _write(table, tmp_path / "e.parquet"), "bank", chunk_rows=16)
    assert (report.stored, len(report.rejected)) == (50, 1)
    assert ledger.table("events").num_rows == 50


#: Timestamp texts and the UTC instant each names (offsets, zone names, and none).
TIMESTAMPS = {
    "2025-01-01T08:00:00+08:00": datetime(2025, 1, 1),
    "2025-01-01T10:00:00-0500": datetime(2025, 1, 1, 15),
    "2025-01-01T00:00:00 Asia/Shanghai": datetime(2024, 12, 31, 16),
    "2025-01-01T00:00:00Z": datetime(2025, 1, 1),
    "2025-01-01 10:00:00.5": datetime(2025, 1, 1, 10, 0, 0, 500000),
    "2025-01-01T10:30": datetime(2025, 1, 1, 10, 30),
    "2025-01-01": datetime(2025, 1, 1),
    "2025-1-1": datetime(2025, 1, 1),
}


@pytest.mark.parametrize("text, instant", TIMESTAMPS.items(), ids=TIMESTAMPS.keys())
def test_timestamp_texts_are_stored_as_their_utc_instant(duck: Ledger, text, instant) -> None:
    report = ingest_table(duck, events_table([{"source_event_id": "a", "occurred_at": text}]),
                          "bank")
    assert report.stored == 1, report.rejected
    assert _events(duck)[0]["occurred_at"] == instant


def test_zoned_parquet_timestamps_are_stored_in_utc(duck: Ledger, tmp_path: Path) -> None:
    stamps = pa.array([datetime(2025, 3, 1, 9)], pa.timestamp("us", tz="UTC")).cast(
        pa.timestamp("us", tz="Asia/Shanghai"))
    table = pa.table({"source_event_id": ["a"], "subject": [PERSON], "kind": ["bill_payment"],
                      "occurred_at": stamps, "attrs": ['{"days_late": 1}']})
    pq.write_table(table, tmp_path / "e.parquet")
    assert ingest_file(duck, tmp_path / "e.parquet", "bank").stored == 1
    assert _events(duck)[0]["occurred_at"] == datetime(2025, 3, 1, 9)


def test_subjects_come_from_stored_rows_only_across_chunks(duck: Ledger, tmp_path: Path) -> None:
    """Chunks carry their own subject dictionaries; a rejected row's subject is not created."""
    rows = [{"source_event_id": str(i), "subject": [PERSON, ORG, PERSON.lower()][i % 3]}
            for i in range(9)] + [{"source_event_id": "bad", "subject": PERSON_2, "kind": "x"}]
    report = ingest_file(duck, _write(events_table(rows), tmp_path / "e.parquet"), "bank",
                         chunk_rows=4)
    assert (report.stored, len(report.rejected)) == (9, 1)
    assert duck.subject_id(PERSON_2) is None
    events = _events(duck)
    assert len({e["subject_id"] for e in events}) == 2
    assert sum(e["subject_id"] == duck.subject_id(PERSON) for e in events) == 6


#: Attribute texts at the edges of their JSON types, and whether ingest stores them: the query
#: reads canonical JSON text, so escapes, signs and number ranges must still mean what they say.
ATTRIBUTE_EDGES = {
    '{"bill_type": "\\u0072ent"}': True,  # an escaped enum value is the value
    '{"bill_type": "Rent"}': False,
    '{"bill_type": null, "days_late": null}': True,  # null means absent
    '{"days_late": -3}': True,
    '{"days_late": 18446744073709551615}': True,
    '{"days_late": 99999999999999999999}': False,  # beyond 64 bits is no int to DuckDB
    '{"days_late": 1e2}': False,
    '{"days_late": 3.0}': False,
    '{"amount": -1.5e-7}': True,
    '{"amount": 12}': True,
    '{"amount": "12"}': False,
    '{"amount": true}': False,
    '{"days_late": [1]}': False,
    '{"days_late": 1, "days_late": 2}': True,  # duplicate keys: as before, the text is kept
}


@pytest.mark.parametrize("attrs, stored", ATTRIBUTE_EDGES.items(), ids=ATTRIBUTE_EDGES.keys())
def test_attribute_types_at_their_edges(duck: Ledger, attrs: str, stored: bool) -> None:
    report = ingest_table(duck, events_table([{"source_event_id": "a", "attrs": attrs}]), "bank")
    assert report.stored == int(stored), report.rejected
    assert [p.field for p in report.rejected] == ([] if stored else ["attrs"])


@pytest.mark.parametrize("attrs, stored", [
    ('{"record_severity": "minor", "repaired_on": "2025-02-28", "training_completed": true}',
     True),
    ('{"repaired_on": "2025-2-28"}', False), ('{"repaired_on": "2025-02-28T00:00"}', False),
    ('{"repaired_on": 20250228}', False), ('{"training_completed": "true"}', False),
    ('{"record_severity": "\\u006dinor"}', True), ('{"repaired_on": null}', True),
    ('{"training_completed": false}', True)])  # a missing date is no bad date
def test_date_bool_and_enum_attributes(duck: Ledger, attrs: str, stored: bool) -> None:
    table = events_table([{"source_event_id": "a", "kind": "credit_repair_completed",
                           "attrs": attrs}])
    assert ingest_table(duck, table, "bank").stored == int(stored)


def test_strict_stops_at_a_bad_row_of_an_early_chunk(duck: Ledger, tmp_path: Path) -> None:
    """Chunks are checked ahead of the one being judged: stopping early writes nothing, and
    leaves nothing running that would trouble the next ingest."""
    rows = [{"source_event_id": str(i)} for i in range(12)]
    rows[3]["value"] = "ten"
    path = _write(events_table(rows), tmp_path / "e.parquet")
    with pytest.raises(IngestError, match="row 4: value 'ten' is not a finite number"):
        ingest_file(duck, path, "bank", strict=True, chunk_rows=2)
    assert _events(duck) == []
    report = ingest_file(duck, path, "bank", chunk_rows=2)
    assert (report.rows, report.stored, [p.row for p in report.rejected]) == (12, 11, [4])


def test_subjects_stay_right_when_the_id_cache_is_reset(duck: Ledger, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with more distinct ids than the validator keeps starts its cache afresh; chunks
    checked before and after then carry different pseudonym dictionaries."""
    monkeypatch.setattr("glasscredit.ledger.validate._CACHE_LIMIT", 2)
    people = [PERSON, ORG, PERSON_2]
    rows = [{"source_event_id": str(i), "subject": people[i % 3]} for i in range(9)]
    report = ingest_file(duck, _write(events_table(rows), tmp_path / "e.parquet"), "bank",
                         chunk_rows=2)
    assert (report.stored, report.rejected) == (9, [])
    ids = {who: duck.subject_id(who) for who in people}
    events = sorted(_events(duck), key=lambda e: int(str(e["event_id"])))
    assert [e["subject_id"] for e in events] == [ids[people[i % 3]] for i in range(9)]
