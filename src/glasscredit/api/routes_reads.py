"""Consent-gated reads: ``POST /v1/scores`` and ``POST /v1/decisions``.

A reader is served only under the subject's valid consent for it and the stated purpose, and
the read is recorded as an inquiry in the same batch as what was read; a subject client reads
its own file freely. Anything else is 403, whether or not the subject exists.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends

from glasscredit.api.auth import scoped, service
from glasscredit.api.errors import ERROR_RESPONSES, ApiError
from glasscredit.api.models import DecisionOut, DecisionQuery, Outcome, Reason, ScoreOut, ScoreQuery
from glasscredit.api.service import Service
from glasscredit.rights import consent
from glasscredit.rights.clients import Client
from glasscredit.rights.records import dumps, new_id, rows

router = APIRouter(prefix="/v1", tags=["reads"], responses=ERROR_RESPONSES)
DENIED = "no valid consent from this subject for this client and purpose"


def authorise(svc: Service, client: Client, subject: str,
              purpose: str | None) -> tuple[str, dict[str, Any]]:
    """(internal subject id, rows recording the read) or 403."""
    sid = svc.subject_id(subject)
    if "subject" in client.scopes and sid is not None and sid == client.subject_id:
        return sid, {}
    if "reader" not in client.scopes:
        raise ApiError(403, "a subject client reads only its own file")
    if not purpose:
        raise ApiError(403, "a reader must state a purpose")
    consent.check_purpose(purpose)
    with svc.lock:
        if sid is None or consent.current(svc.ledger, sid, client.name, purpose) is None:
            raise ApiError(403, DENIED)
    return sid, consent.inquiry_rows(sid, client.name, purpose, svc.clock())


def score_view(svc: Service, state: dict[str, Any]) -> ScoreOut:
    scale = svc.cp.policy.scale
    return ScoreOut(score=state["score"], band=state["band"],
                    range={"min": scale.min, "max": scale.max}, scored_at=state["scored_at"],
                    policy_version=svc.cp.version_id,
                    reasons=[Reason(**r) for r in state["reasons"]])


@router.post("/scores", response_model=ScoreOut, summary="Read a subject's score (consent-gated)")
def read_score(body: ScoreQuery,
               client: Annotated[Client, Depends(scoped("reader", "subject"))],
               svc: Annotated[Service, Depends(service)]) -> ScoreOut:
    sid, record = authorise(svc, client, body.subject, body.purpose)
    with svc.lock:
        state = svc.standing(sid)
        if record:
            svc.ledger.append_rows(record)
    return score_view(svc, state)


@router.post("/decisions", response_model=DecisionOut,
             summary="May this subject have this measure now? (consent-gated, recorded)")
def post_decision(body: DecisionQuery,
                  client: Annotated[Client, Depends(scoped("reader", "subject"))],
                  svc: Annotated[Service, Depends(service)]) -> DecisionOut:
    spec = next((m for m in svc.cp.policy.measures if m.name == body.measure), None)
    if spec is None:
        raise ApiError(422, f"no measure {body.measure!r} in {svc.cp.version_id}")
    sid, record = authorise(svc, client, body.subject, body.purpose)
    with svc.lock:
        state = svc.standing(sid)
        active = bool(state["measures"].get(spec.name, {}).get("active", False))
        outcome: Outcome
        if spec.type == "privilege":
            outcome = "allow" if active else "deny"
        else:
            outcome = "applies" if active else "does_not_apply"
        reasons = state["reasons"] if spec.reasons else []
        now = svc.clock()
        out = DecisionOut(decision_id=new_id("dec"), measure=spec.name, type=spec.type,
                          context=spec.context, outcome=outcome,
                          reasons=[Reason(**r) for r in reasons],
                          policy_version=svc.cp.version_id, score=state["score"],
                          band=state["band"], decided_at=now)
        record["ledger_decisions"] = rows(
            decision_id=[out.decision_id], subject_id=[int(sid)], client=[client.name],
            measure=[spec.name], outcome=[outcome], score=[float(state["score"])],
            band=pa.array([state["band"]], pa.string()), reasons=[dumps(reasons)],
            policy_version=[out.policy_version], decided_at=[now])
        svc.ledger.append_rows(record)
    return out
