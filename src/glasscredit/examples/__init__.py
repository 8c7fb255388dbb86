"""The shipped example: 36 people in Suzhou with bills, blood, volunteering, gaming and friends."""

from __future__ import annotations

import json
from datetime import datetime
from importlib.resources import files
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from glasscredit.engine.run import Inputs
from glasscredit.engine.sessions import Backend

AS_OF = datetime(2026, 11, 1)
POLICIES = ("volunteer_rewards", "sesame_like")
_TS = pa.timestamp("us")


def path(name: str) -> Any:
    """A shipped example file."""
    return files("glasscredit.examples") / name


def tables() -> dict[str, pa.Table]:
    """The example as Arrow tables in the engine's input shapes."""
    def csv(name: str, types: dict[str, pa.DataType]) -> pa.Table:
        with path(name).open("rb") as f:
            return pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True))

    subjects = csv("subjects.csv", {"subject_id": pa.string(), "subject_kind": pa.string()})
    rows = [json.loads(line) for line in path("events.jsonl").read_text().splitlines()]
    events = pa.table({
        "event_id": [r["event_id"] for r in rows],
        "subject_id": [r["subject_id"] for r in rows],
        "kind": [r["kind"] for r in rows],
        "occurred_at": pa.array([datetime.fromisoformat(r["occurred_at"]) for r in rows], _TS),
        "recorded_at": pa.array([datetime.fromisoformat(r["occurred_at"]) for r in rows], _TS),
        "source_id": [r["source_id"] for r in rows],
        "value": pa.array([float(r["value"]) for r in rows], pa.float64()),
        "attrs": [json.dumps(r["attrs"]) for r in rows],
    })
    relations = csv("relations.csv", {"valid_from": _TS, "valid_to": _TS,
                                      "subject_id": pa.string(), "related_id": pa.string(),
                                      "relation": pa.string()})
    voids = pa.table({"event_id": pa.array([], pa.string()),
                      "voided_at": pa.array([], _TS)})
    return {"subjects": subjects.select(["subject_id", "subject_kind"]),
            "sources": csv("sources.csv", {"source_id": pa.string(),
                                           "reliability": pa.float64()}),
            "events": events, "voids": voids, "relations": relations}


def example_inputs(b: Backend) -> Inputs:
    """The example loaded into a backend's session."""
    t = tables()
    return Inputs(**{name: b.from_arrow(table) for name, table in t.items()})
