"""The shared world of the HTTP service tests: one ledger, one app, a client per role."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the project pins
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from glasscredit.api import create_app
from glasscredit.api.limits import Limits
from glasscredit.ledger.ledger import Ledger
from glasscredit.rights.clients import add_client
from storekit import KEY, NOW, Clock  # noqa: F401  (NOW: a Monday; tests import it here)

POLICY = Path(__file__).with_name("service_policy.yaml")
PERSON = "11010519491231002X"
PERSON_2 = "34052419800101001X"
PERSON_3 = "513200199909060190"
ROLES = {
    "bank": (["source"], None), "hospital": (["source"], None),
    "reader": (["reader"], None), "reader_b": (["reader"], None),
    "me": (["subject"], PERSON), "other": (["subject"], PERSON_2),
    "reviewer": (["reviewer"], None), "admin": (["admin"], None),
}




@dataclass
class World:
    ledger: Ledger
    client: TestClient
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def post(self, path: str, role: str | None, body: Any) -> Any:
        return self.client.post(path, json=body, headers=self.h(role) if role else {})

    def get(self, path: str, role: str | None = None, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.h(role) if role else {})

    def event(self, subject: str = PERSON, kind: str = "blood_donation", value: float = 0.5,
              attrs: dict[str, Any] | None = None, key: str | None = None,
              occurred_at: str = "2026-05-01T00:00:00Z") -> dict[str, Any]:
        self.counter += 1
        if attrs is None:
            attrs = {"donation_type": "whole_blood"} if kind == "blood_donation" else {
                "days_late": 0}
        return {"source_event_id": key or f"ev-{self.counter}", "subject": subject,
                "kind": kind, "occurred_at": occurred_at, "value": value, "attrs": attrs}

    def ingest(self, role: str, *events: dict[str, Any]) -> Any:
        return self.post("/v1/events", role, {"events": list(events)})

    def rows(self, table: str) -> int:
        return int(self.ledger.store.query(f"SELECT count(*) AS n FROM {table}")
                   .column(0)[0].as_py())


def make_world(tmp: Path, limits: Limits | None = None, location: str | None = None) -> World:
    """The service over a fresh ledger: a DuckDB file in ``tmp``, or ``location`` (a
    PostgreSQL URL)."""
    clock = Clock()
    ledger = Ledger.init(location or tmp / "api.duckdb", KEY, clock=clock)
    ledger.add_source("bank", 0.9)
    ledger.add_source("hospital", 1.0)
    app = create_app(ledger, POLICY, clock=clock,
                     limits=limits or Limits(rate_per_second=10_000, burst=10_000), warm=True)
    world = World(ledger, TestClient(app, raise_server_exceptions=False), clock)
    for name, (scopes, subject) in ROLES.items():
        world.keys[name] = add_client(ledger, name, scopes, subject)
    return world


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def person(n: int) -> str:
    """A valid resident id of its own for each test that needs a fresh subject."""
    from datetime import date

    from glasscredit.ids import resident_id

    return resident_id("110105", date(1980, 1, 1) + timedelta(days=n), 1 + n % 900)
