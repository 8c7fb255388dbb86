"""Kept states: the bookkeeping after a rescore (state text, list rows, notices), on both stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import CompiledPolicy, load_policy
from glasscredit.rights.records import dumps, fetch
from glasscredit.rights.state import latest_states, rescore, same_lists_and_measures
from storekit import Clock

POLICY = Path(__file__).parents[1] / "api" / "service_policy.yaml"
PERSON = "11010519491231002X"

names = st.text(min_size=1, max_size=12)  # any text: quotes, commas, '"lists":' …
when = st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1),
                                         max_value=datetime(2100, 1, 1)))
lists = st.dictionaries(names, st.fixed_dictionaries({"listed": st.booleans(), "since": when}),
                        max_size=3)
measures = st.dictionaries(names, st.fixed_dictionaries(
    {"type": st.sampled_from(["privilege", "sanction"]), "context": names,
     "active": st.booleans(), "since": when}), max_size=3)
states = st.fixed_dictionaries({
    "band": st.one_of(st.none(), names), "lists": lists, "measures": measures,
    "reasons": st.lists(st.fixed_dictionaries({"rank": st.integers(1, 4), "reason": names}),
                        max_size=2),
    "score": st.floats(allow_nan=False, allow_infinity=False)})


@given(states, lists, measures)
def test_same_lists_and_measures_reads_the_kept_text_exactly(
        old: dict[str, Any], new_lists: dict[str, Any], new_measures: dict[str, Any]) -> None:
    text = dumps(old)
    same = (json.loads(dumps(old["lists"])) == json.loads(dumps(new_lists))
            and json.loads(dumps(old["measures"])) == json.loads(dumps(new_measures)))
    assert same_lists_and_measures(text, dumps(new_lists), dumps(new_measures)) == same
    assert same_lists_and_measures(text, dumps(old["lists"]), dumps(old["measures"]))


def test_same_lists_and_measures_is_false_for_another_shape() -> None:
    assert not same_lists_and_measures('{"score":1}', "{}", "{}")
    assert not same_lists_and_measures('{"band":"x', "{}", "{}")


def _late_bill(ledger: Ledger, key: str, day: int) -> None:
    ingest_table(ledger, pa.table({
        "source_event_id": [key], "subject": [PERSON], "kind": ["bill_payment"],
        "occurred_at": [f"2026-05-{day:02d}T00:00:00Z"], "value": ["1"],
        "attrs": ['{"days_late": 60}']}), "bank", strict=True)


def _table_rows(ledger: Ledger, table: str) -> int:
    return int(fetch(ledger, f"SELECT count(*) FROM {table}")[0][0])


def test_rescore_keeps_canonical_state_and_writes_changes_only(ledger: Ledger,
                                                               clock: Clock) -> None:
    cp: CompiledPolicy = load_policy(POLICY)
    _late_bill(ledger, "b1", 1)
    sid = ledger.subject_id(PERSON)
    assert sid is not None
    assert rescore(ledger, cp, [sid], clock.now) == []
    kept = fetch(ledger, "SELECT state FROM ledger_subject_state")[0][0]
    assert kept == dumps(json.loads(kept))  # the canonical text, as dumps() writes it
    state = latest_states(ledger, cp, [sid])[sid]
    assert state["lists"]["watch"]["listed"]
    assert not state["lists"].get("late_payers", {}).get("listed")
    members = _table_rows(ledger, "ledger_list_members")

    clock.now += timedelta(hours=1)
    rescore(ledger, cp, [sid], clock.now)  # nothing changed: a new state row, nothing else
    assert _table_rows(ledger, "ledger_subject_state") == 2
    assert _table_rows(ledger, "ledger_list_members") == members
    assert _table_rows(ledger, "ledger_notices") == 0

    _late_bill(ledger, "b2", 2)
    clock.now += timedelta(hours=1)
    notices = rescore(ledger, cp, [sid], clock.now)
    assert [n["action"] for n in notices] == ["sanction payment_reminder started"]
    after = latest_states(ledger, cp, [sid])[sid]
    assert after["lists"]["late_payers"]["listed"]
    changed = fetch(ledger, "SELECT list FROM ledger_list_members WHERE batch_id = "
                            "(SELECT max(batch_id) FROM ledger_list_members) ORDER BY list")
    assert [r[0] for r in changed] == sorted(
        name for name, v in after["lists"].items() if state["lists"].get(name) != v)
