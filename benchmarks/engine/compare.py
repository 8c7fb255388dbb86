"""Do two scores tables agree? Every subject, every column, numbers to 1e-9.

Bands and ranks are compared exactly, except where a score lies within the tolerance of a band
boundary or of another subject's score (a 1e-13 difference in summation order may legitimately
move such a subject across the boundary or break the tie the other way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

TOL = 1e-9
NUMERIC = ["score", "percentile", "cat__credit_history", "cat__fulfilment_capacity",
           "cat__personal_characteristics", "cat__behaviour_preferences",
           "cat__interpersonal_relationships"]
BOUNDARIES = [350, 550, 600, 650, 700, 950]


@dataclass
class Comparison:
    name: str
    rows_left: int = 0
    rows_right: int = 0
    missing: int = 0
    max_diff: dict[str, float] = field(default_factory=dict)
    bad_numbers: int = 0
    bad_bands: int = 0
    bad_ranks: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.rows_left == self.rows_right and not self.missing and not self.bad_numbers
                and not self.bad_bands and not self.bad_ranks)

    def summary(self) -> str:
        worst = max(self.max_diff.values(), default=0.0)
        if self.ok:
            return (f"{self.name}: equal on all {self.rows_left:,} subjects "
                    f"(max |diff| {worst:.1e})")
        return (f"{self.name}: MISMATCH rows {self.rows_left:,} vs {self.rows_right:,}, "
                f"missing {self.missing:,}, numbers off by > {TOL:g} on {self.bad_numbers:,} "
                f"subjects (max |diff| {worst:.3g}), bands {self.bad_bands:,}, "
                f"ranks {self.bad_ranks:,}")


def compare(left: Path, right: Path, name: str, *, sample: bool = False) -> Comparison:
    """Compare two Parquet scores tables; ``sample`` keeps only the subjects both have."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE TEMP VIEW l AS SELECT * FROM read_parquet('{left}')")
    con.execute(f"CREATE TEMP VIEW r AS SELECT * FROM read_parquet('{right}')")
    c = Comparison(name)
    c.rows_left = con.execute("SELECT count(*) FROM l").fetchone()[0]
    c.rows_right = con.execute("SELECT count(*) FROM r").fetchone()[0]
    if sample:
        c.rows_left = c.rows_right = con.execute(
            "SELECT count(*) FROM l JOIN r USING (subject_id)").fetchone()[0]
    else:
        c.missing = con.execute(
            "SELECT count(*) FROM l FULL JOIN r USING (subject_id) "
            "WHERE l.subject_id IS NULL OR r.subject_id IS NULL").fetchone()[0]
    diffs = ", ".join(f"max(abs(l.{k} - r.{k})) AS {k}" for k in NUMERIC)
    row = con.execute(f"SELECT {diffs} FROM l JOIN r USING (subject_id)").fetchone()
    c.max_diff = {k: float(v or 0.0) for k, v in zip(NUMERIC, row, strict=True)}
    off = " OR ".join(
        f"abs(l.{k} - r.{k}) > {TOL} OR (l.{k} IS NULL) <> (r.{k} IS NULL)" for k in NUMERIC)
    c.bad_numbers = con.execute(
        f"SELECT count(*) FROM l JOIN r USING (subject_id) WHERE {off}").fetchone()[0]
    near_edge = " OR ".join(f"abs(l.score - {b}) <= {TOL}" for b in BOUNDARIES)
    c.bad_bands = con.execute(
        "SELECT count(*) FROM l JOIN r USING (subject_id) WHERE l.band IS DISTINCT FROM r.band "
        f"AND NOT ({near_edge})").fetchone()[0]
    # a rank may differ only by the number of subjects whose score is within TOL of this one
    c.bad_ranks = con.execute(f"""
        WITH d AS (SELECT subject_id, l.subject_kind, l.score, abs(l.rank - r.rank) AS gap
                   FROM l JOIN r USING (subject_id) WHERE l.rank <> r.rank),
             s AS (SELECT subject_kind, score FROM l ORDER BY subject_kind, score)
        SELECT count(*) FROM d
        WHERE gap > (SELECT count(*) FROM s WHERE s.subject_kind = d.subject_kind
                     AND abs(s.score - d.score) <= {TOL})""").fetchone()[0]
    if not c.ok:
        rows = con.execute(
            f"SELECT subject_id, l.score, r.score, l.band, r.band FROM l JOIN r USING (subject_id) "
            f"WHERE {off} OR l.band IS DISTINCT FROM r.band ORDER BY abs(l.score - r.score) DESC "
            "LIMIT 5").fetchall()
        c.examples = [f"{s}: {a!r} {ba} vs {b!r} {bb}" for s, a, b, ba, bb in rows]
    con.close()
    return c
