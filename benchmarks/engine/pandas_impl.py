"""benchmarks/policy40.yaml written by hand in pandas: the second baseline of the engine benchmark.

Same semantics as the engine and the hand-written SQL (DESIGN.md "Scoring semantics"). pandas
reads the five tables from the DuckDB file as Arrow (``SELECT *``: no filter, join or aggregate
is pushed into DuckDB) and does everything else itself. Events stream in batches of
``BATCH`` rows so memory stays bounded; each batch is reduced to per (subject, rule, cap period)
sums, which add up across batches exactly like the engine's group-by. Attributes are parsed
with pandas' own ``read_json(lines=True, engine="pyarrow")`` per kind and batch, and conditions
use pandas' nullable (Arrow) booleans, so a missing attribute makes a condition unknown and
unknown counts as false, as in SQL.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

BATCH = 2_000_000
DAY = 86400.0
SCALE_MIN, SCALE_MAX = 350.0, 950.0
SPAN = SCALE_MAX - SCALE_MIN
NEUTRAL = (SCALE_MIN + SCALE_MAX) / 2
BANDS = [("poor", 350, 550), ("fair", 550, 600), ("good", 600, 650), ("very_good", 650, 700),
         ("excellent", 700, 950)]
OWN = ["credit_history", "fulfilment_capacity", "personal_characteristics",
       "behaviour_preferences"]
WEIGHTS = {"credit_history": 0.35, "fulfilment_capacity": 0.25,
           "personal_characteristics": 0.15, "behaviour_preferences": 0.20,
           "interpersonal_relationships": 0.05}

A = pd.DataFrame
Cond = Callable[[A, pd.Series], Any]


def _r(kind: str, cat: str, *, points: float | None = None, ppu: float | None = None,
       clip: tuple[float, float] | None = None, half_life: float | None = None,
       valid_for: float | None = None, cap: tuple[float, float] | None = None,
       when: Cond | None = None) -> dict[str, Any]:
    return {"kind": kind, "category": cat, "points": points, "ppu": ppu, "clip": clip,
            "half_life": half_life * DAY if half_life else None,
            "valid_for": valid_for * DAY if valid_for else None,
            "cap_points": cap[0] if cap else None, "cap_per": cap[1] * DAY if cap else None,
            "when": when}


CH, FC, PC, BP = OWN
# rule id -> parameters; ``when`` reads the parsed attributes ``a`` and the event value ``v``
RULES: dict[str, dict[str, Any]] = {
    "bill_on_time": _r("bill_payment", CH, points=2, half_life=365,
                       when=lambda a, v: a.days_late == 0),
    "bill_rent_on_time": _r("bill_payment", CH, points=3, half_life=365, cap=(6, 30),
                            when=lambda a, v: (a.bill_type == "rent") & (a.days_late == 0)),
    "bill_late": _r("bill_payment", CH, points=-5, half_life=180,
                    when=lambda a, v: (a.days_late > 0) & (a.days_late <= 30)),
    "bill_very_late": _r("bill_payment", CH, points=-20, valid_for=730,
                         when=lambda a, v: a.days_late > 30),
    "bill_large_late": _r("bill_payment", CH, points=-8, half_life=365,
                          when=lambda a, v: (a.days_late > 7) & (a.amount >= 1000)),
    "loan_default_amount": _r("loan_default", CH, ppu=-0.01, clip=(-200, -20), valid_for=1825),
    "loan_default_consumer": _r(
        "loan_default", CH, points=-30, valid_for=730,
        when=lambda a, v: a.loan_type.isin(["peer_to_peer", "consumer"]) & (a.days_overdue > 90)),
    "debt_settled_full": _r("debt_settled", CH, ppu=0.002, clip=(0, 40), half_life=365,
                            when=lambda a, v: ~a.negotiated),
    "debt_settled_negotiated": _r("debt_settled", CH, points=5, half_life=365,
                                  when=lambda a, v: a.negotiated),
    "credit_inquiry_hard": _r("credit_inquiry", CH, points=-2, valid_for=180, cap=(6, 30),
                              when=lambda a, v: a.purpose.isin(["loan", "credit_card"])),
    "premium_on_time": _r("insurance_premium_payment", CH, ppu=0.001, clip=(0, 2),
                          half_life=365, when=lambda a, v: a.days_late == 0),
    "premium_late": _r("insurance_premium_payment", CH, points=-4, half_life=365,
                       when=lambda a, v: a.days_late > 15),
    "dishonest_debtor": _r("dishonest_judgment_debtor", CH, points=-150, valid_for=1095),
    "dishonest_debtor_aggravated": _r("dishonest_judgment_debtor", CH, points=-100,
                                      valid_for=1825, when=lambda a, v: a.aggravated),
    "judgment_money": _r(
        "court_judgment", CH, ppu=-0.005, clip=(-60, -5), half_life=730,
        when=lambda a, v: a.case_type.isin(["civil", "commercial"]) & ~a.non_monetary),
    "savings_balance": _r("savings_balance", FC, ppu=0.0005, clip=(0, 30), half_life=180),
    "savings_long_term": _r(
        "savings_balance", FC, points=10, valid_for=365,
        when=lambda a, v: (a.months_held >= 12)
        & a.account_type.isin(["time_deposit", "wealth_management"])),
    "income_verified": _r("income_report", FC, ppu=0.001, clip=(0, 25), half_life=365,
                          when=lambda a, v: a.verified),
    "income_unverified": _r("income_report", FC, ppu=0.0002, clip=(0, 8), half_life=365,
                            when=lambda a, v: ~a.verified),
    "tax_on_time": _r("tax_payment", FC, ppu=0.002, clip=(0, 15), half_life=365,
                      when=lambda a, v: a.days_late == 0),
    "tax_late": _r("tax_payment", FC, points=-15, valid_for=730,
                   when=lambda a, v: a.days_late > 30),
    "contract_breach_material": _r(
        "contract_breach", FC, points=-25, valid_for=1095,
        when=lambda a, v: a.severity.isin(["material", "fundamental"])),
    "contract_breach_minor": _r("contract_breach", FC, points=-5, half_life=365,
                                when=lambda a, v: (a.severity == "minor") & (a.amount < 5000)),
    "identity_match": _r("identity_verification", PC, points=15, valid_for=730,
                         when=lambda a, v: a.result == "match"),
    "identity_mismatch": _r("identity_verification", PC, points=-20, valid_for=365,
                            when=lambda a, v: a.result == "mismatch"),
    "education_higher": _r(
        "education_attainment", PC, points=20,
        when=lambda a, v: a.verified & a.level.isin(["senior_secondary", "vocational",
                                                      "associate"])),
    "education_basic": _r(
        "education_attainment", PC, points=8,
        when=lambda a, v: a.verified & a.level.isin(["primary", "junior_secondary"])),
    "parent_visit": _r("parent_visit", PC, points=1, half_life=180,
                       when=lambda a, v: a.lives_apart & (a.days_since_last <= 60)),
    "blood_donation": _r("blood_donation", PC, ppu=40, clip=(0, 20), half_life=365),
    "volunteering_hours": _r("volunteering", PC, ppu=0.5, clip=(0, 10), half_life=365,
                             cap=(20, 30)),
    "volunteering_elder_care": _r("volunteering", PC, points=2, half_life=365,
                                  when=lambda a, v: a.activity == "elder_care"),
    "purchase_books": _r("purchase", BP, ppu=0.02, clip=(0, 3), half_life=90,
                         when=lambda a, v: a.category == "books"),
    "purchase_diapers": _r("purchase", BP, points=1, half_life=90,
                           when=lambda a, v: (a.category == "diapers") & (a.channel == "offline")),
    "purchase_games": _r("purchase", BP, points=-2, half_life=90,
                         when=lambda a, v: (a.category == "video_games") & (v > 200)),
    "gaming_late_night": _r("gaming_session", BP, ppu=-1, clip=(-10, 0), half_life=60,
                            when=lambda a, v: a.late_night & (v > 3)),
    "traffic_serious": _r("traffic_offence", BP, points=-30, valid_for=1095,
                          when=lambda a, v: (a.severity == "serious") | (a.licence_points >= 6)),
    "traffic_minor": _r("traffic_offence", BP, points=-5, half_life=365,
                        when=lambda a, v: (a.severity != "serious") & (a.licence_points < 6)),
    "illegal_parking": _r("illegal_parking", BP, points=-4, half_life=180,
                          when=lambda a, v: a.blocking | (a.fine >= 200)),
    "peer_rating_good": _r("peer_rating", BP, points=0.5, half_life=180,
                           when=lambda a, v: (v >= 4.5) & (a.scale_max == 5)),
    "peer_rating_bad": _r("peer_rating", BP, points=-1, half_life=180,
                          when=lambda a, v: (v <= 2) & (a.scale_max == 5)),
}
ATTRS = {  # the attributes each kind's conditions read: absent ones are all-null columns
    "bill_payment": ["days_late", "amount", "bill_type"],
    "loan_default": ["loan_type", "days_overdue"], "debt_settled": ["negotiated"],
    "credit_inquiry": ["purpose"], "insurance_premium_payment": ["days_late"],
    "dishonest_judgment_debtor": ["aggravated"], "court_judgment": ["case_type", "non_monetary"],
    "savings_balance": ["months_held", "account_type"], "income_report": ["verified"],
    "tax_payment": ["days_late"], "contract_breach": ["severity", "amount"],
    "identity_verification": ["result"], "education_attainment": ["verified", "level"],
    "parent_visit": ["lives_apart", "days_since_last"], "volunteering": ["activity"],
    "purchase": ["category", "channel"], "gaming_session": ["late_night"],
    "traffic_offence": ["severity", "licence_points"], "illegal_parking": ["blocking", "fine"],
    "peer_rating": ["scale_max"], "blood_donation": [],
}
_NULL_TYPE = {"bill_type": pa.string(), "loan_type": pa.string(), "purpose": pa.string(),
              "case_type": pa.string(), "account_type": pa.string(), "severity": pa.string(),
              "result": pa.string(), "level": pa.string(), "activity": pa.string(),
              "category": pa.string(), "channel": pa.string(), "negotiated": pa.bool_(),
              "aggravated": pa.bool_(), "non_monetary": pa.bool_(), "verified": pa.bool_(),
              "lives_apart": pa.bool_(), "late_night": pa.bool_(), "blocking": pa.bool_()}


def _strings(t: pa.DataType) -> Any:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pd.ArrowDtype(pa.string())
    return None


def _read(con: Any, sql: str) -> pd.DataFrame:
    return con.sql(sql).to_arrow_table().to_pandas(types_mapper=_strings)


def _attrs(texts: pd.Series, kind: str) -> pd.DataFrame:
    blob = "\n".join(texts.tolist()).encode()
    a = pd.read_json(io.BytesIO(blob), lines=True, engine="pyarrow", dtype_backend="pyarrow")
    for name in ATTRS[kind]:
        if name not in a.columns:
            a[name] = pd.Series([None] * len(a), dtype=pd.ArrowDtype(
                _NULL_TYPE.get(name, pa.float64())))
    return a


def _epoch(ts: pd.Series) -> np.ndarray:
    return (ts - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=float)


def _batch_totals(ev: pd.DataFrame, t: float, rel: pd.Series) -> pd.DataFrame:
    """Per (subject code, rule, cap period): summed contributions and raw points."""
    out = []
    ev = ev.assign(rel=ev.source_id.map(rel).astype(float).fillna(1.0).to_numpy())
    for kind, g in ev.groupby("kind", sort=False, observed=True):
        rules = [(rid, r) for rid, r in RULES.items() if r["kind"] == kind]
        a = _attrs(g["attrs"], str(kind))
        v = g["value"].to_numpy(dtype=float, na_value=np.nan)
        v_series = pd.Series(v)
        ts = _epoch(g.occurred_at)
        age = t - ts
        for rid, r in rules:
            m = np.ones(len(g), dtype=bool)
            if r["when"] is not None:
                cond = pd.Series(r["when"](a, v_series))
                m = cond.fillna(False).to_numpy(dtype=bool, copy=True)
            if r["valid_for"] is not None:
                m = m & (age < r["valid_for"])
            if not m.any():
                continue
            if r["points"] is not None:
                raw = np.full(int(m.sum()), float(r["points"]))
            else:
                raw = r["ppu"] * np.nan_to_num(v[m], nan=0.0)
            if r["clip"] is not None:
                raw = np.minimum(np.maximum(raw, r["clip"][0]), r["clip"][1])
            decay = (np.power(0.5, age[m] / r["half_life"]) if r["half_life"] is not None
                     else 1.0)
            bucket = (np.floor(ts[m] / r["cap_per"]).astype(np.int64)
                      if r["cap_per"] is not None else np.zeros(int(m.sum()), dtype=np.int64))
            out.append(pd.DataFrame({
                "subj": g.subj.to_numpy()[m], "rule_id": rid, "bucket": bucket,
                "contrib": raw * g.rel.to_numpy()[m] * decay, "raw": raw}))
    if not out:
        return pd.DataFrame(columns=["subj", "rule_id", "bucket", "contrib", "raw"])
    parts = pd.concat(out, ignore_index=True)
    return parts.groupby(["subj", "rule_id", "bucket"], sort=False, as_index=False)[
        ["contrib", "raw"]].sum()


def _logistic(x: np.ndarray, mid: float, scale: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x - mid) / scale))


def _linear(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.minimum(1.0, np.maximum(0.0, (x - lo) / (hi - lo)))


def score(con: Any, as_of: datetime) -> pd.DataFrame:
    """The scores table of policy40 at ``as_of``, read from the DuckDB connection ``con``."""
    t = (as_of - datetime(1970, 1, 1)).total_seconds()
    as_of_ts = pd.Timestamp(as_of)
    subjects = _read(con, "SELECT * FROM subjects")
    ids = pd.Index(subjects.subject_id)
    sources = _read(con, "SELECT * FROM sources")
    rel = pd.Series(sources.reliability.to_numpy(dtype=float, na_value=np.nan),
                    index=sources.source_id)
    voids = _read(con, "SELECT * FROM voids")
    voided = pd.Index(voids.event_id[voids.voided_at <= as_of_ts].unique())
    kinds = sorted({r["kind"] for r in RULES.values()})

    totals = []
    reader = con.sql("SELECT * FROM events").to_arrow_reader(BATCH)
    for batch in reader:
        ev = batch.to_pandas(types_mapper=_strings)
        ev = ev[(ev.occurred_at <= as_of_ts) & ev.kind.isin(kinds)]
        ev = ev[~ev.event_id.isin(voided)]
        ev = ev.assign(subj=ids.get_indexer(ev.subject_id))
        ev = ev[ev.subj >= 0]  # events of subjects outside the subjects table score nobody
        totals.append(_batch_totals(ev, t, rel))
    b = pd.concat(totals, ignore_index=True).groupby(
        ["subj", "rule_id", "bucket"], sort=False, as_index=False)[["contrib", "raw"]].sum()
    cap = b.rule_id.map({k: r["cap_points"] for k, r in RULES.items()}).astype(float)
    factor = np.where(cap.isna() | (b.raw == 0), 1.0,
                      np.minimum(1.0, cap / b.raw.abs()))
    b["points"] = b.contrib * factor
    b["category"] = b.rule_id.map({k: r["category"] for k, r in RULES.items()})
    raw = b.groupby(["subj", "category"]).points.sum().unstack(fill_value=0.0)
    raw = raw.reindex(index=np.arange(len(subjects)), columns=OWN, fill_value=0.0).fillna(0.0)

    curved = {
        "credit_history": _logistic(raw.credit_history.to_numpy(), -5.0, 10.0),
        "fulfilment_capacity": _linear(raw.fulfilment_capacity.to_numpy(), -30.0, 25.0),
        "personal_characteristics": _linear(raw.personal_characteristics.to_numpy(), -10.0, 30.0),
        "behaviour_preferences": _logistic(raw.behaviour_preferences.to_numpy(), -5.0, 5.0),
    }
    acc = np.zeros(len(subjects))
    for c in OWN:
        acc = acc + WEIGHTS[c] * curved[c]
    own_weight = sum(WEIGHTS[c] for c in OWN)
    own_score = SCALE_MIN + SPAN * acc / own_weight

    r = _read(con, "SELECT subject_id, related_id, relation, valid_from, valid_to FROM relations")
    ok = (r.relation.isin(["friend", "family"])
          & (r.valid_from.isna() | (r.valid_from <= as_of_ts))
          & (r.valid_to.isna() | (r.valid_to > as_of_ts)))
    r = r[ok.fillna(False).to_numpy(dtype=bool)]
    a, z = ids.get_indexer(r.subject_id), ids.get_indexer(r.related_id)
    pairs = pd.DataFrame({"s": np.concatenate([a, z]), "n": np.concatenate([z, a])})
    pairs = pairs[(pairs.s >= 0) & (pairs.n >= 0) & (pairs.s != pairs.n)].drop_duplicates()
    pairs["nbr"] = own_score[pairs.n.to_numpy()]
    net = pairs.groupby("s").nbr.mean()
    net_raw = net.reindex(np.arange(len(subjects))).fillna(NEUTRAL).to_numpy()

    out = pd.DataFrame({"subject_id": subjects.subject_id, "subject_kind": subjects.subject_kind})
    for c in OWN:
        out[f"cat__{c}"] = SPAN * WEIGHTS[c] * curved[c]
    out["cat__interpersonal_relationships"] = (
        SPAN * WEIGHTS["interpersonal_relationships"] * _linear(net_raw, 350.0, 950.0))
    score_ = np.full(len(subjects), SCALE_MIN)
    for c in [*OWN, "interpersonal_relationships"]:
        score_ = score_ + out[f"cat__{c}"].to_numpy()
    out["score"] = score_
    top = max(hi for _, _, hi in BANDS)
    conds = [(score_ >= lo) & ((score_ <= hi) if hi == top else (score_ < hi))
             for _, lo, hi in BANDS]
    out["band"] = pd.Series(np.select(conds, [n for n, _, _ in BANDS], default=None),
                            dtype=pd.ArrowDtype(pa.string()))
    by_kind = out.groupby("subject_kind").score
    out["rank"] = by_kind.rank(method="min", ascending=False)
    out["percentile"] = 100.0 * by_kind.rank(method="max", ascending=True) / by_kind.transform(
        "size")
    cols = ["subject_id", "subject_kind", "score", "band", "rank", "percentile",
            *[f"cat__{c}" for c in [*OWN, "interpersonal_relationships"]]]
    return out[cols]
