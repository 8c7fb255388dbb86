"""Policy -> DataFrame plan, part 1: events -> counted contributions -> per-rule totals -> score.

Written once against the PySpark DataFrame API (``F`` and ``Window`` come from the Backend),
so DuckDB through SQLFrame and Apache Spark run the same plan. Each function is one pass.
Times inside the plan are epoch seconds (DOUBLE); literals are cast to DOUBLE because DuckDB
reads ``0.69`` as DECIMAL.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from glasscredit.engine.sessions import Backend
from glasscredit.policy import expr
from glasscredit.policy.load import CompiledPolicy
from glasscredit.policy.model import Curve

BIG = 1e300
RULE_SCHEMA = {
    "rule_id": "string", "kind": "string", "category": "string", "points": "double",
    "ppu": "double", "clip_lo": "double", "clip_hi": "double", "half_life": "double",
    "valid_for": "double", "cap_points": "double", "cap_per": "double",
    "corr_below": "double", "corr_sources": "double", "reason": "string",
}
_JSON_CAST = {"int": "double", "float": "double", "bool": "boolean"}


def epoch(ts: datetime) -> float:
    """Seconds since 1970 of a UTC instant; naive datetimes are read as UTC."""
    if ts.tzinfo is not None:
        return ts.timestamp()
    return calendar.timegm(ts.timetuple()) + ts.microsecond / 1e6


@dataclass(frozen=True)
class Ctx:
    """What every plan step needs: the backend, the compiled policy and the time."""

    b: Backend
    cp: CompiledPolicy
    as_of: datetime
    scope: tuple[str, ...] | None

    @property
    def F(self) -> Any:
        return self.b.F

    def num(self, v: float) -> Any:
        return self.F.lit(float(v)).cast("double")

    @property
    def t(self) -> Any:
        return self.num(epoch(self.as_of))

    def asof(self) -> Any:
        return self.F.lit(self.as_of.replace(tzinfo=None)).cast("timestamp")

    def secs(self, column: str) -> Any:
        """A timestamp column as epoch seconds with its fraction: microseconds / 1e6, because
        whole seconds round on DuckDB and truncate on Spark."""
        F = self.F
        return F.unix_micros(F.col(column).cast("timestamp")).cast("double") / self.num(1e6)


def flat(c: Ctx, df: Any) -> Any:
    """Re-select a joined frame's columns by name: SQLFrame resolves later expressions reliably
    only against a plain projection."""
    return df.select(*[c.F.col(n) for n in df.columns])


def rules_frame(c: Ctx) -> Any:
    """The policy's rules as a small table, joined to events by kind."""
    rows = []
    for r in c.cp.policy.rules:
        rows.append((
            r.id, r.kind, r.category, r.points, r.points_per_unit,
            r.clip[0] if r.clip else None, r.clip[1] if r.clip else None,
            r.half_life, r.valid_for, r.cap.points if r.cap else None,
            r.cap.per if r.cap else None,
            r.corroboration.below if r.corroboration else None,
            float(r.corroboration.sources) if r.corroboration else None, r.reason))
    # a table, not an inline VALUES list that every later plan step would copy again
    return c.b.materialise(c.b.rows(rows, RULE_SCHEMA), constant=True)


def counted_events(c: Ctx, events: Any, voids: Any, sources: Any) -> Any:
    """One row per (event, matching rule) that counts at ``as_of``, with its contribution."""
    F, p = c.F, c.cp.policy
    ev = events.filter(F.col("occurred_at") <= c.asof())
    if c.scope is not None:
        ev = ev.filter(F.col("subject_id").isin(list(c.scope)))
    kinds = sorted({r.kind for r in p.rules})
    ev = ev.filter(F.col("kind").isin(kinds))
    if voids is not None:
        gone = voids.filter(F.col("voided_at") <= c.asof()).select("event_id")
        ev = ev.join(gone, "event_id", "left_anti")
    ev = ev.join(sources.select("source_id", "reliability"), "source_id", "left")
    # Each attribute a condition reads is parsed out of the JSON once per event, before the
    # join with the rules (a kind has several rules), and so is the time.
    attrs = _attribute_columns(c)
    ev = ev.select("event_id", "subject_id", "kind", "source_id", "occurred_at", "value",
                   "reliability", c.secs("occurred_at").alias("ts"),
                   *[col.alias(name) for name, col in attrs.values()])
    ev = ev.join(rules_frame(c), "kind", "inner")
    ev = ev.select(*[F.col(n) for n in (
        "event_id", "subject_id", "kind", "source_id", "occurred_at", "ts", "value",
        "reliability", *[name for name, _ in attrs.values()],
        *[k for k in RULE_SCHEMA if k not in ("kind", "reason")])])

    def attr(rule_id: str) -> Any:
        types = c.cp.rule_attributes.get(rule_id, {})

        def resolve(name: str) -> Any:
            if name == "value":
                return F.col("value")
            return F.col(attrs[(name, _JSON_CAST.get(types.get(name, ""), "string"))][0])
        return resolve

    match = None
    for r in p.rules:
        node = c.cp.rule_conditions.get(r.id)
        if node is None:
            continue
        cond = F.coalesce(expr.compile_column(node, F, attr(r.id)), F.lit(False))
        match = (F.when(F.col("rule_id") == r.id, cond) if match is None
                 else match.when(F.col("rule_id") == r.id, cond))
    if match is not None:
        ev = ev.filter(match.otherwise(F.lit(True)))

    ts = F.col("ts")
    age = c.t - ts
    base = F.coalesce(F.col("points"), F.col("ppu") * F.coalesce(F.col("value"), c.num(0)))
    clipped = F.least(F.greatest(base, F.coalesce(F.col("clip_lo"), c.num(-BIG))),
                      F.coalesce(F.col("clip_hi"), c.num(BIG)))
    decay = F.when(F.col("half_life").isNull(), c.num(1)).otherwise(
        F.pow(c.num(0.5), age / F.col("half_life")))
    rel = F.coalesce(F.col("reliability").cast("double"), c.num(1))
    bucket = F.when(F.col("cap_per").isNull(), F.lit(0).cast("bigint")).otherwise(
        F.floor(ts / F.col("cap_per")).cast("bigint"))
    out = ev.filter(F.col("valid_for").isNull() | (age < F.col("valid_for"))).select(
        "event_id", "subject_id", "kind", "rule_id", "category", "source_id", "occurred_at",
        ts.alias("ts"), clipped.alias("raw"), rel.alias("reliability"), decay.alias("decay"),
        (clipped * rel * decay).alias("contrib"), bucket.alias("bucket"), "cap_points",
        "corr_below", "corr_sources")
    if any(r.corroboration for r in p.rules):
        out = _corroborate(c, out)
    return out


def _attribute_columns(c: Ctx) -> dict[tuple[str, str], tuple[str, Any]]:
    """(attribute, cast type) -> (column name, the typed value read from ``attrs``) for every
    attribute a rule condition reads, parsed only for the kinds whose rules read it."""
    F, p = c.F, c.cp.policy
    kinds: dict[tuple[str, str], set[str]] = {}
    for r in p.rules:
        node = c.cp.rule_conditions.get(r.id)
        if node is None:
            continue
        types = c.cp.rule_attributes.get(r.id, {})
        for name in expr.names(node):
            if name != "value":
                key = (name, _JSON_CAST.get(types.get(name, ""), "string"))
                kinds.setdefault(key, set()).add(r.kind)
    out = {}
    for i, (key, used_by) in enumerate(sorted(kinds.items())):
        name, cast = key
        typed = c.b.json_text(F.col("attrs"), name).cast(cast)
        out[key] = (f"attr__{i}", F.when(F.col("kind").isin(sorted(used_by)), typed))
    return out


def _corroborate(c: Ctx, rows: Any) -> Any:
    """Drop negative records from unreliable sources that no second source confirms.

    "The same fact" is the same subject, kind and day reported by distinct sources.
    """
    F = c.F
    day = F.floor(F.col("ts") / c.num(86400)).cast("bigint")
    rows = rows.withColumn("day", day)
    facts = rows.groupBy("subject_id", "kind", "day").agg(
        F.countDistinct("source_id").cast("double").alias("n_sources"))
    rows = rows.join(facts, ["subject_id", "kind", "day"], "left")
    doubtful = (F.col("corr_below").isNotNull() & (F.col("raw") < c.num(0))
                & (F.col("reliability") < F.col("corr_below"))
                & (F.col("n_sources") < F.col("corr_sources")))
    return rows.filter(~doubtful).drop("day", "n_sources")


def bucket_totals(c: Ctx, counted: Any) -> Any:
    """Sum per (subject, rule, cap period) and scale down to the cap on raw points."""
    F = c.F
    g = counted.groupBy("subject_id", "rule_id", "bucket").agg(
        F.sum("contrib").alias("contrib"), F.sum("raw").alias("raw"),
        F.count(F.lit(1)).alias("hits"), F.max("ts").alias("last_ts"),
        F.max("cap_points").alias("cap_points"))
    factor = F.when(F.col("cap_points").isNull() | (F.col("raw") == c.num(0)), c.num(1)).otherwise(
        F.least(c.num(1), F.col("cap_points") / F.abs(F.col("raw"))))
    return g.select("subject_id", "rule_id", "bucket", "hits", "last_ts",
                    factor.alias("factor"), (F.col("contrib") * factor).alias("points"))


def rule_totals(c: Ctx, buckets: Any) -> Any:
    """Per (subject, rule): points after caps, number of counted events, latest event time."""
    F = c.F
    return buckets.groupBy("subject_id", "rule_id").agg(
        F.sum("points").alias("points"), F.sum("hits").cast("double").alias("hits"),
        F.max("last_ts").alias("last_ts"))


def referenced_rules(cp: CompiledPolicy) -> set[str]:
    """Rules whose hits or points a list or measure condition reads by name."""
    nodes = [*cp.list_enter.values(), *cp.list_exit.values(), *cp.measure_when.values(),
             *cp.measure_keep.values()]
    out = set()
    for n in nodes:
        if n is None:
            continue
        for name in expr.names(n):
            head, _, tail = name.partition(".")
            if head in ("hits", "points"):
                out.add(tail)
    return out


def features(c: Ctx, totals: Any, subjects: Any) -> Any:
    """One wide row per subject in scope: raw points per category, and per referenced rule."""
    F, p = c.F, c.cp.policy
    aggs = []
    for cat in p.categories:
        if cat.network is None:
            ids = [r.id for r in p.rules if r.category == cat.name]
            aggs.append(F.sum(F.when(F.col("rule_id").isin(ids or ["\0"]), F.col("points")))
                        .alias(f"raw__{cat.name}"))
    refs = referenced_rules(c.cp)
    for rid in sorted(refs):
        is_r = F.col("rule_id") == rid
        aggs += [F.sum(F.when(is_r, F.col("points"))).alias(f"pts__{rid}"),
                 F.sum(F.when(is_r, F.col("hits"))).alias(f"hits__{rid}"),
                 F.max(F.when(is_r, F.col("last_ts"))).alias(f"last__{rid}")]
    wide = totals.groupBy("subject_id").agg(*aggs)
    subj = subjects.select("subject_id", "subject_kind")
    if c.scope is not None:
        subj = subj.filter(F.col("subject_id").isin(list(c.scope)))
    if p.subject_kind != "any":
        subj = subj.filter(F.col("subject_kind") == p.subject_kind)
    joined = subj.join(wide, "subject_id", "left")
    zero = c.num(0)
    cols = [F.col("subject_id"), F.col("subject_kind")]
    for cat in p.categories:
        if cat.network is None:
            cols.append(F.coalesce(F.col(f"raw__{cat.name}"), zero).alias(f"raw__{cat.name}"))
    for rid in sorted(refs):
        cols += [F.coalesce(F.col(f"pts__{rid}"), zero).alias(f"pts__{rid}"),
                 F.coalesce(F.col(f"hits__{rid}"), zero).alias(f"hits__{rid}"),
                 F.col(f"last__{rid}")]
    return joined.select(*cols)


def curve(c: Ctx, cv: Curve, x: Any) -> Any:
    """The category curve as a column: raw points -> 0..1."""
    F = c.F
    if cv.type == "linear":
        assert cv.lo is not None and cv.hi is not None
        return F.least(c.num(1), F.greatest(c.num(0), (x - c.num(cv.lo)) / c.num(cv.hi - cv.lo)))
    assert cv.mid is not None and cv.scale is not None
    return c.num(1) / (c.num(1) + F.exp(-(x - c.num(cv.mid)) / c.num(cv.scale)))


def clip_scale(c: Ctx, x: Any) -> Any:
    """Clip a column to the policy's scale."""
    s = c.cp.policy.scale
    return c.F.least(c.num(s.max), c.F.greatest(c.num(s.min), x))
