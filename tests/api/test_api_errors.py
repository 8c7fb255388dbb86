"""One JSON error shape for every error, ours and FastAPI's; bad input never writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apikit import KEY, PERSON, POLICY, Clock, TestClient, World

from glasscredit.api import create_app
from glasscredit.api.errors import ErrorBody
from glasscredit.api.limits import Limits
from glasscredit.ledger.ledger import Ledger
from glasscredit.rights.clients import add_client


def assert_error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    ErrorBody.model_validate(body)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message", "details"}
    assert body["error"]["status"] == status
    return dict(body["error"])


def test_error_shape_of_fastapi_errors(world: World) -> None:
    assert_error(world.client.get("/v1/nowhere"), 404)
    assert_error(world.client.delete("/v1/health"), 405)
    err = assert_error(world.client.post("/v1/events", content=b"{not json",
                                         headers={**world.h("bank"),
                                                  "Content-Type": "application/json"}), 422)
    assert err["code"] == "invalid_input"
    assert_error(world.client.get("/v1/me/events", params={"limit": 0},
                                  headers=world.h("me")), 422)


def test_error_shape_of_auth_errors(world: World) -> None:
    err = assert_error(world.client.get("/v1/me/score"), 401)
    assert err["code"] == "unauthorized"
    assert_error(world.client.get("/v1/me/score",
                                  headers={"Authorization": "Bearer gck_000000000000_" + "x" * 40}),
                 401)
    assert_error(world.client.get("/v1/me/score", headers=world.h("reader")), 403)


def test_validation_errors_name_the_event_and_field_and_write_nothing(world: World) -> None:
    batches = world.rows("ledger_batches")
    good, bad = world.event(), world.event(kind="no_such_kind")
    err = assert_error(world.ingest("hospital", good, bad), 422)
    assert [(d["index"], d["field"]) for d in err["details"]] == [(1, "kind")]
    missing = world.event()
    del missing["subject"]
    err = assert_error(world.ingest("hospital", good, missing), 422)
    assert err["details"][0]["index"] == 1 and err["details"][0]["field"] == "subject"
    wrong = world.event(attrs={"donation_type": "lemonade"})
    err = assert_error(world.ingest("hospital", good, wrong), 422)
    assert err["details"][0]["index"] == 1
    only_unknown = [world.event(kind="no_such_kind"), world.event(kind="nor_this")]
    err = assert_error(world.ingest("hospital", *only_unknown), 422)
    assert [(d["index"], d["field"]) for d in err["details"]] == [(0, "kind"), (1, "kind")]
    assert world.rows("ledger_batches") == batches


def test_replay_returns_the_first_answer_and_a_changed_payload_conflicts(world: World) -> None:
    a, b = world.event(key="idem-a"), world.event(key="idem-b", value=0.3)
    first = world.ingest("hospital", a, b)
    assert first.status_code == 200, first.text
    again = world.ingest("hospital", a, b)
    assert again.status_code == 200
    assert again.json()["results"] == first.json()["results"]
    assert again.json()["replayed"] == [0, 1] and again.json()["stored"] == 0
    batches = world.rows("ledger_batches")
    changed = {**a, "value": 0.9}
    err = assert_error(world.ingest("hospital", world.event(key="idem-c"), changed), 409)
    assert [(d["index"], d["field"]) for d in err["details"]] == [(1, "source_event_id")]
    twice = world.event(key="idem-d")
    err = assert_error(world.ingest("hospital", twice, {**twice, "value": 2.0}), 409)
    assert err["details"][0]["index"] == 1
    assert world.rows("ledger_batches") == batches
    assert world.ingest("bank", {**a, "kind": "bill_payment", "attrs": {"days_late": 0}}
                        ).status_code == 200  # the key is per source


def test_other_refusals_share_the_shape(world: World) -> None:
    batches = world.rows("ledger_batches")
    assert_error(world.post("/v1/decisions", "me", {"subject": PERSON, "measure": "nope"}), 422)
    assert_error(world.post("/v1/me/disputes", "me", {"event_id": "12", "reason": "x"}), 422)
    assert_error(world.post("/v1/me/consents", "me", {"client": "reader", "purpose": "Bad Purpose!",
                                                      "valid_until": "2030-01-01T00:00:00"}), 422)
    assert_error(world.post("/v1/me/consents/revoke", "me",
                            {"client": "reader", "purpose": "never"}), 404)
    assert_error(world.get("/v1/me/events", "me", cursor="garbage!"), 422)
    assert_error(world.get("/v1/public/lists/watch"), 404)  # exists, but is not public
    assert world.rows("ledger_batches") == batches


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, dict[str, str]]:
    """An app with tiny limits (no engine needed: nothing here scores)."""
    clock = Clock()
    ledger = Ledger.init(Path(tmp_path_factory.mktemp("tight")) / "t.duckdb", KEY, clock=clock)
    ledger.add_source("bank", 0.9)
    app = create_app(ledger, POLICY, clock=clock,
                     limits=Limits(max_body_bytes=2000, max_batch=3, rate_per_second=0.5,
                                   burst=3))
    key = add_client(ledger, "bank", ["source"])
    return TestClient(app, raise_server_exceptions=False), {"Authorization": f"Bearer {key}"}


def test_limits_body_size_batch_size_and_rate(tight: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = tight
    assert_error(client.post("/v1/events", content=b"x" * 5000, headers=auth), 413)
    events = [{"source_event_id": f"k{i}", "subject": PERSON, "kind": "bill_payment",
               "occurred_at": "2026-01-01T00:00:00Z"} for i in range(4)]
    assert_error(client.post("/v1/events", json={"events": events}, headers=auth), 413)
    statuses = [client.get("/v1/outbox", headers=auth).status_code for _ in range(6)]
    assert statuses[0] == 200 and 429 in statuses
    r = client.get("/v1/outbox", headers=auth)
    assert_error(r, 429)
    assert int(r.headers["Retry-After"]) >= 1
    public = [client.get("/v1/public/policy").status_code for _ in range(6)]
    assert 429 in public
