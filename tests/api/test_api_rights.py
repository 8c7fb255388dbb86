"""Due process through the API: dispute clocks, voids and rescoring, notices, statements."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from apikit import NOW, World, person
from typer.testing import CliRunner

from glasscredit.rights.disputes import add_business_days
from glasscredit.rights.statements import StatementError, verify


def subject(world: World, n: int) -> tuple[str, str]:
    """A fresh subject with its own client: (external id, role name)."""
    ext, role = person(n), f"subject-{n}"
    if role not in world.keys:
        r = world.post("/v1/admin/clients", "admin",
                       {"name": role, "scopes": ["subject"], "subject": ext})
        assert r.status_code == 201, r.text
        world.keys[role] = r.json()["key"]
    return ext, role


def my_event_ids(world: World, role: str) -> list[str]:
    return [e["event_id"] for e in world.get("/v1/me/events", role).json()["items"]]


def test_business_days_skip_weekends() -> None:
    friday = datetime(2026, 6, 5, 9, 0)
    assert add_business_days(friday, 5) == datetime(2026, 6, 12, 9, 0)
    assert add_business_days(datetime(2026, 6, 6), 1) == datetime(2026, 6, 8)  # Sat -> Mon
    assert add_business_days(NOW, 5) == NOW + timedelta(days=7)


def test_dispute_clocks_outbox_and_new_evidence(world: World) -> None:
    ext, role = subject(world, 1)
    world.clock.now = datetime(2026, 6, 5, 9, 0)  # a Friday
    assert world.ingest("hospital", world.event(subject=ext)).status_code == 200
    (event_id,) = my_event_ids(world, role)
    r = world.post("/v1/me/disputes", role, {"event_id": event_id, "reason": "I was abroad"})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["status"] == "open"
    assert d["acknowledge_by"] == "2026-06-12T09:00:00Z"
    assert d["resolve_by"] == "2026-07-05T09:00:00Z"
    outbox = world.get("/v1/outbox", "hospital").json()["items"]
    assert any(m["topic"] == "dispute.opened" and m["body"]["dispute_id"] == d["dispute_id"]
               for m in outbox)
    assert world.post("/v1/me/disputes", role, {"event_id": event_id, "reason": "again"}
                      ).status_code == 409
    r = world.post(f"/v1/me/disputes/{d['dispute_id']}/evidence", role, {"text": "my passport"})
    assert r.json()["resolve_by"] == "2026-07-20T09:00:00Z" and r.json()["new_evidence"]
    r = world.post(f"/v1/me/disputes/{d['dispute_id']}/statement", role, {"text": "Not me."})
    assert r.json()["statements"] == ["Not me."]
    assert d["dispute_id"] in [x["dispute_id"] for x in world.get("/v1/disputes",
                                                                   "reviewer").json()["items"]]


def test_unverified_by_the_deadline_voids_and_rescores(world: World) -> None:
    ext, role = subject(world, 2)
    assert world.ingest("hospital", world.event(subject=ext, value=0.5)).status_code == 200
    assert world.get("/v1/me/score", role).json()["score"] == 110
    (event_id,) = my_event_ids(world, role)
    d = world.post("/v1/me/disputes", role, {"event_id": event_id, "reason": "wrong"}).json()
    world.clock.now = NOW + timedelta(days=29, hours=23)
    assert world.post("/v1/admin/disputes/sweep", "admin", {}).json()["closed"] == []
    world.clock.now = NOW + timedelta(days=30)
    assert world.post("/v1/admin/disputes/sweep", "admin", {}).json()["closed"] == [
        d["dispute_id"]]
    mine = world.get("/v1/me/disputes", role).json()["items"]
    assert mine[0]["status"] == "unverified"
    assert world.get("/v1/me/events", role).json()["items"][0]["voided"] is True
    assert world.get("/v1/me/score", role).json()["score"] == 100


def test_reviewer_upholds_or_rejects(world: World) -> None:
    ext, role = subject(world, 3)
    world.ingest("hospital", world.event(subject=ext, value=0.5),
                 world.event(subject=ext, value=0.25))
    first, second = sorted(my_event_ids(world, role))
    d1 = world.post("/v1/me/disputes", role, {"event_id": first, "reason": "x"}).json()
    d2 = world.post("/v1/me/disputes", role, {"event_id": second, "reason": "y"}).json()
    assert world.post(f"/v1/disputes/{d1['dispute_id']}/resolution", role,
                      {"outcome": "upheld"}).status_code == 403
    r = world.post(f"/v1/disputes/{d2['dispute_id']}/resolution", "reviewer",
                   {"outcome": "rejected", "note": "the hospital confirmed it"})
    assert r.json()["status"] == "rejected"
    assert world.get("/v1/me/score", role).json()["score"] == 115
    r = world.post(f"/v1/disputes/{d1['dispute_id']}/resolution", "reviewer",
                   {"outcome": "upheld"})
    assert r.json()["status"] == "upheld"
    assert world.get("/v1/me/score", role).json()["score"] == 105
    assert world.post(f"/v1/disputes/{d1['dispute_id']}/resolution", "reviewer",
                      {"outcome": "rejected"}).status_code == 409


def test_notice_when_a_privilege_is_lost(world: World) -> None:
    ext, role = subject(world, 4)
    world.ingest("hospital", world.event(subject=ext, value=0.5))
    decision = world.post("/v1/decisions", role, {"subject": ext, "measure": "donor_badge"})
    assert decision.json()["outcome"] == "allow"
    (event_id,) = my_event_ids(world, role)
    d = world.post("/v1/me/disputes", role, {"event_id": event_id, "reason": "x"}).json()
    world.post(f"/v1/disputes/{d['dispute_id']}/resolution", "reviewer", {"outcome": "upheld"})
    notices = world.get("/v1/me/notices", role).json()["items"]
    assert [n["action"] for n in notices] == ["privilege donor_badge withdrawn"]
    n = notices[0]
    assert n["score"] == 100 and n["range"] == {"min": 0, "max": 200}
    assert "POST /v1/me/disputes" in n["how_to_dispute"] and n["date"]


def test_notice_when_a_sanction_starts_and_public_list(world: World) -> None:
    ext, role = subject(world, 5)
    late = {"days_late": 60}
    world.ingest("bank", world.event(subject=ext, kind="bill_payment", attrs=late))
    assert world.get("/v1/me/notices", role).json()["items"] == []
    assert world.post("/v1/public/lists/late_payers/check", None,
                      {"subject": ext}).json()["listed"] is False
    world.ingest("bank", world.event(subject=ext, kind="bill_payment", attrs=late,
                                     occurred_at="2026-05-02T00:00:00Z"))
    notices = world.get("/v1/me/notices", role).json()["items"]
    assert [x["action"] for x in notices] == ["sanction payment_reminder started"]
    n = notices[0]
    assert n["sources"] == ["bank"] and n["appeal_route"] == "The programme's review board"
    assert [r["rule_id"] for r in n["reasons"]] == ["late_bills"]
    assert n["score"] == 82  # 100 - 2 x 10 points x the bank's reliability 0.9
    assert world.post("/v1/public/lists/late_payers/check", None,
                      {"subject": ext}).json()["listed"] is True
    members = world.get("/v1/public/lists/late_payers").json()["items"]
    assert world.ledger.subject_id(ext) in [m["subject_id"] for m in members]
    assert [x["name"] for x in world.get("/v1/public/lists").json()] == ["late_payers"]
    decision = world.post("/v1/decisions", role, {"subject": ext, "measure": "payment_reminder"})
    assert decision.json()["outcome"] == "applies"
    assert decision.json()["reasons"][0]["rule_id"] == "late_bills"


def test_access_report_holds_the_whole_file(world: World) -> None:
    ext, role = subject(world, 6)
    world.ingest("hospital", world.event(subject=ext))
    report = world.get("/v1/me/report", role).json()
    assert [e["source_id"] for e in report["events"]] == ["hospital"]
    assert report["sources"] == [{"source_id": "hospital", "reliability": 1.0}]
    assert report["score"]["score"] == 110
    assert report["policy"]["rules"][0].startswith("Blood donated in the last three years")
    assert {"inquiries_last_12_months", "decisions_last_12_months", "consents", "disputes",
            "notices"} <= set(report)


def test_statement_sign_verify_tamper_expiry(world: World, tmp_path: object) -> None:
    ext, role = subject(world, 7)
    world.ingest("hospital", world.event(subject=ext))
    assert world.post("/v1/me/statements", role, {"subject": person(8)}).status_code == 403
    r = world.post("/v1/me/statements", role, {"subject": ext, "valid_days": 10})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["statement"]["band"] == "good" and "score" not in doc["statement"]
    key = world.get("/v1/public/statement-key").json()
    claims = verify(doc, key, NOW, ext)
    assert claims["policy_version"].startswith("service_test@1#")
    tampered = json.loads(json.dumps(doc))
    tampered["statement"]["band"] = "excellent"
    for bad, when, who, why in ((tampered, NOW, ext, "altered"),
                                (doc, NOW + timedelta(days=10), ext, "expired"),
                                (doc, NOW, person(8), "another subject")):
        try:
            verify(bad, key, when, who)
        except StatementError as exc:
            assert why in str(exc)
        else:
            raise AssertionError(f"verified a statement that is {why}")


def test_statement_verify_cli(world: World, tmp_path: object) -> None:
    from pathlib import Path

    import typer

    from glasscredit.commands.serve import register

    ext, role = subject(world, 9)
    world.ingest("hospital", world.event(subject=ext))
    doc = world.post("/v1/me/statements", role, {"subject": ext, "include_score": True}).json()
    folder = Path(str(tmp_path))
    (folder / "s.json").write_text(json.dumps(doc))
    (folder / "key.json").write_text(json.dumps(world.get("/v1/public/statement-key").json()))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    args = ["statement", "verify", str(folder / "s.json"), "--public-key",
            str(folder / "key.json"), "--subject", ext, "--at", "2026-06-02T00:00:00"]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output and "110" in ok.output
    doc["statement"]["score"] = 200
    (folder / "s.json").write_text(json.dumps(doc))
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1 and "altered" in bad.output
