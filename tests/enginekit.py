"""Build engine inputs from small Python lists, for any backend (tests only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from glasscredit.engine.run import Inputs, Snapshot
from glasscredit.engine.sessions import Backend
from glasscredit.engine.tables import INPUT_SCHEMAS, SNAPSHOT_SCHEMAS

#: A weighted policy whose second category is the mean of friends' own scores (one hop):
#: pinned by hand in test_engine_pinned and, on a ledger, in tests/ledger.
NETWORK_POLICY = """
policy: friends
mode: simulation
aggregation: weighted
scale: {min: 0, max: 100}
categories:
  - {name: own, weight: 0.8, curve: {type: linear, lo: -50, hi: 50}}
  - {name: circle, weight: 0.2, curve: {type: linear, lo: 0, hi: 100},
     network: {relations: [friend], aggregate: mean}}
rules:
  - {id: late, kind: bill_payment, points: -25, category: own, reason: "Late bill"}
"""

_ARROW = {"string": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("us"),
          "boolean": pa.bool_()}


def arrow(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = {**INPUT_SCHEMAS, **SNAPSHOT_SCHEMAS}[name]
    cols = {}
    for col, typ in schema.items():
        values = [r.get(col) for r in rows]
        if col == "attrs":
            values = [json.dumps(v) if isinstance(v, dict) else v for v in values]
        cols[col] = pa.array(values, type=_ARROW[typ])
    return pa.table(cols)


def D(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ev(event_id: str, subject: str, kind: str, when: str, value: float = 1.0,
       source: str = "src", recorded: str | None = None, **attrs: Any) -> dict[str, Any]:
    return {"event_id": event_id, "subject_id": subject, "kind": kind, "occurred_at": D(when),
            "recorded_at": D(recorded or when), "source_id": source, "value": float(value),
            "attrs": attrs}


def inputs(b: Backend, subjects: list[tuple[str, str]], events: list[dict[str, Any]],
           sources: dict[str, float] | None = None, voids: list[tuple[str, str]] | None = None,
           relations: list[tuple[str, str, str]] | None = None) -> Inputs:
    sources = sources or {"src": 1.0}
    return Inputs(
        subjects=b.from_arrow(arrow("subjects", [{"subject_id": s, "subject_kind": k}
                                                 for s, k in subjects])),
        sources=b.from_arrow(arrow("sources", [{"source_id": s, "reliability": r}
                                               for s, r in sources.items()])),
        events=b.from_arrow(arrow("events", events)),
        voids=b.from_arrow(arrow("voids", [{"event_id": e, "voided_at": D(t)}
                                           for e, t in (voids or [])])),
        relations=b.from_arrow(arrow("relations", [
            {"subject_id": a, "related_id": r, "relation": t, "valid_from": None,
             "valid_to": None} for a, r, t in (relations or [])])),
    )


def snapshot_from(b: Backend, result: Any) -> Snapshot:
    """The snapshot a next run reads: this run's list and measure states and scores."""
    lists = result.arrow("lists").select(list(SNAPSHOT_SCHEMAS["list_state"]))
    measures = result.arrow("measures").select(list(SNAPSHOT_SCHEMAS["measure_state"]))
    scores = result.arrow("scores").select(["subject_id", "subject_kind", "score"])
    return Snapshot(b.from_arrow(lists), b.from_arrow(measures), b.from_arrow(scores))


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()
