"""Fixtures of the rights tests: a fresh ledger on each store (DuckDB file, PostgreSQL schema).

The PostgreSQL half is marked ``postgres``; skipped without a server, failed under CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from glasscredit.ledger.ledger import Ledger
from storekit import KEY, Clock


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
