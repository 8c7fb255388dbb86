"""``score(backend, inputs, policy, as_of, subjects)``: one entry point for batch and real time.

The only I/O is through the Backend handed in: collecting the neighbours of a subset (so the
network term can be recomputed) and materialising the per-subject state once, from which the
output tables are cut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from glasscredit.engine import plan
from glasscredit.engine.decide import with_lists, with_measures
from glasscredit.engine.plan import Ctx
from glasscredit.engine.reasons import reasons_frame
from glasscredit.engine.scoring import ranked, ranked_against, score_state
from glasscredit.engine.sessions import Backend
from glasscredit.engine.tables import INPUT_SCHEMAS
from glasscredit.errors import BackendError, InputError
from glasscredit.policy.load import CompiledPolicy

if TYPE_CHECKING:
    from glasscredit.engine.cache import InputCache


@dataclass
class Inputs:
    """The engine's input tables as DataFrames of the backend's session."""

    subjects: Any
    sources: Any
    events: Any
    voids: Any = None
    relations: Any = None


def parquet_inputs(b: Backend, directory: str | Path) -> Inputs:
    """The input tables from a directory of ``<table>.parquet`` files (a ledger export)."""
    folder = Path(directory)
    missing = [n for n in INPUT_SCHEMAS if not (folder / f"{n}.parquet").is_file()]
    if missing:
        raise InputError(f"{folder}: missing {', '.join(f'{n}.parquet' for n in missing)}")
    return Inputs(**{n: b.session.read.parquet(str(folder / f"{n}.parquet"))
                     for n in INPUT_SCHEMAS})


@dataclass
class Snapshot:
    """The previous run's state (list memberships, measure states) and, for subset runs, the
    scores of everyone else so ranks and percentiles equal the full run's."""

    list_state: Any = None
    measure_state: Any = None
    scores: Any = None


#: subsets up to this many subjects take the real-time path by default: measured on the
#: 20 M-event reference workload, it is faster up to 16 subjects (1: ~115 ms against ~200 ms for
#: the SQL replay; 16: ~0.8 s against ~1.2 s) and slower from 64 (~1.5-2.1 s against ~1.3 s),
#: where evaluating tens of thousands of events in Python costs more than the SQL does
DIRECT_LIMIT = 16
#: the same limit when an input cache (engine/cache.py) serves the rows: reading them then costs
#: next to nothing, and the Python evaluation (~4 ms a subject with its neighbours) stays faster
#: than the SQL replay up to 64 subjects (64: ~0.3 s against ~0.6-0.8 s; 256: ~1.1 s against
#: ~0.8-0.95 s; benchmarks/engine/subsets.py)
CACHED_DIRECT_LIMIT = 64

ORDER = {"scores": ["subject_id"], "lists": ["subject_id", "list"],
          "measures": ["subject_id", "measure"], "reasons": ["subject_id", "rank"]}


@dataclass
class Result:
    """Output tables: lazy DataFrames (plan path), bound SQL (prepared path) or prepared
    statements over the tables of a serving replay (subset runs, engine/serving.py), and the
    per-event frames behind the reasons (plan path only)."""

    backend: Backend
    frames: dict[str, Any] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)
    counted: Any = field(default=None, repr=False)
    buckets: Any = field(default=None, repr=False)
    executes: dict[str, str] = field(default_factory=dict)
    serving: Any = field(default=None, repr=False)
    ranks: Any = field(default=None, repr=False)
    #: outputs of a serving replay already read (or saved before the next run refilled the
    #: tables they are read from)
    fetched: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    def settle(self) -> None:
        """Read every output of a serving replay now: the next subset run of the same plan on
        this backend refills the tables they come from."""
        for name in self.executes:
            if name not in self.fetched:
                self.arrow(name)

    def arrow(self, name: str) -> pa.Table:
        """One output table as Arrow, sorted by its key for stable comparisons."""
        keys = ORDER[name]
        if name in self.fetched:
            return self.fetched[name]
        if name in self.executes:
            srv, generation = self.serving
            if srv.generation != generation:  # settle() runs before a refill: never here
                raise BackendError("a subset result's tables were refilled before it was read")
            table = self.backend.connection.sql(self.executes[name]).to_arrow_table()
            if name == "scores" and self.ranks is not None:
                table = self.ranks.rank(table)
            self.fetched[name] = table
            return table
        if name in self.sql:
            order = ", ".join(f'"{k}"' for k in keys)
            query = f"SELECT * FROM ({self.sql[name]}) ORDER BY {order}"
            return self.backend.connection.sql(query).to_arrow_table()
        return self.backend.to_arrow(self.frames[name].orderBy(*keys))


def _neighbours(b: Backend, relations: Any, ids: set[str], types: list[str], c: Ctx,
                hops: int) -> set[str]:
    from glasscredit.engine.scoring import valid_relations

    scope = set(ids)
    frontier = set(ids)
    for _ in range(hops):
        if not frontier:
            break
        probe = Ctx(c.b, c.cp, c.as_of, tuple(sorted(frontier)))
        pairs = valid_relations(probe, relations, types)
        found = {row[0] for row in pairs.select("related_id").distinct().collect()}
        frontier = found - scope
        scope |= found
    return scope


def hops_and_types(cp: CompiledPolicy) -> tuple[int, list[str]]:
    """How many hops of neighbours a subset run reads, over which relation types."""
    net = next((cat for cat in cp.policy.categories if cat.network is not None), None)
    via = [m for m in cp.policy.measures if m.via_relation]
    hops = (1 if net else 0) + ((2 if net else 1) if via else 0)
    types = sorted({*(net.network.relations if net and net.network else [])}
                   | {t for m in via for t in (m.via_relation or [])})
    return hops, types


def next_ring(pairs: list[tuple[Any, ...]], frontier: set[Any], types: set[str]) -> set[Any]:
    """The subjects related to ``frontier`` by a relation of ``types`` among relation rows
    ``(subject_id, related_id, relation, …)``, whatever the rows' validity: the superset a
    subset run's scope is drawn from (the plan applies validity itself)."""
    return ({p[1] for p in pairs if p[0] in frontier and p[2] in types}
            | {p[0] for p in pairs if p[1] in frontier and p[2] in types})


def rings(targets: Iterable[Any], hops: int, types: list[str],
          touching: Callable[[list[Any], set[Any]], list[tuple[Any, ...]]]) -> set[Any]:
    """The targets and ``hops`` rings of neighbours, each ring found by ``next_ring``: the
    hop loop of every subset run (engine/direct.py, engine/prepared.py, runs.ledger_scope).
    ``touching(frontier, seen)`` returns at least every relation row with an end in
    ``frontier``; ``seen`` holds the earlier rings' subjects, for a store that gathers rows
    into a table and skips those it holds already."""
    wanted = set(types)
    found: set[Any] = set()
    frontier = set(targets)
    for _ in range(hops):
        if not frontier:
            break
        pairs = touching(sorted(frontier), found)
        found |= frontier
        frontier = next_ring(pairs, frontier, wanted) - found
    return found | frontier


def scope_of(b: Backend, cp: CompiledPolicy, inputs: Inputs, as_of: datetime,
             subjects: list[str]) -> tuple[str, ...]:
    """The subset plus as many hops of neighbours as the network term and measures read."""
    hops, types = hops_and_types(cp)
    ids = set(subjects)
    if hops and inputs.relations is not None:
        ids = _neighbours(b, inputs.relations, ids, types, Ctx(b, cp, as_of, None), hops)
    return tuple(sorted(ids))


def _long(c: Ctx, state: Any, items: list[tuple[str, list[tuple[str, Any]]]], name: str) -> Any:
    """Cut a long table (one row per subject and list/measure) from the wide state."""
    F = c.F
    structs = [F.struct(F.lit(key).alias(name), *[col.alias(k) for k, col in fields])
               for key, fields in items]
    x = state.select("subject_id", F.explode(F.array(*structs)).alias("x"))
    keys = [name, *[k for k, _ in items[0][1]]]
    return x.select("subject_id", *[F.col(f"x.{k}").alias(k) for k in keys])


def score(b: Backend, inputs: Inputs, cp: CompiledPolicy, as_of: datetime,
          subjects: list[str] | None = None, snapshot: Snapshot | None = None,
          *, reasons: bool = True, prepared: bool = True,
          direct: bool | None = None, cache: InputCache | None = None) -> Result:
    """Scores, bands, ranks, lists, measures and reasons of every subject (or a subset) at as_of.

    On a backend that runs SQL text (DuckDB) the plan is built once per policy and input shape
    and replayed with the time and subjects bound (``prepared``); the result is the same.
    There, a subset of at most ``DIRECT_LIMIT`` subjects is evaluated in Python over the
    scope's rows (engine/direct.py, the real-time form) and a larger one by the SQL subset
    replay of engine/serving.py, which is faster past that size; ``direct`` True or False
    forces one or the other. Every path gives the same rows. A ``cache`` (engine/cache.py)
    built over ``inputs`` serves the real-time path's rows from memory while it is fresh, and
    that path then takes subsets of up to ``CACHED_DIRECT_LIMIT`` subjects.
    """
    if subjects is not None and not subjects:
        raise InputError("an empty subset: give at least one subject, or None for everyone")
    snapshot = snapshot or Snapshot()
    limit = DIRECT_LIMIT if cache is None else CACHED_DIRECT_LIMIT
    if prepared and b.prepares and subjects is not None and (
            direct or (direct is None and len(set(subjects)) <= limit)):
        from glasscredit.engine.direct import direct_score

        return direct_score(b, inputs, cp, as_of, subjects, snapshot, reasons=reasons,
                            cache=cache)
    if prepared and b.prepares:
        from glasscredit.engine.prepared import prepared_score

        return prepared_score(b, inputs, cp, as_of, subjects, snapshot, reasons=reasons)
    scope = scope_of(b, cp, inputs, as_of, subjects) if subjects is not None else None
    return plan_score(b, inputs, cp, as_of, subjects, snapshot, reasons=reasons, scope=scope)


def plan_score(b: Backend, inputs: Inputs, cp: CompiledPolicy, as_of: datetime,
               subjects: list[str] | None, snapshot: Snapshot, *, reasons: bool,
               scope: tuple[str, ...] | None) -> Result:
    """Build the DataFrame plan and materialise the per-subject state (the plan path)."""
    relations = (inputs.relations if inputs.relations is not None
                 else b.empty(INPUT_SCHEMAS["relations"]))
    c = Ctx(b, cp, as_of, scope)
    F = c.F
    counted = plan.counted_events(c, inputs.events, inputs.voids, inputs.sources)
    buckets = plan.bucket_totals(c, counted)
    totals = b.materialise(plan.rule_totals(c, buckets))
    state = b.materialise(score_state(c, plan.features(c, totals, inputs.subjects), relations))
    state = with_lists(c, state, snapshot.list_state)
    state = with_measures(c, state, snapshot.measure_state, relations)
    if subjects is not None:
        state = state.filter(F.col("subject_id").isin(sorted(set(subjects))))
        if snapshot.scores is not None:
            state = ranked_against(c, state, snapshot.scores)
        else:
            state = state.select("*", F.lit(None).cast("double").alias("rank"),
                                 F.lit(None).cast("double").alias("percentile"))
    else:
        state = ranked(c, state)
    state = b.materialise(state)
    p = cp.policy
    cat_cols = [F.col(f"cat__{cat.name}") for cat in p.categories]
    scores = state.select("subject_id", "subject_kind", "score", "band", "rank", "percentile",
                          *cat_cols)

    def ts(col: str) -> Any:
        return F.timestamp_seconds(F.col(col)).cast("timestamp_ntz")

    if p.lists:
        lists = _long(c, state, [(lst.name, [
            ("listed", F.col(f"listed__{lst.name}")), ("since", ts(f"since__{lst.name}")),
            ("ended_at", ts(f"ended__{lst.name}"))]) for lst in p.lists], "list")
        lists = lists.filter(F.col("listed") | F.col("ended_at").isNotNull())
    else:
        lists = b.empty({"subject_id": "string", "list": "string", "listed": "boolean",
                         "since": "timestamp_ntz", "ended_at": "timestamp_ntz"})
    if p.measures:
        measures = _long(c, state, [(m.name, [
            ("type", F.lit(m.type)), ("context", F.lit(m.context)),
            ("active", F.col(f"active__{m.name}")), ("since", ts(f"msince__{m.name}")),
            ("failing_since", ts(f"failing__{m.name}"))]) for m in p.measures], "measure")
    else:
        measures = b.empty({"subject_id": "string", "measure": "string", "type": "string",
                            "context": "string", "active": "boolean",
                            "since": "timestamp_ntz", "failing_since": "timestamp_ntz"})
    frames = {"scores": scores, "lists": lists, "measures": measures}
    if reasons:
        frames["reasons"] = reasons_frame(c, totals, state)
    return Result(b, frames, counted=counted, buckets=buckets)
