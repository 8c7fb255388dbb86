"""Reviewers resolve disputes; admins add and revoke clients and force the deadline sweep."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from glasscredit.api.auth import scoped, service
from glasscredit.api.errors import ERROR_RESPONSES, ApiError
from glasscredit.api.models import ClientIn, ClientOut, ClientRevokeIn, Page, ResolutionIn, utc
from glasscredit.api.service import Service
from glasscredit.rights import disputes
from glasscredit.rights.clients import Client, add_client, revoke_client
from glasscredit.rights.records import decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)


@router.get("/disputes", response_model=Page, summary="Open disputes, oldest first")
def open_disputes(_: Annotated[Client, Depends(scoped("reviewer"))],
                  svc: Annotated[Service, Depends(service)],
                  cursor: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page:
    svc.sweep()
    with svc.lock:
        found = disputes.open_disputes(svc.ledger)
    start = decode_cursor(cursor)
    more = len(found) > start + limit
    return Page(items=[d.view() for d in found[start:start + limit]],
                next_cursor=encode_cursor(start + limit) if more else None)


@router.post("/disputes/{dispute_id}/resolution", summary="Uphold (void the event) or reject")
def resolve(body: ResolutionIn, dispute_id: Annotated[str, Path(max_length=64)],
            client: Annotated[Client, Depends(scoped("reviewer"))],
            svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    svc.sweep()
    with svc.lock:
        found = disputes.get(svc.ledger, dispute_id)
        if found is None:
            raise ApiError(404, "no such dispute")
        done = disputes.resolve(svc.ledger, found, body.outcome, body.note, client.name)
        if body.outcome == "upheld":
            svc.rescore([done.subject_id])
    return utc(done.view())


@router.post("/admin/disputes/sweep", summary="Close disputes past their deadline now")
def sweep(_: Annotated[Client, Depends(scoped("admin", "reviewer"))],
          svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    closed = svc.sweep(force=True)
    return {"closed": [d.dispute_id for d in closed]}


@router.post("/admin/clients", status_code=201, response_model=ClientOut,
             summary="Add a client; its key is shown once")
def new_client(body: ClientIn, _: Annotated[Client, Depends(scoped("admin"))],
               svc: Annotated[Service, Depends(service)]) -> ClientOut:
    with svc.lock:
        key = add_client(svc.ledger, body.name, list(body.scopes), body.subject)
    svc.forget_clients()
    return ClientOut(name=body.name, key=key)


@router.post("/admin/clients/revoke", summary="Revoke a client's key, effective at once")
def revoke_client_key(body: ClientRevokeIn, _: Annotated[Client, Depends(scoped("admin"))],
                      svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    with svc.lock:
        if not revoke_client(svc.ledger, body.name):
            raise ApiError(404, f"no active client named {body.name!r}")
    svc.forget_clients()
    return utc({"name": body.name, "revoked_at": svc.clock()})
