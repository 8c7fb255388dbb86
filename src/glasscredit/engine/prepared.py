"""Prepared plans: build the SQL once per policy and input shape, replay it with values bound.

SQLFrame builds SQL by copying expression trees at every DataFrame step, which costs seconds
for a whole policy whatever the data size. On a backend that runs SQL text, the plan is built
once with sentinel values for the time and the subject lists, recorded (every materialised
step and every output query), and replayed with the real values substituted. The plan code is
the same; only its compiled form is reused, like a prepared statement.
"""

from __future__ import annotations

import itertools
import re
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from glasscredit.engine import plancache, serving
from glasscredit.engine.plan import Ctx, epoch
from glasscredit.engine.run import (
    Inputs,
    Result,
    Snapshot,
    hops_and_types,
    plan_score,
    rings,
)
from glasscredit.engine.scoring import touching
from glasscredit.engine.sessions import Backend
from glasscredit.policy.load import CompiledPolicy

SENTINEL_TIME = datetime(2199, 1, 1)
_EPOCH_TEXT = repr(epoch(SENTINEL_TIME))  # how SQLFrame renders the time as a number
_TIME_TEXT = "'2199-01-01 00:00:00'"
SCOPE = "__gc_scope__"
TARGETS = "__gc_targets__"
_TEMP = re.compile(r"\bgc_tmp_(\d+)\b")
_INPUT = re.compile(r"\bgc_in_\d+\b")
_runs = itertools.count()


@dataclass(frozen=True)
class Prepared:
    """The recorded SQL of one plan: steps to materialise, then output queries."""

    steps: tuple[tuple[str, str], ...]
    constant: frozenset[str]
    outputs: dict[str, str]
    hops: int
    inputs: tuple[str, ...]
    #: subset runs: the step holding the relation rows that touch the scope, which a replay
    #: fills itself with one-column lookups, and the SQL of the relations input it reads
    relations_step: str | None = None
    relations_sql: str | None = None
    #: subset runs: the steps that copy the scope's rows out of the inputs (engine/serving.py
    #: binds their id lists as text, and prepares the others)
    extract: tuple[str, ...] = ()


def _quote(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _bind(sql: str, as_of: datetime, scope: list[str] | None, targets: list[str] | None,
          suffix: str, renames: dict[str, str] | None = None,
          constant: frozenset[str] = frozenset()) -> str:
    if renames:
        sql = _INPUT.sub(lambda m: renames.get(m.group(0), m.group(0)), sql)
    t = epoch(as_of)
    sql = sql.replace(_EPOCH_TEXT, repr(float(t)))
    sql = sql.replace(_TIME_TEXT, "'" + as_of.replace(tzinfo=None).isoformat(sep=" ") + "'")
    if scope is not None:
        sql = sql.replace(f"'{SCOPE}'", _quote(scope))
    if targets is not None:
        sql = sql.replace(f"'{TARGETS}'", _quote(targets))
    return _TEMP.sub(lambda m: m.group(0) if m.group(0) in constant
                     else f"gc_tmp_{m.group(1)}{suffix}", sql)


def _is_constant(b: Backend, name: str, sql: str) -> bool:
    """A step declared constant (the rules table), checked: it reads no input, no other step,
    no time and no subject list."""
    if name not in b.constants:
        return False
    if (_INPUT.search(sql) or _TEMP.search(sql) or _EPOCH_TEXT in sql or _TIME_TEXT in sql
            or SCOPE in sql or TARGETS in sql):
        raise AssertionError(f"step {name} is declared constant but reads varying data")
    return True


def _text(b: Backend, frame: Any) -> str | None:
    """A frame's SQL, rendered once per frame object (SQLFrame takes milliseconds per frame,
    and a server hands in the same input frames at every call)."""
    if frame is None:
        return None
    return b.of_frame("sql", frame, lambda: str(
        frame.sql(dialect="duckdb", optimize=False, pretty=False)))


def _key(b: Backend, cp: CompiledPolicy, inputs: Inputs, snapshot: Snapshot, subset: bool,
         reasons: bool) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """The plan's identity, with the names of in-memory input tables (``gc_in_N``) abstracted,
    and those names in order, so the same shapes of input reuse one plan. A subset plan does
    not read the snapshot of scores (its rank comes from engine/serving.py's index)."""
    frames = [inputs.subjects, inputs.sources, inputs.events, inputs.voids, inputs.relations,
              snapshot.list_state, snapshot.measure_state]
    texts = [_text(b, f) for f in frames]
    names: list[str] = []
    for t in texts:
        names += _INPUT.findall(t or "")
    shape = tuple(None if t is None else _INPUT.sub("gc_in", t) for t in texts)
    return (cp.content_hash, subset, reasons, shape), tuple(names)


def _extract(b: Backend, cp: CompiledPolicy, inputs: Inputs,
             snapshot: Snapshot) -> tuple[Inputs, Snapshot, str | None]:
    """Copy out the rows of the subjects in scope first, so the plan of a subset run reads a
    few small tables instead of scanning the full ones at every step. Exact: the plan keeps
    only these rows anyway."""
    F = b.F
    scope = [SCOPE]

    def mine(df: Any, column: str) -> Any:
        return b.materialise(df.filter(F.col(column).isin(scope)))

    events = mine(inputs.events, "subject_id")
    voids = (None if inputs.voids is None else b.materialise(
        inputs.voids.join(events.select("event_id"), "event_id", "left_semi")))
    relations, relations_step = None, None
    if inputs.relations is not None:
        relations = b.materialise(touching(Ctx(b, cp, SENTINEL_TIME, None), inputs.relations,
                                           scope))
        relations_step = b.log[-1][0]
    extracted = Inputs(subjects=mine(inputs.subjects, "subject_id"), sources=inputs.sources,
                       events=events, voids=voids, relations=relations)
    previous = Snapshot(
        list_state=None if snapshot.list_state is None else mine(snapshot.list_state,
                                                                 "subject_id"),
        measure_state=None if snapshot.measure_state is None else mine(
            snapshot.measure_state, "subject_id"),
        scores=None)  # a subset's rank comes from engine/serving.py's index, not the plan
    return extracted, previous, relations_step


def _record(b: Backend, inputs: Inputs, cp: CompiledPolicy, snapshot: Snapshot, subset: bool,
            reasons: bool, names: tuple[str, ...]) -> Prepared:
    b.log, b.recording = [], True
    scope = (SCOPE,) if subset else None
    relations_step = None
    extract: tuple[str, ...] = ()
    try:
        if subset:
            plan_inputs, plan_snapshot, relations_step = _extract(b, cp, inputs, snapshot)
            extract = tuple(name for name, _ in b.log)
        else:
            plan_inputs, plan_snapshot = inputs, snapshot
        result = plan_score(b, plan_inputs, cp, SENTINEL_TIME, [TARGETS] if subset else None,
                            plan_snapshot, reasons=reasons, scope=scope)
    finally:
        b.recording = False
    outputs = {name: df.sql(dialect="duckdb", optimize=False, pretty=False)
               for name, df in result.frames.items()}
    relations_sql = None
    if relations_step is not None:
        assert inputs.relations is not None
        relations_sql = inputs.relations.sql(dialect="duckdb", optimize=False, pretty=False)
    steps = tuple(b.log)
    b.log = []
    constant = frozenset(name for name, sql in steps if _is_constant(b, name, sql))
    return Prepared(steps, constant, outputs, hops_and_types(cp)[0], names, relations_step,
                    relations_sql, extract)


def _make_constants(b: Backend, prep: Prepared) -> None:
    """Make the plan's constant steps once, in full, for every replay to share."""
    for name, sql in prep.steps:
        if name in prep.constant:
            b.connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
            b._temps.append(name)


#: id lists longer than this are read from a table, not spelt out: DuckDB turns a long IN
#: list into a join anyway (no index), and parsing thousands of literals costs milliseconds
LONG = 64


def _fill(con: Any, table: str, ids: list[str] | set[str]) -> None:
    """Replace the rows of a one-column id table (a long list through Arrow: no literals to
    parse)."""
    import pyarrow as pa

    if len(ids) <= LONG:
        values = ", ".join("(" + _quote([v]) + ")" for v in sorted(ids))
        con.execute(f"DELETE FROM {table}" + (f"; INSERT INTO {table} VALUES {values}"
                                               if values else ""))
        return
    con.register("gc_ids_arrow", pa.table({"id": pa.array(sorted(ids), pa.string())}))
    try:
        con.execute(f"DELETE FROM {table}; INSERT INTO {table} SELECT id FROM gc_ids_arrow")
    finally:
        con.unregister("gc_ids_arrow")


def _ids(con: Any, ids: list[str] | set[str], table: str | None) -> str:
    """What goes inside ``IN (…)`` for these ids: the literals, or for a long list (with a
    table to hold it) a read of that table, filled now."""
    if table is None or len(ids) <= LONG:
        return _quote(sorted(ids))
    _fill(con, table, ids)
    return f"SELECT id FROM {table}"


def _gather_relations(con: Any, rel: str, table: str, new: list[str], seen: set[str],
                      lists: tuple[str, str, str] | None = None) -> None:
    """Add to ``table`` the relation rows with an end in ``new`` that no subject in ``seen``
    brought in already: each row once. Each lookup filters one column only, inside a
    materialised CTE, so DuckDB can use the table's order or an ART index on that column
    (a second condition in the same scan turns the index off). ``lists``: three id tables
    to hold long lists (new, seen, both)."""
    if not new:
        return
    t_new, t_seen, t_old = lists if lists is not None else (None, None, None)
    ids, old = _ids(con, new, t_new), _ids(con, seen | set(new), t_old)
    before = f"NOT (related_id IN ({_ids(con, seen, t_seen)}))" if seen else "TRUE"
    con.execute(f"INSERT INTO {table} WITH m AS MATERIALIZED (SELECT * FROM ({rel}) "
                f"WHERE subject_id IN ({ids})) SELECT * FROM m WHERE {before}")
    con.execute(f"INSERT INTO {table} WITH m AS MATERIALIZED (SELECT * FROM ({rel}) "
                f"WHERE related_id IN ({ids})) SELECT * FROM m "
                f"WHERE NOT (subject_id IN ({old}))")


def _plan_file(b: Backend, key: Any) -> Path | None:
    """The disk file of a plan key, if plans are kept on disk and the key names no table of
    this process only (a materialised step: its name means nothing to another process)."""
    if b.plan_dir is None or _TEMP.search(repr(key)):
        return None
    return plancache.path_for(b.plan_dir, key)


def _as_json(prep: Prepared) -> dict[str, Any]:
    return {"steps": [list(x) for x in prep.steps], "constant": sorted(prep.constant),
            "outputs": prep.outputs, "hops": prep.hops,
            "inputs": list(prep.inputs), "relations_step": prep.relations_step,
            "relations_sql": prep.relations_sql, "extract": list(prep.extract)}


def _load(b: Backend, file: Path) -> Prepared | None:
    """A plan recorded by another process; its constant steps get names of this process (the
    recorder's may be taken here)."""
    data = plancache.load(file)
    if data is None:
        return None
    try:
        names = {c: f"{c}_k{next(_runs)}" for c in data["constant"]}
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None

        def fix(sql: str | None) -> str | None:
            return sql if sql is None or pattern is None else pattern.sub(
                lambda m: names[m.group(0)], sql)

        steps = tuple((names.get(n, n), str(fix(sql))) for n, sql in data["steps"])
        prep = Prepared(steps, frozenset(names.values()),
                        {k: str(fix(v)) for k, v in data["outputs"].items()},
                        int(data["hops"]), tuple(data["inputs"]),
                        data["relations_step"], fix(data["relations_sql"]),
                        tuple(data["extract"]))
    except (KeyError, TypeError, ValueError):
        return None
    return prep


def _drop(con: Any, names: list[str]) -> None:
    for name in names:
        try:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        except Exception:
            return


def prepare(b: Backend, inputs: Inputs, cp: CompiledPolicy, snapshot: Snapshot | None = None,
            *, subset: bool = False, reasons: bool = True) -> bool:
    """Make sure the plan for these inputs is ready (in memory, and on disk if kept there)
    without scoring anything: a service warms up with it. True if it had to be built."""
    return _prepared(b, inputs, cp, snapshot or Snapshot(), subset, reasons)[2]


def _prepared(b: Backend, inputs: Inputs, cp: CompiledPolicy, snapshot: Snapshot, subset: bool,
              reasons: bool) -> tuple[Prepared, tuple[str, ...], bool]:
    """The plan from memory, else from disk, else recorded now (and stored); whether it was
    recorded now."""
    key, names = _key(b, cp, inputs, snapshot, subset, reasons)
    prep = b.cache.get(key)
    if prep is not None:
        return prep, names, False
    file = _plan_file(b, key)
    prep = _load(b, file) if file is not None else None
    built = prep is None
    if prep is None:
        prep = _record(b, inputs, cp, snapshot, subset, reasons, names)
        if file is not None:
            plancache.save(file, _as_json(prep))
    _make_constants(b, prep)
    b.cache[key] = prep
    return prep, names, built


def prepared_score(b: Backend, inputs: Inputs, cp: CompiledPolicy, as_of: datetime,
                   subjects: list[str] | None, snapshot: Snapshot, *,
                   reasons: bool) -> Result:
    """Replay the recorded plan for this policy and input shape (recording it the first time)."""
    subset = subjects is not None
    prep, names, _ = _prepared(b, inputs, cp, snapshot, subset, reasons)
    renames = dict(zip(prep.inputs, names, strict=True))
    if subjects is not None:
        return _serve(b, prep, names, renames, as_of, sorted(set(subjects)), snapshot,
                      hops_and_types(cp)[1])
    con = b.connection
    suffix = f"_r{next(_runs)}"
    made = []
    for name, sql in prep.steps:
        if name in prep.constant:
            continue
        con.execute(f"CREATE TEMP TABLE {name}{suffix} AS "
                    + _bind(sql, as_of, None, None, suffix, renames, prep.constant))
        made.append(f"{name}{suffix}")
    out = Result(b, sql={name: _bind(sql, as_of, None, None, suffix, renames, prep.constant)
                         for name, sql in prep.outputs.items()})
    weakref.finalize(out, _drop, con, made)
    return out


def _scope(con: Any, hops: int, table: str, rel: str, targets: list[str], types: list[str],
           lists: tuple[str, str, str]) -> list[str]:
    """Fill ``table`` with the relation rows the plan reads, hop by hop from the targets, and
    return the subjects in scope: the targets and ``hops`` rings of neighbours.

    A ring is every subject related to the previous one by a relation of the types the policy
    reads, valid or not at the run's time: a superset of what the plan counts (it applies the
    validity itself), which costs a few more rows and no statement. The last ring needs only
    its own records (its relation rows to inner rings come in from the other end), so its own
    relations are not looked up."""
    def touching(frontier: list[str], seen: set[str]) -> list[tuple[Any, ...]]:
        _gather_relations(con, rel, table, frontier, seen, lists)
        return list(con.execute(f"SELECT subject_id, related_id, relation FROM {table}")
                    .fetchall())

    if not hops:  # no hops: the plan still reads the targets' relation rows
        _gather_relations(con, rel, table, sorted(targets), set(), lists)
    return sorted(rings(targets, hops, types, touching))


def _serve(b: Backend, prep: Prepared, names: tuple[str, ...], renames: dict[str, str],
           as_of: datetime, targets: list[str], snapshot: Snapshot,
           types: list[str]) -> Result:
    """A subset run: the serving replay of engine/serving.py (fixed tables, prepared steps)."""
    con = b.connection
    key = (id(prep), names)
    srv = b.serving.get(key)
    if srv is None:
        sentinels = {"epoch": _EPOCH_TEXT, "time": _TIME_TEXT, "scope": SCOPE,
                     "targets": TARGETS}
        srv = serving.build(b, prep, lambda sql, tag: _bind(
            sql, SENTINEL_TIME, None, None, tag, renames, prep.constant), sentinels)
        serving.remember(b, key, srv)
    previous = srv.last() if srv.last is not None else None
    if previous is not None:  # a result still held by its caller keeps its rows
        previous.settle()
    srv.generation += 1
    refilled = {srv.scope_table, srv.targets_table, *srv.id_tables}  # _fill empties these
    con.execute("; ".join(f"DELETE FROM {t}" for t in srv.tables if t not in refilled))
    scope = targets
    if srv.relations_table is not None:
        assert prep.relations_sql is not None
        rel = _bind(prep.relations_sql, as_of, None, None, srv.tag, renames, prep.constant)
        scope = _scope(con, prep.hops, srv.relations_table, rel, targets, types,
                       srv.id_tables)
    _fill(con, srv.scope_table, scope)
    _fill(con, srv.targets_table, targets)
    long = len(scope) > LONG  # the extraction reads the scope table instead of literals
    for step in srv.extract:
        sql = _bind(step.sql, as_of, None if long else scope, None if long else targets,
                    srv.tag, renames, prep.constant)
        if long:
            sql = serving.scoped(sql, SCOPE, TARGETS, (srv.scope_table, srv.targets_table))
        con.execute(f"INSERT INTO {step.table} {sql}")
    for step in srv.steps:
        con.execute(serving.execute_text(step, as_of))
    ranks = None if snapshot.scores is None else serving.rank_index(b, snapshot.scores)
    out = Result(b, executes={name: serving.execute_text(step, as_of)
                              for name, step in srv.outputs.items()},
                 serving=(srv, srv.generation), ranks=ranks)
    srv.last = weakref.ref(out)
    return out
