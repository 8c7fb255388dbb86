"""Scoring from the ledger (both stores): the engine reads what the ledger holds, at any time;
voids change what it sees; snapshots chain runs; modes keep research and real data apart."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from ledgerkit import KEY, PERSON, PERSON_2, Clock, events_table

from enginekit import NETWORK_POLICY
from glasscredit.errors import LedgerError
from glasscredit.ids import resident_id
from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import compile_policy
from glasscredit.runs import decide, ledger_inputs, ledger_scope, score_ledger

RULES = """
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories: [{name: civic}]
rules:
  - {id: volunteering, kind: volunteering, points_per_unit: 0.1, category: civic,
     valid_for: 365d, reason: "Hours volunteered in the last year"}
  - {id: blood, kind: blood_donation, points_per_unit: 20, category: civic,
     reason: "Blood donated"}
bands:
  - {name: member, min: 0, max: 110}
  - {name: champion, min: 110, max: 200}
measures:
  - name: transit_discount
    type: privilege
    context: transport
    when: "score >= 110"
    hysteresis: {low_water: 0.9, grace: 14d}
    linked_contexts:
      - {context: civic, justification: "The programme's published reward for civic work."}
"""
LIVE = compile_policy("policy: rewards\nmode: live\n" + RULES)
SIMULATION = compile_policy("policy: rewards_study\nmode: simulation\n" + RULES)


def make(location: str, research: bool) -> Ledger:
    book = Ledger.init(location, KEY, research=research, clock=Clock(datetime(2026, 6, 1)))
    book.add_source("city", 1.0)
    report = ingest_table(book, events_table([
        {"source_event_id": "v1", "subject": PERSON, "kind": "volunteering",
         "occurred_at": "2026-01-10T00:00:00Z", "value": "80", "attrs": "{}"},
        {"source_event_id": "v2", "subject": PERSON, "kind": "volunteering",
         "occurred_at": "2026-03-10T00:00:00Z", "value": "40", "attrs": "{}"},
        {"source_event_id": "b1", "subject": PERSON_2, "kind": "blood_donation",
         "occurred_at": "2025-05-01T00:00:00Z", "value": "0.4", "attrs": "{}"},
    ]), "city")
    assert not report.rejected
    return book


def test_live_policy_scores_a_real_ledger_and_keeps_snapshots(location: str) -> None:
    book = make(location, research=False)
    try:
        run = score_ledger(book, LIVE, datetime(2026, 6, 1))
        scores = {r["subject_id"]: r for r in run.result.arrow("scores").to_pylist()}
        me, other = book.subject_id(PERSON), book.subject_id(PERSON_2)
        assert me is not None and other is not None
        # 80 h + 40 h = 120 h x 0.1 = 12 -> 112; 0.4 l x 20 = 8 -> 108
        assert scores[me]["score"] == pytest.approx(112.0, abs=1e-9)
        assert scores[other]["score"] == pytest.approx(108.0, abs=1e-9)
        stored = book.read_scores(LIVE.content_hash).to_pylist()
        assert sorted(r["score"] for r in stored) == pytest.approx([108.0, 112.0])
        # 2027-01-15: v1 (2026-01-10) is older than 365 days -> 104 < 99 (0.9 x 110)? no:
        # 104 >= 99 keeps the discount by hysteresis, chained from the stored snapshot
        d = decide(book, LIVE, me, "transit_discount", datetime(2027, 1, 15))
        assert d.outcome == "allow" and d.score == pytest.approx(104.0)
        assert d.policy_version == LIVE.version_id
        # without the stored state (a fresh policy hash), 104 < 110 denies
        fresh = compile_policy("policy: rewards2\nmode: live\n" + RULES)
        assert decide(book, fresh, me, "transit_discount",
                      datetime(2027, 1, 15)).outcome == "deny"
    finally:
        book.close()


def test_a_void_changes_what_the_engine_sees_from_its_time(location: str) -> None:
    book = make(location, research=False)
    try:
        me = book.subject_id(PERSON)
        events = book.table("events").to_pylist()
        v2 = next(e for e in events if e["subject_id"] == me and e["value"] == 40.0)
        book.clock = Clock(datetime(2026, 7, 1))
        book.void(v2["event_id"], "disputed and not verified in time")
        before = score_ledger(book, LIVE, datetime(2026, 6, 15), [me], keep=False)
        after = score_ledger(book, LIVE, datetime(2026, 7, 2), [me], keep=False)
        assert before.result.arrow("scores").to_pylist()[0]["score"] == pytest.approx(112.0)
        assert after.result.arrow("scores").to_pylist()[0]["score"] == pytest.approx(108.0)
    finally:
        book.close()


def test_modes_never_cross(location: str) -> None:
    real = make(location, research=False)
    try:
        with pytest.raises(LedgerError, match="simulation"):
            score_ledger(real, SIMULATION, datetime(2026, 6, 1))
    finally:
        real.close()


def test_a_research_ledger_never_serves_live_decisions(tmp_path) -> None:
    research = make(str(tmp_path / "research.duckdb"), research=True)
    try:
        run = score_ledger(research, SIMULATION, datetime(2026, 6, 1))
        assert run.result.arrow("scores").num_rows == 2
        with pytest.raises(LedgerError, match="research"):
            decide(research, LIVE, research.subject_id(PERSON) or "", "transit_discount",
                   datetime(2026, 6, 1))
    finally:
        research.close()


NETWORK = compile_policy(NETWORK_POLICY)


def test_a_subset_run_reads_only_its_scope_and_equals_the_full_run(location: str) -> None:
    """A's friends are B and C (F is family, which this policy does not count); D and E are
    further out. On PostgreSQL a subset run copies only the scope's rows into the engine; on
    DuckDB it reads in place."""
    a, b, c, d, e, f = (resident_id("110105", date(1980, 1, 1) + timedelta(days=n), 1 + n)
                        for n in range(6))
    book = Ledger.init(location, KEY, research=True, clock=Clock(datetime(2025, 6, 1)))
    try:
        book.add_source("bank", 1.0)
        late = [("b1", b), ("c1", c), ("c2", c), ("d1", d)]
        report = ingest_table(book, events_table([
            {"source_event_id": k, "subject": s, "attrs": '{"days_late": 40}'}
            for k, s in late]), "bank")
        assert not report.rejected
        since = datetime(2023, 1, 1)
        for x, y, kind in ((a, b, "friend"), (c, a, "friend"), (b, d, "friend"),
                           (d, e, "friend"), (a, f, "family"), (e, f, "friend")):
            book.relate(x, y, kind, valid_from=since)
        ids = {name: book.subject_id(p) for name, p in zip("abcdef", (a, b, c, d, e, f),
                                                           strict=True)}
        assert ledger_scope(book, NETWORK, [ids["a"]]) == sorted(
            [ids["a"], ids["b"], ids["c"]])
        at = datetime(2025, 6, 1)
        full = {r["subject_id"]: r["score"] for r in score_ledger(
            book, NETWORK, at, keep=False).result.arrow("scores").to_pylist()}
        one = score_ledger(book, NETWORK, at, [ids["a"]], keep=False)
        rows = one.result.arrow("scores").to_pylist()
        # own: a 50, b (-25 + 50) / 100 -> 25, c 0; a's friends' mean 12.5:
        # a = 0.8 x 100 x 0.5 + 0.2 x 100 x 0.125 = 42.5
        assert [(r["subject_id"], r["score"]) for r in rows] == [(ids["a"], pytest.approx(
            42.5, abs=1e-9))]
        assert rows[0]["score"] == pytest.approx(full[ids["a"]], abs=1e-9)
        b_, inputs = ledger_inputs(book, NETWORK, [ids["a"]])
        loaded = {name: b_.to_arrow(getattr(inputs, name)).num_rows
                  for name in ("subjects", "events", "relations")}
        if book.store.dialect.name == "postgres":  # b's event, c's two; the 4 links of a, b, c
            assert loaded == {"subjects": 3, "events": 3, "relations": 4}
        else:  # the ledger's own views
            assert loaded == {"subjects": 6, "events": 4, "relations": 6}
        again = score_ledger(book, NETWORK, at, keep=False).result.arrow("scores")
        assert {r["subject_id"]: r["score"] for r in again.to_pylist()} == full
    finally:
        book.close()


def test_a_ledger_that_keeps_its_inputs_in_memory_serves_rescores_and_catches_up(
        location: str) -> None:
    """An embedded ledger's subset runs read its cache, brought up to date from the batches
    written since the copy before each run: a new event (112 + 50 h x 0.1 = 117), a new
    subject (100 + 0.3 l x 20 = 106), two voids (117 - 5 - 4 = 108). An erasure changes a row
    in place and writes no batch: the cache is copied again. A PostgreSQL ledger keeps none."""
    from ledgerkit import PERSON_3

    from glasscredit.runs import cache_inputs

    book = make(location, research=False)
    try:
        if not location.endswith(".duckdb"):
            with pytest.raises(LedgerError, match="only an embedded DuckDB ledger"):
                cache_inputs(book)
            return
        cache = cache_inputs(book)
        me = book.subject_id(PERSON)
        at = datetime(2026, 6, 1)

        def one(subject: str) -> float:
            run = score_ledger(book, LIVE, at, [subject], keep=False)
            return float(run.result.arrow("scores").column("score")[0].as_py())

        assert one(me) == pytest.approx(112.0) and cache.served == 1
        report = ingest_table(book, events_table([
            {"source_event_id": "v3", "subject": PERSON, "kind": "volunteering",
             "occurred_at": "2026-04-10T00:00:00Z", "value": "50", "attrs": "{}"},
            {"source_event_id": "b3", "subject": PERSON_3, "kind": "blood_donation",
             "occurred_at": "2026-04-11T00:00:00Z", "value": "0.3", "attrs": "{}"}]), "city")
        assert not report.rejected
        assert not cache.fresh()
        newcomer = book.subject_id(PERSON_3)
        assert newcomer is not None
        assert one(me) == pytest.approx(117.0) and one(newcomer) == pytest.approx(106.0)
        assert (cache.served, cache.stale) == (3, 0) and cache.stamp == book.head()
        v3 = next(e for e in book.table("events").to_pylist() if e["value"] == 50.0)
        book.clock = Clock(datetime(2026, 5, 1))
        book.void(v3["event_id"], "entered twice")
        v2 = next(e for e in book.table("events").to_pylist() if e["value"] == 40.0)
        book.void(v2["event_id"], "not verified")
        assert one(me) == pytest.approx(108.0) and cache.served == 4
        book.erase_payload(v2["event_id"], "court order")
        assert one(me) == pytest.approx(108.0)
        again = cache_inputs(book)
        assert again is not cache and again.served == 1 and again.stamp == book.head()
        assert {r[6] for r in again.events.rows([me]) if r[0] == v2["event_id"]} == {None}
    finally:
        book.close()
