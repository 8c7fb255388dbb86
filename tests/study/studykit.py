"""Study tests' kit: a small hand-built city. Migrants pay late more often, one clean
person is banned through family, and one planted false record bans a local."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from enginekit import arrow
from glasscredit.simulate.run import empty

HERE = Path(__file__).parent
PEOPLE = 200  # p001..p100 local, p101..p200 migrant
LATE = {f"p{i:03d}" for i in [*range(1, 6), *range(101, 141)]}  # 5 % locals, 40 % migrants
CLEAN_RELATIVE, LATE_RELATIVE = "p050", "p140"  # family; only p140 pays late
FALSE_VICTIM = "p060"


def person(i: int) -> str:
    return f"p{i:03d}"


def write_fixture_city(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [person(i) for i in range(1, PEOPLE + 1)]
    events = [{"event_id": f"e{n:04d}", "subject_id": s, "kind": "bill_payment",
               "occurred_at": datetime(2024, 1, 10), "recorded_at": datetime(2024, 1, 10),
               "source_id": "bank", "value": 1.0,
               "attrs": {"days_late": 20 if s in LATE else 0, "amount": 100.0,
                         "bill_type": "utility"}} for n, s in enumerate(ids)]
    events.append({"event_id": "e9999", "subject_id": FALSE_VICTIM, "kind": "bill_payment",
                   "occurred_at": datetime(2024, 2, 5), "recorded_at": datetime(2024, 2, 5),
                   "source_id": "bank", "value": 1.0,
                   "attrs": {"days_late": 45, "amount": 80.0, "bill_type": "phone"}})
    tables = {
        "subjects": arrow("subjects", [{"subject_id": s, "subject_kind": "person"}
                                       for s in ids]),
        "sources": arrow("sources", [{"source_id": "bank", "reliability": 1.0}]),
        "events": arrow("events", events),
        "voids": empty("voids"),
        "relations": arrow("relations", [{"subject_id": CLEAN_RELATIVE,
                                          "related_id": LATE_RELATIVE, "relation": "spouse"}]),
        "people": pa.table({
            "subject_id": ids,
            "hukou": ["local" if i <= 100 else "migrant" for i in range(1, PEOPLE + 1)],
            "sex": ["female" if i % 2 else "male" for i in range(1, PEOPLE + 1)],
            "age_band": ["25-34"] * PEOPLE, "income_decile": [(i % 10) + 1 for i in
                                                              range(1, PEOPLE + 1)],
            "district_name": ["Gusu"] * PEOPLE}),
        "truth_false_records": pa.table({"event_id": ["e9999"],
                                         "occurred_at": [datetime(2024, 2, 5)]}),
    }
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    (folder / "city.json").write_text(json.dumps({"start": "2024-01-01", "months": 3}))
    return folder


POLICY = HERE / "policy.yaml"
