"""Score and state snapshots: the engine's output for (policy hash, as_of), kept in the ledger.

Snapshots go through ``Ledger.append`` like everything else, so an imported or recomputed score
is as auditable as an event. Reads return exactly the columns of
``engine.tables.SNAPSHOT_SCHEMAS`` (plus ``band`` for scores), with text subject ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.engine.tables import SNAPSHOT_SCHEMAS, SUBJECT_KINDS
from glasscredit.errors import InputError
from glasscredit.ledger.batch import AppendResult, Batch
from glasscredit.ledger.schema import SNAPSHOT_TABLES, TABLES

if TYPE_CHECKING:
    from glasscredit.ledger.ledger import Ledger

#: Optional columns a snapshot may carry beyond the engine contract.
OPTIONAL: Final[dict[str, tuple[str, ...]]] = {"scores": ("band",)}


def _arrow_type(name: str, column: str) -> pa.DataType:
    """The stored Arrow type of one snapshot column (ids are BIGINT in storage)."""
    logical = {c: t for c, t, _ in TABLES[SNAPSHOT_TABLES[name]].columns}[column]
    return {"id": pa.int64(), "text": pa.string(), "double": pa.float64(),
            "ts": pa.timestamp("us"), "bool": pa.bool_()}[logical]


def snapshot_batch(name: str, policy_hash: str, as_of: datetime, table: pa.Table) -> Batch:
    """Check a snapshot against the contract and turn it into rows for one batch."""
    if name not in SNAPSHOT_TABLES:
        raise InputError(f"unknown snapshot {name!r}; known: {', '.join(SNAPSHOT_TABLES)}")
    if not policy_hash:
        raise InputError("a snapshot needs the hash of the policy that produced it")
    required = list(SNAPSHOT_SCHEMAS[name])
    allowed = required + list(OPTIONAL.get(name, ()))
    missing = [c for c in required if c not in table.column_names]
    extra = [c for c in table.column_names if c not in allowed]
    if missing or extra:
        raise InputError(f"{name} snapshot: missing columns {missing}, unexpected {extra}")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "policy_hash": pa.array([policy_hash] * table.num_rows, pa.string()),
        "as_of": pa.array([as_of.replace(tzinfo=None)] * table.num_rows, pa.timestamp("us")),
    }
    for col in (c for c in allowed if c in table.column_names):
        try:
            columns[col] = table.column(col).cast(_arrow_type(name, col))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"{name} snapshot: column {col!r}: {exc}") from exc
    if "subject_kind" in columns:
        kinds = pc.unique(columns["subject_kind"]).to_pylist()
        bad = sorted(str(k) for k in kinds if k not in SUBJECT_KINDS)
        if bad:
            raise InputError(f"{name} snapshot: subject_kind {bad} not in {SUBJECT_KINDS}")
    if "score" in columns and pc.any(pc.is_nan(columns["score"])).as_py():
        raise InputError(f"{name} snapshot: score holds NaN")
    for col in required:
        if columns[col].null_count and col in ("subject_id", "score", "subject_kind"):
            raise InputError(f"{name} snapshot: column {col!r} holds nulls")
    return Batch(rows={SNAPSHOT_TABLES[name]: pa.table(columns)})


def write_snapshot(
    ledger: Ledger, name: str, policy_hash: str, as_of: datetime, table: pa.Table
) -> AppendResult:
    """Append one engine run's snapshot; unknown subjects make the whole batch fail."""
    return ledger.append(snapshot_batch(name, policy_hash, as_of, table))


def latest_snapshot_time(ledger: Ledger, name: str, policy_hash: str,
                         as_of: datetime | None = None) -> datetime | None:
    """The ``as_of`` of a policy's latest snapshot at or before ``as_of`` (any time if None);
    None when there is none. One aggregate, not the list of every run's time."""
    if name not in SNAPSHOT_TABLES:
        raise InputError(f"unknown snapshot {name!r}; known: {', '.join(SNAPSHOT_TABLES)}")
    sql = f"SELECT max(as_of) FROM {SNAPSHOT_TABLES[name]} WHERE policy_hash = ?"
    params: list[object] = [policy_hash]
    if as_of is not None:
        sql += " AND as_of <= ?"
        params.append(as_of.replace(tzinfo=None))
    found = ledger.store.fetch(ledger.store.dialect.sql(sql), params)
    return found[0][0] if found else None


def read_snapshot(
    ledger: Ledger, name: str, policy_hash: str, as_of: datetime | None = None
) -> pa.Table:
    """The latest snapshot at or before ``as_of`` (any time if None); empty when none exists."""
    return snapshot_at(ledger, name, policy_hash,
                       latest_snapshot_time(ledger, name, policy_hash, as_of))


def snapshot_at(ledger: Ledger, name: str, policy_hash: str, latest: datetime | None
                ) -> pa.Table:
    """The snapshot stored at exactly ``latest`` (a time ``latest_snapshot_time`` found);
    empty for None."""
    cols = list(SNAPSHOT_SCHEMAS[name]) + list(OPTIONAL.get(name, ()))
    fields = [(c, pa.string() if c == "subject_id" else _arrow_type(name, c)) for c in cols]
    schema = pa.schema(fields)
    if latest is None:
        return schema.empty_table()
    select = ", ".join("CAST(subject_id AS VARCHAR) AS subject_id" if c == "subject_id" else c
                       for c in cols)
    stamp = latest.isoformat(sep=" ")
    return ledger.store.query(
        f"SELECT {select} FROM {SNAPSHOT_TABLES[name]} WHERE policy_hash = '{_quote(policy_hash)}'"
        f" AND as_of = TIMESTAMP '{stamp}' ORDER BY subject_id", schema=schema)


def _quote(text: str) -> str:
    """Escape a literal for the COPY path, which takes no parameters."""
    return text.replace("'", "''")
