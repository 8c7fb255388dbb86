"""The engine's input and output tables: names, columns and types, as data.

The ledger writes these shapes; the engine reads them from any DataFrame source (DuckDB tables,
Parquet, in-memory Arrow, Spark). Timestamps are UTC without a zone; attributes travel as a JSON
object in ``attrs`` so that one event table holds every kind in the catalogue.
"""

from __future__ import annotations

from typing import Final

#: Input tables the engine reads. Column -> Spark SQL type.
INPUT_SCHEMAS: Final[dict[str, dict[str, str]]] = {
    "subjects": {"subject_id": "string", "subject_kind": "string"},
    "sources": {"source_id": "string", "reliability": "double"},
    "events": {
        "event_id": "string",
        "subject_id": "string",
        "kind": "string",
        "occurred_at": "timestamp",
        "recorded_at": "timestamp",
        "source_id": "string",
        "value": "double",
        "attrs": "string",
    },
    "voids": {"event_id": "string", "voided_at": "timestamp"},
    "relations": {
        "subject_id": "string",
        "related_id": "string",
        "relation": "string",
        "valid_from": "timestamp",
        "valid_to": "timestamp",
    },
}

#: Optional snapshot tables: the previous run's state, so hysteresis and durations chain.
SNAPSHOT_SCHEMAS: Final[dict[str, dict[str, str]]] = {
    "list_state": {
        "subject_id": "string",
        "list": "string",
        "listed": "boolean",
        "since": "timestamp",
        "ended_at": "timestamp",
    },
    "measure_state": {
        "subject_id": "string",
        "measure": "string",
        "active": "boolean",
        "since": "timestamp",
        "failing_since": "timestamp",
    },
    "scores": {"subject_id": "string", "subject_kind": "string", "score": "double"},
}

SUBJECT_KINDS: Final[tuple[str, ...]] = ("person", "organisation")


def ddl(table: str, schema: dict[str, str], dialect: str = "duckdb") -> str:
    """CREATE TABLE text for one schema, so stores and tests never spell columns twice."""
    types = {
        "duckdb": {"string": "VARCHAR", "double": "DOUBLE", "timestamp": "TIMESTAMP",
                   "boolean": "BOOLEAN", "bigint": "BIGINT"},
        "postgres": {"string": "TEXT", "double": "DOUBLE PRECISION", "timestamp": "TIMESTAMP",
                     "boolean": "BOOLEAN", "bigint": "BIGINT"},
    }[dialect]
    cols = ", ".join(f"{name} {types[t]}" for name, t in schema.items())
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols})"
