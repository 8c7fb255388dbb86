"""A synthetic Suzhou as columns: people, organisations and the relations between them.

``make_city`` draws adults (district, age, hukou, education, employment, income, latent traits),
pairs spouses within district and hukou by age, gives couples their minor children and local
adults their parents in the city, links friends by sorting on noisy keys of district, hukou,
income and age and joining near neighbours, and draws organisations with valid credit codes,
their employees and legal representatives. No Python object per person: every step is NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from glasscredit import ids
from glasscredit.errors import InputError
from glasscredit.simulate import (
    ADULT_AGES,
    DEFAULT_START,
    DISTRICTS,
    EDUCATION_CUTS,
    ENTITIES,
    MINOR_SHARE,
    ORIGINS,
    RELATIONS,
    SECTOR_WEIGHTS,
    SECTORS,
)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Dates = npt.NDArray[np.datetime64]
DAY_YEAR = 365.25


@dataclass(frozen=True)
class People:
    """One row per person; indices into the tables of ``glasscredit.simulate``; -1 for none."""

    external_id: npt.NDArray[np.str_]
    district: Ints
    birth: Dates
    age: Ints  # whole years at the start of the simulation
    male: Bools
    migrant: Bools
    education: Ints
    employment: Ints
    income: Floats  # monthly, RMB
    decile: Ints  # 1..10 among adults; a minor has a parent's
    marital: Ints
    household: Ints
    father: Ints
    mother: Ints
    employer: Ints  # organisation index
    hired: Dates
    youngest_child: Ints  # age of the youngest child, 99 when none
    ethnic: Ints
    traits: dict[str, Floats]  # latent: conscientiousness, civic, gaming, risk, ...


@dataclass(frozen=True)
class Orgs:
    """One row per organisation."""

    external_id: npt.NDArray[np.str_]
    district: Ints
    entity: Ints  # index into ENTITIES (values order)
    sector: Ints
    employees: Ints
    founded: Dates
    legal_rep: Ints  # person index
    traits: dict[str, Floats]  # compliance, stress, dormant


@dataclass(frozen=True)
class Relations:
    """Typed links in the global index space: people first, then organisations."""

    subject: Ints
    related: Ints
    relation: Ints  # index into RELATIONS
    valid_from: Dates


@dataclass(frozen=True)
class City:
    """The whole synthetic population; ``start`` is the first simulated month."""

    people: People
    orgs: Orgs
    relations: Relations
    seed: int
    start: date

    @property
    def n_people(self) -> int:
        """Number of people; organisation ``i`` has global index ``n_people + i``."""
        return len(self.people.age)

    @property
    def n_orgs(self) -> int:
        """Number of organisations."""
        return len(self.orgs.entity)


def _draw_ages(rng: np.random.Generator, n: int) -> Ints:
    bands = np.array([b for b, _ in ADULT_AGES] + [90])
    weights = np.array([w for _, w in ADULT_AGES])
    band = rng.choice(len(weights), n, p=weights / weights.sum())
    return bands[band] + (rng.random(n) * (bands[band + 1] - bands[band])).astype(np.int64)


def _births(rng: np.random.Generator, age: Ints, ref: np.datetime64) -> tuple[Dates, Ints]:
    """Birth dates for ages in years at ``ref``, and the exact ages they give."""
    days = (age * DAY_YEAR + rng.random(len(age)) * 364).astype(np.int64) + 1
    birth = ref - days.astype("timedelta64[D]")
    return birth, ((ref - birth).astype(np.int64) / DAY_YEAR).astype(np.int64)


def _area_codes(rng: np.random.Generator, district: Ints, migrant: Bools, birth: Dates,
                ) -> npt.NDArray[np.str_]:
    """Locals get their district's code of the year of first issue; migrants their home's."""
    year = np.maximum(birth.astype("datetime64[Y]").astype(np.int64) + 1970, 1985)
    out = np.empty(len(district), "U6")
    for d, spec in enumerate(DISTRICTS):
        for since, codes in spec.codes:
            rows = np.flatnonzero((district == d) & (year >= since))
            out[rows] = np.array(codes)[rng.integers(0, len(codes), len(rows))]
    weights = np.array([w for *_, w in ORIGINS])
    away = np.flatnonzero(migrant)
    out[away] = np.array([c for c, *_ in ORIGINS])[
        rng.choice(len(ORIGINS), len(away), p=weights / weights.sum())]
    return out


def _rank_in_group(group: Ints) -> Ints:
    """Position of each row within its run of equal (sorted) group values."""
    return np.arange(len(group)) - np.searchsorted(group, group)


def _pair(rng: np.random.Generator, group: Ints, key: Floats, men: Ints, women: Ints,
          ) -> tuple[Ints, Ints]:
    """As many one-to-one pairs per group as the smaller side allows, matched on ``key``."""
    size = int(group.max(initial=0)) + 1
    keep = np.minimum(np.bincount(group[men], minlength=size),
                      np.bincount(group[women], minlength=size))

    def trim(side: Ints, shift: float) -> Ints:
        side = rng.permutation(side)
        side = side[np.argsort(group[side], kind="stable")]
        side = side[_rank_in_group(group[side]) < keep[group[side]]]
        return side[np.argsort(group[side] * 1000.0 + key[side] + shift
                               + rng.normal(0, 3, len(side)))]

    return trim(men, 0.0), trim(women, 2.0)


def _attach(rng: np.random.Generator, target_group: Ints, target_age: Floats, group: Ints,
            parent_age: Floats, gap: tuple[float, float]) -> Ints:
    """For each target, a couple of its group ``gap`` years older (its younger spouse), or -1."""
    out = np.full(len(target_group), -1)
    if len(group) == 0 or len(target_group) == 0:
        return out
    keys = group * 200.0 + parent_age + rng.random(len(group))
    order = np.argsort(keys)
    want = target_group * 200.0 + target_age + rng.uniform(*gap, len(target_group))
    pos = np.clip(np.searchsorted(keys[order], want), 0, len(order) - 1)
    found = order[pos]
    age_gap = parent_age[found] - target_age
    ok = (group[found] == target_group) & (age_gap >= 19) & (age_gap <= 48)
    out[ok] = found[ok]
    return out


def _pick(rng: np.random.Generator, chooser_district: Ints, district: Ints, weight: Floats,
          p_local: float) -> Ints:
    """For each chooser, a row drawn in proportion to ``weight``, in its district if it can."""
    order = np.argsort(district, kind="stable")
    cum = np.cumsum(weight[order])
    bounds = np.searchsorted(district[order], np.arange(len(DISTRICTS) + 1))
    low = np.where(bounds[:-1] > 0, cum[np.maximum(bounds[:-1] - 1, 0)], 0.0)
    high = np.where(bounds[1:] > 0, cum[np.maximum(bounds[1:] - 1, 0)], 0.0)
    lo, hi = low[chooser_district], high[chooser_district]
    local = (rng.random(len(chooser_district)) < p_local) & (hi > lo)
    u = rng.random(len(chooser_district))
    target = np.where(local, lo + u * (hi - lo), u * cum[-1])
    return order[np.clip(np.searchsorted(cum, target, side="right"), 0, len(order) - 1)]


def _friends(rng: np.random.Generator, p: dict[str, npt.NDArray], adult: Bools) -> Ints:
    """Friend pairs (a < b) from near neighbours on noisy sorts: ~10 friends per adult.

    Sorting by district and hukou, then income with noise, and linking the next two rows makes
    friends alike in all three; an age sort within district, a citywide income sort and one
    random link each add the weaker ties real networks have.
    """
    grown = np.flatnonzero(adult)
    loginc = np.log(p["income"][grown])
    group = (p["district"][grown] * 2 + p["migrant"][grown]) * 100.0
    passes = [
        (grown[np.argsort(group + loginc + rng.normal(0, 0.3, len(grown)))], 2),
        (np.argsort(p["district"] * 1000.0 + p["age"] + rng.normal(0, 2, len(p["age"]))), 1),
        (grown[np.argsort(loginc + rng.normal(0, 0.2, len(grown)))], 1),
    ]
    a = [order[:-j] for order, k in passes for j in range(1, k + 1)] + [grown]
    b = [order[j:] for order, k in passes for j in range(1, k + 1)] + [rng.permutation(grown)]
    lo, hi = np.minimum(np.concatenate(a), np.concatenate(b)), np.maximum(
        np.concatenate(a), np.concatenate(b))
    n = len(p["age"])
    pairs = np.sort((lo * n + hi)[lo != hi])
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]][:len(pairs)]]
    return np.stack([pairs // n, pairs % n])


def _adults(rng: np.random.Generator, n: int, ref: np.datetime64) -> dict[str, npt.NDArray]:
    """District, age, hukou, sex, education, employment and income of ``n`` adults."""
    pop = np.array([d.population for d in DISTRICTS])
    district = rng.choice(len(DISTRICTS), n, p=pop / pop.sum())
    age = _draw_ages(rng, n)
    share = np.array([d.migrant_share for d in DISTRICTS])[district]
    migrant = rng.random(n) < np.clip(share * np.select([age < 46, age < 60], [1.25, 0.8], 0.25),
                                      0, 0.95)
    male = rng.random(n) < np.select([age >= 75, migrant], [0.45, 0.54], 0.5)
    birth, age = _births(rng, age, ref)
    school = rng.normal(size=n) - 0.45 * migrant - 0.025 * np.maximum(age - 35, 0) + 0.1 * (
        age < 30)
    education = np.searchsorted(EDUCATION_CUTS, school)
    u, v = rng.random(n), rng.random(n)
    working = np.select([u < 0.83, u < 0.92], [0, 1], 2)  # employed, self-employed, unemployed
    employment = np.select([(age < 23) & (school > 0.3) & (v < 0.7), age >= np.where(male, 60, 55)],
                           [4, np.select([v < 0.85, v < 0.93], [3, 0], 1)], working)
    mult = np.log(np.array([d.income for d in DISTRICTS]))[district]
    wage = (np.log(3600) + 0.17 * education + 0.12 * male - 0.15 * migrant
            - 0.0006 * (age - 42) ** 2 + mult + rng.normal(0, 0.5, n))
    log_income = np.choose(employment, [
        wage, wage + rng.normal(0, 0.3, n), np.log(1500) + rng.normal(0, 0.4, n),
        np.log(3200) + 0.08 * education - 0.2 * migrant + rng.normal(0, 0.3, n),
        np.log(1200) + rng.normal(0, 0.4, n)])
    return {"district": district, "age": age, "birth": birth, "male": male, "migrant": migrant,
            "education": education, "employment": employment, "income": np.exp(log_income)}


def _minors(rng: np.random.Generator, n: int, ref: np.datetime64, adults: dict[str, npt.NDArray],
            husbands: Ints, wives: Ints) -> tuple[dict[str, npt.NDArray], Ints]:
    """Children attached to couples whose mother is 24-36 years older; their couple or -1."""
    birth, age = _births(rng, rng.integers(0, 18, n), ref)
    couple = _attach(rng, np.zeros(n, np.int64), age.astype(np.float64),
                     np.zeros(len(wives), np.int64), np.minimum(
                         adults["age"][wives], adults["age"][husbands]).astype(np.float64),
                     (24.0, 36.0))
    has = couple >= 0
    mother = wives[np.maximum(couple, 0)] if len(wives) else np.zeros(n, np.int64)
    share = np.array([d.population for d in DISTRICTS])
    district = np.where(has, adults["district"][mother],
                        rng.choice(len(DISTRICTS), n, p=share / share.sum()))
    migrant = np.where(has, adults["migrant"][mother], rng.random(n) < 0.4)
    education = np.searchsorted([6, 12, 15], age, side="right")  # none, primary, junior, senior
    return {"district": district, "age": age, "birth": birth, "male": rng.random(n) < 0.53,
            "migrant": migrant, "education": education, "employment": np.full(n, 4),
            "income": np.zeros(n)}, couple


def _traits(rng: np.random.Generator, p: dict[str, npt.NDArray], adult: Bools) -> dict[str, Floats]:
    """Latent traits, standard normal with small age, sex and education gradients."""
    n, age, male = len(p["age"]), p["age"], p["male"]
    edu = (p["education"] - 3.5) / 2

    def noise() -> Floats:
        return rng.normal(size=n)

    log_income = np.log(np.maximum(p["income"], 1.0))
    grown = log_income[adult] if adult.any() else np.zeros(1)
    z = (log_income - grown.mean()) / max(float(grown.std()), 1e-9)
    return {
        "conscientiousness": noise() + 0.15 * edu + 0.01 * (age - 40),
        "civic": noise() + 0.2 * edu + 0.012 * (age - 40),
        "gaming": noise() - 0.04 * (age - 30) + 0.5 * male,
        "risk": noise() + 0.3 * male - 0.02 * (age - 35),
        "grievance": noise(),
        "religiosity": noise() + 0.01 * (age - 40),
        "online": noise() - 0.03 * (age - 35) + 0.1 * edu,
        "frailty": 0.5 * noise() + 0.04 * (age - 45),
        "stress": np.where(adult, -0.8 * z + 0.6 * noise(), 0.0),
    }


def _orgs(rng: np.random.Generator, n: int, ref: np.datetime64) -> dict[str, npt.NDArray]:
    """Credit codes (whose area is the district), entity type, sector, target size, founding."""
    weight = np.array([d.population * d.income for d in DISTRICTS])
    share = np.round(1000 * weight / weight.sum()).astype(np.int64)
    areas = np.repeat([d.code for d in DISTRICTS], share)
    codes = ids.generate_usccs(rng, areas, n)
    chars = np.ascontiguousarray(codes).view(np.uint32).reshape(n, 18).astype(np.int64)
    area = (chars[:, 2:8] - ord("0")) @ 10 ** np.arange(5, -1, -1)
    district = np.searchsorted([int(d.code) for d in DISTRICTS], area)
    prefix = chars[:, 0] * 256 + chars[:, 1]
    keys = np.array([ord(k[0]) * 256 + ord(k[1]) for k in ENTITIES])
    entity = np.argmax(prefix[:, None] == keys[None, :], axis=1)
    sector_p = np.array(SECTOR_WEIGHTS) / sum(SECTOR_WEIGHTS)
    sector = np.choose(entity, [
        rng.choice(len(sector_p), n, p=sector_p), rng.choice([1, 4, 8], n),
        np.full(n, SECTORS.index("agriculture")), np.full(n, SECTORS.index("social_services")),
        np.full(n, SECTORS.index("public_services"))])
    size = np.choose(entity, [rng.lognormal(np.log(12), 1.3, n), 1 + rng.poisson(1.5, n),
                              5 + rng.poisson(10, n), rng.lognormal(np.log(10), 0.8, n),
                              rng.lognormal(np.log(60), 1.0, n)])
    days = np.maximum(rng.exponential(9 * DAY_YEAR, n), 30).astype(np.int64)
    dormant = rng.random(n) < 0.08
    return {"codes": codes, "district": district, "entity": entity, "sector": sector,
            "size": np.where(dormant, 1.0, size), "dormant": dormant,
            "founded": ref - days.astype("timedelta64[D]")}


def _years_back(rng: np.random.Generator, ref: np.datetime64, most: Floats) -> Dates:
    """A date up to ``most`` years before ``ref``."""
    days = (rng.random(len(most)) * np.maximum(most, 0) * DAY_YEAR).astype(np.int64)
    return ref - days.astype("timedelta64[D]")


def make_city(people: int, orgs: int, seed: int, start: date = DEFAULT_START) -> City:
    """A reproducible synthetic Suzhou: same arguments, same city."""
    if people < 0 or orgs < 0:
        raise InputError(f"a city needs non-negative sizes, got people={people}, orgs={orgs}")
    r = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    ref = np.datetime64(start, "D")
    n_minor = round(people * MINOR_SHARE)
    a = _adults(r[0], people - n_minor, ref)
    p_married = np.interp(a["age"], [21, 22, 25, 30, 65, 80, 90], [0, .25, .55, .85, .8, .5, .4])
    wed = r[1].random(len(a["age"])) < p_married
    husbands, wives = _pair(r[1], a["district"] * 2 + a["migrant"], a["age"].astype(np.float64),
                            np.flatnonzero(wed & a["male"]), np.flatnonzero(wed & ~a["male"]))
    m, couple = _minors(r[2], n_minor, ref, a, husbands, wives)
    p = {k: np.concatenate([a[k], m[k]]) for k in a}
    n, n_adult = len(p["age"]), len(a["age"])
    adult = np.arange(n) < n_adult
    father, mother = np.full(n, -1), np.full(n, -1)
    kids = n_adult + np.flatnonzero(couple >= 0)
    father[kids], mother[kids] = husbands[couple[couple >= 0]], wives[couple[couple >= 0]]
    grown = np.flatnonzero(adult & ~p["migrant"] & (p["age"] <= 55) & (r[2].random(n) < 0.75))
    found = _attach(r[2], p["district"][grown] * 2, p["age"][grown].astype(np.float64),
                    p["district"][wives] * 2 + p["migrant"][wives],
                    np.minimum(p["age"][wives], p["age"][husbands]).astype(np.float64),
                    (24.0, 34.0))
    grown, found = grown[found >= 0], found[found >= 0]
    father[grown], mother[grown] = husbands[found], wives[found]
    married = np.zeros(n, bool)
    married[husbands], married[wives] = True, True
    household = np.arange(n)
    household[wives] = husbands
    home = (father >= 0) & (~adult | (~married & (p["age"] < 30) & (r[2].random(n) < 0.7)))
    household[home] = father[home]
    u = r[2].random(n)
    widowed = u < np.clip((p["age"] - 55) / 50, 0, 0.6)
    divorced = ~widowed & (u < np.clip((p["age"] - 55) / 50, 0, 0.6) + np.where(
        p["age"] >= 30, 0.12, 0.02))
    marital = np.select([married, ~adult, widowed, divorced], [1, 0, 3, 2], 0)
    youngest = np.full(n, 99)
    for parent in (father, mother):
        has = parent >= 0
        np.minimum.at(youngest, parent[has], p["age"][has])
    deciles = np.zeros(n, np.int64)
    deciles[np.argsort(p["income"][:n_adult], kind="stable")] = (
        np.arange(n_adult) * 10 // max(n_adult, 1) + 1)
    head = np.where(father >= 0, father, mother)
    deciles = np.where(adult, deciles, np.where(head >= 0, deciles[np.maximum(head, 0)],
                                                r[2].integers(1, 11, n)))
    traits = _traits(r[3], p, adult)
    minority = r[3].random(n) < np.where(p["migrant"], 0.03, 0.008)
    ethnic = np.where(minority, r[3].integers(1, 8, n), 0)
    ethnic = np.where(mother >= 0, ethnic[np.maximum(mother, 0)], ethnic)
    ext = ids.generate_resident_ids(r[4], _area_codes(r[4], p["district"], p["migrant"],
                                                      p["birth"]), p["birth"], p["male"])

    o = _orgs(r[5], orgs, ref)
    employer = np.full(n, -1)
    hired = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    legal_rep = np.zeros(orgs, np.int64)
    if orgs:
        staff = np.flatnonzero(adult & (p["employment"] == 0))
        employer[staff] = _pick(r[6], p["district"][staff], o["district"], o["size"], 0.75)
        hired[staff] = _years_back(r[6], ref, np.minimum(p["age"][staff] - 18, 15))
        cand = np.flatnonzero(adult & (p["age"] >= 25) & (p["age"] <= 70))
        weight = deciles[cand] ** 2 * np.where(p["employment"][cand] == 1, 10.0, 1.0)
        legal_rep = cand[_pick(r[6], o["district"], p["district"][cand], weight, 0.9)]
    employees = np.bincount(employer[employer >= 0], minlength=orgs)
    log_size = np.log1p(employees)
    size_z = (log_size - log_size.mean()) / max(float(log_size.std()), 1e-9) if orgs else log_size
    sector = o["sector"]
    org_traits = {
        "compliance": 0.5 * traits["conscientiousness"][legal_rep] + 0.87 * r[7].normal(
            size=orgs) if orgs else np.zeros(0),
        "stress": (0.9 * r[7].normal(size=orgs) - 0.25 * size_z + 0.4 * (
            sector == SECTORS.index("construction")) + 0.3 * (
            sector == SECTORS.index("hospitality")) + 0.6 * o["dormant"]),
        "dormant": o["dormant"].astype(np.float64),
        "size": size_z,
    }
    friends = _friends(r[7], p, adult)
    spouse_since = _years_back(r[7], ref, np.minimum(p["age"][wives] - 21.0, 50))
    friend_since = _years_back(r[7], ref, np.minimum(
        10.0, np.minimum(p["age"][friends[0]], p["age"][friends[1]])))
    child = np.flatnonzero(father >= 0)
    staff = np.flatnonzero(employer >= 0)
    links = [(husbands, wives, "spouse", spouse_since),
             (child, father[child], "parent", p["birth"][child]),
             (child, mother[child], "parent", p["birth"][child]),
             (friends[0], friends[1], "friend", friend_since),
             (staff, n + employer[staff], "employer", hired[staff]),
             (n + np.arange(orgs), legal_rep, "legal_representative", o["founded"])]
    relations = Relations(
        np.concatenate([s for s, *_ in links]).astype(np.int64),
        np.concatenate([t for _, t, *_ in links]).astype(np.int64),
        np.concatenate([np.full(len(s), RELATIONS.index(name)) for s, _, name, _ in links]),
        np.concatenate([since for *_, since in links]).astype("datetime64[D]"))
    return City(
        People(ext, p["district"], p["birth"], p["age"], p["male"], p["migrant"],
               p["education"], p["employment"], p["income"], deciles, marital,
               np.cumsum(np.bincount(household, minlength=n) > 0)[household] - 1, father,
               mother, employer, hired,
               youngest, ethnic, traits),
        Orgs(o["codes"], o["district"], o["entity"], sector, employees, o["founded"], legal_rep,
             org_traits),
        relations, seed, start)
