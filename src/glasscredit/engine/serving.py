"""Subset replays for serving: one subject (or a few) rescored in milliseconds, not a batch.

A recorded subset plan (engine/prepared.py) is a dozen SQL statements, some of them 10,000
characters long. On a few hundred rows DuckDB spends most of a call parsing, binding and
optimising them, not running them. A serving replay therefore keeps, per plan and connection:

* one fixed temp table per step, emptied and refilled at every call, so that
* every step that reads only the plan's own tables is a DuckDB prepared statement
  (``PREPARE … AS INSERT INTO …``); a call binds the time as parameters and finds the
  subjects in scope in two small tables (``IN (SELECT id FROM …)``). DuckDB 2.0 still binds
  and optimises a prepared statement that reads tables at every EXECUTE (by design:
  duckdb/duckdb#20885), so what this saves is the parsing, about a fifth of a step's time;
* the steps that copy the subjects' rows out of the large inputs keep literal id lists, which
  let DuckDB use the inputs' order and indexes; they are short statements.

Rank and percentile against a snapshot of everyone's scores come from a :class:`RankIndex`
(the snapshot's scores sorted per subject kind, built once per snapshot): the same law as
``scoring.ranked_against`` — the snapshot with the subset's own rows replaced — counted with
binary searches instead of a pass over a million rows.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.engine.plan import epoch
from glasscredit.engine.run import ORDER

if TYPE_CHECKING:
    from glasscredit.engine.prepared import Prepared
    from glasscredit.engine.sessions import Backend

_tags = itertools.count()
#: at most this many serving plans per connection; the oldest is dropped past it (a caller
#: whose input tables are new at every call would otherwise pile up prepared statements)
_LIMIT = 16


@dataclass
class Step:
    """One step of a serving replay: its fixed table and how to fill it."""

    table: str
    #: prepared statement name (run with EXECUTE), or None: bound as text at every call
    statement: str | None
    #: the SQL bound at every call (statement is None) or the prepared SQL (for the record)
    sql: str
    params: tuple[str, ...] = ()


@dataclass
class Serving:
    """The fixed tables and prepared statements of one subset plan on one connection."""

    tag: str
    extract: list[Step]
    steps: list[Step]
    outputs: dict[str, Step]
    scope_table: str
    targets_table: str
    relations_table: str | None
    tables: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    #: bumped at every call: a result reads its tables only while they still hold its rows
    generation: int = 0
    #: the latest call's result while its caller holds it: the next call first has it read
    #: what it has not read yet (``Result.settle``)
    last: Any = None
    #: tables holding long id lists while the relation rows are gathered (new, seen, both)
    id_tables: tuple[str, str, str] = ("", "", "")


def _params(sql: str, time_texts: tuple[str, str]) -> tuple[str, tuple[str, ...]]:
    epoch_text, time_text = time_texts
    used = []
    if epoch_text in sql:
        sql = sql.replace(epoch_text, "$gc_t")
        used.append("gc_t")
    if time_text in sql:
        sql = sql.replace(time_text, "$gc_ts")
        used.append("gc_ts")
    return sql, tuple(used)


def scoped(sql: str, scope: str, targets: str, tables: tuple[str, str]) -> str:
    """The sentinel id lists replaced by reads of the call's scope and target tables."""
    for sentinel, table in ((scope, tables[0]), (targets, tables[1])):
        sql = re.sub(r"\(\s*'" + re.escape(sentinel) + r"'\s*\)",
                      f"(SELECT id FROM {table})", sql)
    return sql


def build(b: Backend, prep: Prepared, bind: Any, sentinels: dict[str, str]) -> Serving:
    """Create the fixed tables and prepare the statements of one subset plan.

    ``bind(sql, suffix)`` renames inputs and steps exactly as a replay does; ``sentinels``
    holds the texts of the sentinel time and id lists the recorded SQL carries."""
    con = b.connection
    n = next(_tags)
    tag = f"_sv{n}"
    scope_t, targets_t = f"gc_scope{tag}", f"gc_targets{tag}"
    srv = Serving(tag, [], [], {}, scope_t, targets_t, None)
    srv.id_tables = (f"gc_new{tag}", f"gc_seen{tag}", f"gc_old{tag}")
    for t in (scope_t, targets_t, *srv.id_tables):
        con.execute(f"CREATE TEMP TABLE {t} (id VARCHAR)")
        srv.tables.append(t)
    time_texts = (sentinels["epoch"], sentinels["time"])

    def prepared_sql(sql: str) -> tuple[str, tuple[str, ...]]:
        text = scoped(bind(sql, tag), sentinels["scope"], sentinels["targets"],
                       (scope_t, targets_t))
        return _params(text, time_texts)

    extract = set(prep.extract)
    for i, (name, sql) in enumerate(prep.steps):
        if name in prep.constant:
            continue
        table = f"{name}{tag}"
        # the table, empty, with the step's columns (the sentinel values bind anything)
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM ({bind(sql, tag)}) LIMIT 0")
        srv.tables.append(table)
        if name == prep.relations_step:
            srv.relations_table = table
            continue
        if name in extract:
            srv.extract.append(Step(table, None, sql))
            continue
        text, params = prepared_sql(sql)
        statement = f"gc_p{n}_{i}"
        con.execute(f"PREPARE {statement} AS INSERT INTO {table} {text}")
        srv.statements.append(statement)
        srv.steps.append(Step(table, statement, text, params))
    for name, sql in prep.outputs.items():
        text, params = prepared_sql(sql)
        statement = f"gc_o{n}_{name}"
        order = ", ".join(f'"{k}"' for k in ORDER[name])  # as Result.arrow sorts
        con.execute(f"PREPARE {statement} AS SELECT * FROM ({text}) ORDER BY {order}")
        srv.statements.append(statement)
        srv.outputs[name] = Step("", statement, text, params)
    return srv


def execute_text(step: Step, as_of: datetime) -> str:
    """The EXECUTE statement of a prepared step at ``as_of``."""
    values = {"gc_t": f"CAST({float(epoch(as_of))!r} AS DOUBLE)",
              "gc_ts": "CAST('" + as_of.replace(tzinfo=None).isoformat(sep=" ")
                       + "' AS TIMESTAMP)"}
    args = ", ".join(f"{p} := {values[p]}" for p in step.params)
    return f"EXECUTE {step.statement}({args})" if args else f"EXECUTE {step.statement}"


def drop(con: Any, srv: Serving) -> None:
    """Forget a serving plan: its prepared statements and tables (quietly, if the connection
    is closed already)."""
    import duckdb

    with contextlib.suppress(duckdb.Error):
        for s in srv.statements:
            con.execute(f"DEALLOCATE {s}")
        for t in srv.tables:
            con.execute(f"DROP TABLE IF EXISTS {t}")


def remember(b: Backend, key: Any, srv: Serving) -> None:
    """Keep a serving plan on the backend, dropping the oldest past the limit."""
    b.serving[key] = srv
    while len(b.serving) > _LIMIT:
        oldest = next(iter(b.serving))
        drop(b.connection, b.serving.pop(oldest))


# --- rank and percentile against a snapshot ---------------------------------------------


class RankIndex:
    """A snapshot's scores sorted per subject kind, and each subject's kind and score."""

    def __init__(self, table: pa.Table) -> None:
        table = table.take(pc.sort_indices(table, [("subject_id", "ascending")]))
        self.ids = np.asarray(table.column("subject_id").to_numpy(zero_copy_only=False),
                              dtype=str)
        kinds = table.column("subject_kind").combine_chunks().dictionary_encode()
        self.kind_names = [str(k) for k in kinds.dictionary.to_pylist()]
        self.kinds = kinds.indices.to_numpy(zero_copy_only=False)
        self.scores = table.column("score").cast(pa.float64()).to_numpy(zero_copy_only=False)
        self.by_kind = {name: np.sort(self.scores[self.kinds == i])
                        for i, name in enumerate(self.kind_names)}

    def old(self, subject: str) -> tuple[str, float] | None:
        """The snapshot's row of a subject: (kind, score), or None if it has none."""
        i = int(np.searchsorted(self.ids, subject))
        if i < len(self.ids) and self.ids[i] == subject:
            return self.kind_names[int(self.kinds[i])], float(self.scores[i])
        return None

    def rank(self, scores: pa.Table) -> pa.Table:
        """``scores`` (the subset's new rows) with rank and percentile among the snapshot whose
        rows of these subjects are replaced by their new scores (``ranked_against``'s law)."""
        new = list(zip(scores.column("subject_id").to_pylist(),
                       scores.column("subject_kind").to_pylist(),
                       scores.column("score").to_pylist(), strict=True))
        old = [o for o in (self.old(s) for s, _, _ in new) if o is not None]
        ranks: list[float | None] = []
        pcts: list[float | None] = []
        for _, kind, x in new:
            if x is None:
                ranks.append(None)
                pcts.append(None)
                continue
            peers = self.by_kind.get(kind, np.empty(0))
            at_or_below = int(np.searchsorted(peers, x, side="right"))
            higher, below, n = len(peers) - at_or_below, at_or_below, len(peers)
            for k, y in old:
                if k == kind:
                    higher, below, n = higher - (y > x), below - (y <= x), n - 1
            for _, k, y in new:
                if k == kind and y is not None:
                    higher, below, n = higher + (y > x), below + (y <= x), n + 1
            ranks.append(float(higher) + 1.0)
            pcts.append(100.0 * float(below) / float(n))
        out = scores
        for name, values in (("rank", ranks), ("percentile", pcts)):
            i = out.schema.get_field_index(name)
            out = out.set_column(i, name, pa.array(values, pa.float64()))
        return out


def rank_index(b: Backend, frame: Any) -> RankIndex:
    """The rank index of a snapshot's scores, built once per frame object and kept while the
    frame lives: a snapshot is a fixed set of rows (a run's output), read once."""
    return b.of_frame("rank", frame, lambda: RankIndex(
        b.to_arrow(frame.select("subject_id", "subject_kind", "score"))))
