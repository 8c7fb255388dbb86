"""Real-time ingest, a group of requests at a time (see ``grouping``).

Every request is validated on its own (a bad event refuses its request whole, 422, and names
the event and field) and checked for reused idempotency keys (409); the clean requests of a
group are then stored in ONE ledger append, their touched subjects rescored in ONE engine run,
and each request is answered only after both — so a score read after the answer sees it.
Two requests of one group that use the same key of one source are never merged: the later one
goes into the next round of the same group, where it is a replay or a conflict as it would be
alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.api.errors import ApiError, ErrorDetail
from glasscredit.api.gated import CHALLENGE
from glasscredit.api.models import EventsIn, EventsOut
from glasscredit.errors import RowProblem
from glasscredit.ledger.batch import Batch
from glasscredit.rights.clients import Client
from glasscredit.rights.records import IN_TEXTS, fetch

if TYPE_CHECKING:
    from glasscredit.api.service import Service


@dataclass(frozen=True)
class IngestJob:
    """One ``POST /v1/events`` request."""

    client: Client
    body: EventsIn


@dataclass
class _Checked:
    job: int
    source: str
    rows: pa.Table
    keys: list[str]
    replays: set[int] = field(default_factory=set)


_TEXT_COLUMNS = ("source_event_id", "subject", "kind", "occurred_at", "value", "attrs",
                 "subject_kind")


def table(body: EventsIn) -> pa.Table:
    """The ingest shape (text columns, attrs as JSON) the file path validates too."""
    encode = json.dumps
    rows = [(e.source_event_id, e.subject, e.kind, e.occurred_at,
             None if e.value is None else repr(e.value),
             None if e.attrs is None else encode(e.attrs), e.subject_kind)
            for e in body.events]
    columns = list(zip(*rows, strict=True))
    cols = {name: pa.array(values, pa.string())
            for name, values in zip(_TEXT_COLUMNS, columns, strict=True)}
    if not any(columns[-1]):
        del cols["subject_kind"]
    chunk = pa.table(cols)
    return chunk.append_column("row_no", pa.array(range(1, chunk.num_rows + 1), pa.int64()))


def ingest_group(svc: Service, jobs: list[IngestJob]) -> list[EventsOut | Exception]:
    """Answer every request of one group; see the module docstring."""
    out: list[EventsOut | Exception | None] = [None] * len(jobs)
    touched: dict[int, set[str]] = {}
    with svc.lock:
        active = svc.active_clients({j.client.client_id for j in jobs})
        checked: list[_Checked] = []
        for k, job in enumerate(jobs):
            try:
                if job.client.client_id not in active:
                    raise ApiError(401, "unknown or revoked API key", headers=CHALLENGE)
                checked.append(_validate(svc, k, job))
            except ApiError as exc:
                out[k] = exc
        while checked:
            round_, checked = _split(checked)
            _store(svc, round_, out, touched)
        subjects = sorted(set().union(*touched.values())) if touched else []
        if subjects:
            try:
                svc.rescore(subjects)
            except Exception as exc:  # stored, but not rescored: say so rather than succeed
                for k in touched:
                    out[k] = exc
    return [o if o is not None else RuntimeError("unanswered") for o in out]


def _validate(svc: Service, k: int, job: IngestJob) -> _Checked:
    rows, problems = svc.validator().check(table(job.body), job.client.name)
    if not problems:  # the validator passes a batch whose kinds are ALL unknown: refuse it here
        problems = [RowProblem(row=i + 1, field="kind", reason=f"unknown event kind {e.kind!r}")
                    for i, e in enumerate(job.body.events) if e.kind.strip() not in svc.catalogue]
    if problems:
        raise ApiError(422, f"{len(problems)} event(s) rejected; nothing was stored", [
            ErrorDetail(index=p.row - 1, field=p.field, message=p.reason) for p in problems])
    rows = rows.sort_by("row_no")
    return _Checked(k, job.client.name, rows, rows["source_event_id"].to_pylist())


def _split(checked: list[_Checked]) -> tuple[list[_Checked], list[_Checked]]:
    """The requests that share no (source, key) with an earlier one, and the rest."""
    seen: set[tuple[str, str]] = set()
    now: list[_Checked] = []
    later: list[_Checked] = []
    for c in checked:
        mine = {(c.source, key) for key in c.keys}
        (later if mine & seen else now).append(c)
        seen |= mine
    return now, later


def _stored_digests(svc: Service, source: str, keys: list[str]) -> dict[str, str]:
    return dict(fetch(svc.ledger, "SELECT source_event_id, digest FROM ledger_events WHERE "
                                  f"source_id = ? AND source_event_id {IN_TEXTS}", source, keys))


def _conflicts(c: _Checked, stored: dict[str, str]) -> list[ErrorDetail]:
    """Keys used before (or earlier in the request) with another payload; marks replays."""
    seen: dict[str, str] = {}
    problems = []
    for i, (key, digest) in enumerate(zip(c.keys, c.rows["digest"].to_pylist(), strict=True)):
        first = stored.get(key, seen.get(key))
        if first is not None and first != digest:
            problems.append(ErrorDetail(index=i, field="source_event_id", message=(
                f"source_event_id {key!r} was already used with a different payload")))
        elif key in stored:
            c.replays.add(i)
        seen.setdefault(key, digest)
    return problems


def _store(svc: Service, round_: list[_Checked], out: list[EventsOut | Exception | None],
           touched: dict[int, set[str]]) -> None:
    """One append for the clean requests of a round, then each request's answer."""
    by_source: dict[str, list[str]] = {}
    for c in round_:
        by_source.setdefault(c.source, []).extend(c.keys)
    stored = {s: _stored_digests(svc, s, keys) for s, keys in by_source.items()}
    clean = []
    for c in round_:
        clashes = _conflicts(c, stored[c.source])
        if clashes:
            out[c.job] = ApiError(409, f"{len(clashes)} idempotency key(s) reused with another "
                                       "payload; nothing was stored", clashes)
        else:
            clean.append(c)
    if not clean:
        return
    parts, offset = [], 0
    for c in clean:
        rows = c.rows.set_column(c.rows.schema.get_field_index("row_no"), "row_no",
                                 pc.add(c.rows["row_no"], offset))
        parts.append(rows)
        offset += c.rows.num_rows
    try:
        result = svc.ledger.append(Batch(events=pa.concat_tables(parts)), strict=True)
    except Exception as exc:  # nothing of this round was stored
        for c in clean:
            out[c.job] = exc
        return
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    for source in {c.source for c in clean}:
        keys = [k for c in clean if c.source == source for k in c.keys]
        for row in fetch(svc.ledger, "SELECT source_event_id, CAST(event_id AS VARCHAR), "
                                     "recorded_at, CAST(subject_id AS VARCHAR), batch_id FROM "
                                     "ledger_events WHERE source_id = ? AND source_event_id "
                                     f"{IN_TEXTS}", source, keys):
            found[(source, row[0])] = row
    for c in clean:
        mine = [found[(c.source, k)] for k in c.keys]
        new = {r[0]: r[3] for r in mine if r[4] == result.batch_id}
        touched[c.job] = set(new.values())
        out[c.job] = EventsOut.model_validate({  # one call for the whole answer: half the
            # cost of an EventResult object per event, which showed in batches of 500
            "results": [{"index": i, "source_event_id": r[0], "event_id": r[1],
                         "recorded_at": r[2]} for i, r in enumerate(mine)],
            "stored": len(new), "replayed": sorted(c.replays),
            "rescored": len(touched[c.job])})
