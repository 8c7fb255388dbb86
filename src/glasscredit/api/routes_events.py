"""``POST /v1/events``: real-time ingest with per-event idempotency, then rescoring."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Query

from glasscredit.api.auth import scoped, service
from glasscredit.api.errors import ERROR_RESPONSES, ApiError, ErrorDetail
from glasscredit.api.models import EventResult, EventsIn, EventsOut, Page
from glasscredit.api.service import Service
from glasscredit.ledger.batch import Batch
from glasscredit.ledger.validate import EventValidator
from glasscredit.rights.clients import Client
from glasscredit.rights.records import page, query

router = APIRouter(prefix="/v1", tags=["sources"], responses=ERROR_RESPONSES)


def _table(body: EventsIn) -> pa.Table:
    """The ingest shape (text columns, attrs as JSON) the file path validates too."""
    ev = body.events

    def col(values: list[Any]) -> pa.Array:
        return pa.array([None if v is None else str(v) for v in values], pa.string())

    cols = {"source_event_id": col([e.source_event_id for e in ev]),
            "subject": col([e.subject for e in ev]), "kind": col([e.kind for e in ev]),
            "occurred_at": col([e.occurred_at for e in ev]),
            "value": col([None if e.value is None else repr(e.value) for e in ev]),
            "attrs": col([None if e.attrs is None else json.dumps(e.attrs) for e in ev])}
    if any(e.subject_kind for e in ev):
        cols["subject_kind"] = col([e.subject_kind for e in ev])
    return pa.table(cols)


def _conflicts(svc: Service, source: str, rows: pa.Table) -> tuple[list[ErrorDetail], set[int]]:
    """Keys used before (or earlier in the batch) with another payload; and plain replays."""
    keys = rows["source_event_id"].to_pylist()
    digests = rows["digest"].to_pylist()
    marks = ", ".join("?" for _ in keys)
    stored = {r["source_event_id"]: r["digest"] for r in query(
        svc.ledger, "SELECT source_event_id, digest FROM ledger_events WHERE source_id = ? "
                    f"AND source_event_id IN ({marks})", source, *keys)}
    seen: dict[str, str] = {}
    problems, replays = [], set()
    for i, (key, digest) in enumerate(zip(keys, digests, strict=True)):
        first = stored.get(key, seen.get(key))
        if first is not None and first != digest:
            problems.append(ErrorDetail(index=i, field="source_event_id", message=(
                f"source_event_id {key!r} was already used with a different payload")))
        elif key in stored:
            replays.add(i)
        seen.setdefault(key, digest)
    return problems, replays


@router.post("/events", response_model=EventsOut, summary="Ingest a batch of events")
def post_events(body: EventsIn, client: Annotated[Client, Depends(scoped("source"))],
                svc: Annotated[Service, Depends(service)]) -> EventsOut:
    """Validate the whole batch, refuse it whole on any problem, else store and rescore."""
    if len(body.events) > svc.limits.max_batch:
        raise ApiError(413, f"at most {svc.limits.max_batch} events per request")
    chunk = _table(body)
    chunk = chunk.append_column("row_no", pa.array(range(1, chunk.num_rows + 1), pa.int64()))
    with svc.lock:
        validator = EventValidator(svc.catalogue, svc.ledger.pseudonyms, svc.clock())
        try:
            rows, problems = validator.check(chunk, client.name)
        finally:
            validator.close()
        if problems:
            raise ApiError(422, f"{len(problems)} event(s) rejected; nothing was stored", [
                ErrorDetail(index=p.row - 1, field=p.field, message=p.reason) for p in problems])
        rows = rows.sort_by("row_no")
        clashes, replays = _conflicts(svc, client.name, rows)
        if clashes:
            raise ApiError(409, f"{len(clashes)} idempotency key(s) reused with another "
                                "payload; nothing was stored", clashes)
        result = svc.ledger.append(Batch(events=rows), strict=True)
        keys = rows["source_event_id"].to_pylist()
        marks = ", ".join("?" for _ in keys)
        found = {r["source_event_id"]: r for r in query(
            svc.ledger, "SELECT source_event_id, CAST(event_id AS VARCHAR) AS event_id, "
                        "recorded_at, CAST(subject_id AS VARCHAR) AS subject_id, batch_id FROM "
                        f"ledger_events WHERE source_id = ? AND source_event_id IN ({marks})",
            client.name, *keys)}
        touched = sorted({r["subject_id"] for r in found.values()
                          if r["batch_id"] == result.batch_id})
        if touched:
            svc.rescore(touched)
    return EventsOut(
        results=[EventResult(index=i, source_event_id=k, event_id=found[k]["event_id"],
                             recorded_at=found[k]["recorded_at"]) for i, k in enumerate(keys)],
        stored=result.stored, replayed=sorted(replays), rescored=len(touched))


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
