"""The authorization matrix: every caller × own/other subject × consent state × endpoint.

A leak is any success the rules do not allow, or a success that shows another subject's data.
Rules: a reader reads a subject only under that subject's valid consent for it and the purpose;
a subject client reads its own file only; sources, reviewers and admins read no one's file;
no key reads nothing. The matrix must have 0 leaks, and every refusal has the one error shape.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from apikit import NOW, PERSON, PERSON_2, World, person

CALLERS = ("none", "bank", "reader", "me", "reviewer", "admin")
TARGETS = {"own": PERSON, "other": PERSON_2}
STATES = ("none", "valid", "expired", "revoked")

#: Endpoints that name a subject in the body: allowed per (caller, target, consent).
GATED = {
    "scores": ("/v1/scores", {}),
    "decisions": ("/v1/decisions", {"measure": "donor_badge"}),
}
#: The subject's own file: only a subject client, and only ever its own data.
OWN = ("/v1/me/score", "/v1/me/report", "/v1/me/events", "/v1/me/inquiries",
       "/v1/me/decisions", "/v1/me/notices", "/v1/me/consents", "/v1/me/disputes")
#: Role endpoints: exactly one scope may call them.
ROLE = {"/v1/disputes": "reviewer", "/v1/outbox": "bank"}


@pytest.fixture(scope="module")
def matrix_world(shared_world: World) -> World:
    """Both subjects hold one consent per state for ``reader``, one purpose per state."""
    w = shared_world
    w.clock.now = NOW
    w.ingest("hospital", w.event(subject=PERSON), w.event(subject=PERSON_2))
    for role in ("me", "other"):
        w.clock.now = NOW - timedelta(days=10)
        grant(w, role, "p-expired", NOW - timedelta(days=1))
        w.clock.now = NOW
        grant(w, role, "p-valid", NOW + timedelta(days=30))
        grant(w, role, "p-revoked", NOW + timedelta(days=30))
        r = w.post("/v1/me/consents/revoke", role, {"client": "reader", "purpose": "p-revoked"})
        assert r.status_code == 200, r.text
    return w


def grant(w: World, role: str, purpose: str, until: Any) -> None:
    r = w.post("/v1/me/consents", role, {"client": "reader", "purpose": purpose,
                                         "valid_until": until.isoformat()})
    assert r.status_code == 201, r.text


def headers(w: World, caller: str) -> dict[str, str]:
    return {} if caller == "none" else w.h(caller)


def allowed(caller: str, target: str, state: str) -> bool:
    return (caller == "reader" and state == "valid") or (caller == "me" and target == "own")


def is_refusal(r: Any) -> bool:
    body = r.json()
    return r.status_code in (401, 403) and body["error"]["status"] == r.status_code


@pytest.mark.parametrize("endpoint", sorted(GATED))
def test_authorization_matrix_consent_gated_reads(matrix_world: World, endpoint: str) -> None:
    w = matrix_world
    path, extra = GATED[endpoint]
    leaks, cases = [], 0
    for caller in CALLERS:
        for target, subject in TARGETS.items():
            for state in STATES:
                cases += 1
                body = {"subject": subject, "purpose": f"p-{state}", **extra}
                r = w.client.post(path, json=body, headers=headers(w, caller))
                if allowed(caller, target, state):
                    if r.status_code != 200:
                        leaks.append(("refused", caller, target, state, r.status_code))
                elif not is_refusal(r):
                    leaks.append(("LEAK", caller, target, state, r.status_code))
    assert cases == len(CALLERS) * len(TARGETS) * len(STATES)
    assert leaks == []


def test_authorization_reads_are_inquiries_only_when_a_reader_reads(matrix_world: World) -> None:
    w = matrix_world
    seen = {role: len(w.get("/v1/me/inquiries", role, limit=500).json()["items"])
            for role in ("me", "other")}
    w.post("/v1/scores", "reader", {"subject": PERSON_2, "purpose": "p-valid"})
    w.post("/v1/scores", "reader", {"subject": PERSON_2, "purpose": "p-revoked"})
    w.post("/v1/scores", "me", {"subject": PERSON})
    assert len(w.get("/v1/me/inquiries", "other", limit=500).json()["items"]) == seen["other"] + 1
    assert len(w.get("/v1/me/inquiries", "me", limit=500).json()["items"]) == seen["me"]


@pytest.mark.parametrize("path", OWN)
def test_authorization_own_file_only_for_its_subject(matrix_world: World, path: str) -> None:
    w = matrix_world
    own_id = w.ledger.subject_id(PERSON)
    other_id = w.ledger.subject_id(PERSON_2)
    for caller in CALLERS:
        r = w.client.get(path, headers=headers(w, caller))
        if caller == "me":
            assert r.status_code == 200, r.text
            text = r.text
            assert f'"subject_id":"{other_id}"' not in text.replace(" ", "")
            if path == "/v1/me/report":
                assert r.json()["subject_id"] == own_id
        else:
            assert is_refusal(r), (caller, path, r.status_code)


@pytest.mark.parametrize("path", sorted(ROLE))
def test_authorization_role_endpoints(matrix_world: World, path: str) -> None:
    w = matrix_world
    for caller in CALLERS:
        r = w.client.get(path, headers=headers(w, caller))
        if caller == ROLE[path]:
            assert r.status_code == 200, r.text
        else:
            assert is_refusal(r), (caller, path, r.status_code)


def test_authorization_writes_by_scope(matrix_world: World) -> None:
    w = matrix_world
    writes = {
        "/v1/events": ("bank", {"events": [w.event(kind="bill_payment", key="auth-write")]}),
        "/v1/admin/clients": ("admin", {"name": "auth-new", "scopes": ["reader"]}),
        "/v1/me/statements": ("me", {"subject": PERSON}),
    }
    for path, (who, body) in writes.items():
        for caller in CALLERS:
            if caller == who:
                continue
            batches = w.rows("ledger_batches")
            r = w.client.post(path, json=body, headers=headers(w, caller))
            assert is_refusal(r), (caller, path, r.status_code)
            assert w.rows("ledger_batches") == batches
    r = w.post("/v1/me/statements", "other", {"subject": PERSON})
    assert r.status_code == 403


def test_authorization_revocation_is_immediate(matrix_world: World) -> None:
    w = matrix_world
    grant(w, "other", "p-now", NOW + timedelta(days=30))
    body = {"subject": PERSON_2, "purpose": "p-now"}
    assert w.post("/v1/scores", "reader", body).status_code == 200
    assert w.post("/v1/me/consents/revoke", "other",
                  {"client": "reader", "purpose": "p-now"}).status_code == 200
    assert w.post("/v1/scores", "reader", body).status_code == 403
    assert w.post("/v1/decisions", "reader", {**body, "measure": "donor_badge"}).status_code == 403


def test_authorization_unknown_subject_is_refused_like_a_known_one(matrix_world: World) -> None:
    w = matrix_world
    known = w.post("/v1/scores", "reader", {"subject": PERSON_2, "purpose": "p-none"})
    unknown = w.post("/v1/scores", "reader", {"subject": person(999),
                                               "purpose": "p-none"})
    assert known.status_code == unknown.status_code == 403
    assert known.json() == unknown.json()
