"""A subject-clustered copy of the engine's inputs in memory, for real-time subset runs.

The real-time path (engine/direct.py) reads a rescore's few hundred rows from the input tables
with index lookups. On a columnar store each looked-up row is fetched one by one out of
compressed segments: on the 20 M-event reference workload that costs ~0.06-0.1 ms a row, two
thirds of a rescore. An ``InputCache`` reads every input once, keeps the rows in Arrow grouped by
subject (events by subject, relations by either end, subjects, voids by event), and serves a
subset run's rows from memory: the same ``direct.Rows`` the lookups give, so the same
evaluation follows.

A copy is only as good as its freshness. A cache knows the state of the inputs it copied by a
*stamp*: on a read-only DuckDB connection the tables cannot change while it is open, and the
stamp is constant; otherwise the caller gives ``stamp``, a function that returns a value that
changes whenever the tables do (a ledger's last batch, for instance). Rows written after the
copy are added with ``extend`` (with the stamp they bring the cache to); a cache whose stamp no
longer matches the inputs' is stale, and ``direct_score`` then reads the tables as if there
were no cache, so a stale copy costs time, never a wrong score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.engine.direct import Rows, _micros, _text, _us, states
from glasscredit.engine.run import Inputs, Snapshot, hops_and_types, rings
from glasscredit.engine.sessions import Backend
from glasscredit.errors import InputError
from glasscredit.policy.load import CompiledPolicy


class Codes:
    """Ids (subject ids) numbered 0..n-1, so that the indexes over several tables hold small
    integers in NumPy arrays and one dict maps an id to its number."""

    def __init__(self, columns: Iterable[pa.ChunkedArray]) -> None:
        parts = [pc.unique(chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk)
                 for column in columns for chunk in column.chunks]
        ids = pc.unique(pa.chunked_array(parts, pa.string())) if parts else pa.array(
            [], pa.string())
        self.ids = ids.drop_null()
        self.number: dict[Any, int] = {k: i for i, k in enumerate(self.ids.to_pylist())}

    def __len__(self) -> int:
        return len(self.ids)

    def of_rows(self, column: pa.ChunkedArray) -> np.ndarray:
        """Each row's number; -1 for NULL (or an id not numbered). One lookup for the whole
        column (each call builds a hash table of every id): a dictionary-encoded column's
        dictionaries are numbered together, then each chunk's rows through its own."""
        if not column.num_chunks:
            return np.empty(0, dtype=np.int64)
        chunks = column.chunks
        coded = pa.types.is_dictionary(column.type)
        parts = [c.dictionary for c in chunks] if coded else chunks
        found = pc.index_in(pa.chunked_array(parts, parts[0].type), value_set=self.ids)
        numbers = np.asarray(found.fill_null(-1).combine_chunks(), dtype=np.int64)
        if not coded:
            return numbers
        out, offset = [], 0
        for chunk in chunks:
            mine = numbers[offset:offset + len(chunk.dictionary)]
            offset += len(chunk.dictionary)
            rows = np.asarray(chunk.indices.fill_null(0), dtype=np.int64)
            got = mine[rows] if len(mine) else np.full(len(rows), -1, dtype=np.int64)
            got[np.asarray(chunk.is_null())] = -1
            out.append(got)
        return np.concatenate(out)


def _runs(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of equal numbers: (number, start, stop) of each, as arrays."""
    cut = np.flatnonzero(numbers[1:] != numbers[:-1]) + 1
    starts = np.concatenate([[0], cut]).astype(np.int64)
    return numbers[starts], starts, np.append(cut, len(numbers)).astype(np.int64)


class Clustered:
    """An Arrow table's rows grouped by one key column: ``rows(keys)`` gives the rows of those
    keys as tuples (in the table's order within a key). A table already clustered by the key
    (a subject's rows together, as a file written in subject order is) is indexed as it is;
    otherwise through a stable sorted permutation of its rows. The keys are numbered by
    ``codes`` (made from the column if not given); rows whose key it does not number are left
    out, as NULL keys are."""

    def __init__(self, table: pa.Table, key: str, codes: Codes | None = None) -> None:
        keys = table.column(key)
        self.codes = codes if codes is not None else Codes([keys])
        numbers = self.codes.of_rows(keys)
        self.order: np.ndarray | None = None
        self.start = np.zeros(len(self.codes), dtype=np.int64)
        self.stop = np.zeros(len(self.codes), dtype=np.int64)
        if len(numbers):
            values, starts, stops = _runs(numbers)
            kept = values >= 0
            if len(np.unique(values[kept])) != int(kept.sum()):  # a key's rows apart
                self.order = np.argsort(numbers, kind="stable")
                values, starts, stops = _runs(numbers[self.order])
                kept = values >= 0
                if len(numbers) < 2**31:
                    self.order = self.order.astype(np.int32)
            self.start[values[kept]] = starts[kept]
            self.stop[values[kept]] = stops[kept]
        # the rows are taken batch by batch: ``take`` over a chunked table joins its chunks
        self.batches = table.to_batches()
        self.bounds = np.cumsum([0, *(len(x) for x in self.batches)])

    def positions(self, keys: Iterable[Any]) -> np.ndarray:
        """The rows of ``keys``, as positions in the table."""
        number = self.codes.number
        found = [number[k] for k in keys if k in number]
        spans = [(self.start[i], self.stop[i]) for i in found if self.stop[i] > self.start[i]]
        if not spans:
            return np.empty(0, dtype=np.int64)
        idx = np.concatenate([np.arange(a, z, dtype=np.int64) for a, z in spans])
        return idx if self.order is None else self.order[idx].astype(np.int64)

    def take(self, positions: np.ndarray) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        if not len(positions):
            return out
        chunk = np.searchsorted(self.bounds, positions, side="right") - 1
        for c in dict.fromkeys(chunk.tolist()):
            local = positions[chunk == c] - self.bounds[c]
            got = self.batches[c].take(pa.array(local, pa.int64()))
            out.extend(zip(*(col.to_pylist() for col in got.columns), strict=True))
        return out

    def rows(self, keys: Iterable[Any]) -> list[tuple[Any, ...]]:
        return self.take(self.positions(keys))


def _read(con: Any, sql: str, encode: tuple[str, ...] = ()) -> pa.Table:
    """A query's rows as an Arrow table in Arrow's own memory, batch by batch, with the
    ``encode`` columns (few distinct values) dictionary-encoded: they read back as the same
    values. Copied out of DuckDB's result buffers, whose memory a column dropped from them
    does not give back."""
    reader = con.sql(sql).to_arrow_reader(1 << 17)
    batches = []
    for batch in reader:
        batches.append(pa.RecordBatch.from_arrays(
            [pc.dictionary_encode(col) if name in encode
             else pa.concat_arrays([col, pa.array([], col.type)])  # a copy
             for name, col in zip(batch.schema.names, batch.columns, strict=True)],
            names=batch.schema.names))
    return pa.Table.from_batches(batches, reader.schema if not batches else None)


def read_only(b: Backend) -> bool:
    """A DuckDB connection opened read-only: its file cannot change while it is open (DuckDB
    lets no other process write to a file that one has open)."""
    got = b.connection.execute("SELECT current_setting('access_mode')").fetchall()
    return bool(got == [("read_only",)])


class InputCache:
    """The inputs' rows in memory, grouped for a subset run's reads (see the module's text)."""

    def __init__(self, b: Backend, inputs: Inputs, *,
                 stamp: Callable[[], Any] | None = None) -> None:
        if not b.prepares:
            raise InputError("a cache serves the real-time path, which runs on DuckDB")
        if stamp is None and not read_only(b):
            raise InputError(
                "a cache over tables that can change needs a stamp: a function whose value "
                "changes whenever they do (or open the DuckDB file read-only)")
        self.b, self.inputs = b, inputs
        self._stamp = stamp
        self.stamp: Any = stamp() if stamp is not None else None
        con = b.connection
        events = _read(con, (
            f"SELECT CAST(event_id AS VARCHAR) AS event_id, subject_id, kind, "
            f"{_us('occurred_at')} AS occurred_us, source_id, CAST(value AS DOUBLE) AS value, "
            f"attrs FROM ({_text(b, inputs.events)})"), ("subject_id", "kind", "source_id"))
        rel = None if inputs.relations is None else _read(con, (
            f"SELECT subject_id, related_id, relation, {_us('valid_from')} AS valid_from_us, "
            f"{_us('valid_to')} AS valid_to_us FROM ({_text(b, inputs.relations)})"),
            ("subject_id", "related_id", "relation"))
        subjects = _read(con, f"SELECT subject_id, subject_kind FROM "
                              f"({_text(b, inputs.subjects)})", ("subject_kind",))
        #: every subject id the inputs name, numbered
        self.codes = Codes([subjects.column(0), events.column("subject_id"),
                            *([] if rel is None else [rel.column(0), rel.column(1)])])
        self.events = Clustered(events, "subject_id", self.codes)
        del events
        self.by_subject = None if rel is None else Clustered(rel, "subject_id", self.codes)
        self.by_related = None if rel is None else Clustered(rel, "related_id", self.codes)
        # a subject's kind; of several rows of one subject, any one (as the lookup's dict)
        self.kinds = subjects.column(1).combine_chunks()
        self.kind_row = np.full(len(self.codes), -1, dtype=np.int64)
        numbers = self.codes.of_rows(subjects.column(0))
        self.kind_row[numbers[numbers >= 0]] = np.flatnonzero(numbers >= 0)
        #: subjects added by ``extend``
        self.more_subjects: dict[Any, Any] = {}
        #: event id -> the earliest time it was voided
        self.voided: dict[Any, int] = {}
        if inputs.voids is not None:
            self._add_voids(con.sql(f"SELECT CAST(event_id AS VARCHAR), {_us('voided_at')} FROM "
                                    f"({_text(b, inputs.voids)})").fetchall())
        self.reliability = self._sources()
        #: rows added by ``extend`` since the copy, per subject (relations: per end)
        self.more_events: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
        self.more_relations: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
        #: subset runs served from memory, and run while the cache was stale (from the tables)
        self.served = self.stale = 0

    # --- freshness --------------------------------------------------------------------------

    def fresh(self) -> bool:
        """The copy still holds the inputs' rows: the stamp is what it was, or the rows added
        since were given to ``extend``."""
        return self._stamp is None or self._stamp() == self.stamp

    def extend(self, stamp: Any, *, events: pa.Table | None = None,
               voids: pa.Table | None = None, relations: pa.Table | None = None,
               subjects: pa.Table | None = None) -> None:
        """Add rows appended to the inputs since the copy (the inputs' own columns), and take
        ``stamp`` as the inputs' state they bring the cache to. Sources are read again. All or
        nothing: rows that cannot be read raise ``InputError`` and leave the cache as it was
        (stale, so never read, and ready for the same rows again)."""
        try:
            new_events = [] if events is None else _event_tuples(events)
            new_relations = [] if relations is None else _relation_tuples(relations)
            new_voids = [] if voids is None else list(zip(
                voids.column("event_id").cast(pa.string()).to_pylist(),
                _micros_of(voids.column("voided_at")), strict=True))
            new_subjects = [] if subjects is None else [
                (s, kind) for s, kind in zip(subjects.column("subject_id").to_pylist(),
                                             subjects.column("subject_kind").to_pylist(),
                                             strict=True) if s is not None]
        except (KeyError, pa.ArrowException) as exc:
            raise InputError(f"rows given to extend an input cache cannot be read: {exc}; "
                             "give the input tables' own columns") from exc
        reliability = self._sources()
        for e in new_events:
            self.more_events[e[1]].append(e)
        for r in new_relations:
            self.more_relations[r[0]].append(r)
            if r[1] != r[0]:
                self.more_relations[r[1]].append(r)
        self._add_voids(new_voids)
        self.more_subjects.update(new_subjects)
        self.reliability = reliability
        self.stamp = stamp

    def _add_voids(self, rows: Iterable[tuple[Any, Any]]) -> None:
        voided = self.voided
        for event_id, at in rows:
            if event_id is None or at is None:  # voided_at NULL: never "at or before" a time
                continue
            old = voided.get(event_id)
            voided[event_id] = at if old is None else min(old, at)

    def _sources(self) -> dict[Any, list[Any]]:
        """Source -> its reliabilities (the plan joins every row of a source)."""
        reliability: dict[Any, list[Any]] = defaultdict(list)
        for source, value in self.b.connection.execute(
                f"SELECT source_id, CAST(reliability AS DOUBLE) FROM "
                f"({_text(self.b, self.inputs.sources)})").fetchall():
            reliability[source].append(value)
        return reliability

    # --- a subset run's rows ----------------------------------------------------------------

    def rows(self, cp: CompiledPolicy, as_of: datetime, targets: list[str],
             snapshot: Snapshot) -> Rows:
        """``direct.fetch``'s rows, from memory."""
        asof_us = _micros(as_of)
        relations: dict[tuple[Any, ...], None] = {}
        hops, types = hops_and_types(cp)
        if self.inputs.relations is None:
            hops = 0

        def touching(frontier: list[str], _: set[str]) -> list[tuple[Any, ...]]:
            assert self.by_subject is not None and self.by_related is not None
            pos = np.union1d(self.by_subject.positions(frontier),
                             self.by_related.positions(frontier))
            found = self.by_subject.take(pos)
            for s in frontier:
                found.extend(self.more_relations.get(s, ()))
            relations.update(dict.fromkeys(found))
            return found

        scope = sorted(rings(targets, hops, types, touching))
        kinds = {r.kind for r in cp.policy.rules}
        events: list[tuple[Any, ...]] = []
        if kinds:
            got = self.events.rows(scope)
            for s in scope:
                got.extend(self.more_events.get(s, ()))
            voided, reliability = self.voided, self.reliability
            for e in got:
                if e[2] not in kinds or e[3] is None or e[3] > asof_us:
                    continue
                at = voided.get(e[0])
                gone = at is not None and at <= asof_us
                events.extend((*e, r, gone) for r in reliability.get(e[4], [None]))
        subjects = {}
        for s in scope:
            n = self.codes.number.get(s)
            row = -1 if n is None else int(self.kind_row[n])
            if s in self.more_subjects:
                subjects[s] = self.more_subjects[s]
            elif row >= 0:
                subjects[s] = self.kinds[row].as_py()
        rows = Rows(targets, scope, subjects, events, list(relations))
        for frame, key, flag, fields, into in states(snapshot, rows):
            # max per (subject, name), as decide._pivot takes it
            for s_id, name, f, a, z in self._state(frame, key, flag, fields).rows(scope):
                old = into.get((s_id, name))
                into[(s_id, name)] = (f, a, z) if old is None else (
                    _max(old[0], f), _max(old[1], a), _max(old[2], z))
        return rows

    def _state(self, frame: Any, key: str, flag: str, fields: tuple[str, str]) -> Clustered:
        """A snapshot's list or measure states, read whole at the frame's first use and kept
        while it lives (a snapshot does not change)."""
        def read() -> Clustered:
            table = self.b.connection.sql(
                f"SELECT subject_id, {key}, CASE WHEN {flag} THEN 1.0 ELSE 0.0 END, "
                f"{_us(fields[0])}, {_us(fields[1])} FROM ({_text(self.b, frame)})"
            ).to_arrow_table()
            return Clustered(table, "subject_id")  # numbered apart: it may name subjects
            # added since the copy

        return self.b.of_frame("cached_states", frame, read)


def _max(x: Any, y: Any) -> Any:
    """SQL ``max`` over two values: NULLs ignored."""
    if x is None:
        return y
    return x if y is None else max(x, y)


def _micros_of(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """Timestamps (or NULL) as epoch microseconds, as ``epoch_us`` gives them."""
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = column.cast(pa.timestamp(column.type.unit))
    return column.cast(pa.timestamp("us")).cast(pa.int64()).to_pylist()


def _event_tuples(events: pa.Table) -> list[tuple[Any, ...]]:
    cols = [events.column("event_id").cast(pa.string()).to_pylist(),
            events.column("subject_id").to_pylist(), events.column("kind").to_pylist(),
            _micros_of(events.column("occurred_at")), events.column("source_id").to_pylist(),
            events.column("value").cast(pa.float64()).to_pylist(),
            events.column("attrs").to_pylist()]
    return [t for t in zip(*cols, strict=True) if t[1] is not None]


def _relation_tuples(relations: pa.Table) -> list[tuple[Any, ...]]:
    cols = [relations.column("subject_id").to_pylist(),
            relations.column("related_id").to_pylist(),
            relations.column("relation").to_pylist(),
            _micros_of(relations.column("valid_from")), _micros_of(relations.column("valid_to"))]
    return list(zip(*cols, strict=True))
