"""The reference workload of the engine benchmark: a synthetic ledger in a DuckDB file.

NumPy draws every number (seeded, vectorised, chunk by chunk of subjects); DuckDB's SQL turns the
numbers into the engine's input tables (string ids, timestamps, ``attrs`` JSON). The events
table is written in subject order, so its zone maps let a one-subject read skip row groups.
The file is cached under ``bench-data/`` keyed by the parameters, so reruns skip generation.

    .venv/bin/python -m benchmarks.engine.generate --scale 0.01
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

GENERATOR_VERSION = 1
ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "bench-data"
AS_OF = datetime(2025, 1, 1)
DAY = 86400
YEAR = 365 * DAY
T_END = int((AS_OF - datetime(1970, 1, 1)).total_seconds())  # as_of in epoch seconds (UTC)

# ---------------------------------------------------------------------------------------------
# What the events look like. Value specs: ("one",) | ("lognormal", mu, sigma) |
# ("gamma", k, theta) | ("choice", values, probs). Attribute specs: ("int", lo, hi) |
# ("int0", p_zero, lo, hi) (0 with probability p_zero, else lo..hi) | ("float", mu, sigma)
# (lognormal, two decimals) | ("bool", p_true) | ("enum", values, probs|None) (a JSON string) |
# ("intchoice", values, probs) (a JSON number).
# ---------------------------------------------------------------------------------------------
_BILL = ["utility", "phone", "rent", "credit_card", "loan_instalment", "other"]
_TAX = ["individual_income", "corporate_income", "vat", "other"]
_CASE = [f"({y}) Min {n} Zhi No. {k}" for y, n, k in
         ((2022, 101, 7), (2023, 2, 1134), (2023, 77, 52), (2024, 5, 310))]
KINDS: list[tuple[str, float, tuple, list[tuple[str, tuple]]]] = [
    ("bill_payment", 0.22, ("one",), [
        ("days_late", ("int0", 0.8, 1, 90)), ("amount", ("float", 5.5, 1.0)),
        ("bill_type", ("enum", _BILL, [0.3, 0.2, 0.15, 0.15, 0.1, 0.1]))]),
    ("purchase", 0.16, ("lognormal", 4.5, 1.0), [
        ("category", ("enum", ["diapers", "video_games", "alcohol", "tobacco", "books",
                               "groceries"], [0.08, 0.12, 0.1, 0.05, 0.15, 0.5])),
        ("channel", ("enum", ["online", "offline"], [0.6, 0.4])),
        ("platform", ("enum", ["taobao", "jd", "pinduoduo", "meituan", "other"], None))]),
    ("peer_rating", 0.08, ("choice", [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5],
                           [0.03, 0.02, 0.05, 0.05, 0.1, 0.1, 0.2, 0.2, 0.25]), [
        ("scale_max", ("intchoice", [5, 10], [0.9, 0.1])),
        ("interaction", ("enum", ["ride", "sale", "rental", "service", "other"], None))]),
    ("gaming_session", 0.05, ("gamma", 2.0, 1.2), [
        ("platform", ("enum", ["steam", "tencent", "netease", "mobile"], None)),
        ("late_night", ("bool", 0.3))]),
    ("tax_payment", 0.03, ("lognormal", 7.0, 1.0), [
        ("tax_type", ("enum", _TAX, [0.7, 0.05, 0.15, 0.1])),
        ("days_late", ("int0", 0.85, 1, 120))]),
    ("insurance_premium_payment", 0.03, ("lognormal", 6.5, 0.8), [
        ("insurance_type", ("enum", ["life", "health", "car", "property", "liability",
                                     "travel"], None)),
        ("days_late", ("int0", 0.85, 1, 60))]),
    ("credit_inquiry", 0.03, ("one",), [
        ("purpose", ("enum", ["loan", "credit_card", "rental", "employment", "insurance"],
                     [0.35, 0.3, 0.15, 0.1, 0.1]))]),
    ("savings_balance", 0.03, ("lognormal", 9.5, 1.2), [
        ("account_type", ("enum", ["deposit", "time_deposit", "wealth_management", "fund"],
                          [0.5, 0.2, 0.15, 0.15])),
        ("months_held", ("int", 0, 60))]),
    ("income_report", 0.02, ("lognormal", 9.0, 0.7), [
        ("period", ("enum", ["monthly", "annual"], [0.8, 0.2])), ("verified", ("bool", 0.6))]),
    ("identity_verification", 0.02, ("one",), [
        ("method", ("enum", ["document", "bank_card", "in_person", "registry"], None)),
        ("result", ("enum", ["match", "partial", "mismatch"], [0.85, 0.1, 0.05]))]),
    ("parent_visit", 0.03, ("one",), [
        ("days_since_last", ("int", 1, 120)), ("lives_apart", ("bool", 0.7))]),
    ("volunteering", 0.03, ("gamma", 2.0, 2.0), [
        ("activity", ("enum", ["community", "elder_care", "education", "environment",
                               "disaster_relief", "other"], [0.3, 0.2, 0.15, 0.15, 0.1, 0.1])),
        ("organisation", ("enum", ["red_cross", "street_office", "school", "ngo"], None))]),
    ("blood_donation", 0.01, ("choice", [0.2, 0.3, 0.4], [0.3, 0.4, 0.3]), [
        ("donation_type", ("enum", ["whole_blood", "platelets", "plasma"], [0.7, 0.2, 0.1]))]),
    ("traffic_offence", 0.03, ("one",), [
        ("severity", ("enum", ["minor", "moderate", "serious"], [0.6, 0.3, 0.1])),
        ("offence_type", ("enum", ["speeding", "red_light", "drink_driving", "no_licence",
                                   "lane_violation", "other"], None)),
        ("licence_points", ("int", 0, 12)), ("fine", ("float", 5.0, 0.8))]),
    ("illegal_parking", 0.03, ("one",), [
        ("fine", ("float", 4.8, 0.6)), ("blocking", ("bool", 0.2))]),
    ("contract_breach", 0.01, ("one",), [
        ("contract_type", ("enum", ["lease", "service", "supply", "employment",
                                    "loan_guarantee", "other"], None)),
        ("severity", ("enum", ["minor", "material", "fundamental"], [0.6, 0.3, 0.1])),
        ("amount", ("float", 8.0, 1.2))]),
    ("loan_default", 0.005, ("lognormal", 9.0, 1.2), [
        ("days_overdue", ("int", 30, 720)),
        ("loan_type", ("enum", ["consumer", "mortgage", "credit_card", "business", "student",
                                "peer_to_peer"], None)),
        ("principal", ("float", 9.5, 1.0))]),
    ("debt_settled", 0.005, ("lognormal", 8.5, 1.0), [
        ("days_overdue", ("int", 1, 400)), ("negotiated", ("bool", 0.3))]),
    ("court_judgment", 0.005, ("lognormal", 9.0, 1.3), [
        ("case_type", ("enum", ["civil", "commercial", "administrative", "criminal"],
                       [0.5, 0.3, 0.1, 0.1])),
        ("case_id", ("enum", _CASE, None)), ("non_monetary", ("bool", 0.2))]),
    ("dishonest_judgment_debtor", 0.002, ("one",), [
        ("trigger", ("enum", ["refuse_to_perform", "obstruct_enforcement",
                              "fake_litigation_or_concealment", "violate_asset_reporting",
                              "violate_spending_restriction", "refuse_settlement"], None)),
        ("aggravated", ("bool", 0.25)), ("case_id", ("enum", _CASE, None))]),
    ("education_attainment", 0.008, ("one",), [
        ("level", ("enum", ["none", "primary", "junior_secondary", "senior_secondary",
                            "vocational", "associate"], None)),
        ("verified", ("bool", 0.7))]),
    # kinds the policy does not score: the engine must skip them
    ("online_post", 0.05, ("one",), [
        ("platform", ("enum", ["weibo", "wechat_moments", "douyin", "forum", "other"], None)),
        ("flagged_spam", ("bool", 0.05)), ("views", ("int", 0, 100000))]),
    ("browsing_history", 0.04, ("gamma", 1.5, 20.0), [
        ("category", ("enum", ["shopping", "entertainment", "education", "social", "search",
                               "other"], None))]),
    ("location_trace", 0.03, ("one",), [
        ("method", ("enum", ["gps", "cell_tower", "wifi", "check_in"], None)),
        ("precision_m", ("float", 3.0, 1.0))]),
    ("employment_record", 0.01, ("one",), [
        ("status", ("enum", ["employed", "self_employed", "unemployed", "retired", "student"],
                    None)), ("months_in_job", ("int", 0, 240))]),
    ("call_record", 0.035, ("gamma", 1.2, 4.0), [("international", ("bool", 0.05))]),
]
MAX_ATTRS = max(len(a) for _, _, _, a in KINDS)
RELATIONS = (["friend", "family", "employer", "shareholder"], [0.55, 0.3, 0.1, 0.05])


@dataclass(frozen=True)
class Params:
    subjects: int = 1_000_000
    events: int = 20_000_000
    relations_per_subject: int = 10
    sources: int = 60
    years: float = 3.0
    void_rate: float = 0.005
    organisation_share: float = 0.05
    seed: int = 20250101
    version: int = GENERATOR_VERSION

    @classmethod
    def scaled(cls, scale: float, seed: int = 20250101) -> Params:
        return cls(subjects=max(100, round(1_000_000 * scale)),
                   events=max(2000, round(20_000_000 * scale)), seed=seed)

    def key(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        # a plain identifier: DuckDB names the catalog after the file, and SQLFrame finds no
        # columns in a catalog whose name needs quoting (e.g. one with a "-")
        return f"engine_s{self.subjects}_e{self.events}_seed{self.seed}_{digest[:10]}"


def _us(seconds: np.ndarray) -> np.ndarray:
    return (seconds.astype("int64") * 1_000_000).astype("datetime64[us]")


def _draw_value(rng: np.random.Generator, spec: tuple, n: int) -> np.ndarray:
    if spec[0] == "one":
        return np.ones(n)
    if spec[0] == "lognormal":
        return np.round(rng.lognormal(spec[1], spec[2], n), 2)
    if spec[0] == "gamma":
        return np.round(rng.gamma(spec[1], spec[2], n), 1)
    return rng.choice(np.asarray(spec[1], dtype=float), n, p=spec[2])


def _draw_attr(rng: np.random.Generator, spec: tuple, n: int) -> np.ndarray:
    t = spec[0]
    if t == "int":
        return rng.integers(spec[1], spec[2] + 1, n).astype(float)
    if t == "int0":
        x = rng.integers(spec[2], spec[3] + 1, n).astype(float)
        x[rng.random(n) < spec[1]] = 0
        return x
    if t == "float":
        return np.round(rng.lognormal(spec[1], spec[2], n), 2)
    if t == "bool":
        return (rng.random(n) < spec[1]).astype(float)
    if t in ("enum", "intchoice"):
        return rng.choice(len(spec[1]), n, p=spec[2]).astype(float)
    raise ValueError(t)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _attr_sql(j: int, name: str, spec: tuple) -> str:
    col = f"a{j}"
    t = spec[0]
    if t in ("int", "int0"):
        val = f"CAST(CAST({col} AS BIGINT) AS VARCHAR)"
    elif t == "float":
        val = f"printf('%.2f', {col})"
    elif t == "bool":
        val = f"CASE WHEN {col} > 0 THEN 'true' ELSE 'false' END"
    elif t == "enum":
        items = ", ".join(_sql_str(json.dumps(v)) for v in spec[1])
        val = f"[{items}][CAST({col} AS INTEGER) + 1]"
    else:  # intchoice
        items = ", ".join(_sql_str(str(v)) for v in spec[1])
        val = f"[{items}][CAST({col} AS INTEGER) + 1]"
    key = _sql_str(json.dumps(name) + ": ")
    return f"CASE WHEN drop_attr = {j} THEN NULL ELSE {key} || {val} END"


def _attrs_sql() -> str:
    whens = []
    for code, (_, _, _, attrs) in enumerate(KINDS):
        parts = ", ".join(_attr_sql(j, n, s) for j, (n, s) in enumerate(attrs))
        whens.append(f"WHEN {code} THEN '{{' || concat_ws(', ', {parts}) || '}}'")
    return "CASE kind_code " + " ".join(whens) + " END"


def _chunk_events(rng: np.random.Generator, p: Params, lo: int, counts: np.ndarray,
                  first_eid: int) -> tuple[pa.Table, pa.Table]:
    """Events of subjects lo..lo+len(counts), in subject order, and the voids among them."""
    n = int(counts.sum())
    subj = np.repeat(np.arange(lo, lo + len(counts), dtype=np.int64), counts)
    probs = np.array([k[1] for k in KINDS])
    kind = rng.choice(len(KINDS), n, p=probs / probs.sum())
    t_end = T_END
    span = int(p.years * YEAR)
    occurred = t_end - rng.integers(0, span, n)
    future = rng.random(n) < 0.01  # recorded ahead of as_of: must not count
    occurred[future] = t_end + rng.integers(1, 30 * DAY, int(future.sum()))
    recorded = occurred + rng.integers(0, 3 * DAY, n)
    source = rng.integers(0, p.sources, n)
    source[rng.random(n) < 0.01] = p.sources  # a source missing from the sources table
    value = np.empty(n)
    attrs = np.zeros((MAX_ATTRS, n))
    for code, (_, _, vspec, aspecs) in enumerate(KINDS):
        idx = np.flatnonzero(kind == code)
        if not len(idx):
            continue
        value[idx] = _draw_value(rng, vspec, len(idx))
        for j, (_, aspec) in enumerate(aspecs):
            attrs[j, idx] = _draw_attr(rng, aspec, len(idx))
    n_attrs = np.array([len(k[3]) for k in KINDS])[kind]
    drop = np.full(n, -1, dtype=np.int8)
    dropping = rng.random(n) < 0.02  # an attribute the source did not report
    drop[dropping] = (rng.random(int(dropping.sum())) * n_attrs[dropping]).astype(np.int8)
    value_null = rng.random(n) < 0.003
    eid = np.arange(first_eid, first_eid + n, dtype=np.int64)
    cols = {"eid": eid, "subj": subj, "kind_code": kind.astype(np.int16),
            "occurred_at": _us(occurred), "recorded_at": _us(recorded),
            "source": source.astype(np.int32),
            "value": pa.array(value, mask=value_null), "drop_attr": drop}
    for j in range(MAX_ATTRS):
        cols[f"a{j}"] = attrs[j]
    events = pa.table(cols)
    void = rng.random(n) < p.void_rate
    voided = occurred[void] + rng.integers(3600, 200 * DAY, int(void.sum()))
    voids = pa.table({"eid": eid[void], "voided_at": _us(voided)})
    return events, voids


def _chunk_relations(rng: np.random.Generator, p: Params, lo: int, hi: int) -> pa.Table:
    k = p.relations_per_subject
    n = (hi - lo) * k
    subj = np.repeat(np.arange(lo, hi, dtype=np.int64), k)
    local = rng.random(n) < 0.6  # communities: most relations are near in id space
    related = np.where(local, (subj + rng.integers(-500, 501, n)) % p.subjects,
                       rng.integers(0, p.subjects, n))
    kind = rng.choice(len(RELATIONS[0]), n, p=RELATIONS[1])
    t_end = T_END
    vf = t_end - rng.integers(0, 6 * YEAR, n)
    future = rng.random(n) < 0.03  # not valid yet at as_of
    vf[future] = t_end + rng.integers(1, YEAR, int(future.sum()))
    vf_null = (rng.random(n) < 0.6) & ~future
    vt = t_end + rng.integers(-2 * YEAR, YEAR, n)
    vt_null = rng.random(n) < 0.9
    return pa.table({
        "subj": subj, "related": related.astype(np.int64), "rel_code": kind.astype(np.int8),
        "valid_from": pa.array(_us(vf), mask=vf_null),
        "valid_to": pa.array(_us(vt), mask=vt_null)})


def _sid(col: str) -> str:
    return f"'S' || lpad(CAST({col} AS VARCHAR), 8, '0')"


def _eid(col: str) -> str:
    return f"'E' || lpad(CAST({col} AS VARCHAR), 10, '0')"


def generate(p: Params, path: Path, *, chunk_subjects: int = 100_000,
             progress: bool = True) -> None:
    """Write the five input tables of ``p`` into a new DuckDB file at ``path``."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(p.seed)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE subjects (subject_id VARCHAR, subject_kind VARCHAR)")
    con.execute("CREATE TABLE sources (source_id VARCHAR, reliability DOUBLE)")
    con.execute("CREATE TABLE events (event_id VARCHAR, subject_id VARCHAR, kind VARCHAR, "
                "occurred_at TIMESTAMP, recorded_at TIMESTAMP, source_id VARCHAR, value DOUBLE, "
                "attrs VARCHAR)")
    con.execute("CREATE TABLE voids (event_id VARCHAR, voided_at TIMESTAMP)")
    con.execute("CREATE TABLE relations (subject_id VARCHAR, related_id VARCHAR, "
                "relation VARCHAR, valid_from TIMESTAMP, valid_to TIMESTAMP)")
    org = rng.random(p.subjects) < p.organisation_share
    subjects = pa.table({"subj": np.arange(p.subjects, dtype=np.int64), "org": org})
    con.register("subjects_np", subjects)
    con.execute(f"INSERT INTO subjects SELECT {_sid('subj')}, CASE WHEN org THEN "
                "'organisation' ELSE 'person' END FROM subjects_np ORDER BY subj")
    con.unregister("subjects_np")
    rel = np.round(rng.uniform(0.55, 1.0, p.sources), 2)
    sources = pa.table({"code": np.arange(p.sources), "rel": pa.array(
        rel, mask=np.arange(p.sources) == 7)})  # one source without a declared reliability
    con.register("sources_np", sources)
    con.execute("INSERT INTO sources SELECT 'src_' || lpad(CAST(code AS VARCHAR), 3, '0'), "
                "rel FROM sources_np ORDER BY code")
    con.unregister("sources_np")
    # events per subject: heavy-tailed activity, exactly p.events in total
    activity = rng.lognormal(0.0, 0.9, p.subjects)
    counts = rng.multinomial(p.events, activity / activity.sum())
    kinds_sql = "[" + ", ".join(_sql_str(k[0]) for k in KINDS) + "][kind_code + 1]"
    rels_sql = "[" + ", ".join(_sql_str(r) for r in RELATIONS[0]) + "][rel_code + 1]"
    src_sql = (f"CASE WHEN source = {p.sources} THEN 'src_unknown' "
               "ELSE 'src_' || lpad(CAST(source AS VARCHAR), 3, '0') END")
    insert_events = (
        f"INSERT INTO events SELECT {_eid('eid')}, {_sid('subj')}, {kinds_sql}, occurred_at, "
        f"recorded_at, {src_sql}, value, {_attrs_sql()} FROM chunk_ev")
    first = 0
    for lo in range(0, p.subjects, chunk_subjects):
        hi = min(p.subjects, lo + chunk_subjects)
        ev, vo = _chunk_events(rng, p, lo, counts[lo:hi], first)
        first += ev.num_rows
        con.register("chunk_ev", ev)
        con.execute(insert_events)
        con.unregister("chunk_ev")
        con.register("chunk_vo", vo)
        con.execute(f"INSERT INTO voids SELECT {_eid('eid')}, voided_at FROM chunk_vo")
        con.unregister("chunk_vo")
        rl = _chunk_relations(rng, p, lo, hi)
        con.register("chunk_rl", rl)
        con.execute(f"INSERT INTO relations SELECT {_sid('subj')}, {_sid('related')}, "
                    f"{rels_sql}, valid_from, valid_to FROM chunk_rl")
        con.unregister("chunk_rl")
        if progress:
            print(f"  generated subjects {hi:>9,}/{p.subjects:,}  events {first:>11,}  "
                  f"({time.perf_counter() - t0:5.1f}s)", flush=True)
    con.execute("CREATE TABLE bench_meta AS SELECT ? AS params, ? AS seconds",
                [json.dumps(asdict(p)), time.perf_counter() - t0])
    con.execute("CHECKPOINT")
    con.close()


#: what a store serving real-time rescores keeps: one-subject lookups of events and subjects,
#: and of relations by either end (the engine looks each end up with a one-column filter)
SERVING_INDEXES = {
    "events_subject": "events (subject_id)",
    "subjects_subject": "subjects (subject_id)",
    "relations_subject": "relations (subject_id)",
    "relations_related": "relations (related_id)",
}


def serving_indexes(path: Path, *, progress: bool = True) -> None:
    """Create the ART indexes of ``SERVING_INDEXES`` that the file lacks (a full batch scans
    and never uses them; one-subject rescores do)."""
    con = duckdb.connect(str(path))
    try:
        have = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        for name, on in SERVING_INDEXES.items():
            if name not in have:
                t = time.perf_counter()
                con.execute(f"CREATE INDEX {name} ON {on}")
                if progress:
                    print(f"  index {name} on {on} ({time.perf_counter() - t:.1f}s)", flush=True)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def dataset(p: Params, *, progress: bool = True) -> Path:
    """The cached DuckDB file of ``p``, generated first if it is missing, with its indexes."""
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"{p.key()}.duckdb"
    if path.exists():
        serving_indexes(path, progress=progress)
        return path
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    if progress:
        print(f"generating {path.name} ({p.subjects:,} subjects, {p.events:,} events)",
              flush=True)
    try:
        generate(p, tmp, progress=progress)
        serving_indexes(tmp, progress=progress)
        tmp.rename(path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=20250101)
    args = ap.parse_args()
    t = time.perf_counter()
    path = dataset(Params.scaled(args.scale, args.seed))
    print(f"{path} ({path.stat().st_size / 1e9:.2f} GB, {time.perf_counter() - t:.1f}s)")


if __name__ == "__main__":
    main()
