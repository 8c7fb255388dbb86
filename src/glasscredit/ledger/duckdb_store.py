"""The embedded ledger: one DuckDB file, ACID, read by the engine in place."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from glasscredit.ledger.batch import EVENT_BATCH_ROWS
from glasscredit.ledger.schema import DIALECTS
from glasscredit.ledger.store import SQLStore

_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer_lock(path: Path) -> threading.Lock:
    """One lock per database file: DuckDB's file lock keeps other processes out, this keeps
    two connections of one process from classifying the same event key at the same time."""
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(str(path.resolve()), threading.Lock())


class DuckDBStore(SQLStore):
    """A ledger in a DuckDB file; Arrow batches are staged zero-copy."""

    dialect = DIALECTS["duckdb"]

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self.connection = duckdb.connect(self.url, read_only=read_only)
        self.connection.execute("SET TimeZone = 'UTC'")
        self.connection.execute("SET enable_progress_bar = false")  # a library stays silent
        self._writer = _writer_lock(self.path)

    def exists(self) -> bool:
        """True when the file already holds a ledger (its meta table)."""
        rows = self._rows("SELECT count(*) FROM information_schema.tables "
                          "WHERE table_name = 'ledger_meta'")
        return bool(rows[0][0])

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(sql, list(params))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(params)).fetchall()

    def _stage(self, name: str, table: pa.Table) -> None:
        self.connection.register(name, table)

    def _unstage(self, name: str) -> None:
        self.connection.unregister(name)

    def _insert(self, table: str, rows: pa.Table) -> int:
        """Insert straight from Arrow, in batches of exactly one row group: DuckDB inserts them in
        parallel and fills whole row groups, where ragged chunks leave partial ones that the
        commit's checkpoint must rewrite (~1 s and a file twice the size per million events).
        Chunks already cut at row-group multiples (ingest's) are sliced, not copied."""
        cols = ", ".join(rows.column_names)
        batches = rows.to_batches(max_chunksize=EVENT_BATCH_ROWS)
        if any(b.num_rows != EVENT_BATCH_ROWS for b in batches[:-1]):
            batches = rows.combine_chunks().to_batches(max_chunksize=EVENT_BATCH_ROWS)
        self.connection.register("stage_insert", pa.Table.from_batches(batches, rows.schema))
        try:
            found = self.connection.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage_insert").fetchone()
        finally:
            self.connection.unregister("stage_insert")
        return int(found[0]) if found else 0

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._writer:
            self.connection.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def query(
        self, sql: str, params: Sequence[Any] = (), schema: pa.Schema | None = None
    ) -> pa.Table:
        """Run a read and return Arrow; ``schema`` casts to the exact contract types."""
        table = self.connection.sql(sql, params=list(params) or None).to_arrow_table()
        return table.cast(schema) if schema is not None else table

    def close(self) -> None:
        """Close the file so another process may open it."""
        self.connection.close()
