"""PostgreSQL serves the service's per-subject lookups from indexes, on new and older ledgers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.schema import any_of
from storekit import KEY, Clock, pg_url

pytestmark = pytest.mark.postgres

SERVICE_INDEXES = {"ledger_consents_subject", "ledger_subject_state_subject",
                   "ledger_inquiries_subject", "ledger_decisions_subject", "ledger_clients_id"}


@pytest.fixture
def pg_ledger() -> Iterator[Ledger]:
    url = pg_url()
    book = Ledger.init(url, KEY, clock=Clock())
    try:
        yield book
    finally:
        book.store.drop()  # type: ignore[attr-defined]
        book.close()


def _indexes(ledger: Ledger) -> set[str]:
    found = ledger.store.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                               [ledger.store.namespace])
    return {r[0] for r in found}


def _plan(ledger: Ledger, sql: str, *params: object) -> str:
    con = ledger.store.connection  # type: ignore[attr-defined]
    con.execute("SET enable_seqscan = off")  # tables this small would be scanned anyway
    try:
        rows = ledger.store.fetch("EXPLAIN " + ledger.store.dialect.sql(sql), list(params))
    finally:
        con.execute("RESET enable_seqscan")
    return "\n".join(r[0] for r in rows)


def test_a_new_ledger_has_the_service_indexes(pg_ledger: Ledger) -> None:
    assert _indexes(pg_ledger) >= SERVICE_INDEXES


def test_ensure_tables_adds_them_to_an_older_ledger(pg_ledger: Ledger) -> None:
    for name in SERVICE_INDEXES:
        pg_ledger.store.connection.execute(f"DROP INDEX {name}")  # type: ignore[attr-defined]
    assert not SERVICE_INDEXES & _indexes(pg_ledger)
    pg_ledger.ensure_tables()
    assert _indexes(pg_ledger) >= SERVICE_INDEXES


@pytest.mark.parametrize(("table", "index"), [
    ("ledger_consents", "ledger_consents_subject"),
    ("ledger_subject_state", "ledger_subject_state_subject"),
    ("ledger_inquiries", "ledger_inquiries_subject"),
    ("ledger_decisions", "ledger_decisions_subject"),
])
def test_the_group_lookups_by_subject_use_the_index(pg_ledger: Ledger, table: str,
                                                     index: str) -> None:
    plan = _plan(pg_ledger, f"SELECT * FROM {table} WHERE {any_of('subject_id')}",
                 [1, 2, 3])
    assert index in plan
