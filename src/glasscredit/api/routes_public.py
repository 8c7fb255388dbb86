"""Without a key: health, the policy in words, public lists, the statement key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from glasscredit.api.auth import public_limit, service
from glasscredit.api.errors import ERROR_RESPONSES, ApiError
from glasscredit.api.models import Health, ListCheckIn, Page, utc
from glasscredit.api.service import Service
from glasscredit.policy.model import ListSpec
from glasscredit.rights.records import page, query
from glasscredit.rights.report import policy_in_words
from glasscredit.rights.statements import published_key

router = APIRouter(prefix="/v1", tags=["public"], responses=ERROR_RESPONSES)
MEMBERS_SQL = (
    "SELECT CAST(subject_id AS VARCHAR) AS subject_id, since FROM (SELECT *, row_number() OVER "
    "(PARTITION BY subject_id ORDER BY batch_id DESC) AS rn FROM ledger_list_members WHERE "
    "policy_hash = ? AND list = ?) m WHERE rn = 1 AND listed")


@router.get("/health", response_model=Health, summary="Liveness (no auth, no ledger access)")
def health(svc: Annotated[Service, Depends(service)]) -> Health:
    return Health(status="ok", policy_version=svc.cp.version_id)


@router.get("/public/policy", summary="The policy's logic in words",
            dependencies=[Depends(public_limit)])
def policy(svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    return policy_in_words(svc.cp)


@router.get("/public/statement-key", summary="The key that signs score statements",
            dependencies=[Depends(public_limit)])
def statement_key(svc: Annotated[Service, Depends(service)]) -> dict[str, str]:
    return published_key(svc.signing_key.public_key())


def _public(svc: Service, name: str) -> ListSpec:
    found = next((x for x in svc.cp.policy.lists if x.name == name and x.public), None)
    if found is None:
        raise ApiError(404, f"no public list {name!r}")
    return found


@router.get("/public/lists", summary="Lists the policy marks public",
            dependencies=[Depends(public_limit)])
def lists(svc: Annotated[Service, Depends(service)]) -> list[dict[str, Any]]:
    return [{"name": x.name, "type": x.type, "context": x.context, "description": x.description,
             "max_duration_seconds": x.max_duration} for x in svc.cp.policy.lists if x.public]


@router.get("/public/lists/{name}", response_model=Page, summary="Members of a public list",
            dependencies=[Depends(public_limit)])
def members(name: Annotated[str, Path(max_length=64)],
            svc: Annotated[Service, Depends(service)],
            cursor: Annotated[str | None, Query(max_length=200)] = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page:
    spec = _public(svc, name)
    with svc.lock:
        items, nxt = page(svc.ledger, f"{MEMBERS_SQL} ORDER BY subject_id",
                          [svc.cp.content_hash, spec.name], cursor, limit)
    return Page(items=items, next_cursor=nxt)


@router.post("/public/lists/{name}/check", summary="Is this subject on a public list?",
             dependencies=[Depends(public_limit)])
def check(body: ListCheckIn, name: Annotated[str, Path(max_length=64)],
          svc: Annotated[Service, Depends(service)]) -> dict[str, Any]:
    spec = _public(svc, name)
    with svc.lock:
        sid = svc.ledger.subject_id(body.subject)
        found = [] if sid is None else query(
            svc.ledger, f"{MEMBERS_SQL} AND subject_id = ?", svc.cp.content_hash, spec.name,
            int(sid))
    return utc({"list": spec.name, "listed": bool(found),
                "since": found[0]["since"] if found else None})
