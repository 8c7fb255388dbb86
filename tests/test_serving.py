"""Subset runs served from fixed tables and prepared statements (engine/serving.py): the same
rows as the plan path, live reads of changed inputs, a clear error for a result read after a
later run replaced its tables, and a bounded number of serving plans per connection."""

from __future__ import annotations

import functools
import math

import pyarrow as pa
import pytest

from enginekit import rows, snapshot_from
from glasscredit.engine import serving
from glasscredit.engine.run import Inputs, Snapshot
from glasscredit.engine.run import score as engine_score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.examples import AS_OF, path, tables
from glasscredit.policy.load import compile_policy

#: the SQL subset replay, not the default real-time path (engine/direct.py)
score = functools.partial(engine_score, direct=False)


@pytest.fixture
def cp():
    return compile_policy(path("sesame_like.yaml").read_text())


def named(b, suffix=""):
    """The example tables as named tables of the connection (a ledger's shape)."""
    for name, table in tables().items():
        b.connection.register(f"{name}_src", table)
        b.connection.execute(
            f"CREATE OR REPLACE TABLE t_{name}{suffix} AS SELECT * FROM {name}_src")
        b.connection.unregister(f"{name}_src")
    return Inputs(**{n: b.table(f"t_{n}{suffix}") for n in tables()})


def by_subject(result):
    return {r["subject_id"]: r for r in rows(result.arrow("scores"))}


def test_a_served_subset_reads_the_inputs_as_they_are_now(cp):
    b = duckdb_backend(plan_cache=False)
    inp = named(b)
    before = by_subject(score(b, inp, cp, AS_OF, ["p03", "p07"]))
    assert len(b.serving) == 1
    b.connection.execute("DELETE FROM t_events WHERE subject_id = 'p03'")
    after = by_subject(score(b, inp, cp, AS_OF, ["p03", "p07"]))
    assert len(b.serving) == 1  # the same prepared statements, run again
    assert after["p03"]["score"] != before["p03"]["score"]
    assert math.isclose(after["p07"]["score"], before["p07"]["score"], abs_tol=1e-12)
    plan = by_subject(score(b, inp, cp, AS_OF, ["p03", "p07"], prepared=False))
    for s in ("p03", "p07"):
        assert math.isclose(after[s]["score"], plan[s]["score"], abs_tol=1e-9)


def test_a_result_read_after_the_next_run_still_has_its_own_rows(cp):
    """The next run refills the tables a result reads from; a result its caller still holds
    is read first, so it keeps its own rows."""
    b = duckdb_backend(plan_cache=False)
    inp = named(b)
    alone = by_subject(score(b, inp, cp, AS_OF, ["p03"]))
    first = score(b, inp, cp, AS_OF, ["p03"])
    second = score(b, inp, cp, AS_OF, ["p07"])
    assert list(by_subject(first)) == ["p03"]
    assert by_subject(first)["p03"]["score"] == alone["p03"]["score"]
    assert [r["subject_id"] for r in rows(first.arrow("measures"))] == ["p03"] * len(
        cp.policy.measures)
    assert list(by_subject(second)) == ["p07"]


def test_serving_plans_per_connection_are_bounded(cp, monkeypatch):
    monkeypatch.setattr(serving, "_LIMIT", 3)
    b = duckdb_backend(plan_cache=False)
    got = []
    for i in range(5):  # new input tables every time: a new serving plan each
        inp = Inputs(**{n: b.from_arrow(t) for n, t in tables().items()})
        got.append(by_subject(score(b, inp, cp, AS_OF, ["p12"]))["p12"]["score"])
        assert len(b.serving) == min(i + 1, 3)
    assert all(math.isclose(g, got[0], abs_tol=1e-12) for g in got)
    names = {r[0] for r in b.connection.execute(
        "SELECT name FROM duckdb_prepared_statements()").fetchall()}
    assert len([n for n in names if n.startswith("gc_")]) == sum(
        len(s.statements) for s in b.serving.values())


def test_rank_index_counts_like_the_law(cp):
    """Pinned by hand: a snapshot of five persons and one organisation; two persons rescored."""
    snapshot = pa.table({"subject_id": ["a", "b", "c", "d", "e", "o"],
                         "subject_kind": ["person"] * 5 + ["organisation"],
                         "score": [500.0, 600.0, 600.0, 700.0, 800.0, 100.0]})
    index = serving.RankIndex(snapshot)
    new = pa.table({"subject_id": ["b", "e"], "subject_kind": ["person", "person"],
                    "score": [750.0, 600.0], "rank": pa.array([None, None], pa.float64()),
                    "percentile": pa.array([None, None], pa.float64())})
    got = index.rank(new).to_pylist()
    # population now a=500, b=750, c=600, d=700, e=600 (the organisation is apart)
    # b=750: nobody higher -> rank 1; at or below: all 5 -> 100 %
    # e=600: 750 and 700 higher -> rank 3; at or below: 500, 600, 600 -> 3/5 = 60 %
    assert got[0]["rank"] == 1.0 and got[0]["percentile"] == 100.0
    assert got[1]["rank"] == 3.0 and got[1]["percentile"] == 60.0
    assert index.old("c") == ("person", 600.0) and index.old("zz") is None


def test_a_snapshot_frame_is_indexed_once(cp):
    b = duckdb_backend(plan_cache=False)
    inp = Inputs(**{n: b.from_arrow(t) for n, t in tables().items()})
    snap = Snapshot(scores=snapshot_from(b, score(b, inp, cp, AS_OF)).scores)
    score(b, inp, cp, AS_OF, ["p03"], snap).arrow("scores")
    (index,) = [v[1] for k, v in b.per_frame.items() if k[0] == "rank"]
    score(b, inp, cp, AS_OF, ["p12"], snap).arrow("scores")
    assert [v[1] for k, v in b.per_frame.items() if k[0] == "rank"] == [index]


@pytest.mark.parametrize("long", [2, 10_000], ids=["lists-in-tables", "literal-lists"])
def test_long_id_lists_read_from_tables_give_the_same_rows(cp, monkeypatch, long):
    """Past ``LONG`` ids the serving replay reads the scope and the relation lookups' lists
    from tables instead of spelling them out; the rows are the plan path's either way."""
    from glasscredit.engine import prepared

    monkeypatch.setattr(prepared, "LONG", long)
    b = duckdb_backend(plan_cache=False)
    inp = Inputs(**{n: b.from_arrow(t) for n, t in tables().items()})
    snap = Snapshot(scores=snapshot_from(b, score(b, inp, cp, AS_OF)).scores)
    pick = ["p03", "p07", "p12", "p20", "p21"]
    served = score(b, inp, cp, AS_OF, pick, snap)
    plan = score(b, inp, cp, AS_OF, pick, snap, prepared=False)
    for name in ("scores", "lists", "measures", "reasons"):
        left, right = rows(plan.arrow(name)), rows(served.arrow(name))
        assert len(left) == len(right) and (len(left) > 0 or name == "lists")
        for x, y in zip(left, right, strict=True):
            assert x.keys() == y.keys()
            for k in x:
                if isinstance(x[k], float):
                    assert math.isclose(x[k], y[k], abs_tol=1e-9), (name, k)
                else:
                    assert x[k] == y[k], (name, k)
