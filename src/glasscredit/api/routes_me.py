"""The subject's own file: score, access report, consents, inquiries, disputes, statements."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from glasscredit.api.auth import own_subject, service
from glasscredit.api.errors import ERROR_RESPONSES, ApiError
from glasscredit.api.models import (
    ConsentIn,
    DisputeIn,
    Page,
    RevokeIn,
    ScoreOut,
    StatementIn,
    TextIn,
    utc,
)
from glasscredit.api.routes_reads import score_view
from glasscredit.api.service import Service
from glasscredit.rights import consent, disputes, statements
from glasscredit.rights.clients import Client
from glasscredit.rights.records import decode_cursor, dumps, encode_cursor, new_id, page, rows
from glasscredit.rights.report import (
    DECISIONS_SQL,
    EVENTS_SQL,
    NOTICES_SQL,
    access_report,
    decision_view,
    event_view,
)

router = APIRouter(prefix="/v1/me", tags=["subject"], responses=ERROR_RESPONSES)
Me = tuple[Client, str]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/score", response_model=ScoreOut, summary="Your own score, free")
def my_score(me: Annotated[Me, Depends(own_subject)],
             svc: Annotated[Service, Depends(service)]) -> ScoreOut:
    svc.sweep()
    return score_view(svc, svc.standing(me[1]))


@router.get("/report", summary="Your whole file (access report)")
def report(me: Annotated[Me, Depends(own_subject)],
           svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    svc.sweep()
    with svc.lock:
        svc.standing(me[1])
        return utc(access_report(svc.ledger, svc.cp, me[1]))


def _paged(svc: Service, sql: str, params: list[Any], cursor: str | None, limit: int) -> Page:
    with svc.lock:
        items, nxt = page(svc.ledger, sql, params, cursor, limit)
    return Page(items=items, next_cursor=nxt)


@router.get("/events", response_model=Page, summary="Your events, newest first")
def my_events(me: Annotated[Me, Depends(own_subject)],
              svc: Annotated[Service, Depends(service)], cursor: Cursor = None,
              limit: Limit = 100) -> Page:
    out = _paged(svc, EVENTS_SQL, [int(me[1])], cursor, limit)
    return Page(items=[event_view(i) for i in out.items], next_cursor=out.next_cursor)


@router.get("/decisions", response_model=Page, summary="Decisions taken about you")
def my_decisions(me: Annotated[Me, Depends(own_subject)],
                 svc: Annotated[Service, Depends(service)], cursor: Cursor = None,
                 limit: Limit = 100) -> Page:
    out = _paged(svc, DECISIONS_SQL, [int(me[1]), svc.clock() - timedelta(days=36500)],
                 cursor, limit)
    return Page(items=[decision_view(i) for i in out.items], next_cursor=out.next_cursor)


@router.get("/notices", response_model=Page, summary="Adverse-action notices sent to you")
def my_notices(me: Annotated[Me, Depends(own_subject)],
               svc: Annotated[Service, Depends(service)], cursor: Cursor = None,
               limit: Limit = 100) -> Page:
    out = _paged(svc, NOTICES_SQL, [int(me[1])], cursor, limit)
    return Page(items=[json.loads(i["body"]) for i in out.items], next_cursor=out.next_cursor)


@router.get("/inquiries", response_model=Page, summary="Who read your score, when and why")
def my_inquiries(me: Annotated[Me, Depends(own_subject)],
                 svc: Annotated[Service, Depends(service)], cursor: Cursor = None,
                 limit: Limit = 100) -> Page:
    with svc.lock:
        items, nxt = consent.inquiries(svc.ledger, me[1], None, cursor, limit)
    return Page(items=items, next_cursor=nxt)


@router.get("/consents", response_model=Page, summary="Your consents")
def my_consents(me: Annotated[Me, Depends(own_subject)],
                svc: Annotated[Service, Depends(service)], cursor: Cursor = None,
                limit: Limit = 100) -> Page:
    with svc.lock:
        items, nxt = consent.consents(svc.ledger, me[1], cursor, limit)
    return Page(items=items, next_cursor=nxt)


@router.post("/consents", status_code=201, summary="Let a reader read your score for a purpose")
def grant(body: ConsentIn, me: Annotated[Me, Depends(own_subject)],
          svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    until = body.valid_until.replace(tzinfo=None) - (body.valid_until.utcoffset()
                                                     or timedelta(0))
    with svc.lock:
        consent.grant(svc.ledger, me[1], body.client, body.purpose, until)
    return utc({"client": body.client, "purpose": body.purpose, "valid_until": until})


@router.post("/consents/revoke", summary="Revoke a consent, effective at once")
def revoke(body: RevokeIn, me: Annotated[Me, Depends(own_subject)],
           svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    with svc.lock:
        if not consent.revoke(svc.ledger, me[1], body.client, body.purpose):
            raise ApiError(404, "no valid consent for that client and purpose")
    return utc({"client": body.client, "purpose": body.purpose,
                "revoked_at": svc.clock()})


def _own_dispute(svc: Service, me: Me, dispute_id: str) -> disputes.Dispute:
    with svc.lock:
        found = disputes.get(svc.ledger, dispute_id)
    if found is None or found.subject_id != me[1]:
        raise ApiError(404, "no such dispute of yours")
    return found


@router.get("/disputes", response_model=Page, summary="Your disputes")
def my_disputes(me: Annotated[Me, Depends(own_subject)],
                svc: Annotated[Service, Depends(service)], cursor: Cursor = None,
                limit: Limit = 100) -> Page:
    svc.sweep()
    with svc.lock:
        found = disputes.of_subject(svc.ledger, me[1])
    start = decode_cursor(cursor)
    more = len(found) > start + limit
    return Page(items=[d.view() for d in found[start:start + limit]],
                next_cursor=encode_cursor(start + limit) if more else None)


@router.post("/disputes", status_code=201, summary="Dispute one of your events")
def open_dispute(body: DisputeIn, me: Annotated[Me, Depends(own_subject)],
                 svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    with svc.lock:
        return utc(disputes.open_dispute(svc.ledger, me[1], body.event_id,
                                        body.reason).view())


@router.post("/disputes/{dispute_id}/evidence", summary="Bring new evidence (+15 days)")
def evidence(dispute_id: str, body: TextIn, me: Annotated[Me, Depends(own_subject)],
             svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    svc.sweep()
    found = _own_dispute(svc, me, dispute_id)
    with svc.lock:
        return utc(disputes.add(svc.ledger, found, "evidence", body.text).view())


@router.post("/disputes/{dispute_id}/statement", summary="Attach your statement to a dispute")
def statement(dispute_id: str, body: TextIn, me: Annotated[Me, Depends(own_subject)],
              svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    found = _own_dispute(svc, me, dispute_id)
    with svc.lock:
        return utc(disputes.add(svc.ledger, found, "statement", body.text).view())


@router.post("/statements", status_code=201, summary="A signed statement of your band (or score)")
def sign_statement(body: StatementIn, me: Annotated[Me, Depends(own_subject)],
                   svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    if svc.subject_id(body.subject) != me[1]:
        raise ApiError(403, "a statement can only be asked for by its own subject")
    state = svc.standing(me[1])
    now = svc.clock()
    claims: dict[str, Any] = {
        "statement_id": new_id("stm"), "issuer": "GlassCredit",
        "policy_version": svc.cp.version_id, "band": state["band"],
        "scale": {"min": svc.cp.policy.scale.min, "max": svc.cp.policy.scale.max},
        "scored_at": state["scored_at"], "issued_at": now,
        "expires_at": now + timedelta(days=body.valid_days)}
    if body.include_score:
        claims["score"] = state["score"]
    doc = statements.sign(svc.signing_key, claims, body.subject)
    with svc.lock:
        svc.ledger.append_rows({"ledger_statements": rows(
            statement_id=[claims["statement_id"]], subject_id=[int(me[1])], issued_at=[now],
            expires_at=[claims["expires_at"]], body=[dumps(doc)])})
    return doc
