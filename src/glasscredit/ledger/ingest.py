"""Ingest: CSV, JSON Lines and Parquet files (or an Arrow table) into the ledger in one batch.

Files are read by DuckDB in Arrow chunks, each chunk is validated in bulk (``ledger.validate``),
good rows are appended through ``Ledger.append`` in one transaction, and bad rows are returned
(for a reject file) with their record number: 1 is the first data record of the file.
``strict`` rejects the whole file at the first bad row and writes nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from glasscredit.catalogue import Catalogue, load_catalogue
from glasscredit.errors import IngestError, RowProblem
from glasscredit.ledger.batch import EVENT_BATCH_ROWS, Batch
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.validate import ATTR_PREFIX, OPTIONAL, REQUIRED, EventValidator

FORMATS: Final = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                  ".ndjson": "jsonl", ".json": "jsonl"}
#: Rows validated at once: a multiple of ``EVENT_BATCH_ROWS``, so good rows reach the store in
#: whole row groups without a copy.
CHUNK_ROWS: Final = 2 * EVENT_BATCH_ROWS
#: Rows per Arrow batch read; a chunk of several batches is checked on every core.
READ_ROWS: Final = 30_720
_ATTR_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
Progress = Callable[[int], None]


@dataclass
class IngestReport:
    """What an ingest did: counts for the command line and every rejected row for the file."""

    source: str
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    batch_id: int | None = None


def check_columns(columns: list[str]) -> None:
    """Refuse a file whose header cannot be ingested at all, before reading its rows."""
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in (*REQUIRED, *OPTIONAL) and not (
        c.startswith(ATTR_PREFIX) and _ATTR_NAME.fullmatch(c[len(ATTR_PREFIX):]))]
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}; expected "
                        f"{', '.join((*REQUIRED, *OPTIONAL))} or attr.<name>")
    if "attrs" in columns and any(c.startswith(ATTR_PREFIX) for c in columns):
        problems.append("use either an attrs column or attr.<name> columns, not both")
    if len(set(columns)) != len(columns):
        problems.append("duplicate column names")
    if problems:
        raise IngestError("; ".join(problems))


def _reader_sql(path: Path, fmt: str, con: duckdb.DuckDBPyConnection) -> str:
    """A DuckDB query over the file that leaves every value for the validator to judge."""
    lit = "'" + str(path).replace("'", "''") + "'"
    if fmt == "parquet":
        return f"SELECT * FROM read_parquet({lit})"
    if fmt == "csv":
        return f"SELECT * FROM read_csv({lit}, all_varchar = true, header = true)"
    names = [r[0] for r in con.execute(
        f"DESCRIBE SELECT * FROM read_json({lit}, format = 'newline_delimited')").fetchall()]
    quoted = {n: "'" + n.replace("'", "''") + "'" for n in names}  # names come from the file
    spec = ", ".join(f"{quoted[n]}: '{'JSON' if n == 'attrs' else 'VARCHAR'}'" for n in names)
    return (f"SELECT * FROM read_json({lit}, format = 'newline_delimited', "
            f"columns = {{{spec}}})")


def count_rows(path: Path, fmt: str) -> int | None:
    """A cheap row count for the progress bar (approximate for CSV with embedded newlines)."""
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
    return max(lines - (1 if fmt == "csv" else 0), 0)


def read_file(path: Path, chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pa.Table]]:
    """The file's columns and its records as Arrow chunks, in file order, each with ``row_no``."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(f"{path.name}: unknown format; use one of {', '.join(sorted(FORMATS))}")
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        rel = con.sql(_reader_sql(path, fmt, con))
        columns = list(rel.columns)
    except duckdb.Error as exc:
        con.close()
        raise IngestError(f"{path.name}: cannot read as {fmt}: {exc}") from exc

    def numbered(batches: list[pa.RecordBatch], start: int) -> pa.Table:
        table = pa.Table.from_batches(batches)
        rows = np.arange(start, start + table.num_rows, dtype=np.int64)
        return table.append_column("row_no", pa.array(rows))

    def chunks() -> Iterator[pa.Table]:
        """Readers hand out small batches; validation pays per call, so gather chunk_rows."""
        start, pending, size = 1, [], 0
        try:
            for batch in rel.to_arrow_reader(min(chunk_rows, READ_ROWS)):
                pending.append(batch)
                size += batch.num_rows
                if size >= chunk_rows:
                    yield numbered(pending, start)
                    start, pending, size = start + size, [], 0
            if pending:
                yield numbered(pending, start)
        except duckdb.Error as exc:
            raise IngestError(f"{path.name}: cannot read as {fmt}: {exc}") from exc
        finally:
            con.close()

    return columns, chunks()


def ingest_chunks(ledger: Ledger, columns: list[str], chunks: Iterator[pa.Table], source: str,
                  *, strict: bool = False, catalogue: Catalogue | None = None,
                  allow_legacy: bool = False, progress: Progress | None = None) -> IngestReport:
    """Validate every chunk, then append the good rows as one batch."""
    check_columns(columns)
    if not ledger.has_source(source):
        raise IngestError(f"unknown source {source!r}; add it with `glasscredit source add`")
    validator = EventValidator(catalogue or load_catalogue(), ledger.pseudonyms, ledger.clock(),
                               allow_legacy)
    report = IngestReport(source)
    good: list[pa.Table] = []
    checked = validator.check_all(chunks, source)
    try:
        for read, rows, problems in checked:
            if strict and problems:
                first = problems[0]
                raise IngestError(f"row {first.row}: {first.reason} (strict: nothing written)",
                                  [first])
            good.append(rows)
            report.rejected += problems
            report.rows += read
            if progress is not None:
                progress(read)
    finally:
        checked.close()  # waits for a query still running on the validator's database
        validator.close()
    if good:
        result = ledger.append(Batch(events=pa.concat_tables(good)), strict=strict)
        report.batch_id, report.stored = result.batch_id, result.stored
        report.duplicates, report.conflicts = result.duplicates, len(result.conflicts)
        report.rejected = sorted(report.rejected + result.conflicts, key=lambda p: p.row)
    return report


def ingest_file(ledger: Ledger, path: Path, source: str, *, strict: bool = False,
                catalogue: Catalogue | None = None, allow_legacy: bool = False,
                progress: Progress | None = None, chunk_rows: int = CHUNK_ROWS) -> IngestReport:
    """Ingest one CSV / JSON Lines / Parquet file as one batch."""
    columns, chunks = read_file(path, chunk_rows)
    return ingest_chunks(ledger, columns, chunks, source, strict=strict, catalogue=catalogue,
                         allow_legacy=allow_legacy, progress=progress)


def ingest_table(ledger: Ledger, table: pa.Table, source: str, *, strict: bool = False,
                 catalogue: Catalogue | None = None) -> IngestReport:
    """Ingest records already in memory (the HTTP service's path); same checks as files."""
    rows = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    chunk = table.append_column("row_no", rows)
    return ingest_chunks(ledger, list(table.column_names), iter([chunk]), source,
                         strict=strict, catalogue=catalogue)


def write_rejects(path: Path, problems: list[RowProblem]) -> None:
    """The reject file: one CSV line per bad row, with its record number, field and reason."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["row", "field", "reason"])
        out.writerows([p.row, p.field or "", p.reason] for p in problems)
