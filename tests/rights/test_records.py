"""Small reads through the stores' public ``fetch``, and the helpers the service reads with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import glasscredit
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.schema import any_of
from glasscredit.rights.records import fetch, latest_rows


def test_store_fetch_returns_rows_as_tuples(ledger: Ledger) -> None:
    store = ledger.store
    ledger.add_source("court", 1.0)
    sql = store.dialect.sql("SELECT source_id, reliability FROM ledger_sources WHERE "
                            "source_id = ? ORDER BY source_id")
    assert store.fetch(sql, ["court"]) == [("court", 1.0)]
    assert store.fetch(sql, ["nobody"]) == []
    assert store.fetch("SELECT count(*) FROM ledger_sources") == [(2,)]


def test_fetch_takes_question_marks_in_either_dialect(ledger: Ledger) -> None:
    assert fetch(ledger, "SELECT source_id FROM ledger_sources WHERE reliability > ?",
                 0.5) == [("bank",)]


@pytest.mark.parametrize(("column", "sql_type", "values", "expected"), [
    ("source_id", "TEXT", ["bank", "court", "x"], ["bank", "court"]),
    ("source_id", "TEXT", [], []),
    ("batch_id", "BIGINT", [-1], []),
])
def test_any_of_matches_the_listed_values_only(ledger: Ledger, column: str, sql_type: str,
                                               values: list[object],
                                               expected: list[str]) -> None:
    ledger.add_source("court", 1.0)
    ledger.add_source("tax", 0.5)
    found = fetch(ledger, f"SELECT source_id FROM ledger_sources WHERE "
                          f"{any_of(column, sql_type)} ORDER BY source_id", values)
    assert [r[0] for r in found] == expected


def test_latest_rows_keeps_the_row_of_the_highest_batch_per_key() -> None:
    found = [("a", "x", 1, 5), ("a", "x", 2, 9), ("a", "y", 3, 7), ("b", "x", 4, 1),
             ("a", "x", 5, 6)]
    assert latest_rows(found, key=2) == {("a", "x"): (2,), ("a", "y"): (3,), ("b", "x"): (4,)}
    assert latest_rows([(k, v, b) for k, _, v, b in found], key=1) == {"a": (2,), "b": (4,)}
    assert latest_rows([], key=1) == {}


def test_the_service_reads_the_stores_through_their_public_interface() -> None:
    """rights/ and api/ never reach into a store's private methods."""
    root = Path(glasscredit.__file__).parent
    private = re.compile(r"\.store\._|\b_rows\(|\b_exec\(")
    offenders = [f"{p.relative_to(root)}:{n}" for folder in ("rights", "api")
                 for p in sorted((root / folder).glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if private.search(line)]
    assert offenders == []
