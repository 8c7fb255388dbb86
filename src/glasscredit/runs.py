"""Scoring runs over a ledger: the engine reads the ledger, the results go back as snapshots.

A run chains from the latest snapshot *before* its time (list memberships, measure states), so
hysteresis and list durations carry over period by period and stay reproducible from the ledger
plus the snapshots. A simulation-mode policy never scores a ledger of real subjects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from glasscredit.engine.cache import InputCache
from glasscredit.engine.run import Inputs, Result, Snapshot, hops_and_types, rings, score
from glasscredit.engine.sessions import Backend, duckdb_backend
from glasscredit.engine.tables import SNAPSHOT_SCHEMAS
from glasscredit.errors import InputError, LedgerError
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.schema import any_of
from glasscredit.policy.load import CompiledPolicy

ENGINE_INPUTS = ("subjects", "sources", "events", "voids", "relations")
#: where a ledger's backend keeps its input cache (``cache_inputs``)
_CACHE = "ledger_cache"


def check_mode(ledger: Ledger, cp: CompiledPolicy) -> None:
    """A research ledger never serves live decisions; real subjects never meet a simulation."""
    if cp.policy.mode == "simulation" and not ledger.is_research():
        raise LedgerError(f"policy {cp.name!r} is a simulation; it cannot score a ledger of real "
                          "subjects (make a research ledger with `glasscredit init --research`)")
    if cp.policy.mode == "live" and ledger.is_research():
        raise LedgerError(f"policy {cp.name!r} is live; a research ledger holds synthetic data "
                          "and cannot serve live decisions")


def ledger_inputs(ledger: Ledger, cp: CompiledPolicy | None = None,
                  subjects: list[str] | None = None) -> tuple[Backend, Inputs]:
    """The engine over the ledger: in place on a DuckDB file, via Arrow from PostgreSQL.

    A ledger keeps one backend (a SQLFrame session registers its functions on its connection
    once), so prepared plans and snapshot frames are reused across runs. On PostgreSQL the
    inputs are copied into that backend's in-memory DuckDB at every call (replacing the last
    call's): for a subset run (``cp`` and ``subjects`` given) only the rows it can read, the
    subjects in scope (``ledger_scope``) with their events and voids, the relation rows that
    touch them, and every source. Read a run's result before the next run on the same ledger.
    """
    in_place = embedded(ledger)
    b = getattr(ledger, "_engine_backend", None)
    if b is None:
        b = duckdb_backend(getattr(ledger.store, "connection", None) if in_place else None)
        ledger._engine_backend = b  # type: ignore[attr-defined]
    if not in_place:
        scope = None if cp is None or subjects is None else ledger_scope(ledger, cp, subjects)
        for name in ENGINE_INPUTS:
            b.from_arrow(ledger.table(name, scope), name, replace=True)
    # the frames name the tables, whose rows each call reads afresh: made once, they keep
    # their rendered SQL (engine/prepared._text), which costs ~2 ms a frame to build again
    inputs = b.memo.get("ledger_inputs")
    if inputs is None:
        inputs = b.memo["ledger_inputs"] = Inputs(**{n: b.table(n) for n in ENGINE_INPUTS})
    return b, inputs


def ledger_scope(ledger: Ledger, cp: CompiledPolicy, subjects: list[str]) -> list[str]:
    """The subjects a subset run of ``cp`` reads, found in the ledger: ``subjects`` and the
    rings of neighbours its network term and measures reach, by relation type and whatever
    the relation's validity (the engine's own law, a superset it narrows itself)."""
    sql = ledger.store.dialect.sql(
        "SELECT subject_id, related_id, relation FROM ledger_relations WHERE "
        f"{any_of('subject_id')} OR {any_of('related_id')}")

    def touching(frontier: list[int], _: set[int]) -> list[tuple[Any, ...]]:
        return ledger.store.fetch(sql, [frontier, frontier])

    hops, types = hops_and_types(cp)
    targets = {int(s) for s in subjects if s.isdigit()}  # ledger ids are numbers
    return [str(s) for s in sorted(rings(targets, hops, types, touching))]


def _previous(ledger: Ledger, b: Backend, cp: CompiledPolicy, as_of: datetime,
              subset: bool) -> Snapshot:
    """The stored snapshots a run chains from. A stored snapshot never changes (the ledger
    only appends), so the frame of each is made once on the ledger's backend and handed out
    again while it is the latest: the engine then reuses its prepared subset plan and its rank
    index instead of loading a million scores at every call."""
    from glasscredit.ledger.snapshots import latest_snapshot_time, snapshot_at

    before = as_of - timedelta(microseconds=1)
    frames: dict[str, Any] = {}
    for name in ("list_state", "measure_state", "scores"):
        if name == "scores" and not subset:
            continue
        latest = latest_snapshot_time(ledger, name, cp.content_hash, before)
        if latest is None:
            continue
        memo = ("snapshot", name, cp.content_hash)
        hit = b.memo.get(memo)
        if hit is not None and hit[0] == latest:
            frames[name] = hit[1]
            continue
        table = snapshot_at(ledger, name, cp.content_hash, latest)
        if table.num_rows:
            frames[name] = b.from_arrow(table.select(list(SNAPSHOT_SCHEMAS[name])))
            b.memo[memo] = (latest, frames[name])
    return Snapshot(**frames)


@dataclass(frozen=True)
class Run:
    """One scoring run over a ledger: what the engine returned and what was kept."""

    result: Result
    as_of: datetime
    policy: CompiledPolicy
    kept: bool


def cache_inputs(ledger: Ledger) -> InputCache:
    """Serve this ledger's subset runs from an in-memory copy of its engine inputs
    (engine/cache.py), brought up to date from the batches written since before every subset
    run: for a long-lived process (the HTTP service) over an embedded DuckDB ledger, whose
    rescores then read no table rows. The copy costs a read of every input and memory for it
    (on the 20 M-event reference workload ~10-15 s and ~3.4 GB, docs/benchmarks.md)."""
    if not embedded(ledger):
        raise LedgerError("only an embedded DuckDB ledger keeps its inputs in memory: a "
                          "PostgreSQL ledger's subset runs copy just their scope's rows")
    b, inputs = ledger_inputs(ledger)
    return input_cache(ledger) or _copy(ledger, b, inputs)


def _copy(ledger: Ledger, b: Backend, inputs: Inputs) -> InputCache:
    """A new input cache of the ledger, kept with its backend."""
    with ledger.store._transaction():  # the rows and the head they are copied at agree
        cache = b.memo[_CACHE] = InputCache(b, inputs, stamp=ledger.head)
    return cache


def embedded(ledger: Ledger) -> bool:
    """The engine reads this ledger in place (a DuckDB file), not from copies of its rows."""
    return (ledger.store.dialect.name == "duckdb"
            and getattr(ledger.store, "connection", None) is not None)


def input_cache(ledger: Ledger) -> InputCache | None:
    """The input cache this ledger keeps (``cache_inputs``), if it keeps one."""
    b = getattr(ledger, "_engine_backend", None)
    return None if b is None else cast("InputCache | None", b.memo.get(_CACHE))


def _caught_up(ledger: Ledger, cache: InputCache) -> InputCache:
    """The ledger's cache with the rows of the batches written since its copy; after an
    erasure (a change in place) a new copy."""
    with ledger.store._transaction():
        head = ledger.head()
        last, erased = cache.stamp
        if head == cache.stamp:
            return cache
        if head[1] == erased and head[0] >= last:
            cache.extend(head, **{name: ledger.table_between(name, last, head[0])
                                  for name in ("subjects", "events", "voids", "relations")})
            return cache
    return _copy(ledger, cache.b, cache.inputs)


def score_ledger(ledger: Ledger, cp: CompiledPolicy, as_of: datetime,
                 subjects: list[str] | None = None, *, keep: bool = True) -> Run:
    """Score a ledger at ``as_of``; a full run is kept as the snapshot the next run chains from.
    A subset run reads the ledger's input cache, if it keeps one (``cache_inputs``)."""
    check_mode(ledger, cp)
    b, inputs = ledger_inputs(ledger, cp, subjects)
    cache = input_cache(ledger) if subjects is not None else None
    if cache is not None:
        cache = _caught_up(ledger, cache)
    result = score(b, inputs, cp, as_of, subjects, _previous(ledger, b, cp, as_of,
                                                              subjects is not None),
                   cache=cache)
    kept = keep and subjects is None
    if kept:
        scores = result.arrow("scores")
        ledger.store_policy(cp.text, cp.name, cp.policy.mode)
        ledger.write_scores(cp.content_hash, as_of, scores.select(
            ["subject_id", "subject_kind", "score"]))
        for name, table in (("list_state", "lists"), ("measure_state", "measures")):
            rows = result.arrow(table)
            if rows.num_rows:
                ledger.write_snapshot(name, cp.content_hash, as_of,
                                      rows.select(list(SNAPSHOT_SCHEMAS[name])))
    return Run(result, as_of, cp, kept)


@dataclass(frozen=True)
class Decision:
    """The answer to "may subject S have measure M now?", with reasons and policy version."""

    subject_id: str
    measure: str
    type: str
    context: str
    outcome: str  # "allow" | "deny" for privileges, "applies" | "does_not_apply" for sanctions
    as_of: datetime
    policy_version: str
    score: float
    band: str | None
    reasons: list[dict[str, Any]]


def decide(ledger: Ledger, cp: CompiledPolicy, subject: str, measure: str,
           as_of: datetime) -> Decision:
    """Decide one measure for one subject now, chained from the stored snapshots."""
    names = [m.name for m in cp.policy.measures]
    if measure not in names:
        raise InputError(f"policy {cp.name!r} has no measure {measure!r}; it has "
                         f"{', '.join(names) or 'none'}")
    run = score_ledger(ledger, cp, as_of, [subject], keep=False)
    scores = run.result.arrow("scores").to_pylist()
    if not scores:
        raise InputError(f"unknown subject {subject!r}")
    state = next(m for m in run.result.arrow("measures").to_pylist()
                 if m["measure"] == measure)
    spec = next(m for m in cp.policy.measures if m.name == measure)
    if spec.type == "privilege":
        outcome = "allow" if state["active"] else "deny"
    else:
        outcome = "applies" if state["active"] else "does_not_apply"
    return Decision(subject, measure, spec.type, spec.context, outcome, as_of, cp.version_id,
                    scores[0]["score"], scores[0]["band"],
                    run.result.arrow("reasons").to_pylist() if spec.reasons else [])

