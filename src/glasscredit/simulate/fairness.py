"""Fairness and error audit of a policy run on a synthetic city.

* **Rates by group.** For each measure and each audit dimension (hukou, sex, age band, income
  decile, district), the share of the group's people holding the measure in the last month.
* **Disparate impact (four-fifths rule).** Computed on the *favourable* outcome: for a
  privilege, holding it; for a sanction, *not* being sanctioned. The ratio is the lowest
  group's favourable rate over the highest group's; below 0.8 it is flagged. Groups smaller
  than ``MIN_GROUP`` are shown but left out of the ratio. Because sanctions are rare, their
  favourable rates sit near 1, so the sanction-rate ratio (highest group's rate over the
  lowest's) is reported alongside.
* **Others' conduct.** The city is re-scored with its relations removed; every sanction that
  disappears (and every privilege that appears) fell on the person only through related
  subjects' conduct: the network category and ``via_relation`` measures.
* **False records.** The city is re-scored with the planted false records voided (a void is
  "never recorded"); every sanction that disappears was caused by a false record.
* **Guards.** ``cp.findings``: what the policy would break in live mode.

The counterfactuals compare like with like: by default both sides are scored afresh at the
last month's ``as_of`` (no carried list or hysteresis state, one score each); with
``chained=True`` the variant is run month by month like the base run and compared with it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from glasscredit.engine.run import Inputs, Result, score
from glasscredit.engine.sessions import Backend
from glasscredit.policy.load import CompiledPolicy
from glasscredit.simulate.run import CityRun, empty, empty_snapshot, score_months, variant

DIMENSIONS = {"hukou": "hukou", "sex": "sex", "age band": "age_band",
              "income decile": "income_decile", "district": "district_name"}
THRESHOLD = 0.8
MIN_GROUP = 30
SAMPLE = 20
_audits = itertools.count()


@dataclass(frozen=True)
class Active:
    """Who holds which measure: ``{measure: set(subject_id)}`` plus each measure's type."""

    holders: dict[str, set[str]]
    types: dict[str, str]


def measure_types(measures: pa.Table) -> dict[str, str]:
    """Each measure's type, from an engine ``measures`` table (one row per subject and measure)."""
    pairs = measures.group_by(["measure", "type"]).aggregate([])
    return dict(zip(pairs["measure"].to_pylist(), pairs["type"].to_pylist(), strict=True))


def active(measures: pa.Table, types: dict[str, str] | None = None) -> Active:
    """Holders per measure from an engine ``measures`` table (or only its active rows, with
    ``types`` given)."""
    on = measures.filter(pc.fill_null(measures["active"], False))
    holders: dict[str, set[str]] = {}
    for s, m in zip(on["subject_id"].to_pylist(), on["measure"].to_pylist(), strict=True):
        holders.setdefault(m, set()).add(s)
    types = measure_types(measures) if types is None else types
    return Active({m: holders.get(m, set()) for m in sorted(types)}, types)


def _active_of(result: Result) -> Active:
    """Holders per measure of a fresh score: only the active rows leave DuckDB."""
    if "measures" not in result.sql:  # a backend without bound SQL
        return active(result.arrow("measures"))
    con, sql = result.backend.connection, result.sql["measures"]
    table = f"gc_audit_{next(_audits)}"
    con.execute(f"CREATE TEMP TABLE {table} AS {sql}")
    try:
        on = con.sql(f"SELECT subject_id, measure, active FROM {table} "
                     "WHERE coalesce(active, false)").to_arrow_table()
        types = dict(con.execute(f"SELECT DISTINCT measure, type FROM {table}").fetchall())
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return active(on, {str(k): str(v) for k, v in types.items()})


def group_rates(measures: pa.Table, people: pa.Table) -> list[dict[str, Any]]:
    """Per measure and dimension: each group's size, holders and rate, and the DI ratio."""
    state = active(measures)
    scored = pc.unique(measures["subject_id"])
    people = people.filter(pc.is_in(people["subject_id"], value_set=scored))
    out = []
    for measure, kind in sorted(state.types.items()):
        held = pc.is_in(people["subject_id"], pa.array(sorted(state.holders[measure]),
                                                        pa.string()))
        for dim, col in DIMENSIONS.items():
            t = pa.table({"g": people[col].cast(pa.string()), "held": held.cast(pa.int64())})
            agg = t.group_by("g").aggregate([("held", "sum"), ("held", "count")])
            groups = {g: [n, h] for g, n, h in zip(agg["g"].to_pylist(),
                                                    agg["held_count"].to_pylist(),
                                                    agg["held_sum"].to_pylist(), strict=True)}
            rows = [{"group": g, "people": n, "holders": h, "rate": h / n}
                    for g, (n, h) in sorted(groups.items(), key=_group_order)]
            out.append({"measure": measure, "type": kind, "dimension": dim, "groups": rows,
                        **impact(kind, rows)})
    return out


def _group_order(item: tuple[str, list[int]]) -> tuple[int, float | str]:
    g = str(item[0])
    return (0, float(g)) if g.lstrip("-").isdigit() else (1, g)


def impact(kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The four-fifths ratio on the favourable outcome, over groups of at least MIN_GROUP."""
    big = [r for r in rows if r["people"] >= MIN_GROUP]
    fav = {r["group"]: (r["rate"] if kind == "privilege" else 1 - r["rate"]) for r in big}
    if len(fav) < 2 or max(fav.values()) == 0:
        return {"ratio": None, "flagged": False, "lowest": None, "highest": None,
                "sanction_rate_ratio": None}
    lo, hi = min(fav, key=fav.__getitem__), max(fav, key=fav.__getitem__)
    ratio = fav[lo] / fav[hi]
    rates = [r["rate"] for r in big]
    srr = (max(rates) / min(rates) if kind == "sanction" and min(rates) > 0 else None)
    return {"ratio": ratio, "flagged": ratio < THRESHOLD, "lowest": lo, "highest": hi,
            "sanction_rate_ratio": srr}


def _diff(base: Active, other: Active) -> list[dict[str, Any]]:
    """Per measure: sanctions that disappear and privileges that appear in ``other``."""
    rows = []
    for m, kind in sorted(base.types.items()):
        a, b = base.holders[m], other.holders.get(m, set())
        changed = sorted(a - b) if kind == "sanction" else sorted(b - a)
        rows.append({"measure": m, "type": kind, "subjects": len(changed),
                     "sample": changed[:SAMPLE]})
    return rows


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"sanctions": sum(r["subjects"] for r in rows if r["type"] == "sanction"),
            "privileges": sum(r["subjects"] for r in rows if r["type"] == "privilege"),
            "by_measure": rows}


def false_record_voids(city_dir: Path) -> pa.Table:
    """Voids for every planted false record, effective from the moment it occurred."""
    truth = pq.read_table(city_dir / "truth_false_records.parquet")
    return pa.table({"event_id": truth["event_id"],
                     "voided_at": truth["occurred_at"]}).cast(empty("voids").schema)


def audit(b: Backend, inputs: Inputs, cp: CompiledPolicy, run: CityRun, city_dir: Path,
          *, chained: bool = False) -> dict[str, Any]:
    """The fairness and error audit of ``run`` (JSON-ready)."""
    as_of = run.as_of[-1]
    people = pq.read_table(city_dir / "people.parquet")
    no_relations = variant(b, inputs, relations=empty("relations"))
    voided = variant(b, inputs, voids=pa.concat_tables(
        [empty("voids"), false_record_voids(city_dir)]))

    def state(x: Inputs) -> Active:
        if chained:
            return active(score_months(b, x, cp, run.as_of).measures)
        # with reasons, like the monthly runs, so the audit replays their prepared plan
        return _active_of(score(b, x, cp, as_of, snapshot=empty_snapshot(b), reasons=True))

    base = active(run.measures) if chained else state(inputs)
    network = _diff(base, state(no_relations))
    via = {m.name for m in cp.policy.measures if m.via_relation}
    for row in network:
        row["via_relation"] = row["measure"] in via
    planted = int(pq.read_metadata(city_dir / "truth_false_records.parquet").num_rows)
    return {
        "policy": run.policy, "version": run.version, "mode": cp.policy.mode,
        "as_of": as_of.isoformat(), "counterfactuals": "chained" if chained else "fresh",
        "definition": ("disparate-impact ratio = lowest group's favourable-outcome rate / "
                       "highest group's; favourable = holding a privilege, or NOT being "
                       f"sanctioned; flagged below {THRESHOLD}; groups under {MIN_GROUP} "
                       "people left out"),
        "rates": group_rates(run.measures, people),
        "others_conduct": {**_summary(network),
                           "network_category": any(c.network for c in cp.policy.categories)},
        "false_records": {"planted": planted, **_summary(_diff(base, state(voided)))},
        "guards": [{"guard": f.guard, "subject": f.subject, "message": f.message,
                    "line": f.line} for f in cp.findings],
    }


def flagged(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The (measure, dimension) rows whose ratio breaks the four-fifths rule."""
    return [r for r in report["rates"] if r["flagged"]]
