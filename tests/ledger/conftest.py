"""Fixtures for the ledger conformance suite: every store-backed test runs on DuckDB and PostgreSQL.

The PostgreSQL half gets a fresh schema per test, dropped afterwards. Without a server it is
skipped locally, but with ``CI`` set it fails: CI must never pass by not testing PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from ledgerkit import KEY, Clock, drop_pg, events_table, pg_url

from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.pseudonym import Pseudonymiser

STORES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh ledger goes: a DuckDB file, or a throw-away PostgreSQL schema."""
    if request.param == "duckdb":
        yield str(tmp_path / "ledger.duckdb")
        return
    url = pg_url()
    try:
        yield url
    finally:
        drop_pg(url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(location: str, clock: Clock) -> Iterator[Ledger]:
    """A fresh live ledger with two sources, on each store."""
    book = Ledger.init(location, KEY, clock=clock)
    book.add_source("bank", 0.9)
    book.add_source("court", 1.0)
    try:
        yield book
    finally:
        book.close()


@pytest.fixture
def make_events() -> Callable[[list[dict[str, object]]], pa.Table]:
    return events_table


@pytest.fixture
def pseudonyms() -> Pseudonymiser:
    return Pseudonymiser(KEY)
