"""``create_app(ledger, policy)``: the FastAPI application (OpenAPI 3.1) over one ledger.

Run it with one worker per DuckDB ledger (``glasscredit serve``): ledger and engine calls are
serialised behind ``Service.lock`` because neither DuckDB connections nor SQLFrame sessions are
thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from glasscredit.api import errors
from glasscredit.api.limits import BodyLimit, Limits
from glasscredit.api.routes_events import router as events_router
from glasscredit.api.routes_me import router as me_router
from glasscredit.api.routes_public import router as public_router
from glasscredit.api.routes_reads import router as reads_router
from glasscredit.api.routes_review import router as review_router
from glasscredit.api.service import Service
from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import CompiledPolicy, load_policy


def create_app(ledger: Ledger, policy: CompiledPolicy | str | Path, *,
               clock: Callable[[], datetime] | None = None,
               signing_key: Ed25519PrivateKey | None = None,
               limits: Limits | None = None, warm: bool = False,
               cache_inputs: bool = True) -> FastAPI:
    """The service over ``ledger`` scoring with ``policy`` (a live one on a real ledger).

    ``warm`` builds the engine's plan before the first request and, with ``cache_inputs``
    (an embedded DuckDB ledger only), keeps the ledger's engine inputs in memory for rescores.

    ``clock`` replaces the ledger's clock too, so every recorded time comes from one source.
    Without ``signing_key`` statements are signed with a key made for this process only.
    """
    cp = policy if isinstance(policy, CompiledPolicy) else load_policy(policy)
    if clock is not None:
        ledger.clock = clock
    svc = Service(ledger, cp, ledger.clock, signing_key or Ed25519PrivateKey.generate(),
                  limits or Limits())
    if warm:
        svc.warm(cache=cache_inputs)
    app = FastAPI(title="GlassCredit", version="1",
                  summary="Consent-gated scores, decisions, disputes and the subject's rights.")
    app.state.service = svc
    errors.install(app)
    for router in (public_router, events_router, reads_router, me_router, review_router):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=svc.limits.max_body_bytes)
    return app
