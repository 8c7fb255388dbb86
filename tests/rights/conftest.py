"""Fixtures of the rights tests: a fresh ledger on each store (DuckDB file, PostgreSQL schema).

The PostgreSQL half is marked ``postgres``; skipped without a server, failed under CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rightskit import KEY, Clock, pg_url

from glasscredit.ledger.ledger import Ledger

STORES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh ledger goes: a DuckDB file, or a throw-away PostgreSQL schema."""
    if request.param == "duckdb":
        yield str(tmp_path / "rights.duckdb")
        return
    url = pg_url()
    try:
        yield url
    finally:
        from glasscredit.ledger.postgres_store import PostgresStore

        store = PostgresStore(url)
        store.drop()
        store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(location: str, clock: Clock) -> Iterator[Ledger]:
    """A fresh live ledger with the service's tables and one source, on each store."""
    book = Ledger.init(location, KEY, clock=clock)
    book.ensure_tables()
    book.add_source("bank", 0.9)
    try:
        yield book
    finally:
        book.close()
