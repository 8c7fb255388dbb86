"""Consent-gated reads: ``POST /v1/scores`` and ``POST /v1/decisions``.

A reader is served only under the subject's valid consent for it and the stated purpose, and
the read is recorded as an inquiry in the same batch as what was read; a subject client reads
its own file freely. Anything else is 403, whether or not the subject exists. Requests are
served in groups (``gated``): each is answered once its group's append has committed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from glasscredit.api.auth import caller, service
from glasscredit.api.errors import ERROR_RESPONSES
from glasscredit.api.gated import Gated
from glasscredit.api.models import DecisionOut, DecisionQuery, Reason, ScoreOut, ScoreQuery
from glasscredit.api.service import Service
from glasscredit.rights.clients import Client

router = APIRouter(prefix="/v1", tags=["reads"], responses=ERROR_RESPONSES)


def score_view(svc: Service, state: dict[str, Any]) -> ScoreOut:
    scale = svc.cp.policy.scale
    return ScoreOut(score=state["score"], band=state["band"],
                    range={"min": scale.min, "max": scale.max}, scored_at=state["scored_at"],
                    policy_version=svc.cp.version_id,
                    reasons=[Reason(**r) for r in state["reasons"]])


@router.post("/scores", response_model=ScoreOut, summary="Read a subject's score (consent-gated)")
async def read_score(body: ScoreQuery, client: Annotated[Client, Depends(caller)],
                     svc: Annotated[Service, Depends(service)]) -> ScoreOut:
    served = await svc.gated.submit(Gated(client, body.subject, body.purpose))
    return score_view(svc, served.state)


@router.post("/decisions", response_model=DecisionOut,
             summary="May this subject have this measure now? (consent-gated, recorded)")
async def post_decision(body: DecisionQuery, client: Annotated[Client, Depends(caller)],
                        svc: Annotated[Service, Depends(service)]) -> DecisionOut:
    served = await svc.gated.submit(Gated(client, body.subject, body.purpose, body.measure))
    assert served.decision is not None
    return served.decision
