"""The real-time form of the engine (engine/direct.py) against the plan it transcribes.

On random ledgers, with snapshots chained period by period, a subset run evaluated in Python
gives the same rows as the full run (the plan path's SQL) and as the SQL subset replay, to
1e-9, with the same column types, whether it reads the tables or an in-memory copy of them
(engine/cache.py): additive scoring with a network term read through `min` and
a factor, decay, validity windows, per-event clips, caps per period, corroboration, conditions
with NULLs and division, bands, lists with durations and an exit, measures with hysteresis and
one applied through a relation, relations valid only part of the time.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import D, arrow, ev, rows, snapshot_from
from glasscredit.engine import direct
from glasscredit.engine.cache import InputCache
from glasscredit.engine.run import Inputs, Snapshot, score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.errors import InputError
from glasscredit.policy import expr
from glasscredit.policy.load import compile_policy

POLICY = """
policy: direct_laws
mode: simulation
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories:
  - {name: money}
  - {name: civic}
  - {name: circle, network: {relations: [friend], aggregate: min, factor: 0.5}}
rules:
  - {id: late, kind: bill_payment, when: "days_late > 30 and bill_type in ('rent', 'utility')",
     points: -12, half_life: 90d, category: money, reason: "Late bills"}
  - {id: big, kind: bill_payment, when: "amount / days_late > 10 or amount is null",
     points_per_unit: 0.5, clip: [0, 6], category: money, cap: {points: 8, per: 30d},
     reason: "Large bills paid"}
  - {id: parking, kind: illegal_parking, points: -5, category: civic, valid_for: 365d,
     corroboration: {below: 0.6}, reason: "Illegal parking"}
  - {id: blood, kind: blood_donation, points_per_unit: 20, clip: [0, 8], category: civic,
     valid_for: 200d, reason: "Blood donated"}
bands:
  - {name: low, min: 0, max: 90}
  - {name: mid, min: 90, max: 110}
  - {name: high, min: 110, max: 200}
lists:
  - {name: late_payers, type: blacklist, context: finance, enter: "hits.late >= 2",
     exit: "points.late > -10", min_duration: 30d, max_duration: 300d}
  - {name: donors, type: redlist, context: civic, enter: "score >= 112"}
measures:
  - {name: discount, type: privilege, context: transport, when: "score >= 110",
     hysteresis: {low_water: 0.95, grace: 20d}}
  - {name: family_ban, type: sanction, context: education, when: "listed.late_payers",
     via_relation: [family], notice: {days: 30}, appeal: {route: "school board"}}
"""
SUBJECTS = [f"s{i}" for i in range(7)]
START = D("2024-01-01")
TIMES = [D("2024-06-01"), D("2024-07-10"), D("2024-09-01 12:30:00.25")]
TABLES = (("scores", ("subject_id",)), ("lists", ("subject_id", "list")),
          ("measures", ("subject_id", "measure")), ("reasons", ("subject_id", "rank")))


@pytest.fixture(scope="module")
def b():
    return duckdb_backend(plan_cache=False)


@pytest.fixture(scope="module")
def cp():
    return compile_policy(POLICY)


bill = st.tuples(st.just("bill_payment"), st.sampled_from(SUBJECTS), st.integers(0, 240),
                 st.integers(0, 90), st.one_of(st.none(), st.floats(0, 900).map(round)),
                 st.sampled_from(["rent", "utility", "phone"]), st.sampled_from(["a", "b"]))
other = st.tuples(st.sampled_from(["illegal_parking", "blood_donation"]),
                  st.sampled_from(SUBJECTS), st.integers(0, 240), st.just(0), st.just(None),
                  st.just(None), st.sampled_from(["a", "b"]))
relation = st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(SUBJECTS),
                     st.sampled_from(["friend", "family"]),
                     st.sampled_from([None, 100, 200]), st.sampled_from([None, 170, 300]))


def tables(evs, rels):
    """The input tables of a random ledger, as Arrow."""
    events = []
    for i, (kind, s, day, late, amount, bill_type, src) in enumerate(evs):
        attrs = ({"days_late": late, "amount": amount, "bill_type": bill_type}
                 if kind == "bill_payment" else {})
        events.append(ev(f"e{i}", s, kind, (START + timedelta(days=day, hours=i)).isoformat(),
                         value=0.3 + (i % 4) * 0.2, source=src, **attrs))
    voids = [{"event_id": f"e{i}", "voided_at": START + timedelta(days=150)}
             for i in range(0, len(evs), 5)]
    relations = [{"subject_id": x, "related_id": y, "relation": t,
                  "valid_from": None if f is None else START + timedelta(days=f),
                  "valid_to": None if z is None else START + timedelta(days=z)}
                 for x, y, t, f, z in rels]
    return {"subjects": arrow("subjects", [{"subject_id": s, "subject_kind": "person"}
                                           for s in SUBJECTS]),
            "sources": arrow("sources", [{"source_id": "a", "reliability": 1.0},
                                         {"source_id": "b", "reliability": 0.5}]),
            "events": arrow("events", events), "voids": arrow("voids", voids),
            "relations": arrow("relations", relations)}


def build(b, evs, rels):
    return Inputs(**{name: b.from_arrow(t) for name, t in tables(evs, rels).items()})


def same(whole, part, pick):
    """The subset's rows equal the full run's rows of the same subjects, to 1e-9."""
    for name, keys in TABLES:
        assert part.arrow(name).schema == whole.arrow(name).schema, name
        full = {tuple(r[k] for k in keys): r for r in rows(whole.arrow(name))
                if r["subject_id"] in pick}
        some = {tuple(r[k] for k in keys): r for r in rows(part.arrow(name))}
        assert full.keys() == some.keys(), name
        for key, row in full.items():
            for col, x in row.items():
                y = some[key][col]
                if isinstance(x, float) and isinstance(y, float):
                    assert math.isclose(x, y, abs_tol=1e-9), (name, key, col, x, y)
                else:
                    assert x == y, (name, key, col, x, y)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=st.lists(st.one_of(bill, bill, other), min_size=1, max_size=30),
       rels=st.lists(relation, max_size=10),
       pick=st.sets(st.sampled_from(SUBJECTS), min_size=1, max_size=3))
def test_direct_equals_the_full_run_and_the_sql_replay_with_snapshots_chained(
        b, cp, evs, rels, pick):
    inp = build(b, evs, rels)
    cache = InputCache(b, inp, stamp=lambda: 0)  # these tables are never written to
    snap = None
    for as_of in TIMES:
        whole = score(b, inp, cp, as_of, snapshot=snap)
        prev = snap or Snapshot()
        base = Snapshot(prev.list_state, prev.measure_state,
                        snapshot_from(b, whole).scores)
        fast = score(b, inp, cp, as_of, sorted(pick), base)
        assert fast.fetched and not fast.executes  # evaluated in Python
        same(whole, fast, pick)
        same(whole, score(b, inp, cp, as_of, sorted(pick), base, direct=False), pick)
        # the same path over an in-memory copy of the inputs (engine/cache.py)
        served = cache.served
        same(whole, score(b, inp, cp, as_of, sorted(pick), base, cache=cache), pick)
        assert cache.served == served + 1 and cache.stale == 0
        snap = snapshot_from(b, whole)


def test_the_pinned_network_score_in_python(b):
    """The friends policy of the pinned tests (scale 0-100; own: weight 0.8, linear -50..50;
    circle: weight 0.2, the mean of friends' own scores, linear 0..100), worked by hand.
    A has one late bill (-25): own curve (-25 + 50) / 100 = 0.25, part 100 x 0.8 x 0.25 = 20.
    Friend B has no records: curve 0.5, own score 50, so A's circle curve is 50 / 100 = 0.5,
    part 100 x 0.2 x 0.5 = 10. A = 30. The late bill costs 100 x 0.8 x (0.5 - 0.25) = 20."""
    from enginekit import NETWORK_POLICY, inputs

    cp = compile_policy(NETWORK_POLICY)
    inp = inputs(b, [("A", "person"), ("B", "person")],
                 [ev("x", "A", "bill_payment", "2024-01-05", days_late=40)],
                 relations=[("A", "B", "friend")])
    got = score(b, inp, cp, D("2024-02-01"), ["A"])
    assert got.fetched
    (row,) = rows(got.arrow("scores"))
    assert row["score"] == pytest.approx(30.0, abs=1e-9)
    assert row["cat__own"] == pytest.approx(20.0, abs=1e-9)
    assert row["cat__circle"] == pytest.approx(10.0, abs=1e-9)
    (reason,) = rows(got.arrow("reasons"))
    assert reason["rule_id"] == "late" and reason["points_lost"] == pytest.approx(20.0)


def test_an_unknown_subject_gives_empty_tables_of_the_right_types(b, cp):
    inp = build(b, [("blood_donation", "s1", 3, 0, None, None, "a")], [])
    fast = score(b, inp, cp, TIMES[0], ["nobody"])
    plan = score(b, inp, cp, TIMES[0], ["nobody"], prepared=False)
    for name, _ in TABLES:
        assert fast.arrow(name).num_rows == 0
        assert fast.arrow(name).schema == plan.arrow(name).schema


def test_attributes_that_are_not_json_are_a_clear_error(b, cp):
    bills = [("bill_payment", "s1", 3, 40, 10.0, "rent", "a")] * 2  # the first is voided
    inp = build(b, bills, [])
    broken = rows(b.to_arrow(inp.events))
    broken[1]["attrs"] = "{days_late: 40"
    bad = Inputs(inp.subjects, inp.sources, b.from_arrow(arrow("events", broken)), inp.voids,
                 inp.relations)
    with pytest.raises(InputError, match="not JSON"):
        score(b, bad, cp, TIMES[0], ["s1"])


@pytest.mark.parametrize(("text", "env", "want"), [
    ("a > 1 and b", {"a": 2.0, "b": None}, None),      # true and NULL
    ("a > 1 and b", {"a": 0.0, "b": None}, False),     # false and NULL
    ("a > 1 or b", {"a": 2.0, "b": None}, True),       # true or NULL
    ("a > 1 or b", {"a": 0.0, "b": None}, None),       # false or NULL
    ("not b", {"b": None}, None),
    ("a / 0 > 1", {"a": 5.0}, None),                    # x / 0 is NULL
    ("a / 2 > 2", {"a": 5.0}, True),
    ("k in ('x', 'y')", {"k": None}, None),
    ("k not in ('x', 'y')", {"k": "z"}, True),
    ("k is null", {"k": None}, True),
    ("-a + 3 * 2 >= 1", {"a": 5.0}, True),
])
def test_conditions_in_python_keep_sql_three_valued_logic(text, env, want):
    assert expr.to_python(expr.parse(text))(env.__getitem__) is want


def test_json_members_are_read_as_the_plan_casts_them():
    read = direct._json_member
    assert read({"n": 3}, "n", "double") == 3.0
    assert read({"n": "4.5"}, "n", "double") == 4.5
    assert read({"n": None}, "n", "double") is None
    assert read({}, "n", "string") is None
    assert read({"f": True}, "f", "boolean") is True
    assert read({"f": "false"}, "f", "boolean") is False
    assert read({"s": 12}, "s", "string") == "12"
    with pytest.raises(InputError, match="not a number"):
        read({"n": "many"}, "n", "double")


def test_long_subsets_are_read_in_chunks_or_as_one_list_and_equal_the_full_run(
        b, cp, monkeypatch):
    """Past 64 ids the scope's lookups go in branches of 64 literals; past ``MANY`` ids, as one
    list parameter. Both give the full run's rows."""
    import random

    from glasscredit.engine.prepared import LONG

    rng = random.Random(5)
    people = [f"p{i:03d}" for i in range(150)]
    evs = [("bill_payment" if rng.random() < 0.7 else "blood_donation", rng.choice(people),
            rng.randrange(240), rng.randrange(90), float(rng.randrange(900)),
            rng.choice(["rent", "utility", "phone"]), rng.choice(["a", "b"]))
           for _ in range(600)]
    rels = [(rng.choice(people), rng.choice(people), rng.choice(["friend", "family"]),
             None, None) for _ in range(200)]
    inp = build(b, evs, rels)
    inp.subjects = b.from_arrow(arrow("subjects", [
        {"subject_id": s, "subject_kind": "person"} for s in people]))
    pick = set(people[:LONG + 20])
    whole = score(b, inp, cp, TIMES[1])
    snap = Snapshot(scores=snapshot_from(b, whole).scores)
    fast = score(b, inp, cp, TIMES[1], sorted(pick), snap, direct=True)
    assert fast.fetched and fast.arrow("scores").num_rows == len(pick)
    same(whole, fast, pick)
    # by default a subset this large takes the SQL replay, with the same rows
    replay = score(b, inp, cp, TIMES[1], sorted(pick), snap)
    assert replay.executes
    same(whole, replay, pick)
    sql, params = direct.lookup("SELECT * FROM t", ("subject_id",), people[:100])
    assert params == [] and sql.count(" UNION ALL ") == 1  # 64 + 36 literals
    # past MANY ids (lowered here to the size of this ledger) the scope is one list parameter
    monkeypatch.setattr(direct, "MANY", 40)
    sql, params = direct.lookup("SELECT * FROM t", ("subject_id",), people)
    assert params == [people] and "unnest(?)" in sql
    many = score(b, inp, cp, TIMES[1], people, snap, direct=True)
    assert many.fetched
    same(whole, many, set(people))
