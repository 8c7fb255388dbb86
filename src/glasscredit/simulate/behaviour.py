"""Behaviour models: the city's dated events, one month at a time, for every catalogue kind.

Each row of ``glasscredit.simulate.SPECS`` gives a kind a monthly rate per eligible subject,
the covariates that move it (``rate_i ∝ exp(Σ coef·x_i)``: traits such as conscientiousness
or civic-mindedness, circumstances such as income or a local registration) and short generator
phrases for its value and attributes; attributes left out get defaults from the catalogue's
schema. ``Behaviour`` compiles them against the catalogue and the city once; each month draws
every model's count from a Poisson, picks subjects by weight, expands values and attributes with
NumPy and builds the JSON with Arrow. No model reads a group (hukou, sex, district): groups
differ only through the behaviour their circumstances make likelier.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

import glasscredit.simulate as sim
from glasscredit.catalogue import Attribute, Catalogue, load_catalogue
from glasscredit.errors import CatalogueError
from glasscredit.simulate.population import City

Arr = npt.NDArray[Any]
Gen = Callable[["Draw"], Any]  # NumPy values, or an Arrow array of JSON texts
_DRIVER = re.compile(r"([a-z_]+)([+-]\d*\.?\d+)")
_NUMBER = re.compile(r"-?\d*\.?\d+")
_CODES = {"education": sim.EDUCATION, "marital": sim.MARITAL, "employment": sim.EMPLOYMENT,
          "ethnic": sim.ETHNIC_GROUPS}
POOLS: dict[str, tuple[str, ...]] = {
    "shop": ("Taobao", "JD", "Pinduoduo", "Meituan", "Douyin Mall"),
    "console": ("Tencent", "NetEase", "Steam", "Nintendo Switch", "PlayStation"),
    "game": ("Honor of Kings", "Genshin Impact", "Peacekeeper Elite", "League of Legends"),
    "charity": ("Suzhou Volunteers Association", "Red Cross Suzhou", "Gusu Community Centre",
                "Kunshan Youth League", "Wujiang Elder Care Society"),
    "award": ("Suzhou Good Citizen", "Model Volunteer", "Civilised Family", "Jiangsu Moral Model"),
    "religion": ("Buddhism", "Taoism", "Protestant Christianity", "Catholicism", "Islam"),
    "licence": ("food business", "construction", "road transport", "hazardous chemicals",
                "medical devices", "publishing"),
    "product": ("electronics", "toys", "food", "textiles", "auto parts", "cosmetics"),
    "state": ("People's Daily", "Suzhou Daily", "Xinhua Daily"),
    "commercial": ("Southern Weekly", "Caixin", "The Paper"),
    "foreign": ("The Economist", "Financial Times", "Nikkei Asia"),
    "independent": ("Initium Media", "Matters"),
}


def drivers(text: str) -> tuple[tuple[str, float], ...]:
    """Parse ``"stress+1.2 consc-.5"`` into (covariate, coefficient) pairs."""
    return tuple((name, float(coef)) for name, coef in _DRIVER.findall(text))


def _sigmoid(x: Arr) -> Arr:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Draw:
    """One kind's events in the making: who, when, and what generators produced so far."""

    rng: np.random.Generator
    cov: Mapping[str, Arr]
    who: Arr
    when: Arr
    value: Arr = field(default_factory=lambda: np.zeros(0))
    raw: dict[str, Arr] = field(default_factory=dict)

    def x(self, name: str) -> Arr:
        """A covariate of the subjects drawn; zero where this subject kind lacks it."""
        column = self.cov.get(name)
        return np.zeros(len(self.who)) if column is None else column[self.who]

    def lin(self, terms: tuple[tuple[str, float], ...]) -> Arr:
        """The linear predictor ``Σ coef·x`` over the subjects drawn."""
        total = np.zeros(len(self.who))
        for name, coef in terms:
            total += coef * self.x(name)
        return total


_NUMERIC: dict[str, Callable[[Draw, list[float], list[str], Arr], Arr]] = {
    "one": lambda d, a, w, s: np.ones(len(d.who)),
    "const": lambda d, a, w, s: np.full(len(d.who), a[0]),
    "ints": lambda d, a, w, s: d.rng.integers(int(a[0]), int(a[1]) + 1, len(d.who)),
    "unif": lambda d, a, w, s: d.rng.uniform(a[0], a[1], len(d.who)),
    "poisson": lambda d, a, w, s: d.rng.poisson(a[0] * np.exp(s)),
    "logn": lambda d, a, w, s: np.exp(a[0] + a[1] * d.rng.standard_normal(len(d.who)) + s),
    "gam": lambda d, a, w, s: d.rng.gamma(a[0], a[1], len(d.who)) * np.exp(s),
    "norm": lambda d, a, w, s: a[0] + a[1] * d.rng.standard_normal(len(d.who)) + s,
    "late": lambda d, a, w, s: np.where(
        d.rng.random(len(d.who)) < _sigmoid(np.log(a[0] / (1 - a[0])) + s),
        d.rng.geometric(1 / a[1], len(d.who)), 0),
    "stars": lambda d, a, w, s: np.clip(np.round(
        (a[0] + a[1] * d.rng.standard_normal(len(d.who)) + s) * 2) / 2, 1, 5),
    "scaled": lambda d, a, w, s: d.x(w[0]) * np.exp(
        a[0] + a[1] * d.rng.standard_normal(len(d.who)) + s),
}


def numeric(text: str, integer: bool = False) -> Gen:
    """``"logn 9.5 1.2 stress+.8"``: a generator name, its numbers, words, then drivers."""
    name, *rest = text.split()
    if name not in _NUMERIC:
        raise CatalogueError(f"unknown generator {name!r} in {text!r}")
    terms = drivers(" ".join(t for t in rest if _DRIVER.fullmatch(t)))
    args = [float(t) for t in rest if _NUMBER.fullmatch(t)]
    words = [t for t in rest if not _DRIVER.fullmatch(t) and not _NUMBER.fullmatch(t)]
    make = _NUMERIC[name]

    def gen(d: Draw) -> Arr:
        out = make(d, args, words, d.lin(terms))
        return out.astype(np.int64) if integer else np.round(out.astype(np.float64), 2)

    return gen


def _pool(values: tuple[str, ...] | list[str]) -> pa.Array:
    return pa.array([json.dumps(v) for v in values])


def enum(text: str, attr: Attribute) -> Gen:
    """``"a:3 b:1(risk+1)"`` weights (with per-value drivers), ``@column`` or uniform."""
    if text.startswith("@"):
        vocab = _CODES[text[1:]]
        if attr.type == "enum" and not set(vocab) <= set(attr.values):
            raise CatalogueError(f"{attr.name}: {text} holds values outside the catalogue's")
        pool = _pool(vocab)
        return lambda d: pc.take(pool, pa.array(d.x(text[1:]).astype(np.int64)))
    items = re.findall(r"([A-Za-z_]+):(\d*\.?\d+)(?:\(([^)]*)\))?", text)
    values = [v for v, _, _ in items] or list(attr.values)
    unknown = sorted(set(values) - set(attr.values))
    if unknown:
        raise CatalogueError(f"{attr.name}: {unknown} are not catalogue values")
    base = np.array([float(w) for _, w, _ in items] or [1.0] * len(values))
    terms = [drivers(t) for _, _, t in items] or [()] * len(values)
    pool = _pool(values)

    def gen(d: Draw) -> pa.Array:
        weight = base[None, :] * np.exp(np.stack([d.lin(t) for t in terms], axis=1))
        cum = np.cumsum(weight, axis=1)
        codes = (cum < d.rng.random((len(d.who), 1)) * cum[:, -1:]).sum(axis=1)
        d.raw[attr.name] = codes
        return pc.take(pool, pa.array(codes))

    return gen


def flag(text: str) -> Gen:
    """``".9 consc+.8"``: true with a probability moved on the logit scale by drivers."""
    p, _, rest = text.partition(" ")
    logit, terms = np.log(float(p) / (1 - float(p))), drivers(rest)
    return lambda d: d.rng.random(len(d.who)) < _sigmoid(logit + d.lin(terms))


def strings(text: str) -> Gen:
    """``@pool``: a string drawn from one of ``POOLS``; ``@case``: a court case number."""
    if text == "@case":
        return lambda d: pc.binary_join_element_wise(
            '"(', pa.array(d.when.astype("datetime64[Y]").astype(np.int64) + 1970).cast(
                pa.string()), ') Su 05 No. ',
            pa.array(d.rng.integers(1, 20000, len(d.who))).cast(pa.string()), '"', "")
    pool = _pool(POOLS[text[1:]])
    return lambda d: pc.take(pool, pa.array(d.rng.integers(0, len(pool), len(d.who))))


def today(d: Draw) -> pa.Array:
    """The event's date, as an ISO date attribute."""
    days = pa.array(np.datetime_as_string(d.when.astype("datetime64[D]")))
    return pc.binary_join_element_wise('"', days, '"', "")


def attribute(spec: str | Gen, attr: Attribute) -> Gen:
    """A generator for one attribute from its phrase, or the schema's default when empty."""
    if callable(spec):
        return spec
    defaults = {"enum": "", "bool": ".1", "int": "poisson 2", "float": "logn 3 1",
                "string": "@shop", "date": "today"}
    text = spec or defaults[attr.type]
    if attr.type == "enum" or (attr.type == "string" and text.startswith("@") and
                               text[1:] in _CODES):
        return enum(text, attr)
    if attr.type == "bool":
        return flag(text)
    if attr.type == "string":
        return strings(text)
    if attr.type == "date":
        return today
    return numeric(text, integer=attr.type == "int")


def to_json(values: Any) -> Any:
    """One attribute's values as JSON texts (strings arrive already encoded)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if values.dtype == np.bool_:
        return pc.take(pa.array(["false", "true"]), pa.array(values.astype(np.int8)))
    return pa.array(values).cast(pa.string())


def _title(d: Draw) -> pa.Array:
    """A newspaper title of the outlet type already drawn."""
    kinds = ("state", "commercial", "foreign", "independent")
    names = [n for k in kinds for n in POOLS[k]]
    size = np.array([len(POOLS[k]) for k in kinds])
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    code = d.raw["outlet_type"]
    pick = first[code] + d.rng.integers(0, 60, len(code)) % size[code]
    return pc.take(_pool(names), pa.array(pick))


def _vat_value(d: Draw) -> Arr:
    zero = d.rng.random(len(d.who)) < _sigmoid(-2.2 + d.lin((("dormant", 3.0), ("stress", .5))))
    d.raw["zero"] = zero
    return np.where(zero, 0.0, np.round(d.x("wealth") * d.rng.lognormal(-1.2, .5, len(zero)), 2))


def _grade_points(d: Draw) -> Arr:
    points = 88 + 5 * d.x("consc") - 5 * d.x("stress") - 25 * d.x("dormant")
    return np.clip(np.round(points + d.rng.normal(0, 5, len(d.who))), 0, 100)


def _grade(d: Draw) -> pa.Array:
    grade = np.searchsorted([40, 70, 90], d.value, side="right")
    code = np.where(d.x("new") > 0, 2, np.array([4, 3, 1, 0])[grade])  # A B M C D
    return pc.take(_pool(["A", "B", "M", "C", "D"]), pa.array(code))


CUSTOM: dict[str, Gen] = {
    "points": lambda d: np.array([1, 3, 12])[d.raw["severity"]],
    "fine": lambda d: np.round(np.array([100.0, 200.0, 1000.0])[d.raw["severity"]]
                               * d.rng.lognormal(0, .3, len(d.who))),
    "blood_litres": lambda d: np.array([.2, .3, .4, .25, .6])[d.raw.setdefault(
        "blood", d.rng.choice(5, len(d.who), p=[.25, .2, .35, .15, .05]))],
    "blood_type": lambda d: pc.take(_pool(["whole_blood", "platelets", "plasma"]),
                                    pa.array(np.array([0, 0, 0, 1, 2])[d.raw["blood"]])),
    "vat_value": _vat_value,
    "vat_zero": lambda d: d.raw["zero"],
    "vat_run": lambda d: np.where(d.raw["zero"], d.rng.integers(1, 7, len(d.who)), 0),
    "vat_year": lambda d: np.where(d.raw["zero"], d.rng.integers(1, 10, len(d.who)),
                                   d.rng.integers(0, 2, len(d.who))),
    "grade_points": _grade_points,
    "grade": _grade,
    "last_year": lambda d: d.when.astype("datetime64[Y]").astype(np.int64) + 1969,
    "payroll": lambda d: np.round(d.x("employees") * 1300 * d.rng.lognormal(0, .2, len(d.who)), 2),
    "covered": lambda d: np.maximum(1, np.round(d.x("employees") * d.rng.uniform(
        .6, 1, len(d.who)))).astype(np.int64),
    "months_in_job": lambda d: np.nan_to_num(
        (d.when.astype(np.int64) - d.x("hired_at")) / 2_626_560).astype(np.int64),
    "title": _title,
}


def covariates(city: City) -> dict[str, tuple[dict[str, Arr], dict[str, Arr]]]:
    """Per subject kind: the drivers' covariates and the eligibility masks, as columns."""
    p, o, t = city.people, city.orgs, city.people.traits
    rng = np.random.default_rng([city.seed, 0xC0])
    adult, n = p.age >= 18, len(p.age)
    log_income = np.log(np.maximum(p.income, 1.0))
    z = np.where(adult, (log_income - log_income[adult].mean()) / max(
        float(log_income[adult].std()), 1e-9), 0.0) if adult.any() else np.zeros(n)
    registered = ~p.migrant | (rng.random(n) < 0.3)
    parent_local = adult & ((p.father >= 0) | (p.mother >= 0))
    working = adult & (p.employment <= 1)
    start = np.datetime64(city.start, "s")
    person = {
        "consc": t["conscientiousness"], "civic": t["civic"], "gaming": t["gaming"],
        "risk": t["risk"], "grievance": t["grievance"], "religion": t["religiosity"],
        "online": t["online"], "frailty": t["frailty"], "stress": t["stress"], "income": z,
        "edu": (p.education - 3.5) / 2, "male": p.male * 1.0, "young": (p.age < 30) * 1.0,
        "old": (p.age >= 60) * 1.0, "registered": registered * 1.0, "baby": (
            p.youngest_child < 3) * 1.0, "child": (p.youngest_child < 18) * 1.0,
        "wealth": p.income, "education": p.education,
        "marital": p.marital, "employment": p.employment, "ethnic": p.ethnic,
        "hired_at": (p.hired.astype("datetime64[s]") - np.datetime64(0, "s")).astype(np.float64),
    }
    person["hired_at"][np.isnat(p.hired)] = np.nan
    person_masks = {
        "all": np.ones(n, bool), "adult": adult, "age10": p.age >= 10,
        "donor": adult & (p.age <= 60), "employed": adult & (p.employment == 0),
        "self_employed": adult & (p.employment == 1), "working": working,
        "student": (p.age >= 12) & (p.employment == 4), "single": adult & (p.marital != 1),
        "married": p.marital == 1, "divorced": p.marital == 2, "parent_local": parent_local,
        "parent_away": adult & p.migrant & (p.age <= 60), "carer": parent_local & (p.age >= 35),
        "driver": adult & (p.decile >= 3) & (rng.random(n) < 0.55),
        "pet": adult & (rng.random(n) < 0.15), "religious": adult & (t["religiosity"] > 1.2),
        "taxpayer": working & (p.income > 5000),
    }
    size, sector = o.traits["size"], o.sector
    org = {
        "consc": o.traits["compliance"], "stress": o.traits["stress"], "size": size,
        "dormant": o.traits["dormant"], "org": np.ones(len(size)),
        "construction": (sector == sim.SECTORS.index("construction")) * 1.0,
        "new": (o.founded > start.astype("datetime64[D]") - 365) * 1.0,
        "employees": o.employees * 1.0, "wealth": 30_000.0 * (o.employees + 1),
    }
    org_masks = {
        "all": np.ones(len(size), bool), "enterprise": o.entity == 0,
        "manuf": sector == sim.SECTORS.index("manufacturing"), "employer": o.employees > 0,
        "retail": np.isin(sector, [sim.SECTORS.index(s) for s in ("wholesale_retail",
                                                               "hospitality")]),
        "social": o.entity == 3, "edu_org": sector == sim.SECTORS.index("education_health"),
        "not_new": org["new"] == 0,
    }
    return {"person": (person, person_masks), "organisation": (org, org_masks)}


_UNIT_VALUES = {"count": "one", "rmb": "logn 7 1 org+1.5", "hours": "gam 2 1.5",
                "litres": "const .3", "points": "stars 4.2 .6 consc+.3", "percent": "unif 40 100",
                "minutes": "gam 2 60"}


@dataclass
class Model:
    """A spec compiled against the catalogue and the city: who may act, how, with what."""

    spec: sim.Spec
    code: int
    offset: int
    cov: Mapping[str, Arr]
    eligible: Arr
    terms: tuple[tuple[str, float], ...]
    value: Gen
    attrs: list[tuple[str, Gen]]
    json_names: list[str]
    ratio: float = 1.0
    lmax: float = 0.0
    cum: Arr | None = None

    def lin(self, rows: Arr) -> Arr:
        """Linear predictor of eligible rows ``rows``."""
        total = np.zeros(len(rows))
        for name, coef in self.terms:
            total += coef * self.cov[name][self.eligible[rows]] if name in self.cov else 0.0
        return total

    def sample(self, rng: np.random.Generator, k: int) -> Arr:
        """``k`` subjects, each drawn with probability ∝ exp(linear predictor)."""
        n = len(self.eligible)
        if k == 0 or n == 0:
            return np.zeros(0, np.int64)
        if not self.terms:
            return self.eligible[rng.integers(0, n, k)]
        if self.cum is None and k * self.ratio > n / 8:  # cheaper to keep the CDF than to reject
            self.cum = np.cumsum(np.exp(self.lin(np.arange(n)) - self.lmax))
        if self.cum is not None:
            spacing = np.cumsum(rng.exponential(size=k + 1))  # sorted uniforms: fast search
            u = spacing[:-1] * (self.cum[-1] / spacing[-1])
            return self.eligible[np.minimum(np.searchsorted(self.cum, u, side="right"), n - 1)]
        picked, got = [], 0
        while got < k:
            rows = rng.integers(0, n, int((k - got) * self.ratio * 1.2) + 16)
            rows = rows[rng.random(len(rows)) < np.exp(self.lin(rows) - self.lmax)]
            picked.append(rows)
            got += len(rows)
        return self.eligible[np.concatenate(picked)[:k]]


class Behaviour:
    """The behaviour models of one city, compiled once, then run month by month."""

    def __init__(self, city: City, catalogue: Catalogue | None = None,
                 specs: tuple[sim.Spec, ...] = sim.SPECS) -> None:
        self.city = city
        self.catalogue = catalogue or load_catalogue()
        self.kinds = tuple(self.catalogue.kinds)
        self.sources = (*self.catalogue.sources, sim.UNRELIABLE_SOURCE)
        self.negative = sorted({s.kind for s in specs if s.negative})
        cov = covariates(city)
        known = set(cov["person"][0]) | set(cov["organisation"][0])
        self.models = [self._compile(spec, cov, known) for spec in specs]

    def _compile(self, spec: sim.Spec, cov: Mapping[str, tuple[dict[str, Arr], dict[str, Arr]]],
                 known: set[str]) -> Model:
        where = f"behaviour of {spec.kind} ({spec.subject})"
        kind = self.catalogue.kind(spec.kind)
        if spec.subject not in kind.subjects:
            raise CatalogueError(f"{where}: the catalogue allows only {kind.subjects}")
        columns, masks = cov[spec.subject]
        only = spec.only or ("adult" if spec.subject == "person" else "all")
        terms = drivers(spec.drivers)
        unknown = [n for n, _ in terms if n not in known] + [
            a for a, _ in spec.attrs if a not in kind.attributes] + (
            [only] if only not in masks else [])
        if unknown:
            raise CatalogueError(f"{where}: unknown covariate, attribute or mask {unknown}")
        phrases = dict(spec.attrs)
        order = [a for a, _ in spec.attrs] + [a for a in kind.attributes if a not in phrases]

        def gen(text: str, attr: Attribute | None) -> Gen:
            if text.startswith("="):
                return CUSTOM[text[1:]]
            return attribute(text, attr) if attr else numeric(text or _UNIT_VALUES[kind.unit])

        model = Model(spec, self.kinds.index(spec.kind),
                      0 if spec.subject == "person" else self.city.n_people, columns,
                      np.flatnonzero(masks[only]), terms, gen(spec.value, None),
                      [(a, gen(phrases.get(a, ""), kind.attributes[a])) for a in order],
                      list(kind.attributes))
        if terms and len(model.eligible):
            lin = model.lin(np.arange(len(model.eligible)))
            model.lmax = float(lin.max())
            model.ratio = float(1 / np.exp(lin - model.lmax).mean())
        return model

    def month(self, m: int, false_records: float = 0.0) -> pa.Table:
        """Events of month ``m`` (0 = the city's start), grouped by kind.

        Columns: ``subject`` (global index), ``kind`` and ``source_id`` (dictionary-encoded),
        ``occurred_at``, ``recorded_at``, ``value``, ``attrs`` (JSON) and ``false_record``; the
        attrs column has one chunk per kind, each built in one Arrow pass. False records copy
        negative kinds onto random eligible subjects, ``false_records`` per genuine one, and
        are drawn after the genuine events, so adding them changes nothing else.
        """
        first = np.datetime64(self.city.start, "M") + m
        t0 = int(first.astype("datetime64[s]").astype(np.int64))
        span = int((first + 1).astype("datetime64[s]").astype(np.int64)) - t0
        calendar = int(first.astype(np.int64) % 12) + 1
        parts = []
        for i, model in enumerate(self.models):
            if model.spec.months and calendar not in model.spec.months:
                continue
            rng = np.random.default_rng([self.city.seed, m, i])
            k = int(rng.poisson(model.spec.rate * len(model.eligible)))
            parts.append(self._events(model, rng, model.sample(rng, k), t0, span, False))
            if false_records > 0 and model.spec.negative and len(model.eligible):
                fake = rng.integers(0, len(model.eligible), rng.poisson(false_records * k))
                parts.append(self._events(model, rng, model.eligible[fake], t0, span, True))
        subject, kind, when, recorded, source, value = (
            np.concatenate([p[i] for p in parts]) for i in range(6))
        return pa.table({
            "subject": pa.array(subject),
            "kind": pa.DictionaryArray.from_arrays(pa.array(kind), pa.array(self.kinds)),
            "occurred_at": _stamp(when), "recorded_at": _stamp(recorded),
            "source_id": pa.DictionaryArray.from_arrays(pa.array(source), pa.array(self.sources)),
            "value": pa.array(value), "attrs": pa.chunked_array([p[6] for p in parts]),
            "false_record": pa.array(source == len(self.sources) - 1),
        })

    def _events(self, model: Model, rng: np.random.Generator, who: Arr, t0: int, span: int,
                false: bool) -> tuple[Any, ...]:
        n = len(who)
        when = t0 + rng.integers(0, span, n)
        d = Draw(rng, model.cov, who, when.astype("datetime64[s]"))
        d.value = np.asarray(model.value(d), np.float64)
        texts: dict[str, Any] = {}
        for name, gen in model.attrs:
            out = gen(d)
            if isinstance(out, np.ndarray):
                d.raw.setdefault(name, out)
            texts[name] = to_json(out)
        if model.spec.due:
            late = d.raw.get("days_late", np.zeros(n, np.int64))
            on_time = t0 + (rng.random(n) * model.spec.due * 86400).astype(np.int64)
            due = t0 + (model.spec.due - 1) * 86400 + rng.integers(28800, 64800, n)
            when = np.where(late > 0, due + late * 86400, on_time)
        source = len(self.sources) - 1 if false else self.sources.index(
            self.catalogue.kind(model.spec.kind).source or "platform")
        parts: list[Any] = []
        for i, name in enumerate(model.json_names):
            parts += [('{"' if i == 0 else ',"') + name + '":', texts[name]]
        attrs = pc.binary_join_element_wise(*parts, "}", "") if parts else pa.array(
            np.full(n, "{}"))
        return (who + model.offset, np.full(n, model.code, np.int16), when,
                when + lag_seconds(rng, self.sources[source], n), np.full(n, source, np.int16),
                d.value, attrs.cast(pa.string()))


def _stamp(seconds: Arr) -> pa.Array:
    return pa.array(seconds * 1_000_000).cast(pa.timestamp("us"))


def lag_seconds(rng: np.random.Generator, source: str, n: int) -> Arr:
    """Delay between an event and its recording by ``source``: exponential, in seconds."""
    days = sim.RECORDING_LAG_DAYS.get(source, sim.DEFAULT_LAG_DAYS)
    return rng.exponential(days * 86400, n).astype(np.int64)
