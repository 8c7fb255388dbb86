"""The access report (GDPR Art. 15, SCHUFA copy): the whole file and the logic in words."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Final

from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import CompiledPolicy
from glasscredit.policy.model import format_duration
from glasscredit.rights import consent, disputes
from glasscredit.rights.records import query
from glasscredit.rights.state import latest_states

REPORT_CAP: Final = 1000  # rows per section; the paginated endpoints give the rest

EVENTS_SQL: Final = (
    "SELECT CAST(e.event_id AS VARCHAR) AS event_id, e.source_id, e.source_event_id, e.kind, "
    "e.occurred_at, e.recorded_at, e.value, e.attrs, EXISTS (SELECT 1 FROM ledger_voids v WHERE "
    "v.event_id = e.event_id) AS voided FROM ledger_events e WHERE e.subject_id = ? "
    "ORDER BY e.occurred_at DESC, e.event_id DESC")
DECISIONS_SQL: Final = (
    "SELECT decision_id, client, measure, outcome, score, band, reasons, policy_version, "
    "decided_at FROM ledger_decisions WHERE subject_id = ? AND decided_at >= ? "
    "ORDER BY batch_id DESC")
NOTICES_SQL: Final = ("SELECT body FROM ledger_notices WHERE subject_id = ? "
                      "ORDER BY batch_id DESC")


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "attrs": json.loads(row["attrs"]) if row["attrs"] else None}


def decision_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "reasons": json.loads(row["reasons"])}


def access_report(ledger: Ledger, cp: CompiledPolicy, subject_id: str) -> dict[str, Any]:
    """Everything held about the subject, its sources and recipients, and how it is scored."""
    now = ledger.clock()
    year_ago = now - timedelta(days=365)
    events = query(ledger, f"{EVENTS_SQL} LIMIT {REPORT_CAP + 1}", int(subject_id))
    sources = {r["source_id"]: r["reliability"] for r in query(
        ledger, "SELECT source_id, reliability FROM sources")}
    state = latest_states(ledger, cp, [subject_id]).get(subject_id)
    inquiries, _ = consent.inquiries(ledger, subject_id, year_ago, None, REPORT_CAP)
    decisions = query(ledger, f"{DECISIONS_SQL} LIMIT {REPORT_CAP}", int(subject_id), year_ago)
    consents, _ = consent.consents(ledger, subject_id, None, REPORT_CAP)
    return {
        "generated_at": now,
        "subject_id": subject_id,
        "events": [event_view(e) for e in events[:REPORT_CAP]],
        "events_truncated": len(events) > REPORT_CAP,
        "sources": [{"source_id": s, "reliability": sources.get(s)}
                    for s in sorted({e["source_id"] for e in events})],
        "score": state,
        "inquiries_last_12_months": inquiries,
        "decisions_last_12_months": [decision_view(d) for d in decisions],
        "consents": consents,
        "disputes": [d.view() for d in disputes.of_subject(ledger, subject_id)],
        "notices": [json.loads(r["body"]) for r in query(
            ledger, f"{NOTICES_SQL} LIMIT {REPORT_CAP}", int(subject_id))],
        "policy": policy_in_words(cp),
    }


def _rule_words(rule: Any) -> str:
    if rule.points is not None:
        pts = f"{rule.points:+g} points per event"
    else:
        pts = f"{rule.points_per_unit:+g} points per unit of value"
    when = f" when {rule.when}" if rule.when else ""
    if rule.valid_for is not None:
        life = f", counted for {format_duration(rule.valid_for)}"
    elif rule.half_life is not None:
        life = f", halving every {format_duration(rule.half_life)}"
    else:
        life = ""
    cap = f", at most {rule.cap.points:g} points per {format_duration(rule.cap.per)}" if (
        rule.cap is not None) else ""
    return (f"{rule.reason}: {rule.kind} records{when} give {pts}{life}{cap}, weighted by the "
            f"source's reliability (category {rule.category}).")


def policy_in_words(cp: CompiledPolicy) -> dict[str, Any]:
    """The logic of the automated decision (GDPR Art. 15(1)(h)) in sentences."""
    p = cp.policy
    if p.aggregation == "additive":
        how = (f"Everyone starts at {p.scale.start:g}; the points of every rule are added and "
               f"the score kept between {p.scale.min:g} and {p.scale.max:g}.")
    else:
        how = (f"Each category's points are mapped onto 0..1 and weighted; the score lies "
               f"between {p.scale.min:g} and {p.scale.max:g}.")
    return {
        "policy": cp.name, "version": cp.version_id, "description": p.description,
        "scale": {"min": p.scale.min, "max": p.scale.max}, "how_the_score_is_made": how,
        "rules": [_rule_words(r) for r in p.rules],
        "bands": [f"{b.name}: {b.min:g} to {b.max:g}" for b in p.bands],
        "lists": [f"{x.name} ({x.type}, {x.context}): entered when {x.enter}"
                  + (f", for at most {format_duration(x.max_duration)}" if x.max_duration
                     else "") + ("; public" if x.public else "; not public")
                  for x in p.lists],
        "measures": [f"{m.name} ({m.type}, {m.context}): applies when {m.when}. "
                     f"{m.description}".strip() for m in p.measures],
        "reasons": "At most four reasons, the rules that cost the most points.",
    }
