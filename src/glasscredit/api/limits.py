"""Limits: request size (an ASGI middleware) and per-client rate (a token bucket per client).

Buckets live in this process: with several replicas each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glasscredit.api.errors import error_response


@dataclass(frozen=True)
class Limits:
    """Service limits; the defaults suit one city's programme on one machine."""

    max_body_bytes: int = 2 * 1024 * 1024
    max_batch: int = 1000
    rate_per_second: float = 50.0
    burst: int = 100
    page_default: int = 100


class RateLimiter:
    """A token bucket per key; ``take`` returns 0 or the seconds to wait."""

    def __init__(self, rate: float, burst: int, now: Any = time.monotonic) -> None:
        self.rate, self.burst, self.now = rate, burst, now
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        with self.lock:
            t = self.now()
            tokens, last = self.buckets.get(key, (float(self.burst), t))
            tokens = min(float(self.burst), tokens + (t - last) * self.rate)
            if tokens >= 1.0:
                self.buckets[key] = (tokens - 1.0, t)
                return 0.0
            self.buckets[key] = (tokens, t)
            return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class BodyLimit:
    """Refuse a request body over ``max_bytes`` (413) before any handler reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"request body over {self.max_bytes} bytes")
        await response(scope, receive, send)
