"""The in-memory copy of the inputs that serves real-time subset runs (engine/cache.py).

Laws: a cache's rows are the tables' rows (a run served from it equals the full run), rows
appended after the copy and given to ``extend`` are as good as rows copied, and a cache that
does not know of a change is never read (the run reads the tables). A grouping of rows by key
gives exactly the rows of that key, in the table's order, however the table is laid out.
"""

from __future__ import annotations

import itertools

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import D, arrow, ev, snapshot_from
from glasscredit.engine.cache import Clustered, InputCache
from glasscredit.engine.run import Inputs, Snapshot, score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.errors import InputError
from glasscredit.policy.load import compile_policy
from test_direct import POLICY, SUBJECTS, TIMES, bill, build, other, relation, same, tables

_names = itertools.count()


@pytest.fixture(scope="module")
def b():
    return duckdb_backend(plan_cache=False)


@pytest.fixture(scope="module")
def cp():
    return compile_policy(POLICY)


def named(b, data: dict[str, pa.Table]) -> tuple[Inputs, dict[str, str]]:
    """Inputs over tables of known names, so that rows can be appended to them."""
    n = next(_names)
    names = {k: f"cache_{n}_{k}" for k in data}
    return Inputs(**{k: b.from_arrow(t, names[k]) for k, t in data.items()}), names


def append(b, table: str, rows: pa.Table) -> None:
    b.connection.register("cache_rows", rows)
    b.connection.execute(f"INSERT INTO {table} SELECT * FROM cache_rows")
    b.connection.unregister("cache_rows")


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=st.lists(st.one_of(bill, bill, other), min_size=1, max_size=30),
       rels=st.lists(relation, max_size=10), cut=st.floats(0, 1),
       pick=st.sets(st.sampled_from(SUBJECTS), min_size=1, max_size=3))
def test_rows_appended_after_the_copy_count_once_given_to_extend(b, cp, evs, rels, cut, pick):
    """A ledger copied part way, its later events, voids and relations appended to the tables:
    until ``extend`` the cache is stale and runs read the tables; after it, runs are served
    from memory. Both equal the full run over every row, period after period."""
    whole_tables = tables(evs, rels)
    head = {k: t.slice(0, round(t.num_rows * cut)) if k in ("events", "voids", "relations")
            else t for k, t in whole_tables.items()}
    tail = {k: whole_tables[k].slice(head[k].num_rows)
            for k in ("events", "voids", "relations")}
    inp, names = named(b, head)
    version = [0]
    cache = InputCache(b, inp, stamp=lambda: version[0])
    for k, rows in tail.items():
        append(b, names[k], rows)
    version[0] = 1
    assert not cache.fresh()
    snap = None
    for i, as_of in enumerate(TIMES):
        whole = score(b, inp, cp, as_of, snapshot=snap)
        prev = snap or Snapshot()
        base = Snapshot(prev.list_state, prev.measure_state, snapshot_from(b, whole).scores)
        if i == 0:  # stale: the run reads the tables, and says so
            same(whole, score(b, inp, cp, as_of, sorted(pick), base, cache=cache), pick)
            assert (cache.served, cache.stale) == (0, 1)
            cache.extend(1, **tail)
            assert cache.fresh()
        same(whole, score(b, inp, cp, as_of, sorted(pick), base, cache=cache), pick)
        assert (cache.served, cache.stale) == (i + 1, 1)
        snap = snapshot_from(b, whole)


PARKING = """
policy: parking
mode: simulation
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories: [{name: civic}]
rules:
  - {id: parking, kind: illegal_parking, points: -5, category: civic, reason: "Parking"}
bands: [{name: all, min: 0, max: 200}]
"""


def parking(b):
    data = {"subjects": arrow("subjects", [{"subject_id": "a", "subject_kind": "person"}]),
            "sources": arrow("sources", [{"source_id": "src", "reliability": 1.0}]),
            "events": arrow("events", [ev("p1", "a", "illegal_parking", "2024-01-05")]),
            "voids": arrow("voids", []), "relations": arrow("relations", [])}
    return named(b, data)


def test_a_cache_that_misses_a_change_is_not_read_and_catches_up_by_extend(b):
    """100 - 5 for one parking offence; a second one written behind the cache's back makes
    90, read from the tables; ``extend`` with that row serves 90 from memory; a new subject
    and a void given to ``extend`` count as well (b: 100 - 5, a: 100 - 5 after p2 is voided)."""
    cp = compile_policy(PARKING)
    inp, names = parking(b)
    version = [0]
    cache = InputCache(b, inp, stamp=lambda: version[0])
    at = D("2024-02-01")

    def one(subject):
        r = score(b, inp, cp, at, [subject], cache=cache)
        return r.arrow("scores").column("score").to_pylist()

    assert one("a") == [95.0] and cache.served == 1
    second = arrow("events", [ev("p2", "a", "illegal_parking", "2024-01-06")])
    append(b, names["events"], second)
    version[0] += 1
    assert one("a") == [90.0] and (cache.served, cache.stale) == (1, 1)
    cache.extend(version[0], events=second)
    assert one("a") == [90.0] and cache.served == 2
    # a subject the copy did not hold, and a void
    more = {"subjects": arrow("subjects", [{"subject_id": "b", "subject_kind": "person"}]),
            "events": arrow("events", [ev("p3", "b", "illegal_parking", "2024-01-07")]),
            "voids": arrow("voids", [{"event_id": "p2", "voided_at": D("2024-01-20")}])}
    for k, rows in more.items():
        append(b, names[k], rows)
    version[0] += 1
    cache.extend(version[0], **more)
    assert one("b") == [95.0] and one("a") == [95.0] and cache.served == 4
    # as of before the void, p2 still counts
    early = score(b, inp, cp, D("2024-01-10"), ["a"], cache=cache)
    assert early.arrow("scores").column("score").to_pylist() == [90.0]
    assert cache.stale == 1


def test_a_cache_needs_a_stamp_unless_the_file_is_read_only(b, tmp_path):
    inp, _ = parking(b)
    with pytest.raises(InputError, match="needs a stamp"):
        InputCache(b, inp)
    # a DuckDB file opened read-only cannot change while it is open: no stamp needed
    path = str(tmp_path / "inputs.duckdb")
    con = duckdb.connect(path)
    for name, t in parking(b)[0].__dict__.items():
        con.register("t", b.to_arrow(t))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM t")
        con.unregister("t")
    con.close()
    ro = duckdb_backend(duckdb.connect(path, read_only=True), plan_cache=False)
    ro_inputs = Inputs(**{n: ro.table(n) for n in inp.__dict__})
    cache = InputCache(ro, ro_inputs)
    assert cache.fresh()
    got = score(ro, ro_inputs, compile_policy(PARKING), D("2024-02-01"), ["a"], cache=cache)
    assert got.arrow("scores").column("score").to_pylist() == [95.0] and cache.served == 1
    # a cache serves only the inputs it copied
    with pytest.raises(InputError, match="other inputs"):
        score(b, inp, compile_policy(PARKING), D("2024-02-01"), ["a"], cache=cache)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(keys=st.lists(st.one_of(st.none(), st.sampled_from("abcde")), max_size=40),
       chunk=st.integers(1, 7), clustered=st.booleans(), encoded=st.booleans())
def test_rows_grouped_by_key_are_the_rows_of_that_key_in_table_order(keys, chunk, clustered,
                                                                      encoded):
    """Plain or dictionary-encoded keys (a dictionary per chunk, as the cache reads them)."""
    if clustered:  # a subject's rows together, as a table written in subject order
        keys = sorted(keys, key=lambda k: (k is None, k or ""))
    values = list(range(len(keys)))
    key_type = pa.dictionary(pa.int32(), pa.string()) if encoded else pa.string()

    def column(part):
        got = pa.array(part, pa.string())
        return pc.dictionary_encode(got) if encoded else got

    batches = [pa.record_batch({"k": column(keys[i:i + chunk]),
                                "v": pa.array(values[i:i + chunk], pa.int64())})
               for i in range(0, len(keys), chunk)]
    table = pa.Table.from_batches(batches, pa.schema({"k": key_type, "v": pa.int64()}))
    grouped = Clustered(table, "k")
    pairs = list(zip(keys, values, strict=True))
    for want in "abcdef":
        assert grouped.rows([want]) == [(k, v) for k, v in pairs if k == want]
    assert sorted(grouped.rows("abcde")) == sorted((k, v) for k, v in pairs if k is not None)
    assert grouped.rows([None]) == []  # as SQL's IN: a NULL key matches nothing


def test_timestamps_given_to_extend_with_a_zone_are_read_as_utc(b):
    """``extend`` takes the tables' own columns; a zoned timestamp is the same instant."""
    cp = compile_policy(PARKING)
    inp, names = parking(b)
    version = [0]
    cache = InputCache(b, inp, stamp=lambda: version[0])
    rows = arrow("events", [ev("p9", "a", "illegal_parking", "2024-01-31 23:30:00")])
    zoned = rows.set_column(rows.schema.get_field_index("occurred_at"), "occurred_at",
                            rows.column("occurred_at").cast(pa.timestamp("us", tz="UTC")))
    append(b, names["events"], rows)
    version[0] += 1
    cache.extend(version[0], events=zoned)
    for at, want in ((D("2024-01-31 23:00:00"), 95.0), (D("2024-01-31 23:30:00"), 90.0)):
        got = score(b, inp, cp, at, ["a"], cache=cache).arrow("scores")
        assert got.column("score").to_pylist() == [want]
        assert cache.stale == 0


def test_a_snapshot_with_several_rows_per_list_is_read_as_the_tables_read_it(b, cp):
    """A hand-made snapshot with two rows for one subject's list membership and one for its
    measure: the plan takes the largest of each column, and so does a cache. s0 was listed
    from 2024-03-01 (the row that says so is the second), so on 2024-04-01, 31 days in, it
    stays on the list; its discount, active with no failing date, stays active."""
    evs = [("bill_payment", "s0", 60, 40, 100.0, "rent", "a"),
           ("bill_payment", "s0", 70, 45, 100.0, "rent", "a")]
    inp = build(b, evs, [])
    snap = Snapshot(
        list_state=b.from_arrow(arrow("list_state", [
            {"subject_id": "s0", "list": "late_payers", "listed": False,
             "ended_at": D("2024-02-01")},
            {"subject_id": "s0", "list": "late_payers", "listed": True,
             "since": D("2024-03-01")}])),
        measure_state=b.from_arrow(arrow("measure_state", [
            {"subject_id": "s0", "measure": "discount", "active": True,
             "since": D("2024-03-01")}])))
    cache = InputCache(b, inp, stamp=lambda: 0)
    at = D("2024-04-01")
    tables_read = score(b, inp, cp, at, ["s0"], snap, direct=True)
    served = score(b, inp, cp, at, ["s0"], snap, cache=cache)
    assert cache.served == 1
    for name in ("scores", "lists", "measures", "reasons"):
        assert served.arrow(name).equals(tables_read.arrow(name)), name
    listed = served.arrow("lists").to_pylist()
    assert [(r["list"], r["listed"], r["since"]) for r in listed] == [
        ("late_payers", True, D("2024-03-01"))]


def test_with_a_cache_the_real_time_path_takes_subsets_up_to_its_own_limit(b, cp):
    """Past ``DIRECT_LIMIT`` subjects a subset run takes the SQL replay, unless a cache serves
    the rows: then the real-time path takes it up to ``CACHED_DIRECT_LIMIT``. Same rows."""
    from glasscredit.engine.run import CACHED_DIRECT_LIMIT, DIRECT_LIMIT

    people = [f"s{i}" for i in range(CACHED_DIRECT_LIMIT + 1)]
    evs = [("bill_payment", people[i % len(people)], i % 200, i % 60, float(i * 7 % 500),
            "rent", "ab"[i % 2]) for i in range(300)]
    data = tables(evs, [(people[i], people[i + 1], "friend", None, None) for i in range(40)])
    data["subjects"] = arrow("subjects", [{"subject_id": s, "subject_kind": "person"}
                                          for s in people])
    inp, _ = named(b, data)
    cache = InputCache(b, inp, stamp=lambda: 0)
    at = TIMES[1]
    whole = score(b, inp, cp, at)
    snap = Snapshot(scores=snapshot_from(b, whole).scores)
    middle = people[:DIRECT_LIMIT + 4]
    assert score(b, inp, cp, at, middle, snap).executes  # no cache: the SQL replay
    served = score(b, inp, cp, at, middle, snap, cache=cache)
    assert served.fetched and not served.executes and cache.served == 1
    same(whole, served, set(middle))
    over = score(b, inp, cp, at, people, snap, cache=cache)
    assert over.executes and cache.served == 1  # past the cached limit: the SQL replay
    same(whole, over, set(people))


def test_a_subject_added_by_extend_keeps_its_state_from_the_snapshot(b, cp):
    """A subject the copy did not hold, added by ``extend``: two blood donations (each 20 a
    litre x 1 l, clipped to 8) make 116, so on 2024-05-01 it enters `donors` (>= 112) and
    gets `discount` (>= 110). On 2024-06-01 a subset run chained from that snapshot keeps
    both with their first dates, read from the cache as from the tables."""
    inp, names = named(b, tables([("illegal_parking", "s0", 10, 0, None, None, "a")], []))
    version = [0]
    cache = InputCache(b, inp, stamp=lambda: version[0])
    more = {"subjects": arrow("subjects", [{"subject_id": "n", "subject_kind": "person"}]),
            "events": arrow("events", [
                ev(f"n{i}", "n", "blood_donation", f"2024-04-{10 + i}", value=1.0, source="a")
                for i in range(2)])}
    for k, rows in more.items():
        append(b, names[k], rows)
    version[0] += 1
    cache.extend(version[0], **more)
    first = score(b, inp, cp, D("2024-05-01"))
    snap = snapshot_from(b, first)
    assert {(r["list"], r["listed"]) for r in first.arrow("lists").to_pylist()
            if r["subject_id"] == "n"} == {("donors", True)}
    at = D("2024-06-01")
    base = Snapshot(snap.list_state, snap.measure_state, snap.scores)
    served = score(b, inp, cp, at, ["n"], base, cache=cache)
    tables_read = score(b, inp, cp, at, ["n"], base, direct=True)
    assert cache.served == 1
    for name in ("scores", "lists", "measures", "reasons"):
        assert served.arrow(name).equals(tables_read.arrow(name)), name
    since = {r["list"]: r["since"] for r in served.arrow("lists").to_pylist()}
    active = {r["measure"]: (r["active"], r["since"])
              for r in served.arrow("measures").to_pylist()}
    # entered at the run that saw it over 112 (the condition names no rule, so no event dates it)
    assert since == {"donors": D("2024-05-01")}
    assert active["discount"] == (True, D("2024-05-01"))


def test_rows_extend_cannot_read_are_a_clear_error_and_change_nothing(b):
    """Events without their attributes column, or voids whose time is text: ``InputError``,
    nothing added, the cache still stale (never read); the right rows then count once."""
    cp = compile_policy(PARKING)
    inp, names = parking(b)
    version = [0]
    cache = InputCache(b, inp, stamp=lambda: version[0])
    second = arrow("events", [ev("p2", "a", "illegal_parking", "2024-01-06")])
    voids = arrow("voids", [{"event_id": "p1", "voided_at": D("2024-01-20")}])
    append(b, names["events"], second)
    append(b, names["voids"], voids)
    version[0] += 1
    text_time = voids.set_column(1, "voided_at", pa.array(["yesterday"]))
    for bad in ({"events": second.drop_columns(["attrs"]), "voids": voids},
                {"events": second, "voids": text_time}):
        with pytest.raises(InputError, match="cannot be read"):
            cache.extend(version[0], **bad)
        assert not cache.fresh() and cache.stamp == 0
        assert not cache.more_events and not cache.voided
    cache.extend(version[0], events=second, voids=voids)
    got = score(b, inp, cp, D("2024-02-01"), ["a"], cache=cache).arrow("scores")
    assert got.column("score").to_pylist() == [95.0]  # p1 voided, p2 counted once
    assert (cache.served, cache.stale) == (1, 0)
