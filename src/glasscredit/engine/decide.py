"""Policy -> DataFrame plan, part 3: list memberships and measure states, chained by snapshot.

Lists: a subject enters when ``enter`` holds; a listing dates from the latest triggering event
(or ``as_of`` for score-based lists), lasts at least ``min_duration``, ends when ``exit`` holds
(default: ``enter`` no longer holds) or at ``max_duration``; after an ending only a newer
triggering event can list the subject again.

Measures: active when ``when`` holds; with hysteresis an active measure is kept while
``keep_while`` holds and for ``grace`` after it stops holding; ``via_relation`` measures apply
to a subject when the condition holds for a related subject.
"""

from __future__ import annotations

from typing import Any

from glasscredit.engine.plan import Ctx, flat
from glasscredit.engine.scoring import valid_relations
from glasscredit.policy import expr


def resolver(c: Ctx) -> Any:
    """Map condition names (``score``, ``hits.r``, ``listed.l``) to state columns."""
    F = c.F
    net = {cat.name for cat in c.cp.policy.categories if cat.network is not None}

    def resolve(name: str) -> Any:
        head, _, tail = name.partition(".")
        if head == "category":
            return F.col("net_raw") if tail in net else F.col(f"raw__{tail}")
        if head == "hits":
            return F.col(f"hits__{tail}")
        if head == "points":
            return F.col(f"pts__{tail}")
        if head == "listed":
            return F.col(f"listed__{tail}")
        return F.col(name)
    return resolve


def _cond(c: Ctx, node: expr.Node | None) -> Any:
    if node is None:
        return c.F.lit(False)
    return c.F.coalesce(expr.compile_column(node, c.F, resolver(c)), c.F.lit(False))


def _pivot(c: Ctx, snapshot: Any, key: str, names: list[str], fields: dict[str, str]) -> Any:
    """One row per subject with ``<field>__<name>`` columns from a long snapshot table."""
    F = c.F
    aggs = []
    for n in names:
        is_n = F.col(key) == n
        for fld, kind in fields.items():
            col = F.col(fld)
            if kind == "ts":
                col = c.secs(fld)
            elif kind == "bool":
                col = F.when(F.col(fld), c.num(1)).otherwise(c.num(0))
            aggs.append(F.max(F.when(is_n, col)).alias(f"prev_{fld}__{n}"))
    return snapshot.groupBy("subject_id").agg(*aggs)


def with_lists(c: Ctx, state: Any, prev: Any | None) -> Any:
    """Add ``listed__L``, ``since__L``, ``ended__L`` (epoch seconds) for every list."""
    F, p = c.F, c.cp.policy
    if not p.lists:
        return state
    names = [lst.name for lst in p.lists]
    if prev is not None:
        piv = _pivot(c, prev, "list", names, {"listed": "bool", "since": "ts", "ended_at": "ts"})
        state = flat(c, state.join(piv, "subject_id", "left"))
    cols = []
    for lst in p.lists:
        n = lst.name
        enter = _cond(c, c.cp.list_enter[n])
        leave_cond = (_cond(c, c.cp.list_exit[n]) if c.cp.list_exit[n] is not None else ~enter)
        mine = sorted({name.partition(".")[2] for name in expr.names(c.cp.list_enter[n])
                       if name.partition(".")[0] in ("hits", "points")})
        trig = (F.greatest(*[F.col(f"last__{t}") for t in mine]) if len(mine) > 1
                else F.col(f"last__{mine[0]}") if mine else F.lit(None).cast("double"))
        if prev is None:
            was = F.lit(False)
            p_since = p_ended = F.lit(None).cast("double")
        else:
            was = F.coalesce(F.col(f"prev_listed__{n}"), c.num(0)) > c.num(0)
            p_since, p_ended = F.col(f"prev_since__{n}"), F.col(f"prev_ended_at__{n}")
        max_d = c.num(lst.max_duration) if lst.max_duration else None
        min_d = c.num(lst.min_duration) if lst.min_duration else c.num(0)
        held = c.t - p_since
        # already listed: stays until exit (after the minimum) or the maximum
        at_max = (held >= max_d) if max_d is not None else F.lit(False)
        stays = ~at_max & ~(leave_cond & (held >= min_d))
        ended_old = F.when(at_max, p_since + max_d if max_d is not None else c.t).otherwise(c.t)
        # not listed: enters on a condition backed by a trigger newer than the last ending
        new_since = F.coalesce(trig, c.t)
        fresh = p_ended.isNull() | trig.isNull() | (trig > p_ended)
        expired = ((c.t - new_since) >= max_d) if max_d is not None else F.lit(False)
        done = leave_cond & ((c.t - new_since) >= min_d)  # the exit already holds
        enters = enter & fresh & ~expired & ~done
        listed = F.when(was, stays).otherwise(enters)
        since = F.when(was & stays, p_since).when(~was & enters, new_since)
        ended = (F.when(was & ~stays, ended_old)
                 .when(~was & enter & fresh & expired,
                       new_since + max_d if max_d is not None else c.t)
                 .otherwise(p_ended))
        cols += [listed.alias(f"listed__{n}"), since.alias(f"since__{n}"),
                 ended.alias(f"ended__{n}")]
    return state.select("*", *cols)


def with_measures(c: Ctx, state: Any, prev: Any | None, relations: Any) -> Any:
    """Add ``active__M``, ``msince__M``, ``failing__M`` for every measure."""
    F, p = c.F, c.cp.policy
    if not p.measures:
        return state
    # conditions first, so via_relation measures can read them off the related subjects
    conds = []
    for m in p.measures:
        keep = c.cp.measure_keep[m.name]
        conds += [_cond(c, c.cp.measure_when[m.name]).alias(f"when__{m.name}"),
                  (_cond(c, keep) if keep is not None else
                   _cond(c, c.cp.measure_when[m.name])).alias(f"keep__{m.name}")]
    state = c.b.materialise(state.select("*", *conds))
    for m in p.measures:
        if not m.via_relation:
            continue
        pairs = valid_relations(c, relations, list(m.via_relation))
        theirs = state.select(
            F.col("subject_id").alias("related_id"),
            F.when(F.col(f"when__{m.name}"), c.num(1)).otherwise(c.num(0)).alias("w"),
            F.when(F.col(f"keep__{m.name}"), c.num(1)).otherwise(c.num(0)).alias("k"))
        agg = pairs.join(theirs, "related_id", "inner").groupBy("subject_id").agg(
            F.max("w").alias(f"vw__{m.name}"), F.max("k").alias(f"vk__{m.name}"))
        state = flat(c, state.join(agg, "subject_id", "left"))
        state = c.b.materialise(state.withColumns({
            f"when__{m.name}": F.coalesce(F.col(f"vw__{m.name}"), c.num(0)) > c.num(0),
            f"keep__{m.name}": F.coalesce(F.col(f"vk__{m.name}"), c.num(0)) > c.num(0)}))
    names = [m.name for m in p.measures]
    if prev is not None:
        piv = _pivot(c, prev, "measure", names,
                     {"active": "bool", "since": "ts", "failing_since": "ts"})
        state = flat(c, state.join(piv, "subject_id", "left"))
    cols = []
    for m in p.measures:
        n = m.name
        when, keep = F.col(f"when__{n}"), F.col(f"keep__{n}")
        if prev is None:
            was = F.lit(False)
            p_since = p_fail = F.lit(None).cast("double")
        else:
            was = F.coalesce(F.col(f"prev_active__{n}"), c.num(0)) > c.num(0)
            p_since, p_fail = F.col(f"prev_since__{n}"), F.col(f"prev_failing_since__{n}")
        grace = m.hysteresis.grace if m.hysteresis and m.hysteresis.grace else None
        if m.hysteresis is None:
            active = when
            failing = F.lit(None).cast("double")
        else:
            fail_since = F.coalesce(p_fail, c.t)
            in_grace = ((c.t - fail_since) < c.num(grace)) if grace else F.lit(False)
            kept = keep | in_grace
            active = F.when(was, kept).otherwise(when)
            failing = F.when(was & ~keep & in_grace, fail_since)
        since = F.when(was & active, p_since).when(active, c.t)
        cols += [active.alias(f"active__{n}"), since.alias(f"msince__{n}"),
                 failing.cast("double").alias(f"failing__{n}")]
    return state.select("*", *cols)
