"""Shared constants and helpers for the ledger tests (imported by conftest and test modules)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import pyarrow as pa
import pytest

PG_URL = os.environ.get("GLASSCREDIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 6, 1, 12, 0, 0)
KEY = bytes(range(32))
PERSON = "11010519491231002X"
PERSON_2 = "34052419800101001X"
PERSON_3 = "513200199909060190"
ORG = "91110000600037341L"


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:  # any failure to talk to the server means "down"
        return str(exc)
    return None


def pg_url() -> str:
    """A URL to a fresh schema; fails under CI, skips otherwise, when the server is down."""
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is down under CI: {reason}")
        pytest.skip(f"PostgreSQL not available: {reason}")
    return f"{PG_URL}?schema=gc_test_{uuid.uuid4().hex[:12]}"


def drop_pg(url: str) -> None:
    """Remove a test schema and everything in it."""
    from glasscredit.ledger.postgres_store import PostgresStore

    store = PostgresStore(url)
    store.drop()
    store.close()


class Clock:
    """A settable clock, so recorded_at and 'not in the future' are deterministic."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def events_table(rows: list[dict[str, object]]) -> pa.Table:
    """An ingest-shaped table from dicts, with the usual defaults filled in."""
    defaults = {"subject": PERSON, "kind": "bill_payment", "occurred_at": "2025-01-01T00:00:00Z",
                "value": "1", "attrs": '{"days_late": 0}'}
    full = [{**defaults, **r} for r in rows]
    names = ["source_event_id", *defaults]
    names += sorted({k for r in rows for k in r} - set(names))
    return pa.table({n: pa.array([None if r.get(n) is None else str(r[n]) for r in full],
                                 pa.string()) for n in names})


