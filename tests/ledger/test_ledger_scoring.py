"""Scoring from the ledger (both stores): the engine reads what the ledger holds, at any time;
voids change what it sees; snapshots chain runs; modes keep research and real data apart."""

from __future__ import annotations

from datetime import datetime

import pytest
from ledgerkit import KEY, PERSON, PERSON_2, Clock, events_table

from glasscredit.errors import LedgerError
from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import compile_policy
from glasscredit.runs import decide, score_ledger

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
