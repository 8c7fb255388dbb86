"""``POST /v1/events``: real-time ingest with per-event idempotency, then rescoring (``ingest``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from glasscredit.api.auth import scoped, scoped_in_group, service
from glasscredit.api.errors import ERROR_RESPONSES, ApiError
from glasscredit.api.ingest import IngestJob
from glasscredit.api.models import EventsIn, EventsOut, Page
from glasscredit.api.service import Service
from glasscredit.rights.clients import Client
from glasscredit.rights.records import page

router = APIRouter(prefix="/v1", tags=["sources"], responses=ERROR_RESPONSES)


@router.post("/events", response_model=EventsOut, summary="Ingest a batch of events")
async def post_events(body: EventsIn,
                      client: Annotated[Client, Depends(scoped_in_group("source"))],
                      svc: Annotated[Service, Depends(service)]) -> EventsOut:
    """Validate the whole batch, refuse it whole on any problem, else store and rescore
    (concurrent requests are stored in one append and rescored in one engine run)."""
    if len(body.events) > svc.limits.max_batch:
        raise ApiError(413, f"at most {svc.limits.max_batch} events per request")
    return await svc.ingest.submit(IngestJob(client, body))


@router.get("/outbox", response_model=Page, summary="Messages for this source (disputes)")
def outbox(client: Annotated[Client, Depends(scoped("source"))],
           svc: Annotated[Service, Depends(service)],
           cursor: Annotated[str | None, Query(max_length=200)] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page:
    with svc.lock:
        items, nxt = page(svc.ledger, "SELECT message_id, topic, body, created_at FROM "
                                      "ledger_outbox WHERE source_id = ? ORDER BY batch_id",
                          [client.name], cursor, limit)
    return Page(items=[{**i, "body": json.loads(i["body"])} for i in items], next_cursor=nxt)
