"""Shared helpers of the rights tests (imported by conftest and the test modules)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import pytest

KEY = bytes(range(32))
NOW = datetime(2026, 6, 1, 12, 0, 0)
PG_URL = os.environ.get("GLASSCREDIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Clock:
    """A settable clock shared by the ledger and the code under test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def pg_url() -> str:
    """A fresh PostgreSQL schema; skipped when the server is down (failed under CI)."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:  # any failure to talk to the server means "down"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is down under CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    return f"{PG_URL}?schema=gc_rights_{uuid.uuid4().hex[:12]}"
