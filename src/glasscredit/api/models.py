"""Request and response bodies (pydantic v2); the OpenAPI description is generated from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer

from glasscredit.api.limits import Limits

Text = Field(min_length=1, max_length=200)


def utc(value: Any) -> Any:
    """Stored times are naive UTC; on the wire they carry their zone (RFC 3339 date-time)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {k: utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utc(v) for v in value]
    return value


Timestamp = Annotated[datetime, AfterValidator(utc)]
Outcome = Literal["allow", "deny", "applies", "does_not_apply"]
AttrValue = str | float | int | bool | None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_In):
    source_event_id: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    occurred_at: str = Field(min_length=1, max_length=64, description="ISO 8601")
    value: float | None = None
    attrs: dict[str, AttrValue] | None = None
    subject_kind: Literal["person", "organisation"] | None = None


class EventsIn(_In):
    events: list[EventIn] = Field(min_length=1, max_length=Limits().max_batch)


class EventResult(BaseModel):
    index: int
    source_event_id: str
    event_id: str
    recorded_at: Timestamp


class EventsOut(BaseModel):
    results: list[EventResult]
    stored: int
    replayed: list[int]
    rescored: int


class ScoreQuery(_In):
    subject: str = Field(min_length=1, max_length=64)
    purpose: str | None = Field(default=None, max_length=64)


class Reason(BaseModel):
    rank: int
    rule_id: str
    category: str
    points_lost: float
    reason: str


class ScoreOut(BaseModel):
    score: float
    band: str | None
    range: dict[str, float]
    scored_at: Timestamp
    policy_version: str
    reasons: list[Reason]


class DecisionQuery(_In):
    subject: str = Field(min_length=1, max_length=64)
    measure: str = Field(min_length=1, max_length=64)
    purpose: str | None = Field(default=None, max_length=64)


class DecisionOut(BaseModel):
    decision_id: str
    measure: str
    type: str
    context: str
    outcome: Outcome
    reasons: list[Reason]
    policy_version: str
    score: float
    band: str | None
    decided_at: Timestamp


class ConsentIn(_In):
    client: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=1, max_length=64)
    valid_until: datetime


class RevokeIn(_In):
    client: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=1, max_length=64)


class DisputeIn(_In):
    event_id: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=2000)


class TextIn(_In):
    text: str = Field(min_length=1, max_length=5000)


class ResolutionIn(_In):
    outcome: Literal["upheld", "rejected"]
    note: str = Field(default="", max_length=2000)


class StatementIn(_In):
    subject: str = Field(min_length=1, max_length=64, description="your own external id")
    include_score: bool = False
    valid_days: int = Field(default=30, ge=1, le=90)


class ClientIn(_In):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[Literal["source", "reader", "subject", "reviewer", "admin"]] = Field(
        min_length=1, max_length=5)
    subject: str | None = Field(default=None, max_length=64)


class ClientRevokeIn(_In):
    name: str = Field(min_length=1, max_length=64)


class ClientOut(BaseModel):
    name: str
    key: str = Field(description="shown once; only its hash is kept")


class ListCheckIn(_In):
    subject: str = Field(min_length=1, max_length=64)


class Page(BaseModel):
    """One page of a growing list; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[dict[str, Any]]
    next_cursor: str | None

    @field_serializer("items")
    def _zoned(self, items: list[dict[str, Any]]) -> Any:
        return utc(items)


class Health(BaseModel):
    status: Literal["ok"]
    policy_version: str
