"""The store interface and the one append path shared by DuckDB and PostgreSQL.

``SQLStore.append`` is the only writer of ledger rows: one transaction per batch, subjects upserted
by pseudonym, events classified as new / replayed / conflicting by their idempotency key, plain
rows resolved to internal subject ids, and a ``ledger_batches`` row with the batch digest. The
dialect subclasses supply only connection, staging and transaction mechanics.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.errors import ConflictError, InputError, LedgerError
from glasscredit.ledger.batch import SUBJECT_REFS, AppendResult, Batch, conflict_problem
from glasscredit.ledger.schema import SCHEMA_VERSION, TABLES, Dialect, ddl_statements

#: Event ids are ``batch_id * EVENT_ID_STRIDE + row_no``: unique, ordered, no sequence per row.
EVENT_ID_STRIDE = 1_000_000_000

#: Plain-row references checked inside the append: table -> (column, referenced table, column).
REFERENCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "ledger_voids": (("event_id", "ledger_events", "event_id"),),
    "ledger_disputes": (("event_id", "ledger_events", "event_id"),),
    "ledger_policy_activations": (("policy_hash", "ledger_policies", "policy_hash"),),
    **dict.fromkeys(("ledger_scores", "ledger_list_state", "ledger_measure_state"),
                    (("subject_id", "ledger_subjects", "subject_id"),)),
}


@dataclass(frozen=True)
class LedgerMeta:
    """The ``ledger_meta`` row: whether the ledger is synthetic research data, and its key check."""

    research: bool
    created_at: datetime
    schema_version: int
    key_check: str


class Store(Protocol):
    """What the ledger needs from a database; DuckDB and PostgreSQL pass the same suite."""

    dialect: Dialect
    url: str
    namespace: str | None

    def create(self, meta: LedgerMeta) -> None: ...
    def exists(self) -> bool: ...
    def read_meta(self) -> LedgerMeta: ...
    def append(
        self, batch: Batch, committed_at: datetime, strict: bool = False
    ) -> AppendResult: ...
    def erase_payload(self, event_id: int, reason: str, at: datetime) -> bool: ...
    def query(
        self, sql: str, params: Sequence[Any] = (), schema: pa.Schema | None = None
    ) -> pa.Table: ...
    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def close(self) -> None: ...


def _ts(value: datetime) -> str:
    """A timestamp literal both dialects read; only ever built from a datetime, never user text."""
    return f"TIMESTAMP '{value.replace(tzinfo=None).isoformat(sep=' ')}'"


def rows_digest(table: pa.Table) -> str:
    """A canonical digest of plain rows, so the batch digest covers more than events."""
    text = json.dumps(table.to_pylist(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def events_digest(events: pa.Table, skipped: set[int]) -> str:
    """SHA-256 over the stored events' digests in row order: what the batch added."""
    kept = events.select(["row_no", "digest"])
    if skipped:
        kept = kept.filter(pc.invert(pc.is_in(kept["row_no"], pa.array(sorted(skipped)))))
    rows = kept["row_no"].to_numpy()
    if len(rows) > 1 and not (rows[1:] > rows[:-1]).all():  # ingest hands them in order
        kept = kept.take(pc.sort_indices(kept["row_no"]))
    digest = hashlib.sha256()
    for chunk in kept["digest"].cast(pa.large_string()).chunks:  # hash the bytes, no Python str
        offsets = np.frombuffer(chunk.buffers()[1], np.int64)
        offsets = offsets[chunk.offset:chunk.offset + len(chunk) + 1]
        digest.update(memoryview(chunk.buffers()[2])[offsets[0]:offsets[-1]])
    return digest.hexdigest()


_KEY_COLUMNS = ["row_no", "source_id", "source_event_id", "digest"]
#: Replays and conflicts of a batch whose keys are distinct: only the ledger can hold them.
_CLASH_IN_LEDGER = (
    "SELECT s.row_no, s.source_event_id, x.digest = s.digest AS same FROM stage_events s "
    "JOIN ledger_events x ON x.source_id = s.source_id AND x.source_event_id = s.source_event_id "
    "ORDER BY s.row_no"
)
#: True when no key repeats inside the batch: one source, and its event ids all distinct.
_KEYS_DISTINCT = ("SELECT count(*) = count(DISTINCT source_event_id) AND min(source_id) = "
                  "max(source_id) FROM stage_events")
#: The general case: a key may also repeat inside the batch, judged against its first row there.
_CLASH_ANY = (
    "WITH firsts AS (SELECT source_id, source_event_id, min(row_no) AS first_row "
    "FROM stage_events GROUP BY source_id, source_event_id HAVING count(*) > 1), "
    "first_digests AS (SELECT f.source_id, f.source_event_id, f.first_row, "
    "e.digest AS first_digest FROM firsts f JOIN stage_events e ON "
    "e.source_id = f.source_id AND e.source_event_id = f.source_event_id "
    "AND e.row_no = f.first_row) "
    "SELECT s.row_no, s.source_event_id, coalesce(x.digest, d.first_digest) = s.digest "
    "AS same FROM stage_events s "
    "LEFT JOIN ledger_events x ON x.source_id = s.source_id "
    "AND x.source_event_id = s.source_event_id "
    "LEFT JOIN first_digests d ON d.source_id = s.source_id "
    "AND d.source_event_id = s.source_event_id AND d.first_row < s.row_no "
    "WHERE x.digest IS NOT NULL OR d.first_row IS NOT NULL ORDER BY s.row_no"
)


_SUBJECT_IDS = pa.schema([("subject_hmac", pa.string()), ("subject_id", pa.int64())])


def _subject_codes(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct pseudonyms of a column and each row's index among them.

    A dictionary-encoded column (what ingest hands in) is used as it is: only its per-chunk
    dictionaries are hashed, not a 64-character string per event.
    """
    if column.null_count:
        raise InputError("every event needs a subject_hmac")
    if not pa.types.is_dictionary(column.type):
        encoded = pc.dictionary_encode(column.combine_chunks())
        return encoded.dictionary, encoded.indices.to_numpy()
    chunks = column.chunks
    dictionary = max((c.dictionary for c in chunks), key=len)
    if not all(c.dictionary is dictionary or dictionary.slice(0, len(c.dictionary)).equals(
            c.dictionary) for c in chunks):  # ingest's chunks share one growing dictionary
        chunks = column.unify_dictionaries().chunks
        dictionary = chunks[0].dictionary
    index = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    used = np.flatnonzero(np.bincount(index, minlength=len(dictionary)))  # rows filtered out
    distinct = pc.dictionary_encode(dictionary.take(pa.array(used)))  # id spellings share a mac
    remap = np.empty(len(dictionary), np.int64)
    remap[used] = distinct.indices.to_numpy()
    return distinct.dictionary, remap[index]


def batch_subjects(batch: Batch) -> tuple[pa.Table, pa.Array | None]:
    """The distinct subjects a batch names, and for each event the index of its subject there.

    Computed once in Arrow, so the store resolves ~one pseudonym per subject rather than per
    event. A pseudonym given with two kinds, or an event without one, is refused.
    """
    parts, codes = [], None
    if batch.events is not None and batch.events.num_rows:
        events = batch.events
        dictionary, index = _subject_codes(events["subject_hmac"])
        if dictionary.null_count:
            raise InputError("every event needs a subject_hmac")
        codes = pa.array(index, pa.int32())
        first = np.empty(len(dictionary), np.int64)
        first[index] = np.arange(len(index))  # some event of each subject: all must agree
        kinds = events["subject_kind"].take(pa.array(first))
        if not pc.all(pc.equal(kinds.take(codes), events["subject_kind"])).as_py():
            raise InputError("a subject_hmac appears with two subject kinds in one batch")
        parts.append(pa.table({"subject_hmac": dictionary, "subject_kind": kinds}))
    if batch.subjects is not None and batch.subjects.num_rows:
        parts.append(batch.subjects)
    if not parts:
        return pa.table({"subject_hmac": pa.array([], pa.string()),
                         "subject_kind": pa.array([], pa.string())}), codes
    every = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    distinct = every.group_by(["subject_hmac", "subject_kind"], use_threads=False).aggregate([])
    if pc.count_distinct(distinct["subject_hmac"]).as_py() != distinct.num_rows:
        raise InputError("a subject_hmac is given with two subject kinds in one batch")
    if len(parts) == 1 and codes is not None:
        return parts[0], codes
    at = pc.index_in(parts[0]["subject_hmac"], value_set=distinct["subject_hmac"])
    return distinct, at.take(codes) if codes is not None else None


class SQLStore(ABC):
    """Shared SQL for both dialects; subclasses provide execution, staging and transactions."""

    dialect: Dialect
    url: str
    namespace: str | None = None  # the schema that qualifies table names, where there is one

    @abstractmethod
    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _stage(self, name: str, table: pa.Table) -> None:
        """Make ``table`` queryable as ``name`` inside the current transaction."""

    @abstractmethod
    def _unstage(self, name: str) -> None: ...

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def exists(self) -> bool:
        """True when the database already holds a ledger."""

    @abstractmethod
    def query(
        self, sql: str, params: Sequence[Any] = (), schema: pa.Schema | None = None
    ) -> pa.Table:
        """Run a read; with ``schema`` the result is cast to exactly those columns and types."""

    @abstractmethod
    def close(self) -> None: ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a small read (SQL in this store's dialect) and return its rows as tuples: no
        Arrow round trip, for per-request lookups of a few rows."""
        return self._rows(sql, params)

    def create(self, meta: LedgerMeta) -> None:
        """Create every table and view and the meta row; refuses to re-initialise a ledger."""
        if self.exists():
            raise LedgerError(f"{self.url} already holds a ledger")
        with self._transaction():
            for stmt in ddl_statements(self.dialect):
                self._exec(stmt)
            self._exec(self.dialect.sql(
                "INSERT INTO ledger_meta (research, created_at, schema_version, key_check) "
                "VALUES (?, ?, ?, ?)"),
                (meta.research, meta.created_at, SCHEMA_VERSION, meta.key_check))

    def read_meta(self) -> LedgerMeta:
        """The meta row; a store without one is not a ledger."""
        if not self.exists():
            raise LedgerError(f"{self.url} is not a GlassCredit ledger; run `glasscredit init`")
        rows = self._rows("SELECT research, created_at, schema_version, key_check FROM ledger_meta")
        if len(rows) != 1:
            raise LedgerError(f"{self.url}: ledger_meta must hold exactly one row")
        research, created_at, version, key_check = rows[0]
        return LedgerMeta(bool(research), created_at, int(version), str(key_check))

    def erase_payload(self, event_id: int, reason: str, at: datetime) -> bool:
        """The one in-place change the law can demand: drop attrs, keep the digest, log why."""
        with self._transaction():
            found = self._rows(self.dialect.sql(
                "SELECT count(*) FROM ledger_events WHERE event_id = ?"), (event_id,))[0][0]
            if not found:
                raise LedgerError(f"no event {event_id} to erase")
            self._exec(self.dialect.sql(
                "UPDATE ledger_events SET attrs = NULL WHERE event_id = ?"), (event_id,))
            self._exec(self.dialect.sql(
                "INSERT INTO ledger_erasures (event_id, erased_at, reason) VALUES (?, ?, ?)"),
                (event_id, at.replace(tzinfo=None), reason))
        return True

    @abstractmethod
    def _insert(self, table: str, rows: pa.Table) -> int:
        """Append ``rows`` (exactly the table's columns, in order) to ``table``; returns the count.

        Only the append path calls this, inside its transaction, with rows it has checked.
        """

    def append(self, batch: Batch, committed_at: datetime, strict: bool = False) -> AppendResult:
        """Write one batch atomically; in strict mode a conflicting replay aborts it whole."""
        if batch.is_empty():
            return AppendResult(batch_id=None)
        subjects, codes = batch_subjects(batch)
        with self._transaction():
            batch_id = int(self._rows("SELECT nextval('ledger_batch_seq')")[0][0])
            result = AppendResult(batch_id=batch_id)
            ids = self._upsert_subjects(subjects, batch_id, committed_at, result)
            digests = [self._append_events(batch, ids, codes, batch_id, committed_at, strict,
                                           result)]
            for table, rows in batch.rows.items():
                result.rows[table] = self._append_rows(table, rows, batch_id)
                digests.append(rows_digest(rows))
            count = result.stored + result.new_subjects + sum(result.rows.values())
            digest = hashlib.sha256("".join(digests).encode()).hexdigest()
            self._exec(f"INSERT INTO ledger_batches (batch_id, rows, digest, committed_at) VALUES "
                       f"({batch_id}, {count}, '{digest}', {_ts(committed_at)})")
        return result

    def _upsert_subjects(self, subjects: pa.Table, batch_id: int, at: datetime,
                         result: AppendResult) -> pa.Array:
        """Insert the pseudonyms not yet known; the internal id of each of ``subjects``."""
        if not subjects.num_rows:
            return pa.array([], pa.int64())
        self._stage("stage_subjects", subjects)
        self._exec(
            "INSERT INTO ledger_subjects (subject_id, subject_kind, subject_hmac, created_at, "
            f"batch_id) SELECT nextval('ledger_subject_seq'), s.subject_kind, s.subject_hmac, "
            f"{_ts(at)}, {batch_id} FROM stage_subjects s WHERE NOT EXISTS (SELECT 1 FROM "
            "ledger_subjects x WHERE x.subject_hmac = s.subject_hmac)"
        )
        result.new_subjects = int(self._rows(
            f"SELECT count(*) FROM ledger_subjects WHERE batch_id = {batch_id}")[0][0])
        found = self.query(
            "SELECT s.subject_hmac, x.subject_id FROM stage_subjects s JOIN ledger_subjects x "
            "ON x.subject_hmac = s.subject_hmac", schema=_SUBJECT_IDS)
        self._unstage("stage_subjects")
        at_row = pc.index_in(subjects["subject_hmac"], value_set=found["subject_hmac"])
        if at_row.null_count:
            raise LedgerError("a subject of the batch could not be stored")
        return found["subject_id"].take(at_row).combine_chunks()

    def _append_events(
        self, batch: Batch, ids: pa.Array, codes: pa.Array | None, batch_id: int, at: datetime,
        strict: bool, result: AppendResult
    ) -> str:
        """Classify then insert events; returns the digest of what was stored."""
        events = batch.events
        if events is None or codes is None or events.num_rows == 0:
            return ""
        self._stage("stage_events", events.select(_KEY_COLUMNS))
        unknown = self._rows("SELECT DISTINCT source_id FROM stage_events s WHERE NOT EXISTS "
                             "(SELECT 1 FROM ledger_sources x WHERE x.source_id = s.source_id)")
        if unknown:
            names = ", ".join(sorted(repr(r[0]) for r in unknown))
            raise LedgerError(f"unknown source {names}; add it with `glasscredit source add`")
        distinct = bool(self._rows(_KEYS_DISTINCT)[0][0])
        clashes = self._rows(_CLASH_IN_LEDGER if distinct else _CLASH_ANY)
        self._unstage("stage_events")
        result.conflicts = [conflict_problem(int(r), str(k)) for r, k, same in clashes if not same]
        result.duplicates = sum(1 for *_, same in clashes if same)
        if strict and result.conflicts:
            first = result.conflicts[0]
            raise ConflictError(f"row {first.row}: {first.reason}")
        rows = events.append_column("subject_id", ids.take(codes))
        if clashes:
            skip = pa.array([int(r) for r, *_ in clashes], pa.int64())
            rows = rows.filter(pc.invert(pc.is_in(rows["row_no"], value_set=skip)))
        n = rows.num_rows
        stored = pa.table({
            "event_id": pc.add(rows["row_no"], batch_id * EVENT_ID_STRIDE),
            **{c: rows[c] for c in ("source_id", "source_event_id", "subject_id", "kind",
                                    "occurred_at")},
            "recorded_at": pa.repeat(pa.scalar(at.replace(tzinfo=None), pa.timestamp("us")), n),
            **{c: rows[c] for c in ("value", "attrs", "digest")},
            "batch_id": pa.repeat(pa.scalar(batch_id, pa.int64()), n),
        })
        inserted = self._insert("ledger_events", stored)
        if inserted != n:
            raise LedgerError(f"stored {inserted} of {n} events; the batch is rolled back")
        result.stored = n
        return events_digest(events, {int(r) for r, *_ in clashes})

    def _append_rows(self, table: str, rows: pa.Table, batch_id: int) -> int:
        """Insert plain rows, resolving pseudonyms and checking references first."""
        if rows.num_rows == 0:
            return 0
        stage = f"stage_{table}"
        self._stage(stage, rows)
        cols, exprs, joins, checks = [], [], [], []
        for i, name in enumerate(rows.column_names):
            if name in SUBJECT_REFS:
                joins.append(f"LEFT JOIN ledger_subjects j{i} ON j{i}.subject_hmac = s.{name}")
                checks.append(f"(s.{name} IS NOT NULL AND j{i}.subject_id IS NULL)")
                cols.append(SUBJECT_REFS[name])
                exprs.append(f"j{i}.subject_id")
            else:
                cols.append(name)
                exprs.append(f"s.{name}")
        for col, ref_table, ref_col in REFERENCES.get(table, ()):
            checks.append(f"(s.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {ref_table} r "
                          f"WHERE r.{ref_col} = s.{col}))")
        source = f"FROM {stage} s {' '.join(joins)}"
        if checks:
            bad = self._rows(f"SELECT count(*) {source} WHERE {' OR '.join(checks)}")[0][0]
            if bad:
                raise LedgerError(f"{bad} row(s) for {table} name an unknown subject, event or "
                                  "policy")
        where = ""
        if TABLES[table].unique:  # content-addressed rows (policies) are stored once
            match = " AND ".join(f"u.{k} = s.{k}" for k in TABLES[table].unique[0])
            where = f"WHERE NOT EXISTS (SELECT 1 FROM {table} u WHERE {match})"
        self._exec(f"INSERT INTO {table} ({', '.join(cols)}, batch_id) "
                   f"SELECT {', '.join(exprs)}, {batch_id} {source} {where}")
        self._unstage(stage)
        return rows.num_rows

    def batches(self) -> Iterator[tuple[int, int, str]]:
        """Committed batches in order: (id, rows, digest); the audit log will chain these."""
        yield from self._rows("SELECT batch_id, rows, digest FROM ledger_batches ORDER BY batch_id")
