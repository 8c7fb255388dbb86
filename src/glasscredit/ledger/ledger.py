"""``Ledger``: the append-only record store as the rest of GlassCredit sees it.

It owns a ``Store`` (DuckDB file or PostgreSQL schema) and a ``Pseudonymiser``; every write is a
``Batch`` through ``append``, every external id goes through the HMAC, and the clock is injected so
tests and replays are deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from glasscredit.catalogue import RELATION_TYPES
from glasscredit.engine.tables import INPUT_SCHEMAS
from glasscredit.errors import InputError, LedgerError
from glasscredit.ledger.batch import AppendResult, Batch
from glasscredit.ledger.pseudonym import Pseudonymiser
from glasscredit.ledger.schema import ENGINE_VIEWS, SCHEMA_VERSION, any_of
from glasscredit.ledger.store import LedgerMeta, SQLStore

Clock = Callable[[], datetime]
_ARROW_TYPES = {"string": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("us"),
                "boolean": pa.bool_(), "bigint": pa.int64()}
VOID_KINDS = ("void", "correction")
RELATIONS = RELATION_TYPES
POLICY_MODES = ("live", "simulation")
#: The rows of engine inputs that belong to a set of subjects (``Ledger.table``), as the
#: condition added to each view: one list parameter per ``?``, over the stored columns.
_OF_SUBJECTS = {
    "subjects": any_of("subject_id"),
    "events": any_of("subject_id"),
    "voids": f"event_id IN (SELECT event_id FROM ledger_events WHERE {any_of('subject_id')})",
    "relations": f"{any_of('subject_id')} OR {any_of('related_id')}",
}


def utc_now() -> datetime:
    """The ledger's clock: UTC, naive, as every stored timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    """An engine contract schema (``engine.tables``) as Arrow types."""
    return pa.schema([(name, _ARROW_TYPES[t]) for name, t in columns.items()])


def open_store(location: str | Path) -> SQLStore:
    """A ``postgresql://`` URL selects PostgreSQL; anything else is a DuckDB file path."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        from glasscredit.ledger.postgres_store import PostgresStore

        return PostgresStore(text)
    from glasscredit.ledger.duckdb_store import DuckDBStore

    return DuckDBStore(text)


def _table(rows: dict[str, list[object]]) -> pa.Table:
    return pa.table(rows)


class Ledger:
    """The only source of truth: append batches, read the engine's tables, keep snapshots."""

    def __init__(self, store: SQLStore, key: bytes, clock: Clock = utc_now) -> None:
        self.store = store
        self.pseudonyms = Pseudonymiser(key)
        self.clock = clock
        self.meta = store.read_meta()
        if self.meta.key_check != self.pseudonyms.key_check():
            raise LedgerError("the pseudonym key does not match this ledger")
        if self.meta.schema_version != SCHEMA_VERSION:
            raise LedgerError(f"ledger schema v{self.meta.schema_version}; this code needs "
                              f"v{SCHEMA_VERSION}")

    @classmethod
    def init(cls, location: str | Path, key: bytes, research: bool = False,
             clock: Clock = utc_now) -> Ledger:
        """Create an empty ledger, recording whether it holds synthetic research data."""
        store = open_store(location)
        meta = LedgerMeta(research, clock(), SCHEMA_VERSION, Pseudonymiser(key).key_check())
        store.create(meta)
        return cls(store, key, clock)

    @classmethod
    def open(cls, location: str | Path, key: bytes, clock: Clock = utc_now) -> Ledger:
        """Open an existing ledger; refuses a missing one and a wrong key."""
        if not str(location).startswith("postgres") and not Path(location).exists():
            raise LedgerError(f"no ledger at {location}; run `glasscredit init {location}`")
        return cls(open_store(location), key, clock)

    def close(self) -> None:
        """Release the database (and the engine's own DuckDB, for a PostgreSQL ledger)."""
        engine = getattr(self, "_engine_backend", None)  # set by runs.ledger_inputs
        if engine is not None and engine.connection is not getattr(self.store, "connection",
                                                                    None):
            engine.connection.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_research(self) -> bool:
        """True for synthetic research ledgers: only they may run simulation policies."""
        return self.meta.research

    def append(self, batch: Batch, strict: bool = False) -> AppendResult:
        """The one write path: a whole batch in one transaction, or nothing."""
        return self.store.append(batch, self.clock(), strict)

    def subject_id(self, external_id: str) -> str | None:
        """Internal id of a subject named by external id (through the HMAC), or None."""
        mac = self.pseudonyms.digest(external_id)
        rows = self.store.query(self.store.dialect.sql(
            "SELECT subject_id FROM ledger_subjects WHERE subject_hmac = ?"), [mac])
        return str(rows.column(0)[0].as_py()) if rows.num_rows else None

    def has_source(self, name: str) -> bool:
        """True when ``name`` was registered with ``add_source``."""
        rows = self.store.query(self.store.dialect.sql(
            "SELECT count(*) FROM ledger_sources WHERE source_id = ?"), [name])
        return bool(rows.column(0)[0].as_py())

    def add_source(self, name: str, reliability: float, api_key: str | None = None) -> None:
        """Register a data provider (or a new reliability for it: the latest row counts)."""
        if not name or not name.strip():
            raise InputError("a source needs a name")
        if not 0.0 <= reliability <= 1.0:
            raise InputError(f"reliability {reliability} must lie between 0 and 1")
        key_hash = hashlib.sha256(api_key.encode()).hexdigest() if api_key else None
        rows = _table({"source_id": [name], "reliability": [float(reliability)],
                       "api_key_hash": [key_hash], "created_at": [self.clock()]})
        self.append(Batch(rows={"ledger_sources": rows}))

    def void(self, event_id: str | int, reason: str, kind: str = "void",
             replacement_event_id: str | int | None = None) -> None:
        """Void or correct an event by appending a row that references it; never an UPDATE."""
        if kind not in VOID_KINDS:
            raise InputError(f"void kind {kind!r} is not one of {', '.join(VOID_KINDS)}")
        replacement = None if replacement_event_id is None else int(replacement_event_id)
        rows = pa.table({"event_id": pa.array([int(event_id)], pa.int64()),
                         "voided_at": [self.clock()], "kind": [kind], "reason": [reason],
                         "replacement_event_id": pa.array([replacement], pa.int64())})
        self.append(Batch(rows={"ledger_voids": rows}))

    def relate(self, subject: str, related: str, relation: str, *, valid_from: datetime,
               valid_to: datetime | None = None, source: str | None = None) -> None:
        """Record a typed link between two subjects named by external id."""
        if relation not in RELATIONS:
            raise InputError(f"relation {relation!r} is not one of {', '.join(RELATIONS)}")
        if valid_to is not None and valid_to < valid_from:
            raise InputError("a relation cannot end before it starts")
        (a, kind_a), (b, kind_b) = (self.pseudonyms.subject(subject),
                                    self.pseudonyms.subject(related))
        subjects = pa.table({"subject_hmac": [a, b], "subject_kind": [kind_a, kind_b]})
        rows = pa.table({"subject_hmac": [a], "related_hmac": [b], "relation": [relation],
                         "valid_from": [valid_from], "valid_to": pa.array([valid_to],
                                                                          pa.timestamp("us")),
                         "source_id": pa.array([source], pa.string())})
        self.append(Batch(subjects=subjects, rows={"ledger_relations": rows}))

    def store_policy(self, yaml_text: str, name: str, mode: str) -> str:
        """Store a policy by content hash (idempotently) and return the hash."""
        if mode not in POLICY_MODES:
            raise InputError(f"policy mode {mode!r} is not one of {', '.join(POLICY_MODES)}")
        policy_hash = hashlib.sha256(yaml_text.encode()).hexdigest()
        rows = _table({"policy_hash": [policy_hash], "name": [name], "mode": [mode],
                       "yaml_text": [yaml_text], "stored_at": [self.clock()]})
        self.append(Batch(rows={"ledger_policies": rows}))
        return policy_hash

    def activate_policy(self, policy_hash: str, actor: str, note: str | None = None) -> None:
        """Record an activation; a simulation policy is refused on a ledger of real subjects."""
        found = self.store.query(self.store.dialect.sql(
            "SELECT mode FROM ledger_policies WHERE policy_hash = ?"), [policy_hash])
        if not found.num_rows:
            raise LedgerError(f"no stored policy {policy_hash}")
        if found.column(0)[0].as_py() == "simulation" and not self.is_research():
            raise LedgerError("a simulation policy cannot be activated on a ledger of real "
                              "subjects; use a ledger made with `init --research`")
        rows = pa.table({"policy_hash": [policy_hash], "activated_at": [self.clock()],
                         "actor": [actor], "note": pa.array([note], pa.string())})
        self.append(Batch(rows={"ledger_policy_activations": rows}))

    def erase_payload(self, event_id: str | int, reason: str) -> None:
        """Erase an event's attributes where the law requires it; the digest stays."""
        if not reason.strip():
            raise InputError("an erasure needs a reason")
        self.store.erase_payload(int(event_id), reason, self.clock())

    def engine_tables(self) -> dict[str, str]:
        """Engine input name -> relation to read it from in this store (views of those names)."""
        prefix = f"{self.store.namespace}." if self.store.namespace else ""
        return {name: prefix + name for name in ENGINE_VIEWS}

    def table(self, name: str, subjects: list[str] | None = None) -> pa.Table:
        """One engine input table, typed exactly as ``engine.tables.INPUT_SCHEMAS`` says;
        with ``subjects`` (internal ids), only their rows: their subject rows, events and
        those events' voids, the relation rows with either end among them, every source."""
        if name not in INPUT_SCHEMAS:
            raise InputError(f"unknown engine table {name!r}; known: {', '.join(INPUT_SCHEMAS)}")
        schema = arrow_schema(INPUT_SCHEMAS[name])
        if subjects is None or name not in _OF_SUBJECTS:
            return self.store.query(f"SELECT {', '.join(schema.names)} FROM {name}",
                                    schema=schema)
        ids = [int(s) for s in subjects]
        where = _OF_SUBJECTS[name]
        return self.store.query(self.store.dialect.sql(f"{ENGINE_VIEWS[name]} WHERE {where}"),
                                [ids] * where.count("?"), schema=schema)

    def head(self) -> tuple[int, int]:
        """The ledger's state as two numbers that grow with every change: the last batch
        written, and the erasures made (the one change in place, which writes no batch)."""
        got = self.store.fetch("SELECT (SELECT coalesce(max(batch_id), 0) FROM ledger_batches), "
                               "(SELECT count(*) FROM ledger_erasures)")
        return int(got[0][0]), int(got[0][1])

    def table_between(self, name: str, after: int, upto: int) -> pa.Table:
        """The rows of an engine input table that batches ``after`` < id <= ``upto`` wrote
        (the inputs the engine reads, appended since a copy of them: engine/cache.py)."""
        if name not in _OF_SUBJECTS:
            raise InputError(f"{name!r} is read whole; batches append to "
                             f"{', '.join(_OF_SUBJECTS)}")
        schema = arrow_schema(INPUT_SCHEMAS[name])
        return self.store.query(self.store.dialect.sql(
            f"{ENGINE_VIEWS[name]} WHERE batch_id > ? AND batch_id <= ?"), [after, upto],
            schema=schema)

    def write_scores(self, policy_hash: str, as_of: datetime, table: pa.Table) -> AppendResult:
        """Keep one scoring run (subject_id, subject_kind, score[, band]) for explain/decide."""
        from glasscredit.ledger.snapshots import write_snapshot

        return write_snapshot(self, "scores", policy_hash, as_of, table)

    def read_scores(self, policy_hash: str, as_of: datetime | None = None) -> pa.Table:
        """The latest scores of a policy at or before ``as_of``."""
        from glasscredit.ledger.snapshots import read_snapshot

        return read_snapshot(self, "scores", policy_hash, as_of)

    def write_snapshot(
        self, name: str, policy_hash: str, as_of: datetime, table: pa.Table
    ) -> AppendResult:
        """Keep list_state / measure_state / scores so the next run can chain from them."""
        from glasscredit.ledger.snapshots import write_snapshot

        return write_snapshot(self, name, policy_hash, as_of, table)

    def read_snapshot(
        self, name: str, policy_hash: str, as_of: datetime | None = None
    ) -> pa.Table:
        """The latest stored snapshot ``name`` at or before ``as_of``."""
        from glasscredit.ledger.snapshots import read_snapshot

        return read_snapshot(self, name, policy_hash, as_of)

    #: Tables the HTTP service appends to, beyond ``batch.ROW_TABLES`` (issue 5).
    SERVICE_TABLES = ("ledger_clients", "ledger_subject_state", "ledger_list_members",
                      "ledger_decisions", "ledger_notices", "ledger_outbox", "ledger_statements")

    def append_rows(self, rows: dict[str, pa.Table]) -> AppendResult:
        """Append plain rows (service tables included) as one batch through the one write path."""
        from glasscredit.ledger.batch import ROW_TABLES, _conform

        unknown = sorted(set(rows) - set(ROW_TABLES) - set(self.SERVICE_TABLES))
        if unknown:
            raise InputError(f"a batch cannot append to {unknown}")
        batch = Batch(rows={n: t for n, t in rows.items() if n in ROW_TABLES})
        batch.rows.update({n: _conform(n, t) for n, t in rows.items() if n not in ROW_TABLES})
        return self.append(batch)

    def ensure_tables(self) -> None:
        """Create tables and indexes added since this ledger was made (each is idempotent)."""
        from glasscredit.ledger.schema import TABLES

        with self.store._transaction():
            for name in self.SERVICE_TABLES:
                self.store._exec(TABLES[name].ddl(self.store.dialect))
            for stmt in self.store.dialect.indexes:
                self.store._exec(stmt)
