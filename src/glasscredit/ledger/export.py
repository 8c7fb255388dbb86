"""Parquet in and out: the engine's input tables for a Spark cluster, and its scores back.

The export writes one Parquet file per engine input table (exactly the ``engine.tables`` columns
and types) plus a ``manifest.json`` naming the last batch it includes, so a score computed
elsewhere can say which ledger state it came from. Imported scores are validated like any other
snapshot and appended through ``Ledger.append``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from glasscredit.engine.tables import INPUT_SCHEMAS, SNAPSHOT_SCHEMAS
from glasscredit.errors import InputError
from glasscredit.ledger.batch import AppendResult
from glasscredit.ledger.ledger import Ledger

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportReport:
    """Where each table went and how many rows it holds."""

    directory: Path
    rows: dict[str, int]
    last_batch: int | None


def export_tables(ledger: Ledger, directory: Path) -> ExportReport:
    """Write ``<table>.parquet`` for every engine input table, then the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    last = ledger.store.query("SELECT max(batch_id) AS b FROM ledger_batches")
    last_batch = last.column(0)[0].as_py()
    rows = {}
    for name in INPUT_SCHEMAS:
        table = ledger.table(name)
        pq.write_table(table, directory / f"{name}.parquet")
        rows[name] = table.num_rows
    manifest = {"tables": rows, "last_batch": last_batch, "research": ledger.is_research(),
                "exported_at": ledger.clock().isoformat(), "schemas": INPUT_SCHEMAS}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportReport(directory, rows, last_batch)


def _single(table: pa.Table, column: str) -> object:
    """The one value a column holds throughout, or an error naming how many it holds."""
    values = pc.unique(table.column(column)).to_pylist()
    if len(values) != 1:
        raise InputError(f"column {column!r} must hold one value throughout, found {len(values)}")
    return values[0]


def read_scores_file(path: Path, policy_hash: str | None,
                     as_of: datetime | None) -> tuple[pa.Table, str, datetime]:
    """Read a scores Parquet file; policy hash and as_of come from options or its columns."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
    if policy_hash is None:
        if "policy_hash" not in table.column_names:
            raise InputError(f"{path}: give --policy-hash or a policy_hash column")
        policy_hash = str(_single(table, "policy_hash"))
    if as_of is None:
        if "as_of" not in table.column_names:
            raise InputError(f"{path}: give --as-of or an as_of column")
        stamp = _single(table, "as_of")
        if not isinstance(stamp, datetime):
            raise InputError(f"{path}: as_of must be a timestamp column")
        as_of = stamp
    table = table.drop_columns([c for c in ("policy_hash", "as_of") if c in table.column_names])
    return table, policy_hash, as_of.replace(tzinfo=None)


def import_scores(ledger: Ledger, path: Path, policy_hash: str | None = None,
                  as_of: datetime | None = None) -> AppendResult:
    """Validate scores computed elsewhere and append them as a snapshot of ``policy_hash``."""
    table, policy_hash, as_of = read_scores_file(path, policy_hash, as_of)
    known = ledger.store.query(ledger.store.dialect.sql(
        "SELECT count(*) FROM ledger_policies WHERE policy_hash = ?"), [policy_hash])
    if not known.column(0)[0].as_py():
        raise InputError(f"policy {policy_hash} is not stored in this ledger; store it first")
    for column in SNAPSHOT_SCHEMAS["scores"]:
        if column in table.column_names and table.column(column).null_count:
            raise InputError(f"{path}: column {column!r} holds nulls")
    ids = table.column("subject_id") if "subject_id" in table.column_names else None
    if ids is not None and pc.count_distinct(ids).as_py() != table.num_rows:
        raise InputError(f"{path}: subject_id repeats; one score per subject")
    return ledger.write_scores(policy_hash, as_of, table)
