"""Small typed helpers for the service's rows: build Arrow rows, read rows back as dicts."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from glasscredit.errors import InputError
from glasscredit.ledger.ledger import Ledger

MAX_PAGE = 500
#: ``column IN_TEXTS`` with ONE list parameter: both dialects bind a list as one array,
#: several times faster than a placeholder per value once there are hundreds of them.
IN_TEXTS = "IN (SELECT unnest(CAST(? AS TEXT[])))"


def rows(**columns: list[Any]) -> pa.Table:
    """One Arrow table from column lists (the ledger casts to the stored types)."""
    return pa.table({name: pa.array(values) for name, values in columns.items()})


def query(ledger: Ledger, sql: str, *params: Any) -> list[dict[str, Any]]:
    """A read in the ledger's dialect (``?`` placeholders), rows as dicts."""
    table = ledger.store.query(ledger.store.dialect.sql(sql), list(params))
    return table.to_pylist()


def fetch(ledger: Ledger, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A small read as plain tuples: no Arrow round trip, for the per-request hot path."""
    return ledger.store.fetch(ledger.store.dialect.sql(sql), list(params))


def latest_rows(found: list[tuple[Any, ...]], key: int) -> dict[Any, tuple[Any, ...]]:
    """The latest row of each key among rows ``(*key columns, *values, batch_id)``: the first
    ``key`` columns make the key (one column: the value itself, else a tuple); the value is
    the row's columns between the key and the batch id. Append-only tables hold few rows per
    key (a client's, a subject's consents), so picking the latest here is cheaper than asking
    the database for it (a window function costs DuckDB more planning than reading them)."""
    best: dict[Any, tuple[Any, ...]] = {}
    batch: dict[Any, int] = {}
    for row in found:
        k = row[0] if key == 1 else row[:key]
        if k not in batch or row[-1] > batch[k]:
            best[k], batch[k] = row[key:-1], row[-1]
    return best


def new_id(prefix: str) -> str:
    """A random identifier with a readable prefix (``dec_…``, ``dsp_…``)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


#: One encoder for every call (``json.dumps`` with options builds a new one each time).
_CANONICAL: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_iso)


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, datetimes as ISO strings."""
    return _CANONICAL.encode(value)


def encode_cursor(offset: int) -> str:
    """An opaque page cursor."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The offset behind a cursor; a malformed cursor is an input error."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("cursor: not a cursor this service issued") from exc
    if kind != "o" or offset < 0:
        raise InputError("cursor: not a cursor this service issued")
    return offset


def page(ledger: Ledger, sql: str, params: Sequence[Any], cursor: str | None,
         limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an ordered query and the cursor of the next page (None at the end)."""
    offset = decode_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    found = query(ledger, f"{sql} LIMIT {limit + 1} OFFSET {offset}", *params)
    more = len(found) > limit
    return found[:limit], encode_cursor(offset + limit) if more else None
