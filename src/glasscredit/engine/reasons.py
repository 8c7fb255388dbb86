"""Reasons: the rules that cost a subject the most points, at most four (FICO / Reg B style).

A rule's cost is counterfactual and exact: the score the subject would have without that rule's
points, minus the score it has. A network category that pulls the score down is a reason too,
against a subject without relations. "Score too low" is never a reason.
"""

from __future__ import annotations

from typing import Any

from glasscredit.engine.plan import Ctx, clip_scale, curve, rules_frame
from glasscredit.engine.scoring import network_category, neutral_network

MAX_REASONS = 4
EPS = 1e-9


def _rule_cost(c: Ctx) -> Any:
    """Points lost to one rule's total ``points``, for the rule's category."""
    F, p = c.F, c.cp.policy
    if p.aggregation == "additive":
        return clip_scale(c, F.col("pre") - F.col("points")) - F.col("score")
    span = p.scale.max - p.scale.min
    out = None
    for cat in p.categories:
        if cat.network is not None or cat.curve is None:
            continue
        raw = F.col(f"raw__{cat.name}")
        cost = c.num(span * (cat.weight or 0)) * (
            curve(c, cat.curve, raw - F.col("points")) - curve(c, cat.curve, raw))
        is_cat = F.col("category") == cat.name
        out = F.when(is_cat, cost) if out is None else out.when(is_cat, cost)
    return out if out is not None else c.num(0)


def _network_cost(c: Ctx) -> Any:
    F, p = c.F, c.cp.policy
    net = network_category(c)
    neutral = c.num(neutral_network(c))
    if p.aggregation == "additive":
        shift = c.num(net.network.factor) * (neutral - F.col("net_raw"))
        return clip_scale(c, F.col("pre") + shift) - F.col("score")
    assert net.curve is not None
    span = c.num((p.scale.max - p.scale.min) * (net.weight or 0))
    return span * (curve(c, net.curve, neutral) - curve(c, net.curve, F.col("net_raw")))


def reasons_frame(c: Ctx, totals: Any, state: Any) -> Any:
    """Top rules by points lost, per subject: subject_id, rank, rule_id, category, points_lost,
    points, hits, reason."""
    F, W, p = c.F, c.b.Window, c.cp.policy
    raw_cols = [f"raw__{cat.name}" for cat in p.categories if cat.network is None]
    rules = rules_frame(c).select("rule_id", "category", "reason")
    base = state.select("subject_id", "score", "pre", *raw_cols)
    per_rule = totals.join(base, "subject_id", "inner").join(rules, "rule_id", "inner")
    per_rule = per_rule.select(*[F.col(n) for n in (
        "subject_id", "rule_id", "category", "points", "hits", "reason", "score", "pre",
        *raw_cols)])
    costs = per_rule.select("subject_id", "rule_id", "category", "points", "hits", "reason",
                            _rule_cost(c).alias("points_lost"))
    net = network_category(c)
    if net is not None:
        net_rows = state.select(
            "subject_id", F.lit(f"network:{net.name}").alias("rule_id"),
            F.lit(net.name).alias("category"),
            (F.col("net_raw") - c.num(neutral_network(c))).alias("points"),
            F.lit(None).cast("double").alias("hits"),
            F.lit(f"The scores of your {', '.join(net.network.relations)} lower yours")
            .alias("reason"), _network_cost(c).alias("points_lost"))
        costs = costs.unionByName(net_rows)
    costs = costs.filter(F.col("points_lost") > c.num(EPS))
    order = W.partitionBy("subject_id").orderBy(F.col("points_lost").desc(), F.col("rule_id"))
    ranked = costs.select("*", F.row_number().over(order).alias("rank"))
    return ranked.filter(F.col("rank") <= MAX_REASONS).select(
        "subject_id", F.col("rank").cast("int").alias("rank"), "rule_id", "category",
        "points_lost", "points", "hits", "reason")
