"""Real-time standing: rescore touched subjects, keep their state, and issue adverse notices.

After every write that can change a score (ingest, void) the touched subjects are rescored with
the same engine as batch runs and their score, band, measures, lists and reasons are appended as
one ``ledger_subject_state`` row each. Reads and decisions serve the latest row, so they see a
write as soon as its request returns. A privilege lost or a sanction started appends a notice in
the same batch (DOMAIN.md: action, reasons, sources, score and range, date, how to dispute).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import CompiledPolicy
from glasscredit.rights.records import any_of, dumps, fetch, new_id, query, rows
from glasscredit.runs import score_ledger

HOW_TO_DISPUTE: Final = (
    "Read your file (GET /v1/me/report), then dispute any event you believe wrong with "
    "POST /v1/me/disputes {event_id, reason}. The source is told within 5 business days and the "
    "dispute is resolved within 30 days (45 with new evidence); an event not verified by then "
    "is removed and your score recomputed.")


def rescore(ledger: Ledger, cp: CompiledPolicy, subject_ids: list[str],
            now: datetime) -> list[dict[str, Any]]:
    """Rescore ``subject_ids`` at ``now``, append their state and any notices; return notices."""
    if not subject_ids:
        return []
    run = score_ledger(ledger, cp, now, sorted(set(subject_ids)), keep=False)
    scores = run.result.arrow("scores").to_pylist()
    if not scores:
        return []
    measures = _by_subject(run.result.arrow("measures").to_pylist())
    lists = _by_subject(run.result.arrow("lists").to_pylist())
    reasons = _by_subject(run.result.arrow("reasons").to_pylist())
    before = latest_states(ledger, cp, [s["subject_id"] for s in scores])
    state_rows: list[dict[str, Any]] = []
    list_rows: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for s in scores:
        sid = s["subject_id"]
        state = {
            "score": s["score"], "band": s["band"],
            "measures": {m["measure"]: {"type": m["type"], "context": m["context"],
                                        "active": bool(m["active"]), "since": m["since"]}
                         for m in measures.get(sid, [])},
            "lists": {x["list"]: {"listed": bool(x["listed"]), "since": x["since"]}
                      for x in lists.get(sid, [])},
            "reasons": [_reason(r) for r in reasons.get(sid, [])],
        }
        state_rows.append({"subject_id": int(sid), "score": float(s["score"]),
                           "band": s["band"], "state": dumps(state)})
        old_lists = before.get(sid, {}).get("lists", {})
        list_rows += [{"subject_id": int(sid), "list": name, "listed": v["listed"],
                       "since": v["since"]}
                      for name, v in state["lists"].items() if old_lists.get(name) != v]
        list_rows += [{"subject_id": int(sid), "list": name, "listed": False, "since": None}
                      for name in old_lists if name not in state["lists"]
                      and old_lists[name]["listed"]]
        notices += _notices(ledger, cp, sid, before.get(sid), state, now)
    batch = {"ledger_subject_state": _state_table(state_rows, cp, now)}
    if list_rows:
        batch["ledger_list_members"] = _list_table(list_rows, cp, now)
    if notices:
        batch["ledger_notices"] = rows(
            notice_id=[n["notice_id"] for n in notices],
            subject_id=[int(n["subject_id"]) for n in notices],
            measure=[n["measure"] for n in notices], action=[n["action"] for n in notices],
            body=[dumps(n) for n in notices], issued_at=[now] * len(notices))
    ledger.append_rows(batch)
    return notices


def _by_subject(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(item["subject_id"], []).append(item)
    return out


def _reason(r: dict[str, Any]) -> dict[str, Any]:
    return {"rank": r["rank"], "rule_id": r["rule_id"], "category": r["category"],
            "points_lost": r["points_lost"], "reason": r["reason"]}


def _state_table(items: list[dict[str, Any]], cp: CompiledPolicy, now: datetime) -> pa.Table:
    n = len(items)
    return rows(subject_id=[i["subject_id"] for i in items], policy_hash=[cp.content_hash] * n,
                scored_at=[now] * n, score=[i["score"] for i in items],
                band=pa.array([i["band"] for i in items], pa.string()),
                state=[i["state"] for i in items])


def _list_table(items: list[dict[str, Any]], cp: CompiledPolicy, now: datetime) -> pa.Table:
    n = len(items)
    return rows(subject_id=[i["subject_id"] for i in items], policy_hash=[cp.content_hash] * n,
                list=[i["list"] for i in items], listed=[i["listed"] for i in items],
                since=pa.array([i["since"] for i in items], pa.timestamp("us")),
                as_of=[now] * n)


def latest_states(ledger: Ledger, cp: CompiledPolicy,
                  subject_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest kept state of each subject under this policy (absent when never scored)."""
    if not subject_ids:
        return {}
    found = fetch(ledger, "SELECT subject_id, scored_at, state FROM (SELECT subject_id, scored_at, "
                          "state, row_number() OVER (PARTITION BY subject_id ORDER BY batch_id "
                          "DESC) AS rn FROM ledger_subject_state WHERE policy_hash = ? AND "
                          f"{any_of(ledger, 'subject_id')}) s WHERE rn = 1",
                  cp.content_hash, [int(s) for s in subject_ids])
    return {str(sid): {**json.loads(state), "scored_at": scored_at}
            for sid, scored_at, state in found}


def _notices(ledger: Ledger, cp: CompiledPolicy, subject_id: str, old: dict[str, Any] | None,
             new: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """A notice per privilege lost or sanction started since the previous state."""
    out = []
    was = (old or {}).get("measures", {})
    specs = {m.name: m for m in cp.policy.measures}
    for name, m in new["measures"].items():
        before = bool(was.get(name, {}).get("active", False))
        if m["type"] == "privilege" and before and not m["active"]:
            action = f"privilege {name} withdrawn"
        elif m["type"] == "sanction" and not before and m["active"]:
            action = f"sanction {name} started"
        else:
            continue
        spec = specs.get(name)
        appeal = spec.appeal.route if spec is not None and spec.appeal is not None else None
        out.append({
            "notice_id": new_id("ntc"), "subject_id": subject_id, "measure": name,
            "action": action, "date": now, "reasons": new["reasons"],
            "sources": _sources(ledger, cp, subject_id, [r["rule_id"] for r in new["reasons"]]),
            "score": new["score"], "band": new["band"],
            "range": {"min": cp.policy.scale.min, "max": cp.policy.scale.max},
            "policy_version": cp.version_id, "how_to_dispute": HOW_TO_DISPUTE,
            "appeal_route": appeal,
        })
    return out


def _sources(ledger: Ledger, cp: CompiledPolicy, subject_id: str,
             rule_ids: list[str]) -> list[str]:
    """The sources of the subject's unvoided events of the kinds the reasons' rules read."""
    kinds = sorted({r.kind for r in cp.policy.rules if r.id in rule_ids})
    if not kinds:
        return []
    marks = ", ".join("?" for _ in kinds)
    found = query(ledger, "SELECT DISTINCT source_id FROM ledger_events e WHERE subject_id = ? "
                          f"AND kind IN ({marks}) AND NOT EXISTS (SELECT 1 FROM ledger_voids v "
                          "WHERE v.event_id = e.event_id) ORDER BY source_id",
                  int(subject_id), *kinds)
    return [r["source_id"] for r in found]
