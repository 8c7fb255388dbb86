"""What every store-backed test shares: the key, the clock, and a throw-away PostgreSQL schema.

Imported by the ledger, rights and HTTP service kits. PostgreSQL tests are skipped when the
server is down, except under CI (``CI`` set), where they fail: CI must never pass by not
testing PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import pytest

PG_URL = os.environ.get("GLASSCREDIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 6, 1, 12, 0, 0)
KEY = bytes(range(32))
#: the two stores a conformance test runs on; the PostgreSQL half is selectable (-k postgres)
STORES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


class Clock:
    """A settable clock, so recorded times and 'not in the future' are deterministic."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def pg_url(prefix: str = "gc_test") -> str:
    """A URL to a fresh schema named ``prefix_…``; skipped when the server is down (failed
    under CI)."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:  # any failure to talk to the server means "down"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is down under CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    return f"{PG_URL}?schema={prefix}_{uuid.uuid4().hex[:12]}"


def drop_pg(url: str) -> None:
    """Remove a test schema and everything in it."""
    from glasscredit.ledger.postgres_store import PostgresStore

    store = PostgresStore(url)
    store.drop()
    store.close()
