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
from glasscredit.ledger.schema import any_of
from glasscredit.policy.load import CompiledPolicy
from glasscredit.rights.records import dumps, fetch, new_id, query, rows
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
    scores = _rows_of(run.result.arrow("scores"), ("subject_id", "score", "band"))
    if not scores:
        return []
    measures = _by_subject(_rows_of(run.result.arrow("measures"), (
        "subject_id", "measure", "type", "context", "active", "since")))
    lists = _by_subject(_rows_of(run.result.arrow("lists"), (
        "subject_id", "list", "listed", "since")))
    reasons = _by_subject(_rows_of(run.result.arrow("reasons"), (
        "subject_id", "rank", "rule_id", "category", "points_lost", "reason")))
    before = _latest_texts(ledger, cp, [s[0] for s in scores])
    state_rows: list[tuple[int, float, str | None, str]] = []
    list_rows: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for sid, score, band in scores:
        new_lists = {name: {"listed": bool(listed), "since": since}
                     for _, name, listed, since in lists.get(sid, ())}
        new_measures = {name: {"type": kind, "context": context, "active": bool(active),
                               "since": since}
                        for _, name, kind, context, active, since in measures.get(sid, ())}
        new_reasons = [_reason(r) for r in reasons.get(sid, ())]
        lists_text, measures_text = dumps(new_lists), dumps(new_measures)
        # dumps({"band", "lists", "measures", "reasons", "score"}) with the two texts reused
        text = (f'{{"band":{dumps(band)},"lists":{lists_text},"measures":{measures_text},'
                f'"reasons":{dumps(new_reasons)},"score":{dumps(score)}}}')
        state_rows.append((int(sid), float(score), band, text))
        old_text = before.get(sid)
        if old_text is not None and same_lists_and_measures(old_text, lists_text,
                                                            measures_text):
            continue  # nothing listed, delisted, lost or started: no rows, no notices
        old = json.loads(old_text) if old_text is not None else {}
        old_lists = old.get("lists", {})
        written = json.loads(lists_text)  # compared as stored: times as ISO text
        list_rows += [{"subject_id": int(sid), "list": name, "listed": v["listed"],
                       "since": v["since"]}
                      for name, v in new_lists.items() if old_lists.get(name) != written[name]]
        list_rows += [{"subject_id": int(sid), "list": name, "listed": False, "since": None}
                      for name in old_lists if name not in new_lists
                      and old_lists[name]["listed"]]
        state = {"band": band, "lists": new_lists, "measures": new_measures,
                 "reasons": new_reasons, "score": score}
        notices += _notices(ledger, cp, sid, old or None, state, now)
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


def same_lists_and_measures(old_text: str, lists_text: str, measures_text: str) -> bool:
    """Whether a kept state (its canonical JSON text) has exactly these lists and measures
    (canonical JSON too), read without parsing the whole state: its keys are sorted, so the
    text is ``{"band":…,"lists":…,"measures":…,…}``; the band is skipped by parsing that one
    value, then the two values must match character for character (a JSON value that is a
    prefix of the text and is followed by the next key IS the value there). False whenever
    the text has another shape: the caller then compares parsed values."""
    head = '{"band":'
    if not old_text.startswith(head):
        return False
    try:
        _, at = _DECODER.raw_decode(old_text, len(head))
    except ValueError:
        return False
    expected = f',"lists":{lists_text},"measures":{measures_text},'
    return old_text.startswith(expected, at)


_DECODER: Final = json.JSONDecoder()


def _rows_of(table: pa.Table, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Rows of these columns as tuples (converted column by column: far cheaper than
    ``to_pylist``'s dict per row)."""
    values = table.select(list(columns)).to_pydict()
    out = list(zip(*(values[c] for c in columns), strict=True))
    return [(str(r[0]), *r[1:]) for r in out]


def _by_subject(items: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for item in items:
        out.setdefault(item[0], []).append(item)
    return out


def _reason(r: tuple[Any, ...]) -> dict[str, Any]:
    _, rank, rule_id, category, points_lost, reason = r
    return {"rank": rank, "rule_id": rule_id, "category": category, "points_lost": points_lost,
            "reason": reason}


def _state_table(items: list[tuple[int, float, str | None, str]], cp: CompiledPolicy,
                 now: datetime) -> pa.Table:
    n = len(items)
    return rows(subject_id=[i[0] for i in items], policy_hash=[cp.content_hash] * n,
                scored_at=[now] * n, score=[i[1] for i in items],
                band=pa.array([i[2] for i in items], pa.string()),
                state=[i[3] for i in items])


def _list_table(items: list[dict[str, Any]], cp: CompiledPolicy, now: datetime) -> pa.Table:
    n = len(items)
    return rows(subject_id=[i["subject_id"] for i in items], policy_hash=[cp.content_hash] * n,
                list=[i["list"] for i in items], listed=[i["listed"] for i in items],
                since=pa.array([i["since"] for i in items], pa.timestamp("us")),
                as_of=[now] * n)


def latest_states(ledger: Ledger, cp: CompiledPolicy,
                  subject_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest kept state of each subject under this policy (absent when never scored)."""
    return {sid: {**json.loads(text), "scored_at": scored_at}
            for sid, (scored_at, text) in _latest(ledger, cp, subject_ids).items()}


def _latest_texts(ledger: Ledger, cp: CompiledPolicy, subject_ids: list[str]) -> dict[str, str]:
    return {sid: text for sid, (_, text) in _latest(ledger, cp, subject_ids).items()}


def _latest(ledger: Ledger, cp: CompiledPolicy,
            subject_ids: list[str]) -> dict[str, tuple[datetime, str]]:
    """(scored_at, state JSON text) of each subject's latest kept state under this policy."""
    if not subject_ids:
        return {}
    found = fetch(ledger, "SELECT subject_id, scored_at, state FROM (SELECT subject_id, scored_at, "
                          "state, row_number() OVER (PARTITION BY subject_id ORDER BY batch_id "
                          "DESC) AS rn FROM ledger_subject_state WHERE policy_hash = ? AND "
                          f"{any_of('subject_id')}) s WHERE rn = 1",
                  cp.content_hash, [int(s) for s in subject_ids])
    return {str(sid): (scored_at, state) for sid, scored_at, state in found}


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
