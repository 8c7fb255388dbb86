"""Policy -> DataFrame plan, part 2: category points -> network term -> score, band, rank."""

from __future__ import annotations

from typing import Any

from glasscredit.engine.plan import Ctx, clip_scale, curve, flat


def network_category(c: Ctx) -> Any:
    """The policy's network category, if it has one."""
    return next((cat for cat in c.cp.policy.categories if cat.network is not None), None)


def neutral_network(c: Ctx) -> float:
    """What the network category reads for a subject without relations: no effect by default."""
    p = c.cp.policy
    net = network_category(c)
    if net is not None and net.network.empty is not None:
        return float(net.network.empty)
    if p.aggregation == "additive":
        return p.scale.origin
    return (p.scale.min + p.scale.max) / 2


def non_network_score(c: Ctx) -> Any:
    """A subject's score from its own records only: what its neighbours' network terms read."""
    F, p = c.F, c.cp.policy
    own = [cat for cat in p.categories if cat.network is None]
    if p.aggregation == "additive":
        total = c.num(p.scale.origin)
        for cat in own:
            total = total + F.col(f"raw__{cat.name}")
        return clip_scale(c, total)
    weight = sum(cat.weight or 0 for cat in own)
    if weight <= 0:
        return c.num((p.scale.min + p.scale.max) / 2)
    acc = c.num(0)
    for cat in own:
        assert cat.curve is not None
        acc = acc + c.num(cat.weight or 0) * curve(c, cat.curve, F.col(f"raw__{cat.name}"))
    return c.num(p.scale.min) + c.num(p.scale.max - p.scale.min) * acc / c.num(weight)


def touching(c: Ctx, relations: Any, ids: list[str]) -> Any:
    """The relation rows with either end among ``ids``, each once. Two one-column filters, not
    one filter on ``a OR b``: each can then use the table's order or an index on its column,
    where the OR scans every row."""
    F = c.F
    mine = F.col("subject_id").isin(ids)
    theirs = F.col("related_id").isin(ids) & ~mine
    return relations.filter(mine).unionByName(relations.filter(theirs))


def valid_relations(c: Ctx, relations: Any, types: list[str]) -> Any:
    """Undirected (subject, related) pairs of the given types valid at ``as_of``."""
    F = c.F
    r = relations.filter(F.col("relation").isin(types)
                         & (F.col("valid_from").isNull() | (F.col("valid_from") <= c.asof()))
                         & (F.col("valid_to").isNull() | (F.col("valid_to") > c.asof())))
    if c.scope is not None:
        r = touching(c, r, list(c.scope))
    there = r.select("subject_id", "related_id")
    back = r.select(F.col("related_id").alias("subject_id"),
                    F.col("subject_id").alias("related_id"))
    return there.unionByName(back).filter(F.col("subject_id") != F.col("related_id")).distinct()


def with_network(c: Ctx, state: Any, relations: Any) -> Any:
    """Add ``net_raw``: the aggregate of related subjects' non-network scores, one hop."""
    F = c.F
    net = network_category(c)
    if net is None:
        return state
    pairs = valid_relations(c, relations, list(net.network.relations))
    nbr = state.select(F.col("subject_id").alias("related_id"), F.col("own_score").alias("nbr"))
    agg_fn = {"mean": F.avg, "min": F.min, "max": F.max}[net.network.aggregate]
    agg = pairs.join(nbr, "related_id", "inner").groupBy("subject_id").agg(
        agg_fn("nbr").alias("net_agg"))
    out = flat(c, state.join(agg, "subject_id", "left"))
    return out.withColumn("net_raw", F.coalesce(F.col("net_agg"), c.num(neutral_network(c))))


def score_columns(c: Ctx) -> list[Any]:
    """``score``, ``pre`` (unclipped additive total) and ``pts__<category>`` contributions."""
    F, p = c.F, c.cp.policy
    net = network_category(c)
    cols = []
    if p.aggregation == "additive":
        total = c.num(p.scale.origin)
        for cat in p.categories:
            if cat.network is None:
                part = F.col(f"raw__{cat.name}")
            else:
                part = c.num(cat.network.factor) * (F.col("net_raw") - c.num(p.scale.origin))
            cols.append(part.alias(f"cat__{cat.name}"))
            total = total + part
        return [*cols, total.alias("pre"), clip_scale(c, total).alias("score")]
    acc = c.num(0)
    span = c.num(p.scale.max - p.scale.min)
    for cat in p.categories:
        assert cat.curve is not None
        raw = F.col("net_raw") if net is not None and cat is net else F.col(f"raw__{cat.name}")
        part = span * c.num(cat.weight or 0) * curve(c, cat.curve, raw)
        cols.append(part.alias(f"cat__{cat.name}"))
        acc = acc + part
    score = c.num(p.scale.min) + acc
    return [*cols, score.alias("pre"), score.alias("score")]


def band_column(c: Ctx) -> Any:
    """The band of the score: [min, max), the top band closed at the scale's maximum."""
    F, p = c.F, c.cp.policy
    out = None
    top = max((b.max for b in p.bands), default=None)
    for b in p.bands:
        upper = (F.col("score") <= c.num(b.max)) if b.max == top else (
            F.col("score") < c.num(b.max))
        cond = (F.col("score") >= c.num(b.min)) & upper
        out = F.when(cond, F.lit(b.name)) if out is None else out.when(cond, F.lit(b.name))
    return (out if out is not None else F.lit(None)).cast("string")


def score_state(c: Ctx, feats: Any, relations: Any) -> Any:
    """Features -> own score -> network -> score and band, for every subject in scope."""
    state = feats.withColumn("own_score", non_network_score(c))
    if network_category(c) is not None:
        state = with_network(c, state, relations)
    state = state.select("*", *score_columns(c))
    return state.withColumn("band", band_column(c))


def ranked(c: Ctx, state: Any) -> Any:
    """Rank (1 = best, ties share) and percentile (share at or below) within subject kind."""
    F, W = c.F, c.b.Window
    by_kind_desc = W.partitionBy("subject_kind").orderBy(F.col("score").desc())
    by_kind_asc = W.partitionBy("subject_kind").orderBy(F.col("score").asc())
    return state.select("*", F.rank().over(by_kind_desc).cast("double").alias("rank"),
                        (c.num(100) * F.cume_dist().over(by_kind_asc)).alias("percentile"))


def ranked_against(c: Ctx, state: Any, baseline: Any) -> Any:
    """Rank a subset against a baseline of everyone else's scores (same law as ``ranked``).

    The population is the baseline with the subset's own rows replaced by their new scores.
    Counted as: the whole baseline, minus the subset's baseline rows, plus the subset's new
    rows; so the large baseline is read once, with no anti-join or union over it."""
    F = c.F
    assert c.scope is not None
    mine = state.select("subject_id", "subject_kind", "score")
    me = mine.select(F.col("subject_id").alias("me"), "subject_kind",
                     F.col("score").alias("my_score"))
    base = baseline.select("subject_id", "subject_kind", F.col("score").cast("double"))
    one, zero = c.num(1), c.num(0)

    def tally(pop: Any, tag: str) -> Any:
        pairs = me.join(pop.select("subject_kind", "score"), "subject_kind", "inner")
        return pairs.groupBy("me").agg(
            F.sum(F.when(F.col("score") > F.col("my_score"), one).otherwise(zero))
            .alias(f"higher_{tag}"),
            F.sum(F.when(F.col("score") <= F.col("my_score"), one).otherwise(zero))
            .alias(f"below_{tag}"),
            F.count(F.lit(1)).cast("double").alias(f"n_{tag}"))

    replaced = base.join(mine.select("subject_id"), "subject_id", "left_semi")
    t = (me.select("me").join(tally(base, "all"), "me", "left")
         .join(tally(replaced, "old"), "me", "left").join(tally(mine, "new"), "me", "left"))

    def net(name: str) -> Any:
        return (F.coalesce(F.col(f"{name}_all"), zero) - F.coalesce(F.col(f"{name}_old"), zero)
                + F.coalesce(F.col(f"{name}_new"), zero))

    counts = t.select(F.col("me").alias("subject_id"), (net("higher") + one).alias("rank"),
                      (c.num(100) * net("below") / net("n")).alias("percentile"))
    return flat(c, state.join(counts, "subject_id", "left"))
