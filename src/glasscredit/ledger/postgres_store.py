"""The server ledger: PostgreSQL through psycopg 3, staged with COPY, one schema per ledger."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from glasscredit.errors import LedgerError
from glasscredit.ledger.batch import AppendResult, Batch
from glasscredit.ledger.schema import DIALECTS
from glasscredit.ledger.store import SQLStore

DEFAULT_SCHEMA = "glasscredit"
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PG_TYPES = {
    pa.string(): "TEXT", pa.large_string(): "TEXT", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE PRECISION", pa.bool_(): "BOOLEAN", pa.timestamp("us"): "TIMESTAMP",
}


def split_url(url: str) -> tuple[str, str]:
    """Take our ``schema=`` parameter out of a postgresql:// URL: (libpq URL, schema)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA)
    if not _IDENT.fullmatch(schema):
        raise LedgerError(f"schema {schema!r} must be a lower-case SQL identifier")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore(SQLStore):
    """A ledger in one PostgreSQL schema; the engine reads the same views through SQLFrame."""

    dialect = DIALECTS["postgres"]

    def __init__(self, url: str) -> None:
        import psycopg

        conninfo, self.schema = split_url(url)
        self.url = url
        self.namespace = self.schema
        try:
            self.connection = psycopg.connect(conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise LedgerError(f"cannot connect to PostgreSQL at {conninfo}: {exc}") from exc
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        self.connection.execute(f"SET search_path TO {self.schema}")
        self.connection.execute("SET TIME ZONE 'UTC'")

    def exists(self) -> bool:
        """True when the schema already holds a ledger (its meta table)."""
        rows = self._rows("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                          "AND table_name = 'ledger_meta'", (self.schema,))
        return bool(rows[0][0])

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(sql, list(params) or None)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(params) or None).fetchall()

    def _copy_in(self, name: str, table: pa.Table) -> int:
        """COPY an Arrow table into ``name`` as CSV: one round trip, no per-row Python."""
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
        with self.connection.cursor() as cur:
            with cur.copy(f"COPY {name} ({', '.join(table.column_names)}) FROM STDIN "
                          "(FORMAT csv)") as copy:
                copy.write(buf.getbuffer())
            return cur.rowcount

    def _stage(self, name: str, table: pa.Table) -> None:
        """COPY the Arrow table into a temporary table the planner knows the size of."""
        cols = ", ".join(f"{f.name} {_PG_TYPES[f.type]}" for f in table.schema)
        self.connection.execute(f"CREATE TEMP TABLE {name} ({cols})")
        self._copy_in(name, table)
        self.connection.execute(f"ANALYZE {name}")

    def _insert(self, table: str, rows: pa.Table) -> int:
        """COPY checked rows straight into the ledger table, in index order where declared."""
        order = self.dialect.insert_order.get(table)
        if order and rows.num_rows > 1:
            rows = rows.take(pc.sort_indices(rows, [(c, "ascending") for c in order]))
        return self._copy_in(table, rows)

    def append(self, batch: Batch, committed_at: datetime, strict: bool = False) -> AppendResult:
        """As ``SQLStore.append``; a concurrent writer that won a key race means: classify again."""
        import psycopg

        for attempt in range(3):
            try:
                return super().append(batch, committed_at, strict)
            except psycopg.errors.UniqueViolation:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _unstage(self, name: str) -> None:
        self.connection.execute(f"DROP TABLE {name}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.connection.transaction():
            yield

    def query(
        self, sql: str, params: Sequence[Any] = (), schema: pa.Schema | None = None
    ) -> pa.Table:
        """Run a read and return Arrow; with ``schema`` it streams through COPY (no params)."""
        if schema is not None and not params:
            buf = io.BytesIO()
            with self.connection.cursor() as cur, cur.copy(
                f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"
            ) as copy:
                for chunk in copy:
                    buf.write(chunk)
            buf.seek(0)
            convert = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                           quoted_strings_can_be_null=False,
                                           true_values=["t", "true"], false_values=["f", "false"])
            return pacsv.read_csv(buf, convert_options=convert).select(schema.names).cast(schema)
        cur = self.connection.execute(sql, list(params) or None)
        names = [d.name for d in cur.description or ()]
        columns = list(zip(*cur.fetchall(), strict=True)) or [() for _ in names]
        table = pa.table({n: list(c) for n, c in zip(names, columns, strict=True)})
        return table.cast(schema) if schema is not None else table

    def drop(self) -> None:
        """Remove the whole schema; for tests and throw-away research ledgers only."""
        self.connection.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
