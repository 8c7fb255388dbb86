"""End-to-end flows through the real app: ingest, consent-gated reads, decisions, inquiries."""

from __future__ import annotations

from datetime import timedelta

from apikit import PERSON, PERSON_3, World

from glasscredit.runs import embedded, input_cache


def test_ingest_then_read_sees_the_new_score(world: World) -> None:
    """On a DuckDB ledger the service keeps its engine inputs in memory (runs.cache_inputs):
    the rescore after an ingest is served from the cache, brought up to date first."""
    cache = input_cache(world.ledger)
    assert (cache is not None) == embedded(world.ledger)
    served = cache.served if cache is not None else 0
    before = world.get("/v1/me/score", "me").json()["score"]
    r = world.ingest("hospital", world.event(value=0.5))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1 and r.json()["rescored"] == 1
    after = world.get("/v1/me/score", "me").json()
    assert after["score"] == before + 10
    assert after["range"] == {"min": 0, "max": 200}
    if cache is not None:
        assert cache is input_cache(world.ledger) and cache.served > served
        assert cache.stale == 0  # each run caught up first: none read the tables


def test_reader_needs_consent_and_each_read_is_an_inquiry(world: World) -> None:
    world.ingest("hospital", world.event())
    body = {"subject": PERSON, "purpose": "tenancy"}
    assert world.post("/v1/scores", "reader", body).status_code == 403
    until = (world.clock.now + timedelta(days=30)).isoformat()
    r = world.post("/v1/me/consents", "me", {"client": "reader", "purpose": "tenancy",
                                             "valid_until": until})
    assert r.status_code == 201, r.text
    before = world.get("/v1/me/inquiries", "me").json()["items"]
    r = world.post("/v1/scores", "reader", body)
    assert r.status_code == 200, r.text
    after = world.get("/v1/me/inquiries", "me").json()["items"]
    assert len(after) == len(before) + 1
    assert after[0]["client"] == "reader" and after[0]["purpose"] == "tenancy"
    assert world.post("/v1/scores", "reader", {**body, "purpose": "lending"}).status_code == 403
    assert world.post("/v1/scores", "reader_b", body).status_code == 403


def test_decision_is_recorded_with_reasons_and_policy_version(world: World) -> None:
    world.ingest("bank", world.event(subject=PERSON_3, kind="bill_payment", value=1,
                                     attrs={"days_late": 60}))
    until = (world.clock.now + timedelta(days=30)).isoformat()
    world.post("/v1/me/consents", "me", {"client": "reader", "purpose": "tenancy",
                                         "valid_until": until})
    r = world.post("/v1/decisions", "reader", {"subject": PERSON, "measure": "donor_badge",
                                                "purpose": "tenancy"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["outcome"] in ("allow", "deny")
    assert d["policy_version"].startswith("service_test@1#")
    assert len(d["reasons"]) <= 4
    mine = world.get("/v1/me/decisions", "me").json()["items"]
    assert d["decision_id"] in [x["decision_id"] for x in mine]
