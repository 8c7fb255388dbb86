"""Real-time subset runs: the engine's semantics over a few subjects' rows, in Python.

A one-subject rescore touches a few hundred rows: the subject's records and its neighbours'.
The SQL plan of the batch (plan.py, scoring.py, decide.py, reasons.py) answers it correctly,
but on DuckDB 2.0 each of its large steps costs ~15 ms of binding and optimising whatever the
rows (engine/serving.py), which puts a rescore at 100-200 ms. This module fetches the rows of
the subjects in scope with a few short lookups (the inputs' indexes and order serve them) and
evaluates the same semantics, step for step and in the same arithmetic order, in Python.

The batch plan stays the definition. This is its second form, held to it by tests: on random
ledgers a subset run here equals the same rows of the full run and of the SQL subset replay
to 1e-9, with snapshots chained (tests/test_direct.py, tests/test_engine_laws.py). Each
function below names the plan function it transcribes; a change to the semantics is made in
both, and those tests fail until it is.
"""

from __future__ import annotations

import calendar
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from glasscredit.engine.plan import _JSON_CAST, BIG, epoch, referenced_rules
from glasscredit.engine.reasons import EPS, MAX_REASONS
from glasscredit.engine.run import Inputs, Result, Snapshot, hops_and_types, rings
from glasscredit.engine.sessions import Backend
from glasscredit.errors import InputError
from glasscredit.policy import expr
from glasscredit.policy.expr import and3, not3
from glasscredit.policy.load import CompiledPolicy
from glasscredit.policy.model import Category, Curve

if TYPE_CHECKING:
    from glasscredit.engine.cache import InputCache

_EPOCH = datetime(1970, 1, 1)
_TS = pa.timestamp("us")


# --- NULL-propagating arithmetic, for the CASE chains of decide.py ------------------------


def _ge(x: float | None, y: float | None) -> bool | None:
    return None if x is None or y is None else x >= y


def _sub(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x - y


def _add(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x + y


def _greatest(xs: Iterable[float | None]) -> float | None:
    """SQL ``greatest``: the largest non-NULL value (NULL if all are)."""
    present = [x for x in xs if x is not None]
    return max(present) if present else None


# --- the rows of the scope ----------------------------------------------------------------


@dataclass
class Rows:
    """What a subset run reads: the rows of the subjects in scope, times in epoch microseconds."""

    targets: list[str]
    scope: list[str]
    #: subject id -> kind, for the subjects in scope that the subjects table holds
    subjects: dict[str, str]
    #: (event_id, subject_id, kind, occurred_us, source_id, value, attrs, reliability, voided)
    events: list[tuple[Any, ...]]
    #: (subject_id, related_id, relation, valid_from_us, valid_to_us) touching the scope
    relations: list[tuple[Any, ...]]
    #: (subject_id, name) -> (flag as 1.0/0.0, since_us, ended_us), as ``_pivot`` reads them
    list_prev: dict[tuple[str, str], tuple[Any, Any, Any]] = field(default_factory=dict)
    measure_prev: dict[tuple[str, str], tuple[Any, Any, Any]] = field(default_factory=dict)


def _text(b: Backend, frame: Any) -> str:
    """A frame's SQL, rendered once per frame object (as the prepared path does)."""
    from glasscredit.engine.prepared import _text as text

    sql = text(b, frame)
    assert sql is not None
    return sql


def _quote(values: Iterable[str]) -> str:
    from glasscredit.engine.prepared import _quote as quote

    return quote(list(values))


#: past this many ids a lookup is one join over a list parameter (DuckDB scans the table);
#: up to it, branches of at most ``prepared.LONG`` literals, each an ART index lookup. Fetched
#: row by row, an index lookup costs ~0.06-0.1 ms a row on the reference workload, a scan of its
#: 20 M events ~0.9 s: the index wins up to ~10,000 rows, about this many subjects' records.
MANY = 512


def lookup(select: str, columns: tuple[str, ...], ids: list[str]) -> tuple[str, list[Any]]:
    """The rows of ``select`` whose ``columns`` (any of them) hold one of ``ids``, as SQL and
    its parameters. Each branch filters one column with at most ``prepared.LONG`` literals, so
    DuckDB looks it up in an ART index (or prunes by the table's order): a second condition
    in the same scan, or a longer list, turns the index off."""
    from glasscredit.engine.prepared import LONG

    if len(ids) > MANY:
        return (" UNION ALL ".join(f"{select} WHERE {c} IN (SELECT unnest(?))" for c in columns),
                [ids] * len(columns))
    chunks = [_quote(ids[i:i + LONG]) for i in range(0, len(ids), LONG)] or ["NULL"]
    return " UNION ALL ".join(f"{select} WHERE {c} IN ({chunk})"
                              for c in columns for chunk in chunks), []


def _us(column: str) -> str:
    return f"epoch_us(CAST({column} AS TIMESTAMP))"


def states(snapshot: Snapshot, rows: Rows) -> list[tuple[Any, str, str, tuple[str, str],
                                                          dict[tuple[str, str], Any]]]:
    """The snapshot's state frames a subset run reads, each with its columns (name, flag, the
    two times) and where its rows go."""
    return [(frame, key, flag, fields, into) for frame, key, flag, fields, into in (
        (snapshot.list_state, "list", "listed", ("since", "ended_at"), rows.list_prev),
        (snapshot.measure_state, "measure", "active", ("since", "failing_since"),
         rows.measure_prev)) if frame is not None]


def fetch(b: Backend, cp: CompiledPolicy, inputs: Inputs, as_of: datetime,
          targets: list[str], snapshot: Snapshot) -> Rows:
    """The scope (``prepared._scope``'s law: the targets and as many rings of neighbours as
    the network term and measures read) and every row of it the plan reads."""
    con = b.connection

    def rows_of(select: str, ids: list[str], outer: str = "SELECT * FROM m",
                columns: tuple[str, ...] = ("subject_id",)) -> list[tuple[Any, ...]]:
        # materialised first, so that the outer query's filters stay out of the lookups
        sql, params = lookup(select, columns, ids)
        return list(con.execute(f"WITH m AS MATERIALIZED ({sql}) {outer}", params).fetchall())

    relations: dict[tuple[Any, ...], None] = {}  # ordered, each row once
    hops, types = hops_and_types(cp)
    if inputs.relations is None:
        hops = 0
    rel = "" if inputs.relations is None else (
        f"SELECT subject_id, related_id, relation, {_us('valid_from')}, {_us('valid_to')} "
        f"FROM ({_text(b, inputs.relations)})")

    def touching(frontier: list[str], _: set[str]) -> list[tuple[Any, ...]]:
        found = rows_of(rel, frontier, columns=("subject_id", "related_id"))
        relations.update(dict.fromkeys(found))
        return found

    scope = sorted(rings(targets, hops, types, touching))
    kinds = sorted({r.kind for r in cp.policy.rules})
    asof_text = "TIMESTAMP '" + as_of.replace(tzinfo=None).isoformat(sep=" ") + "'"
    events: list[tuple[Any, ...]] = []
    if kinds:
        # the voids and sources are read apart: a join in the same statement scans them
        # whole and costs more than the two small statements
        found_events = rows_of(
            f"SELECT event_id, subject_id, kind, occurred_at, source_id, value, attrs "
            f"FROM ({_text(b, inputs.events)})", scope,
            f"SELECT event_id, subject_id, kind, {_us('occurred_at')}, source_id, "
            f"CAST(value AS DOUBLE), attrs FROM m "
            f"WHERE kind IN ({_quote(kinds)}) AND occurred_at <= {asof_text}")
        voided: set[Any] = set()
        if inputs.voids is not None and found_events:
            voided = {r[0] for r in con.execute(
                f"SELECT event_id FROM ({_text(b, inputs.voids)}) WHERE voided_at <= "
                f"{asof_text} AND event_id IN (SELECT unnest(?))",
                [[e[0] for e in found_events]]).fetchall()}
        # the plan's left join to the sources: no row, reliability NULL; several, each
        reliability: dict[Any, list[Any]] = defaultdict(list)
        for source, rel_value in con.execute(
                f"SELECT source_id, CAST(reliability AS DOUBLE) FROM "
                f"({_text(b, inputs.sources)})").fetchall():
            reliability[source].append(rel_value)
        events = [(*e, r, e[0] in voided) for e in found_events
                  for r in reliability.get(e[4], [None])]
    subjects = dict(rows_of(
        f"SELECT subject_id, subject_kind FROM ({_text(b, inputs.subjects)})", scope))
    rows = Rows(targets, scope, subjects, events, list(relations))
    for frame, key, flag, fields, into in states(snapshot, rows):
        # max per (subject, name), as decide._pivot takes it
        got = rows_of(
            f"SELECT subject_id, {key}, {flag}, {fields[0]}, {fields[1]} "
            f"FROM ({_text(b, frame)})", scope,
            f"SELECT subject_id, {key}, max(CASE WHEN {flag} THEN 1.0 ELSE 0.0 END), "
            f"max({_us(fields[0])}), max({_us(fields[1])}) FROM m GROUP BY ALL")
        for s_id, name, f, a, z in got:
            into[(s_id, name)] = (f, a, z)
    return rows


# --- the semantics ------------------------------------------------------------------------


def _secs(us: int | None) -> float | None:
    """``Ctx.secs``: microseconds / 1e6, as a double."""
    return None if us is None else float(us) / 1e6


def _json_member(attrs: dict[str, Any], name: str, cast: str) -> Any:
    """``json_extract_string(attrs, '$.name')`` cast to ``cast``, as the plan reads it."""
    v = attrs.get(name)
    if v is None:
        return None
    if cast == "double":
        try:
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                raise ValueError(v)
            return float(v)
        except ValueError:
            raise InputError(f"attribute {name!r}: {v!r} is not a number") from None
    if cast == "boolean":
        if isinstance(v, bool):
            return v
        text = str(v).strip().lower()
        if text in ("true", "t", "1"):
            return True
        if text in ("false", "f", "0"):
            return False
        raise InputError(f"attribute {name!r}: {v!r} is not a boolean")
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


def curve_value(cv: Curve, x: float) -> float:
    """``plan.curve``."""
    if cv.type == "linear":
        assert cv.lo is not None and cv.hi is not None
        return min(1.0, max(0.0, (x - cv.lo) / (cv.hi - cv.lo)))
    assert cv.mid is not None and cv.scale is not None
    try:
        e = math.exp(-(x - cv.mid) / cv.scale)
    except OverflowError:
        e = math.inf
    return 1.0 / (1.0 + e)


class Evaluator:
    """The compiled policy's rules, categories, lists and measures, ready for rows."""

    def __init__(self, cp: CompiledPolicy) -> None:
        self.cp = cp
        p = self.p = cp.policy
        self.by_kind: dict[str, list[Any]] = defaultdict(list)
        #: kind -> attribute -> the type a condition reads it as (the kind's declared types)
        self.casts: dict[str, dict[str, str]] = defaultdict(dict)
        for r in p.rules:
            node = cp.rule_conditions.get(r.id)
            types = cp.rule_attributes.get(r.id, {})
            if node is not None:
                for n in expr.names(node):
                    self.casts[r.kind][n] = _JSON_CAST.get(types.get(n, ""), "string")
            self.by_kind[r.kind].append((r, None if node is None else expr.to_python(node)))
        self.fns = {key: None if node is None else expr.to_python(node) for key, node in (
            *[(("enter", n), x) for n, x in cp.list_enter.items()],
            *[(("exit", n), x) for n, x in cp.list_exit.items()],
            *[(("when", n), x) for n, x in cp.measure_when.items()],
            *[(("keep", n), x) for n, x in cp.measure_keep.items()])}
        self.own = [c for c in p.categories if c.network is None]
        self.net: Category | None = next((c for c in p.categories if c.network is not None),
                                         None)
        self.rule_category = {r.id: r.category for r in p.rules}
        self.rule_reason = {r.id: r.reason for r in p.rules}
        self.refs = sorted(referenced_rules(cp))
        #: weighted policies: the categories whose curve prices a rule's points (reasons)
        self.curved = {c.name: c for c in p.categories if c.network is None and c.curve}
        self.corroborates = any(r.corroboration for r in p.rules)

    # plan.counted_events (with _corroborate), bucket_totals and rule_totals
    def rule_totals(self, events: list[tuple[Any, ...]], t: float
                    ) -> dict[str, dict[str, list[Any]]]:
        """subject -> rule -> [points, hits, last_ts]."""
        counted = []
        for _, subject, kind, us, source, value, attrs_text, reliability, voided in events:
            if voided:
                continue
            rules = self.by_kind.get(kind)
            if not rules:
                continue
            ts = float(us) / 1e6
            age = t - ts
            resolve = _attribute_reader(attrs_text, value, self.casts[kind])
            for r, cond in rules:
                if cond is not None and cond(resolve) is not True:
                    continue
                if r.valid_for is not None and not age < r.valid_for:
                    continue
                base = (r.points if r.points is not None
                        else r.points_per_unit * (value if value is not None else 0.0))
                lo, hi = (r.clip if r.clip else (-BIG, BIG))
                clipped = min(max(base, lo), hi)
                decay = 1.0 if r.half_life is None else 0.5 ** (age / r.half_life)
                rel = reliability if reliability is not None else 1.0
                bucket = 0 if r.cap is None else math.floor(ts / r.cap.per)
                counted.append((subject, kind, source, ts, r, clipped, rel,
                                clipped * rel * decay, bucket))
        if self.corroborates:
            counted = _corroborate(counted)
        buckets: dict[tuple[str, str, int], list[Any]] = {}
        for subject, _, _, ts, r, raw, _, contrib, bucket in counted:
            g = buckets.setdefault((subject, r.id, bucket), [0.0, 0.0, 0, ts, r])
            g[0] += contrib
            g[1] += raw
            g[2] += 1
            g[3] = max(g[3], ts)
        totals: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        for (subject, rule_id, _), (contrib, raw, hits, last, r) in buckets.items():
            cap = r.cap.points if r.cap is not None else None
            factor = 1.0 if cap is None or raw == 0 else min(1.0, cap / abs(raw))
            tot = totals[subject].setdefault(rule_id, [0.0, 0.0, None])
            tot[0] += contrib * factor
            tot[1] += float(hits)
            tot[2] = last if tot[2] is None else max(tot[2], last)
        return totals

    # plan.features + scoring.non_network_score
    def features(self, rows: Rows, totals: dict[str, dict[str, list[Any]]]
                 ) -> dict[str, dict[str, Any]]:
        p = self.p
        state: dict[str, dict[str, Any]] = {}
        for subject in rows.scope:
            kind = rows.subjects.get(subject)
            if kind is None or p.subject_kind not in ("any", kind):
                continue
            mine = totals.get(subject, {})
            row: dict[str, Any] = {"subject_id": subject, "subject_kind": kind}
            for cat in self.own:
                row[f"raw__{cat.name}"] = sum(
                    (tot[0] for rid, tot in mine.items() if self.rule_category[rid] == cat.name),
                    0.0)
            for rid in self.refs:
                tot = mine.get(rid)
                row[f"pts__{rid}"] = tot[0] if tot else 0.0
                row[f"hits__{rid}"] = tot[1] if tot else 0.0
                row[f"last__{rid}"] = tot[2] if tot else None
            row["own_score"] = self._own_score(row)
            state[subject] = row
        return state

    def _clip(self, x: float) -> float:
        s = self.p.scale
        return min(s.max, max(s.min, x))

    def _own_score(self, row: dict[str, Any]) -> float:
        p = self.p
        if p.aggregation == "additive":
            total = p.scale.origin
            for cat in self.own:
                total = total + row[f"raw__{cat.name}"]
            return self._clip(total)
        weight = sum(cat.weight or 0 for cat in self.own)
        if weight <= 0:
            return (p.scale.min + p.scale.max) / 2
        acc = 0.0
        for cat in self.own:
            assert cat.curve is not None
            acc = acc + (cat.weight or 0) * curve_value(cat.curve, row[f"raw__{cat.name}"])
        return p.scale.min + (p.scale.max - p.scale.min) * acc / weight

    def neutral(self) -> float:
        """``scoring.neutral_network``."""
        p = self.p
        if self.net is not None and self.net.network is not None and (
                self.net.network.empty is not None):
            return float(self.net.network.empty)
        if p.aggregation == "additive":
            return p.scale.origin
        return (p.scale.min + p.scale.max) / 2

    # scoring.with_network, score_columns, band_column
    def score(self, rows: Rows, state: dict[str, dict[str, Any]], asof_us: int) -> None:
        p = self.p
        if self.net is not None and self.net.network is not None:
            pairs = valid_pairs(rows.relations, set(self.net.network.relations), asof_us)
            agg = _AGGREGATES[self.net.network.aggregate]
            for subject, row in state.items():
                nbrs = [state[r]["own_score"] for r in pairs.get(subject, ()) if r in state]
                row["net_raw"] = agg(nbrs) if nbrs else self.neutral()
        for row in state.values():
            if p.aggregation == "additive":
                total = p.scale.origin
                for cat in p.categories:
                    if cat.network is None:
                        part = row[f"raw__{cat.name}"]
                    else:
                        part = cat.network.factor * (row["net_raw"] - p.scale.origin)
                    row[f"cat__{cat.name}"] = part
                    total = total + part
                row["pre"], row["score"] = total, self._clip(total)
            else:
                acc = 0.0
                span = p.scale.max - p.scale.min
                for cat in p.categories:
                    assert cat.curve is not None
                    raw = row["net_raw"] if cat is self.net else row[f"raw__{cat.name}"]
                    part = span * (cat.weight or 0) * curve_value(cat.curve, raw)
                    row[f"cat__{cat.name}"] = part
                    acc = acc + part
                row["pre"] = row["score"] = p.scale.min + acc
            row["band"] = self._band(row["score"])

    def _band(self, score: float) -> str | None:
        top = max((b.max for b in self.p.bands), default=None)
        for b in self.p.bands:
            upper = score <= b.max if b.max == top else score < b.max
            if score >= b.min and upper:
                return b.name
        return None

    def _resolve(self, row: dict[str, Any]) -> Callable[[str], Any]:
        """``decide.resolver``."""
        net = self.net.name if self.net is not None else None

        def resolve(name: str) -> Any:
            head, _, tail = name.partition(".")
            if head == "category":
                return row["net_raw"] if tail == net else row[f"raw__{tail}"]
            if head == "hits":
                return row[f"hits__{tail}"]
            if head == "points":
                return row[f"pts__{tail}"]
            if head == "listed":
                return row[f"listed__{tail}"]
            return row[name]
        return resolve

    def _cond(self, key: tuple[str, str], row: dict[str, Any]) -> bool:
        """``decide._cond``: the condition (absent: false), NULL read as false."""
        fn = self.fns[key]
        return fn is not None and fn(self._resolve(row)) is True

    # decide.with_lists
    def lists(self, rows: Rows, state: dict[str, dict[str, Any]], t: float) -> None:
        cp = self.cp
        for lst in self.p.lists:
            n = lst.name
            enter_node, exit_node = cp.list_enter[n], cp.list_exit[n]
            mine = sorted({name.partition(".")[2] for name in expr.names(enter_node)
                           if name.partition(".")[0] in ("hits", "points")})
            max_d = lst.max_duration or None
            min_d = lst.min_duration or 0.0
            for subject, row in state.items():
                enter = self._cond(("enter", n), row)
                leave = self._cond(("exit", n), row) if exit_node is not None else not enter
                trig = _greatest(row[f"last__{x}"] for x in mine)
                prev = rows.list_prev.get((subject, n))
                was = prev is not None and prev[0] is not None and prev[0] > 0
                p_since = _secs(prev[1]) if prev else None
                p_ended = _secs(prev[2]) if prev else None
                held = _sub(t, p_since)
                at_max = _ge(held, max_d) if max_d is not None else False
                stays = and3(not3(at_max), not3(and3(leave, _ge(held, min_d))))
                ended_old = ((_add(p_since, max_d) if max_d is not None else t)
                             if at_max is True else t)
                new_since = trig if trig is not None else t
                fresh = p_ended is None or trig is None or trig > p_ended
                expired = (t - new_since) >= max_d if max_d is not None else False
                done = leave and (t - new_since) >= min_d
                enters = enter and fresh and not expired and not done
                listed = stays if was else enters
                since = (p_since if and3(was, stays) is True
                         else new_since if (not was and enters) else None)
                if and3(was, not3(stays)) is True:
                    ended = ended_old
                elif not was and enter and fresh and expired:
                    ended = new_since + max_d if max_d is not None else t
                else:
                    ended = p_ended
                row[f"listed__{n}"], row[f"since__{n}"], row[f"ended__{n}"] = (
                    listed, since, ended)

    # decide.with_measures
    def measures(self, rows: Rows, state: dict[str, dict[str, Any]], t: float,
                 asof_us: int) -> None:
        cp = self.cp
        for m in self.p.measures:
            keep = ("keep" if cp.measure_keep[m.name] is not None else "when", m.name)
            for row in state.values():
                row[f"when__{m.name}"] = self._cond(("when", m.name), row)
                row[f"keep__{m.name}"] = self._cond(keep, row)
        for m in self.p.measures:
            if not m.via_relation:
                continue
            pairs = valid_pairs(rows.relations, set(m.via_relation), asof_us)
            new = {}
            for subject in state:
                theirs = [state[r] for r in pairs.get(subject, ()) if r in state]
                new[subject] = (any(x[f"when__{m.name}"] for x in theirs),
                                any(x[f"keep__{m.name}"] for x in theirs))
            for subject, (w, k) in new.items():
                state[subject][f"when__{m.name}"], state[subject][f"keep__{m.name}"] = w, k
        for m in self.p.measures:
            n = m.name
            grace = m.hysteresis.grace if m.hysteresis and m.hysteresis.grace else None
            for subject, row in state.items():
                when, keep_now = row[f"when__{n}"], row[f"keep__{n}"]
                prev = rows.measure_prev.get((subject, n))
                was = prev is not None and prev[0] is not None and prev[0] > 0
                p_since = _secs(prev[1]) if prev else None
                p_fail = _secs(prev[2]) if prev else None
                failing = None
                if m.hysteresis is None:
                    active = when
                else:
                    fail_since = p_fail if p_fail is not None else t
                    in_grace = (t - fail_since) < grace if grace else False
                    active = (keep_now or in_grace) if was else when
                    if was and not keep_now and in_grace:
                        failing = fail_since
                since = p_since if (was and active) else t if active else None
                row[f"active__{n}"], row[f"msince__{n}"], row[f"failing__{n}"] = (
                    active, since, failing)

    # reasons.reasons_frame
    def reasons(self, row: dict[str, Any], mine: dict[str, list[Any]]) -> list[dict[str, Any]]:
        p = self.p
        costs = []
        for rid, (points, hits, _) in mine.items():
            category = self.rule_category[rid]
            lost: float | None
            if p.aggregation == "additive":
                lost = self._clip(row["pre"] - points) - row["score"]
            else:
                cat = self.curved.get(category)
                if cat is None:  # the plan's CASE over the curved categories: NULL, or 0
                    lost = None if self.curved else 0.0
                else:
                    assert cat.curve is not None
                    raw = row[f"raw__{cat.name}"]
                    lost = ((p.scale.max - p.scale.min) * (cat.weight or 0)) * (
                        curve_value(cat.curve, raw - points) - curve_value(cat.curve, raw))
            costs.append((rid, category, points, hits, self.rule_reason[rid], lost))
        net = self.net
        if net is not None and net.network is not None:
            neutral = self.neutral()
            if p.aggregation == "additive":
                shift = net.network.factor * (neutral - row["net_raw"])
                lost = self._clip(row["pre"] + shift) - row["score"]
            else:
                assert net.curve is not None
                lost = ((p.scale.max - p.scale.min) * (net.weight or 0)) * (
                    curve_value(net.curve, neutral) - curve_value(net.curve, row["net_raw"]))
            costs.append((f"network:{net.name}", net.name, row["net_raw"] - neutral, None,
                          f"The scores of your {', '.join(net.network.relations)} lower yours",
                          lost))
        kept = sorted((c for c in costs if c[5] is not None and c[5] > EPS),
                      key=lambda c: (-float(c[5] or 0.0), c[0]))[:MAX_REASONS]
        return [{"subject_id": row["subject_id"], "rank": i, "rule_id": rid, "category": cat,
                 "points_lost": lost, "points": pts, "hits": hits, "reason": reason}
                for i, (rid, cat, pts, hits, reason, lost) in enumerate(kept, 1)]


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {"mean": _mean, "min": min, "max": max}


def _attribute_reader(text: str | None, value: float | None,
                      casts: dict[str, str]) -> Callable[[str], Any]:
    """What a rule condition reads of one event: ``value``, or an attribute out of the JSON
    (parsed at the first read, once per event)."""
    parsed: list[dict[str, Any]] = []

    def resolve(name: str) -> Any:
        if name == "value":
            return value
        if not parsed:
            parsed.append(_parse(text))
        return _json_member(parsed[0], name, casts[name])
    return resolve


def _parse(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        got = json.loads(text)
    except ValueError as exc:
        raise InputError(f"event attributes are not JSON: {text[:80]!r}") from exc
    return got if isinstance(got, dict) else {}


def _corroborate(counted: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``plan._corroborate``: drop negative records from unreliable sources that no second
    source reports for the same subject, kind and day."""
    sources: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for subject, kind, source, ts, *_ in counted:
        if source is not None:
            sources[(subject, kind, math.floor(ts / 86400.0))].add(source)
    out = []
    for row in counted:
        subject, kind, _, ts, r, raw, rel, _, _ = row
        corr = r.corroboration
        n = float(len(sources.get((subject, kind, math.floor(ts / 86400.0)), ())))
        if corr is not None and raw < 0 and rel < corr.below and n < float(corr.sources):
            continue
        out.append(row)
    return out


def valid_pairs(relations: list[tuple[Any, ...]], types: set[str],
                asof_us: int) -> dict[str, set[str]]:
    """``scoring.valid_relations``: undirected pairs of these types valid at the time."""
    out: dict[str, set[str]] = defaultdict(set)
    for s, r, kind, start, end in relations:
        if kind not in types or (start is not None and start > asof_us) or (
                end is not None and end <= asof_us) or s is None or r is None or s == r:
            continue
        out[s].add(r)
        out[r].add(s)
    return out


def _micros(as_of: datetime) -> int:
    naive = as_of.replace(tzinfo=None)
    return calendar.timegm(naive.timetuple()) * 1_000_000 + naive.microsecond


def _stamp(secs: float | None) -> datetime | None:
    """``timestamp_seconds(x)`` as DuckDB makes it: epoch seconds to microseconds, rounded."""
    return None if secs is None else _EPOCH + timedelta(microseconds=round(secs * 1e6))


def evaluate(cp: CompiledPolicy, rows: Rows, as_of: datetime, *, reasons: bool = True,
             evaluator: Evaluator | None = None) -> dict[str, pa.Table]:
    """The output tables of a subset run over its rows (before rank and percentile)."""
    ev = evaluator or Evaluator(cp)
    p = cp.policy
    t, asof_us = epoch(as_of), _micros(as_of)
    totals = ev.rule_totals(rows.events, t)
    state = ev.features(rows, totals)
    ev.score(rows, state, asof_us)
    ev.lists(rows, state, t)
    ev.measures(rows, state, t, asof_us)
    mine = [state[s] for s in sorted(set(rows.targets)) if s in state]
    cats = [f"cat__{c.name}" for c in p.categories]
    scores = pa.table(
        {"subject_id": pa.array([r["subject_id"] for r in mine], pa.string()),
         "subject_kind": pa.array([r["subject_kind"] for r in mine], pa.string()),
         "score": pa.array([r["score"] for r in mine], pa.float64()),
         "band": pa.array([r["band"] for r in mine], pa.string()),
         "rank": pa.nulls(len(mine), pa.float64()),
         "percentile": pa.nulls(len(mine), pa.float64()),
         **{c: pa.array([r[c] for r in mine], pa.float64()) for c in cats}})
    list_rows = [(r["subject_id"], lst.name, r[f"listed__{lst.name}"],
                  _stamp(r[f"since__{lst.name}"]), _stamp(r[f"ended__{lst.name}"]))
                 for r in mine for lst in sorted(p.lists, key=lambda x: x.name)]
    list_rows = [x for x in list_rows if x[2] is True or x[4] is not None]
    measure_rows = [(r["subject_id"], m.name, m.type, m.context, r[f"active__{m.name}"],
                     _stamp(r[f"msince__{m.name}"]), _stamp(r[f"failing__{m.name}"]))
                    for r in mine for m in sorted(p.measures, key=lambda x: x.name)]
    out = {"scores": scores,
           "lists": _table(list_rows, {"subject_id": pa.string(), "list": pa.string(),
                                       "listed": pa.bool_(), "since": _TS, "ended_at": _TS}),
           "measures": _table(measure_rows, {
               "subject_id": pa.string(), "measure": pa.string(), "type": pa.string(),
               "context": pa.string(), "active": pa.bool_(), "since": _TS,
               "failing_since": _TS})}
    if reasons:
        reason_rows = [x for r in mine for x in ev.reasons(r, totals.get(r["subject_id"], {}))]
        out["reasons"] = pa.Table.from_pylist(reason_rows, schema=pa.schema({
            "subject_id": pa.string(), "rank": pa.int32(), "rule_id": pa.string(),
            "category": pa.string(), "points_lost": pa.float64(), "points": pa.float64(),
            "hits": pa.float64(), "reason": pa.string()}))
    return out


def _table(rows: list[tuple[Any, ...]], schema: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({n: pa.array([r[i] for r in rows], t)
                     for i, (n, t) in enumerate(schema.items())})


def direct_score(b: Backend, inputs: Inputs, cp: CompiledPolicy, as_of: datetime,
                 subjects: list[str], snapshot: Snapshot, *, reasons: bool,
                 cache: InputCache | None = None) -> Result:
    """A subset run: fetch the scope's rows (from ``cache`` while it is fresh, else from the
    tables), evaluate, rank against the snapshot's index."""
    from glasscredit.engine import serving

    targets = sorted(set(subjects))
    if cache is not None and (cache.b is not b or cache.inputs is not inputs):
        raise InputError("this cache holds other inputs than the run's: build it over the "
                         "same backend and Inputs")
    if cache is not None and cache.fresh():
        rows = cache.rows(cp, as_of, targets, snapshot)
        cache.served += 1
    else:
        rows = fetch(b, cp, inputs, as_of, targets, snapshot)
        if cache is not None:
            cache.stale += 1
    ev = b.memo.get(("direct", cp.content_hash))
    if ev is None:
        ev = b.memo[("direct", cp.content_hash)] = Evaluator(cp)
    tables = evaluate(cp, rows, as_of, reasons=reasons, evaluator=ev)
    if snapshot.scores is not None:
        tables["scores"] = serving.rank_index(b, snapshot.scores).rank(tables["scores"])
    return Result(b, fetched=tables)
