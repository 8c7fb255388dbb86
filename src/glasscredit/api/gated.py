"""Consent-gated reads and decisions, served a group at a time (see ``grouping``).

One group is: which of its clients are still active, the subjects' internal ids (cached: a
pseudonym's id never changes), the consents of the group's subjects as they are NOW (never
cached, so a revocation written before the group is always seen), the kept states (subjects
whose state is missing or stale are rescored together, in one engine run), and ONE ledger
append holding every inquiry and decision of the group. Each request is answered only after
that append committed; a read refused for any reason records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from glasscredit.api.errors import ApiError
from glasscredit.api.models import DecisionOut, Outcome, Reason
from glasscredit.errors import InputError
from glasscredit.policy.model import Measure
from glasscredit.rights import consent
from glasscredit.rights.clients import Client
from glasscredit.rights.records import dumps, new_id, rows
from glasscredit.rights.state import latest_states

if TYPE_CHECKING:
    from glasscredit.api.service import Service

DENIED: Final = "no valid consent from this subject for this client and purpose"
CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Gated:
    """One read (``measure`` None) or decision asked for by ``client``."""

    client: Client
    subject: str
    purpose: str | None
    measure: str | None = None


@dataclass
class Served:
    """What a read or decision may show: the kept state, and the decision when one was asked."""

    state: dict[str, Any]
    decision: DecisionOut | None = None
    records: dict[str, list[Any]] = field(default_factory=dict)


def _authorise(svc: Service, item: Gated, active: set[str],
               sids: dict[str, str]) -> tuple[str, bool]:
    """(internal subject id, whether a consent must cover it) or the refusal, in the order
    the other endpoints check: key, scope, the body, then the subject and its consent."""
    client = item.client
    if client.client_id not in active:
        raise ApiError(401, "unknown or revoked API key", headers=CHALLENGE)
    if not client.scopes & {"reader", "subject"}:
        raise ApiError(403, "this needs the reader or subject scope")
    if item.measure is not None and _measure(svc, item.measure) is None:
        raise ApiError(422, f"no measure {item.measure!r} in {svc.cp.version_id}")
    sid = sids.get(item.subject)
    if "subject" in client.scopes and sid is not None and sid == client.subject_id:
        return sid, False
    if "reader" not in client.scopes:
        raise ApiError(403, "a subject client reads only its own file")
    if not item.purpose:
        raise ApiError(403, "a reader must state a purpose")
    consent.check_purpose(item.purpose)
    if sid is None:
        raise ApiError(403, DENIED)
    return sid, True


def serve_group(svc: Service, items: list[Gated]) -> list[Served | Exception]:
    """Answer every item of one group; see the module docstring."""
    out: list[Served | Exception | None] = [None] * len(items)
    with svc.lock:
        now = svc.clock()
        active = svc.active_clients({i.client.client_id for i in items})
        sids = svc.subject_ids([i.subject for i in items])
        granted: dict[int, tuple[str, bool]] = {}
        for k, item in enumerate(items):
            try:
                granted[k] = _authorise(svc, item, active, sids)
            except (ApiError, InputError) as exc:
                out[k] = exc
        asks = {k: (sid, items[k].client.name, items[k].purpose or "")
                for k, (sid, gated) in granted.items() if gated}
        valid = consent.valid_many(svc.ledger, list(asks.values()), now)
        for k, ask in asks.items():
            if ask not in valid:
                out[k] = ApiError(403, DENIED)
                del granted[k]
        states = _states(svc, sorted({sid for sid, _ in granted.values()}), now)
        for k, (sid, gated) in granted.items():
            state = states.get(sid)
            if state is None:
                out[k] = ApiError(404, f"the subject is not scored under {svc.cp.version_id}")
                continue
            out[k] = _serve(svc, items[k], sid, state, gated, now)
        _append(svc, items, out)
    return [o if o is not None else RuntimeError("unanswered") for o in out]


def _states(svc: Service, subject_ids: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Kept states; the missing or stale ones rescored first, all in one engine run."""
    from glasscredit.api.service import MAX_STATE_AGE

    states = latest_states(svc.ledger, svc.cp, subject_ids)
    stale = [s for s in subject_ids
             if s not in states or states[s]["scored_at"] < now - MAX_STATE_AGE]
    if stale:
        svc.rescore(stale, now)
        states.update(latest_states(svc.ledger, svc.cp, stale))
    return states


def _serve(svc: Service, item: Gated, sid: str, state: dict[str, Any], gated: bool,
           now: datetime) -> Served:
    served = Served(state)
    if gated:
        served.records["ledger_inquiries"] = [int(sid), item.client.name, item.purpose, now]
    spec = None if item.measure is None else _measure(svc, item.measure)
    if spec is None:
        return served
    active = bool(state["measures"].get(spec.name, {}).get("active", False))
    outcome: Outcome
    if spec.type == "privilege":
        outcome = "allow" if active else "deny"
    else:
        outcome = "applies" if active else "does_not_apply"
    reasons = state["reasons"] if spec.reasons else []
    served.decision = DecisionOut(
        decision_id=new_id("dec"), measure=spec.name, type=spec.type, context=spec.context,
        outcome=outcome, reasons=[Reason(**r) for r in reasons],
        policy_version=svc.cp.version_id, score=state["score"], band=state["band"],
        decided_at=now)
    served.records["ledger_decisions"] = [
        served.decision.decision_id, int(sid), item.client.name, spec.name, outcome,
        float(state["score"]), state["band"], dumps(reasons), svc.cp.version_id, now]
    return served


def _measure(svc: Service, name: str) -> Measure | None:
    return next((m for m in svc.cp.policy.measures if m.name == name), None)


INQUIRY_COLUMNS: Final = ("subject_id", "client", "purpose", "inquired_at")
DECISION_COLUMNS: Final = ("decision_id", "subject_id", "client", "measure", "outcome", "score",
                           "band", "reasons", "policy_version", "decided_at")


def _append(svc: Service, items: list[Gated], out: list[Served | Exception | None]) -> None:
    """One append for the group's inquiries and decisions; on failure, those reads fail."""
    recorded = [(k, o) for k, o in enumerate(out) if isinstance(o, Served) and o.records]
    if not recorded:
        return
    batch: dict[str, pa.Table] = {}
    for table, columns in (("ledger_inquiries", INQUIRY_COLUMNS),
                           ("ledger_decisions", DECISION_COLUMNS)):
        found = [o.records[table] for _, o in recorded if table in o.records]
        if found:
            cols = {c: [r[i] for r in found] for i, c in enumerate(columns)}
            if "band" in cols:
                cols["band"] = pa.array(cols["band"], pa.string())
            batch[table] = rows(**cols)
    try:
        svc.ledger.append_rows(batch)
    except Exception as exc:  # nothing of these reads was recorded: none is answered
        for k, _ in recorded:
            out[k] = exc
