"""Explain one subject: its score, the at most four reasons, and the events behind each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from glasscredit.engine.run import Inputs, Result, Snapshot, score
from glasscredit.engine.sessions import Backend
from glasscredit.errors import InputError
from glasscredit.policy.load import CompiledPolicy


@dataclass(frozen=True)
class Explanation:
    """Everything a subject (or a reviewer) needs to see why the number is what it is."""

    subject_id: str
    policy: str
    as_of: datetime
    score: dict[str, Any]
    reasons: list[dict[str, Any]]
    events: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    measures: list[dict[str, Any]]


def explain(b: Backend, inputs: Inputs, cp: CompiledPolicy, as_of: datetime, subject: str,
            snapshot: Snapshot | None = None) -> Explanation:
    """Score one subject and trace its reasons back to the counted events (the plan path: the
    per-event frames behind the reasons exist only there)."""
    result = score(b, inputs, cp, as_of, [subject], snapshot, prepared=False)
    rows = result.arrow("scores").to_pylist()
    if not rows:
        raise InputError(f"unknown subject {subject!r} (or not a {cp.policy.subject_kind})")
    reasons = result.arrow("reasons").to_pylist()
    return Explanation(subject, cp.version_id, as_of, rows[0], reasons,
                       events_behind(result, subject, [r["rule_id"] for r in reasons]),
                       result.arrow("lists").to_pylist(), result.arrow("measures").to_pylist())


def events_behind(result: Result, subject: str, rule_ids: list[str]) -> list[dict[str, Any]]:
    """The counted events of the given rules, with the points each contributed after caps."""
    if not rule_ids:
        return []
    b = result.backend
    F = b.F
    ev = result.counted.filter((F.col("subject_id") == subject) & F.col("rule_id").isin(rule_ids))
    caps = result.buckets.filter(F.col("subject_id") == subject).select(
        "rule_id", "bucket", "factor")
    joined = ev.join(caps, ["rule_id", "bucket"], "inner")
    out = joined.select("rule_id", "event_id", "kind", "source_id", "occurred_at", "raw",
                        "reliability", "decay", (F.col("contrib") * F.col("factor"))
                        .alias("points"))
    return b.to_arrow(out.orderBy("rule_id", "occurred_at", "event_id")).to_pylist()


def plan_sql(b: Backend, inputs: Inputs, cp: CompiledPolicy, as_of: datetime,
             subject: str | None = None) -> str:
    """The SQL the engine runs for the scores table, in the backend's dialect."""
    from glasscredit.engine import plan
    from glasscredit.engine.plan import Ctx
    from glasscredit.engine.scoring import ranked, score_state

    c = Ctx(b, cp, as_of, (subject,) if subject else None)
    totals = plan.rule_totals(c, plan.bucket_totals(c, plan.counted_events(
        c, inputs.events, inputs.voids, inputs.sources)))
    relations = inputs.relations if inputs.relations is not None else b.empty(
        {"subject_id": "string", "related_id": "string", "relation": "string",
         "valid_from": "timestamp", "valid_to": "timestamp"})
    state = score_state(c, plan.features(c, totals, inputs.subjects), relations)
    if subject is None:
        state = ranked(c, state)
    sql: str = state.sql(dialect=b.name if b.name != "spark" else "spark", pretty=True)
    return sql
