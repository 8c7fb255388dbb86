"""Disputes (FCRA §611): the subject contests an event, the source is told, a reviewer decides.

Clocks (DOMAIN.md): acknowledge and notify the source within 5 business days (this service does
both when the dispute is opened), resolve within 30 days, 45 when the subject brings new evidence
in time. An upheld dispute, or one still open at its deadline (unverified), voids the event. A
dispute is a sequence of append-only status rows; its state is derived, never updated.
Business days are Monday to Friday; public holidays are not modelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import pyarrow as pa

from glasscredit.errors import ConflictError, InputError, LedgerError
from glasscredit.ledger.ledger import Ledger
from glasscredit.rights.records import dumps, new_id, query, rows

ACK_BUSINESS_DAYS: Final = 5
RESOLVE_DAYS: Final = 30
EVIDENCE_EXTRA_DAYS: Final = 15
OUTCOMES: Final = ("upheld", "rejected")
CLOSED: Final = ("upheld", "rejected", "unverified")


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Mon–Fri), keeping the time of day."""
    out, left = start, days
    while left > 0:
        out += timedelta(days=1)
        if out.weekday() < 5:
            left -= 1
    return out


@dataclass(frozen=True)
class Dispute:
    """A dispute's derived state from its status rows."""

    dispute_id: str
    subject_id: str
    event_id: str
    source_id: str
    status: str  # open | upheld | rejected | unverified
    opened_at: datetime
    reason: str
    acknowledge_by: datetime
    acknowledged_at: datetime
    resolve_by: datetime
    new_evidence: bool
    resolved_at: datetime | None
    statements: list[str]

    def view(self) -> dict[str, Any]:
        """The JSON shape shown to subjects and reviewers."""
        return {k: v for k, v in self.__dict__.items() if k != "subject_id"} | {
            "event_id": self.event_id}


def _derive(history: list[dict[str, Any]]) -> Dispute:
    first = history[0]
    opened = first["changed_at"]
    note = json.loads(first["note"])
    evidence, status, resolved, statements = False, "open", None, []
    resolve_by = opened + timedelta(days=RESOLVE_DAYS)
    for row in history[1:]:
        if row["status"] == "evidence" and status == "open":
            evidence, resolve_by = True, opened + timedelta(days=RESOLVE_DAYS + EVIDENCE_EXTRA_DAYS)
        elif row["status"] == "statement":
            statements.append(json.loads(row["note"])["text"])
        elif row["status"] in CLOSED and status == "open":
            status, resolved = row["status"], row["changed_at"]
    return Dispute(first["dispute_id"], str(first["subject_id"]), str(first["event_id"]),
                   note["source_id"], status, opened, note["reason"],
                   add_business_days(opened, ACK_BUSINESS_DAYS), opened, resolve_by, evidence,
                   resolved, statements)


def _history(ledger: Ledger, where: str, *params: Any) -> dict[str, list[dict[str, Any]]]:
    found = query(ledger, "SELECT dispute_id, subject_id, event_id, status, changed_at, note, "
                          f"batch_id FROM ledger_disputes WHERE {where} ORDER BY batch_id",
                  *params)
    out: dict[str, list[dict[str, Any]]] = {}
    for row in found:
        out.setdefault(row["dispute_id"], []).append(row)
    return out


def get(ledger: Ledger, dispute_id: str) -> Dispute | None:
    """One dispute, or None."""
    found = _history(ledger, "dispute_id = ?", dispute_id)
    return _derive(found[dispute_id]) if dispute_id in found else None


def of_subject(ledger: Ledger, subject_id: str) -> list[Dispute]:
    """Every dispute of a subject, oldest first."""
    return [_derive(h) for h in _history(ledger, "subject_id = ?", int(subject_id)).values()]


def open_disputes(ledger: Ledger) -> list[Dispute]:
    """Disputes still waiting for a resolution, oldest first."""
    ids = query(ledger, "SELECT dispute_id FROM ledger_disputes GROUP BY dispute_id HAVING "
                        "sum(CASE WHEN status IN ('upheld', 'rejected', 'unverified') THEN 1 "
                        "ELSE 0 END) = 0 ORDER BY min(batch_id)")
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    found = _history(ledger, f"dispute_id IN ({marks})", *[r["dispute_id"] for r in ids])
    return [_derive(found[r["dispute_id"]]) for r in ids]


def _status_row(d_id: str, subject_id: str, event_id: str, status: str, at: datetime,
                note: str | None) -> pa.Table:
    return rows(dispute_id=[d_id], subject_id=[int(subject_id)], event_id=[int(event_id)],
                status=[status], changed_at=[at], note=pa.array([note], pa.string()))


def _outbox(source_id: str, topic: str, body: dict[str, Any], at: datetime) -> pa.Table:
    return rows(message_id=[new_id("msg")], source_id=[source_id], topic=[topic],
                body=[dumps(body)], created_at=[at])


def _reread(ledger: Ledger, dispute_id: str) -> Dispute:
    """A dispute just written; its absence means the ledger lost a committed batch."""
    found = get(ledger, dispute_id)
    if found is None:
        raise LedgerError(f"dispute {dispute_id} vanished after its append")
    return found


def open_dispute(ledger: Ledger, subject_id: str, event_id: str, reason: str) -> Dispute:
    """Open a dispute on one of the subject's own events and notify its source (outbox)."""
    if not reason.strip():
        raise InputError("reason: say what is wrong with the event")
    try:
        number = int(event_id)
    except ValueError as exc:
        raise InputError("event_id: not an event id") from exc
    found = query(ledger, "SELECT e.source_id, e.source_event_id, e.kind, e.occurred_at, "
                          "(SELECT count(*) FROM ledger_voids v WHERE v.event_id = e.event_id) "
                          "AS voids FROM ledger_events e WHERE e.event_id = ? AND e.subject_id = ?",
                  number, int(subject_id))
    if not found:
        raise InputError(f"event_id: no event {event_id} in your file")
    if found[0]["voids"]:
        raise ConflictError(f"event {event_id} is already voided")
    if any(d.event_id == str(number) and d.status == "open"
           for d in of_subject(ledger, subject_id)):
        raise ConflictError(f"event {event_id} already has an open dispute")
    now, d_id = ledger.clock(), new_id("dsp")
    event = found[0]
    note = dumps({"reason": reason, "source_id": event["source_id"]})
    body = {"dispute_id": d_id, "event_id": str(number), "source_event_id":
            event["source_event_id"], "kind": event["kind"], "reason": reason,
            "respond_by": now + timedelta(days=RESOLVE_DAYS)}
    ledger.append_rows({
        "ledger_disputes": _status_row(d_id, subject_id, str(number), "opened", now, note),
        "ledger_outbox": _outbox(event["source_id"], "dispute.opened", body, now)})
    return _reread(ledger, d_id)


def add(ledger: Ledger, dispute: Dispute, status: str, text: str) -> Dispute:
    """Attach new evidence (extends the deadline while open) or the subject's statement."""
    if status == "evidence" and dispute.status != "open":
        raise ConflictError("new evidence can only be brought while the dispute is open")
    if not text.strip():
        raise InputError("text: empty")
    now = ledger.clock()
    ledger.append_rows({"ledger_disputes": _status_row(
        dispute.dispute_id, dispute.subject_id, dispute.event_id, status, now,
        dumps({"text": text}))})
    return _reread(ledger, dispute.dispute_id)


def resolve(ledger: Ledger, dispute: Dispute, outcome: str, note: str, actor: str) -> Dispute:
    """Close a dispute; an upheld or unverified one voids the event in the same batch."""
    if outcome not in (*OUTCOMES, "unverified"):
        raise InputError(f"outcome: one of {', '.join(OUTCOMES)}")
    if dispute.status != "open":
        raise ConflictError(f"dispute {dispute.dispute_id} is already {dispute.status}")
    now = ledger.clock()
    batch = {
        "ledger_disputes": _status_row(dispute.dispute_id, dispute.subject_id, dispute.event_id,
                                       outcome, now, dumps({"note": note, "actor": actor})),
        "ledger_outbox": _outbox(dispute.source_id, "dispute.resolved",
                                 {"dispute_id": dispute.dispute_id, "event_id": dispute.event_id,
                                  "outcome": outcome}, now)}
    if outcome != "rejected":
        batch["ledger_voids"] = rows(
            event_id=[int(dispute.event_id)], voided_at=[now], kind=["void"],
            reason=[f"dispute {dispute.dispute_id} {outcome}"],
            replacement_event_id=pa.array([None], pa.int64()))
    ledger.append_rows(batch)
    return _reread(ledger, dispute.dispute_id)


def sweep(ledger: Ledger) -> list[Dispute]:
    """Close every open dispute past its deadline as unverified (voiding its event)."""
    now = ledger.clock()
    return [resolve(ledger, d, "unverified", "not verified by the deadline", "clock")
            for d in open_disputes(ledger) if now >= d.resolve_by]
