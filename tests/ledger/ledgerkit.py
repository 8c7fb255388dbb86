"""Shared constants and helpers for the ledger tests (imported by conftest and test modules)."""

from __future__ import annotations

import pyarrow as pa

from storekit import KEY, NOW, PG_URL, Clock, drop_pg, pg_url

__all__ = ["KEY", "NOW", "ORG", "PERSON", "PERSON_2", "PERSON_3", "PG_URL", "Clock", "drop_pg",
           "events_table", "pg_url"]

PERSON = "11010519491231002X"
PERSON_2 = "34052419800101001X"
PERSON_3 = "513200199909060190"
ORG = "91110000600037341L"


def events_table(rows: list[dict[str, object]]) -> pa.Table:
    """An ingest-shaped table from dicts, with the usual defaults filled in."""
    defaults = {"subject": PERSON, "kind": "bill_payment", "occurred_at": "2025-01-01T00:00:00Z",
                "value": "1", "attrs": '{"days_late": 0}'}
    full = [{**defaults, **r} for r in rows]
    names = ["source_event_id", *defaults]
    names += sorted({k for r in rows for k in r} - set(names))
    return pa.table({n: pa.array([None if r.get(n) is None else str(r[n]) for r in full],
                                 pa.string()) for n in names})


