"""Fixtures for the ledger conformance suite: every store-backed test runs on DuckDB and PostgreSQL.

The PostgreSQL half gets a fresh schema per test, dropped afterwards. Without a server it is
skipped locally, but with ``CI`` set it fails: CI must never pass by not testing PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest
from ledgerkit import KEY, Clock, events_table

from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.pseudonym import Pseudonymiser


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
