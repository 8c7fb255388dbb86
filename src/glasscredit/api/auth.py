"""Who is calling: ``Authorization: Bearer gck_<id>_<secret>``, scopes, and the rate limit.

The key is checked against the cached hash on the event loop; whether the client is still
active is read from the ledger for every request — by ``scoped`` here, or, for consent-gated
reads, inside their group (``gated``) — so a revoked key gets 401 at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from glasscredit.api.errors import ApiError
from glasscredit.api.limits import retry_after
from glasscredit.api.service import Service
from glasscredit.rights.clients import Client, key_matches, split_key

bearer = HTTPBearer(auto_error=False, description="An API key from `glasscredit client add`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _limit(svc: Service, key: str) -> None:
    wait = svc.rate.take(key)
    if wait > 0:
        raise ApiError(429, "too many requests; slow down", headers=retry_after(wait))


async def public_limit(request: Request, svc: Annotated[Service, Depends(service)]) -> None:
    """Rate-limit unauthenticated callers by address."""
    _limit(svc, f"ip:{request.client.host if request.client else '?'}")


async def caller(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                 svc: Annotated[Service, Depends(service)]) -> Client:
    """The client the key names, its secret checked; 401 for a missing, malformed or unknown
    key. Whether it is still active is checked after (``scoped``, or in the read's group)."""
    if creds is None:
        raise ApiError(401, "an API key is required (Authorization: Bearer …)", headers=_CHALLENGE)
    parts = split_key(creds.credentials)
    if parts and svc.clients_stale():
        await run_in_threadpool(svc.refresh_clients)
    client = svc.client(parts[0]) if parts else None
    if client is None or parts is None or not key_matches(client, parts[1]):
        raise ApiError(401, "unknown or revoked API key", headers=_CHALLENGE)
    _limit(svc, f"client:{client.client_id}")
    return client


def scoped(*scopes: str) -> Callable[..., Client]:
    """A dependency admitting clients holding any of ``scopes``; 403 for the others."""

    def check(client: Annotated[Client, Depends(caller)],
              svc: Annotated[Service, Depends(service)]) -> Client:
        if client.client_id not in svc.active_clients({client.client_id}):
            raise ApiError(401, "unknown or revoked API key", headers=_CHALLENGE)
        if not client.scopes & set(scopes):
            raise ApiError(403, f"this needs the {' or '.join(scopes)} scope")
        return client

    return check


def scoped_in_group(*scopes: str) -> Callable[..., Any]:
    """Like ``scoped`` for requests served in groups: the scope is checked here, whether the
    client is still active inside the group (under the lock the group holds anyway), so
    requests queue up while a group runs instead of waiting for the lock one by one."""

    async def check(client: Annotated[Client, Depends(caller)]) -> Client:
        if not client.scopes & set(scopes):
            raise ApiError(403, f"this needs the {' or '.join(scopes)} scope")
        return client

    return check


def own_subject(client: Annotated[Client, Depends(scoped("subject"))]) -> tuple[Client, str]:
    """A subject client and its internal subject id."""
    if client.subject_id is None:
        raise ApiError(403, "this client acts for no subject")
    return client, client.subject_id
