"""Conformance suite for the stores: the same behaviour, to the digest, on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pyarrow as pa
import pytest
from ledgerkit import KEY, ORG, PERSON, PERSON_2, Clock

from glasscredit.engine.tables import INPUT_SCHEMAS
from glasscredit.errors import ConflictError, InputError, LedgerError
from glasscredit.ledger.batch import Batch
from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger, open_store

#: How each store spells the engine contract's types in its catalogue.
STORE_TYPES = {
    "duckdb": {"string": "VARCHAR", "double": "DOUBLE", "timestamp": "TIMESTAMP"},
    "postgres": {"string": ("character varying", "text"), "double": "double precision",
                 "timestamp": "timestamp without time zone"},
}


def _count(ledger: Ledger, sql: str) -> int:
    return int(ledger.store.query(sql).column(0)[0].as_py())


def test_engine_views_have_exactly_the_contract_columns(ledger: Ledger) -> None:
    dialect = ledger.store.dialect.name
    for name, columns in INPUT_SCHEMAS.items():
        assert ledger.engine_tables()[name].split(".")[-1] == name
        described = ledger.store.query(ledger.store.dialect.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = current_schema() "
            "ORDER BY ordinal_position"), [name]).to_pylist()
        assert [c["column_name"] for c in described] == list(columns)
        for col in described:
            expected = STORE_TYPES[dialect][columns[col["column_name"]]]
            assert col["data_type"] in (expected if isinstance(expected, tuple) else (expected,))


def test_research_flag_is_recorded_and_readable(location: str) -> None:
    Ledger.init(location, KEY, research=True).close()
    with Ledger.open(location, KEY) as book:
        assert book.is_research() is True
        assert book.meta.created_at is not None


def test_live_is_the_default_and_refuses_simulation_policies(ledger: Ledger) -> None:
    assert ledger.is_research() is False
    simulation = ledger.store_policy("mode: simulation\n", "sim", "simulation")
    with pytest.raises(LedgerError, match="simulation policy cannot be activated"):
        ledger.activate_policy(simulation, actor="ops")
    live = ledger.store_policy("mode: live\n", "live", "live")
    ledger.activate_policy(live, actor="ops", note="launch")
    assert _count(ledger, "SELECT count(*) FROM ledger_policy_activations") == 1


def test_policies_are_stored_once_by_content_hash(ledger: Ledger) -> None:
    first = ledger.store_policy("scale: 1\n", "p", "live")
    assert ledger.store_policy("scale: 1\n", "p", "live") == first
    assert _count(ledger, "SELECT count(*) FROM ledger_policies") == 1


def test_wrong_key_and_double_init_are_refused(location: str) -> None:
    Ledger.init(location, KEY).close()
    with pytest.raises(LedgerError, match="does not match"):
        Ledger.open(location, bytes(32))
    with pytest.raises(LedgerError, match="already holds a ledger"):
        Ledger.init(location, KEY)


def test_replay_is_stored_once_and_changed_payload_is_a_conflict(ledger: Ledger, make_events):
    table = make_events([{"source_event_id": "a"}, {"source_event_id": "b"}])
    first = ingest_table(ledger, table, "bank")
    assert (first.stored, first.duplicates, first.conflicts) == (2, 0, 0)
    again = ingest_table(ledger, table, "bank")
    assert (again.stored, again.duplicates, again.conflicts) == (0, 2, 0)
    changed = make_events([{"source_event_id": "a", "attrs": '{"days_late": 9}'}])
    report = ingest_table(ledger, changed, "bank")
    assert report.conflicts == 1
    assert report.rejected[0].reason == (
        "source_event_id 'a' was already recorded with a different payload")
    assert _count(ledger, "SELECT count(*) FROM events") == 2
    other_source = ingest_table(ledger, changed, "court")
    assert other_source.stored == 1


def test_strict_conflict_writes_nothing(ledger: Ledger, make_events) -> None:
    ingest_table(ledger, make_events([{"source_event_id": "a"}]), "bank")
    table = make_events([{"source_event_id": "new"}, {"source_event_id": "a", "value": "2"}])
    with pytest.raises(ConflictError, match="row 2: source_event_id 'a'"):
        ingest_table(ledger, table, "bank", strict=True)
    assert _count(ledger, "SELECT count(*) FROM events") == 1
    assert _count(ledger, "SELECT count(*) FROM ledger_batches") == 3  # two sources, one ingest


def test_duplicates_within_one_batch(ledger: Ledger, make_events) -> None:
    table = make_events([{"source_event_id": "a"}, {"source_event_id": "a"},
                         {"source_event_id": "a", "value": "3"}])
    report = ingest_table(ledger, table, "bank")
    assert (report.stored, report.duplicates, report.conflicts) == (1, 1, 1)
    assert report.rejected[0].row == 3


def test_subjects_are_upserted_by_pseudonym_and_found_by_external_id(ledger, make_events):
    table = make_events([{"source_event_id": "a"}, {"source_event_id": "b", "subject": ORG},
                         {"source_event_id": "c", "subject": PERSON.lower()}])
    ingest_table(ledger, table, "bank")
    subjects = ledger.table("subjects").to_pylist()
    assert sorted(s["subject_kind"] for s in subjects) == ["organisation", "person"]
    person = ledger.subject_id(PERSON)
    assert person is not None and person == ledger.subject_id(PERSON.lower())
    assert ledger.subject_id(PERSON_2) is None
    stored = ledger.store.query("SELECT subject_hmac FROM ledger_subjects").column(0).to_pylist()
    assert PERSON not in stored and ledger.pseudonyms.digest(PERSON) in stored
    events = ledger.table("events").to_pylist()
    assert {e["subject_id"] for e in events} == {s["subject_id"] for s in subjects}


def test_voids_relations_and_sources_reach_the_engine_views(ledger: Ledger, make_events):
    ingest_table(ledger, make_events([{"source_event_id": "a"}]), "bank")
    event_id = ledger.table("events").column("event_id")[0].as_py()
    ledger.void(event_id, "dispute upheld")
    ledger.relate(PERSON, PERSON_2, "family", valid_from=datetime(2020, 1, 1))
    ledger.add_source("bank", 0.5)
    voids = ledger.table("voids").to_pylist()
    assert voids == [{"event_id": event_id, "voided_at": ledger.clock()}]
    relations = ledger.table("relations").to_pylist()
    assert relations[0]["relation"] == "family" and relations[0]["valid_to"] is None
    assert relations[0]["subject_id"] == ledger.subject_id(PERSON)
    assert relations[0]["related_id"] == ledger.subject_id(PERSON_2)
    sources = {r["source_id"]: r["reliability"] for r in ledger.table("sources").to_pylist()}
    assert sources == {"bank": 0.5, "court": 1.0}


def test_a_failing_batch_leaves_nothing_behind(ledger: Ledger, make_events) -> None:
    before = _count(ledger, "SELECT count(*) FROM ledger_batches")
    bad_void = pa.table({"event_id": pa.array([424242], pa.int64()), "voided_at": [ledger.clock()],
                         "kind": ["void"], "reason": ["x"],
                         "replacement_event_id": pa.array([None], pa.int64())})
    subjects = pa.table({"subject_hmac": [ledger.pseudonyms.digest(PERSON)],
                         "subject_kind": ["person"]})
    with pytest.raises(LedgerError, match="unknown subject, event or policy"):
        ledger.append(Batch(subjects=subjects, rows={"ledger_voids": bad_void}))
    assert _count(ledger, "SELECT count(*) FROM ledger_batches") == before
    assert _count(ledger, "SELECT count(*) FROM ledger_subjects") == 0


def test_unknown_source_is_refused(ledger: Ledger, make_events) -> None:
    from glasscredit.errors import IngestError

    with pytest.raises(IngestError, match="unknown source 'nobody'"):
        ingest_table(ledger, make_events([{"source_event_id": "a"}]), "nobody")


def test_scores_snapshots_keep_every_run_and_read_the_latest(ledger: Ledger, make_events):
    ingest_table(ledger, make_events([{"source_event_id": "a"}]), "bank")
    sid = ledger.subject_id(PERSON)
    for day, score in ((1, 600.0), (2, 640.5)):
        ledger.write_scores("p1", datetime(2026, 1, day), pa.table({
            "subject_id": [sid], "subject_kind": ["person"], "score": [score]}))
    assert ledger.read_scores("p1")["score"].to_pylist() == [640.5]
    assert ledger.read_scores("p1", datetime(2026, 1, 1, 12))["score"].to_pylist() == [600.0]
    assert ledger.read_scores("p1", datetime(2025, 1, 1)).num_rows == 0
    assert ledger.read_scores("p1").column_names == ["subject_id", "subject_kind", "score", "band"]
    with pytest.raises(LedgerError):
        ledger.write_scores("p1", datetime(2026, 1, 3), pa.table({
            "subject_id": ["999"], "subject_kind": ["person"], "score": [1.0]}))
    with pytest.raises(InputError, match="unexpected"):
        ledger.write_scores("p1", datetime(2026, 1, 3), pa.table({
            "subject_id": [sid], "subject_kind": ["person"], "score": [1.0], "x": [1]}))


def test_erasure_drops_the_payload_but_keeps_the_digest(ledger: Ledger, make_events) -> None:
    ingest_table(ledger, make_events([{"source_event_id": "a"}]), "bank")
    event_id = ledger.table("events").column("event_id")[0].as_py()
    before = ledger.store.query("SELECT digest FROM ledger_events").column(0).to_pylist()
    ledger.erase_payload(event_id, "court order 12")
    assert ledger.table("events").column("attrs").to_pylist() == [None]
    assert ledger.store.query("SELECT digest FROM ledger_events").column(0).to_pylist() == before
    assert _count(ledger, "SELECT count(*) FROM ledger_erasures") == 1


def test_same_input_gives_the_same_batch_digests_on_every_store(
    location: str, tmp_path, make_events
) -> None:
    """The tamper-evident log will chain these digests: they must not depend on the store."""
    digests = []
    for where in (location, str(tmp_path / "reference.duckdb")):
        with Ledger.init(where, KEY, clock=Clock()) as book:
            book.add_source("bank", 0.9)
            ingest_table(book, make_events([{"source_event_id": str(i)} for i in range(5)]),
                         "bank")
            rows = book.store.query("SELECT rows, digest FROM ledger_batches ORDER BY batch_id")
            digests.append(rows.to_pylist())
    assert digests[0] == digests[1]


def test_open_store_picks_the_backend_from_the_location(location: str) -> None:
    store = open_store(location)
    try:
        assert store.dialect.name == ("postgres" if location.startswith("postgres") else "duckdb")
    finally:
        store.close()


def test_concurrent_writers_store_a_replayed_key_once(location: str, make_events) -> None:
    """Two writers racing on the same keys: each event is stored exactly once."""
    import threading

    with Ledger.init(location, KEY) as book:
        book.add_source("bank", 0.9)
    table = make_events([{"source_event_id": str(i)} for i in range(200)])
    barrier = threading.Barrier(2)
    results = []

    def write() -> None:
        with Ledger.open(location, KEY) as book:
            barrier.wait()
            results.append(ingest_table(book, table, "bank").stored)

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 200]
    with Ledger.open(location, KEY) as book:
        assert _count(book, "SELECT count(*) FROM ledger_events") == 200
        assert _count(book, "SELECT count(*) FROM (SELECT source_id, source_event_id FROM "
                            "ledger_events GROUP BY 1, 2 HAVING count(*) > 1) d") == 0


def test_postgres_half_fails_rather_than_skips_under_ci(monkeypatch) -> None:
    import storekit

    monkeypatch.setattr(storekit, "PG_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is down under CI"):
        storekit.pg_url()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        storekit.pg_url()


def test_engine_tables_name_the_views_in_their_schema(ledger: Ledger) -> None:
    tables = ledger.engine_tables()
    assert set(tables) == set(INPUT_SCHEMAS)
    for name, relation in tables.items():
        assert relation.endswith(name)
        assert ledger.store.query(f"SELECT count(*) FROM {relation}").num_rows == 1


def test_relations_are_typed(ledger: Ledger) -> None:
    with pytest.raises(InputError, match="relation 'enemy' is not one of family"):
        ledger.relate(PERSON, PERSON_2, "enemy", valid_from=datetime(2020, 1, 1))


def test_event_digest_is_sha256_of_the_canonical_payload(ledger: Ledger, make_events) -> None:
    """Replays are judged against digests stored by earlier versions: the form must not drift."""
    ingest_table(ledger, make_events([{"source_event_id": "a", "value": "2.5",
                                       "attrs": '{ "days_late" : 3 }'}]), "bank")
    stored = ledger.store.query("SELECT digest FROM ledger_events").column(0).to_pylist()
    canonical = "\x1f".join([ledger.pseudonyms.digest(PERSON), "bill_payment",
                             "2025-01-01T00:00:00.000000", "2.5", '{"days_late":3}'])
    assert stored == [hashlib.sha256(canonical.encode()).hexdigest()]


def test_a_batch_resolves_subjects_once_across_events_and_listed_subjects(ledger, make_events):
    ingest_table(ledger, make_events([{"source_event_id": "a"}]), "bank")
    first = ledger.subject_id(PERSON)
    macs = {who: ledger.pseudonyms.digest(who) for who in (PERSON, PERSON_2, ORG)}
    events = pa.table({
        "row_no": pa.array([1, 2, 3], pa.int64()), "source_id": ["bank"] * 3,
        "source_event_id": ["b", "c", "d"],
        "subject_hmac": [macs[PERSON_2], macs[PERSON], macs[PERSON_2]],
        "subject_kind": ["person"] * 3, "kind": ["bill_payment"] * 3,
        "occurred_at": [datetime(2025, 1, 1)] * 3, "value": [1.0] * 3,
        "attrs": ['{"days_late":0}'] * 3, "digest": ["x", "y", "z"]})
    subjects = pa.table({"subject_hmac": [macs[ORG], macs[PERSON]],
                         "subject_kind": ["organisation", "person"]})
    result = ledger.append(Batch(events=events, subjects=subjects))
    assert (result.stored, result.new_subjects) == (3, 2)
    assert ledger.subject_id(PERSON) == first
    stored = ledger.store.query(
        "SELECT source_event_id, subject_id FROM ledger_events ORDER BY source_event_id")
    assert [str(s) for s in stored.column("subject_id").to_pylist()] == [
        first, ledger.subject_id(PERSON_2), first, ledger.subject_id(PERSON_2)]
    assert _count(ledger, "SELECT count(*) FROM ledger_subjects") == 3


@pytest.mark.parametrize("change, message", [
    ({"subject_kind": ["person", "organisation"]}, "two subject kinds"),
    ({"subject_hmac": ["m", None]}, "needs a subject_hmac"),
])
def test_malformed_event_subjects_are_refused_before_writing(ledger, change, message):
    events = {"row_no": pa.array([1, 2], pa.int64()), "source_id": ["bank"] * 2,
              "source_event_id": ["a", "b"], "subject_hmac": ["m", "m"],
              "subject_kind": ["person"] * 2, "kind": ["bill_payment"] * 2,
              "occurred_at": [datetime(2025, 1, 1)] * 2, "value": [1.0] * 2,
              "attrs": ["{}"] * 2, "digest": ["x", "y"]}
    before = _count(ledger, "SELECT count(*) FROM ledger_batches")
    with pytest.raises(InputError, match=message):
        ledger.append(Batch(events=pa.table({**events, **change})))
    assert _count(ledger, "SELECT count(*) FROM ledger_batches") == before
    assert _count(ledger, "SELECT count(*) FROM ledger_subjects") == 0


def _event_rows(n: int, **columns: object) -> dict[str, object]:
    """``n`` well-formed event rows for ``Ledger.append``; ``columns`` replace the defaults."""
    rows: dict[str, object] = {
        "row_no": pa.array(range(1, n + 1), pa.int64()), "source_id": ["bank"] * n,
        "source_event_id": [f"e{i}" for i in range(n)], "subject_kind": ["person"] * n,
        "kind": ["bill_payment"] * n, "occurred_at": [datetime(2025, 1, 1)] * n,
        "value": [1.0] * n, "attrs": ["{}"] * n, "digest": [f"d{i}" for i in range(n)]}
    return {**rows, **columns}


def test_dictionary_encoded_subjects_with_unrelated_chunk_dictionaries(ledger: Ledger) -> None:
    """Ingest's chunks share one growing dictionary; any other chunking must resolve the same."""
    a, b = ledger.pseudonyms.digest(PERSON), ledger.pseudonyms.digest(PERSON_2)
    macs = pa.chunked_array([
        pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), pa.array([a, b])),
        pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int32()), pa.array([b, a]))])
    result = ledger.append(Batch(events=pa.table(_event_rows(4, subject_hmac=macs))))
    assert (result.stored, result.new_subjects) == (4, 2)
    stored = ledger.store.query("SELECT subject_id FROM ledger_events ORDER BY event_id")
    assert [str(s) for s in stored.column(0).to_pylist()] == [
        ledger.subject_id(PERSON), ledger.subject_id(PERSON_2), ledger.subject_id(PERSON_2),
        ledger.subject_id(PERSON_2)]


def test_one_key_from_two_sources_in_one_batch_is_two_events(ledger: Ledger) -> None:
    """Keys are (source, source_event_id): the same id from two sources is no replay."""
    mac = ledger.pseudonyms.digest(PERSON)
    rows = _event_rows(3, source_id=["bank", "court", "court"], subject_hmac=[mac] * 3,
                       source_event_id=["a", "a", "a"], digest=["x", "x", "y"])
    result = ledger.append(Batch(events=pa.table(rows)))
    assert (result.stored, result.duplicates, [c.row for c in result.conflicts]) == (2, 0, [3])
    again = ledger.append(Batch(events=pa.table(_event_rows(
        2, source_id=["court", "bank"], subject_hmac=[mac] * 2, source_event_id=["a", "b"],
        digest=["x", "z"]))))
    assert (again.stored, again.duplicates, again.conflicts) == (1, 1, [])
