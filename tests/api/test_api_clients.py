"""Client revocation: a revoked key gets 401 at once, on every kind of endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer
from apikit import KEY, PERSON, World
from typer.testing import CliRunner

from glasscredit.rights.clients import load_clients, revoke_client


def new_client(w: World, name: str, scopes: list[str]) -> str:
    r = w.post("/v1/admin/clients", "admin", {"name": name, "scopes": scopes})
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    w.keys[name] = key
    return key


def refused(r: Any) -> bool:
    return (r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
            and r.headers.get("www-authenticate") == "Bearer")


def test_a_key_revoked_elsewhere_is_refused_at_the_next_request(world: World) -> None:
    """Revoked straight in the ledger — as the CLI or another replica would — while the
    service still holds the key in its cache: reads, decisions and ingest are 401 at once."""
    w = world
    new_client(w, "rev-reader", ["reader"])
    w.ingest("hospital", w.event())
    r = w.post("/v1/me/consents", "me", {"client": "rev-reader", "purpose": "p-rev",
                                         "valid_until": (w.clock.now + timedelta(days=9))
                                         .isoformat()})
    assert r.status_code == 201, r.text
    read = {"subject": PERSON, "purpose": "p-rev"}
    assert w.post("/v1/scores", "rev-reader", read).status_code == 200
    inquiries = w.rows("ledger_inquiries")
    assert revoke_client(w.ledger, "rev-reader")
    assert refused(w.post("/v1/scores", "rev-reader", read))
    assert refused(w.post("/v1/decisions", "rev-reader", {**read, "measure": "donor_badge"}))
    assert w.rows("ledger_inquiries") == inquiries
    assert not revoke_client(w.ledger, "rev-reader")  # nothing left to revoke


def test_admin_revokes_a_source_and_its_writes_stop(world: World) -> None:
    w = world
    new_client(w, "rev-admin", ["admin"])
    w.ledger.add_source("rev-source", 0.5)
    new_client(w, "rev-source", ["source"])
    assert w.ingest("rev-source", w.event(key="rev-1")).status_code == 200
    assert w.post("/v1/admin/clients/revoke", "reader", {"name": "rev-source"}
                  ).status_code == 403
    r = w.post("/v1/admin/clients/revoke", "rev-admin", {"name": "rev-source"})
    assert r.status_code == 200 and r.json()["name"] == "rev-source"
    batches = w.rows("ledger_batches")
    assert refused(w.ingest("rev-source", w.event(key="rev-2")))
    assert refused(w.get("/v1/outbox", "rev-source"))
    assert w.rows("ledger_batches") == batches
    assert w.post("/v1/admin/clients/revoke", "rev-admin", {"name": "rev-source"}
                  ).status_code == 404
    assert w.post("/v1/admin/clients/revoke", "rev-admin", {"name": "rev-admin"}
                  ).status_code == 200
    assert refused(w.post("/v1/admin/clients/revoke", "rev-admin", {"name": "reader"}))


def test_cli_client_revoke(world: World) -> None:
    from glasscredit.commands.serve import register

    w = world
    new_client(w, "rev-cli", ["reader"])
    app = typer.Typer()
    register(app)
    env = {"GLASSCREDIT_PSEUDONYM_KEY": KEY.hex()}
    args = ["client", "revoke", "rev-cli", "--ledger", w.ledger.store.url]
    ok = CliRunner().invoke(app, args, env=env)
    assert ok.exit_code == 0, ok.output
    assert "revoked" in ok.output
    assert "rev-cli" not in {c.name for c in load_clients(w.ledger).values()}
    assert refused(w.post("/v1/scores", "rev-cli", {"subject": PERSON, "purpose": "p-x"}))
    again = CliRunner().invoke(app, args, env=env)
    assert again.exit_code == 1 and "no active client" in again.output
