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
from typing import Any

import numpy as np
import numpy.typing as npt

import glasscredit.simulate as sim
from glasscredit import ids
from glasscredit.errors import InputError

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Dates = npt.NDArray[np.datetime64]
Cols = dict[str, Any]
DAY_YEAR = 365.25


@dataclass(frozen=True)
class People:
    """One row per person; codes index the tables of ``glasscredit.simulate``; -1 for none."""

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
    traits: dict[str, Floats]  # latent: conscientiousness, civic, gaming, risk, stress, ...


@dataclass(frozen=True)
class Orgs:
    """One row per organisation."""

    external_id: npt.NDArray[np.str_]
    district: Ints
    entity: Ints  # index into ENTITIES' values
    sector: Ints
    employees: Ints
    founded: Dates
    legal_rep: Ints  # person index
    traits: dict[str, Floats]  # compliance, stress, dormant, size (z of log head count)


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


def _births(rng: np.random.Generator, age: Ints, ref: np.datetime64) -> tuple[Dates, Ints]:
    """Birth dates for ages in years at ``ref``, and the exact ages they give."""
    days = (age * DAY_YEAR + rng.random(len(age)) * 364).astype(np.int64) + 1
    birth = ref - days.astype("timedelta64[D]")
    return birth, ((ref - birth).astype(np.int64) / DAY_YEAR).astype(np.int64)


def _years_back(rng: np.random.Generator, ref: np.datetime64, most: Floats) -> Dates:
    """A date up to ``most`` years before ``ref``."""
    days = (rng.random(len(most)) * np.maximum(most, 0) * DAY_YEAR).astype(np.int64)
    return ref - days.astype("timedelta64[D]")


def _z(x: Floats) -> Floats:
    return (x - x.mean()) / max(float(x.std()), 1e-9) if len(x) else x


def _area_codes(rng: np.random.Generator, p: Cols) -> npt.NDArray[np.str_]:
    """Locals get their district's code of the year of first issue; migrants their home's."""
    year = np.maximum(p["birth"].astype("datetime64[Y]").astype(np.int64) + 1970, 1985)
    out = np.empty(len(year), "U6")
    for d, district in enumerate(sim.DISTRICTS):
        for since, codes in district.codes:
            rows = np.flatnonzero((p["district"] == d) & (year >= since))
            out[rows] = np.array(codes)[rng.integers(0, len(codes), len(rows))]
    weights = np.array([w for *_, w in sim.ORIGINS])
    away = np.flatnonzero(p["migrant"])
    out[away] = np.array([c for c, *_ in sim.ORIGINS])[
        rng.choice(len(weights), len(away), p=weights / weights.sum())]
    return out


def _pair(rng: np.random.Generator, group: Ints, age: Ints, men: Ints, women: Ints,
          ) -> tuple[Ints, Ints]:
    """As many one-to-one couples per group as the smaller side allows, matched on age."""
    size = int(group.max(initial=0)) + 1
    keep = np.minimum(np.bincount(group[men], minlength=size),
                      np.bincount(group[women], minlength=size))

    def trim(side: Ints, shift: float) -> Ints:
        side = rng.permutation(side)
        side = side[np.argsort(group[side], kind="stable")]
        rank = np.arange(len(side)) - np.searchsorted(group[side], group[side])
        side = side[rank < keep[group[side]]]
        return side[np.argsort(group[side] * 1000.0 + age[side] + shift
                               + rng.normal(0, 3, len(side)))]

    return trim(men, 0.0), trim(women, 2.0)


def _attach(rng: np.random.Generator, target_group: Ints, target_age: Ints, group: Ints,
            parent_age: Ints, gap: tuple[float, float]) -> Ints:
    """For each target, a couple of its group ``gap`` years older (its younger spouse), or -1."""
    out = np.full(len(target_group), -1)
    if len(group) == 0 or len(target_group) == 0:
        return out
    keys = group * 200.0 + parent_age + rng.random(len(group))
    order = np.argsort(keys)
    want = target_group * 200.0 + target_age + rng.uniform(*gap, len(target_group))
    found = order[np.clip(np.searchsorted(keys[order], want), 0, len(order) - 1)]
    age_gap = parent_age[found] - target_age
    ok = (group[found] == target_group) & (age_gap >= 19) & (age_gap <= 48)
    out[ok] = found[ok]
    return out


def _pick(rng: np.random.Generator, chooser_district: Ints, district: Ints, weight: Floats,
          p_local: float) -> Ints:
    """For each chooser, a row drawn in proportion to ``weight``, in its district if it can."""
    order = np.argsort(district, kind="stable")
    cum = np.cumsum(weight[order])
    bounds = np.searchsorted(district[order], np.arange(len(sim.DISTRICTS) + 1))
    low = np.where(bounds[:-1] > 0, cum[np.maximum(bounds[:-1] - 1, 0)], 0.0)
    high = np.where(bounds[1:] > 0, cum[np.maximum(bounds[1:] - 1, 0)], 0.0)
    lo, hi = low[chooser_district], high[chooser_district]
    local = (rng.random(len(chooser_district)) < p_local) & (hi > lo)
    u = rng.random(len(chooser_district))
    target = np.where(local, lo + u * (hi - lo), u * cum[-1])
    return order[np.clip(np.searchsorted(cum, target, side="right"), 0, len(order) - 1)]


def _friends(rng: np.random.Generator, p: Cols, adult: Bools) -> Ints:
    """Friend pairs (a < b) from near neighbours on noisy sorts: ~10 friends per adult.

    Sorting by district and hukou, then income with noise, and linking the next two rows makes
    friends alike in all three; an age sort within district, a citywide income sort and one
    random link each add the weaker ties real networks have.
    """
    grown = np.flatnonzero(adult)
    loginc = np.log(p["income"][grown])
    group = (p["district"][grown] * 2 + p["migrant"][grown]) * 100.0
    passes = [(grown[np.argsort(group + loginc + rng.normal(0, 0.3, len(grown)))], 2),
              (np.argsort(p["district"] * 1000.0 + p["age"] + rng.normal(0, 2, len(adult))), 1),
              (grown[np.argsort(loginc + rng.normal(0, 0.2, len(grown)))], 1)]
    a = np.concatenate([order[:-j] for order, k in passes for j in range(1, k + 1)] + [grown])
    b = np.concatenate([order[j:] for order, k in passes for j in range(1, k + 1)]
                       + [rng.permutation(grown)])
    n = len(adult)
    pairs = np.sort((np.minimum(a, b) * n + np.maximum(a, b))[a != b])
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]][:len(pairs)]]
    return np.stack([pairs // n, pairs % n])


def _adults(rng: np.random.Generator, n: int, ref: np.datetime64) -> Cols:
    """District, age, hukou, sex, education, employment and income of ``n`` adults."""
    pop = np.array([d.population for d in sim.DISTRICTS])
    district = rng.choice(len(pop), n, p=pop / pop.sum())
    bands = np.array([b for b, _ in sim.ADULT_AGES] + [90])
    weights = np.array([w for _, w in sim.ADULT_AGES])
    band = rng.choice(len(weights), n, p=weights / weights.sum())
    age = bands[band] + (rng.random(n) * (bands[band + 1] - bands[band])).astype(np.int64)
    share = np.array([d.migrant_share for d in sim.DISTRICTS])[district]
    migrant = rng.random(n) < np.clip(share * np.select([age < 46, age < 60], [1.25, 0.8], 0.25),
                                      0, 0.95)
    male = rng.random(n) < np.select([age >= 75, migrant], [0.45, 0.54], 0.5)
    birth, age = _births(rng, age, ref)
    school = rng.normal(size=n) - 0.45 * migrant - 0.025 * np.maximum(age - 35, 0) + 0.1 * (
        age < 30)
    education = np.searchsorted(sim.EDUCATION_CUTS, school)
    u, v = rng.random(n), rng.random(n)
    working = np.select([u < 0.83, u < 0.92], [0, 1], 2)  # employed, self-employed, unemployed
    employment = np.select([(age < 23) & (school > 0.3) & (v < 0.7), age >= np.where(male, 60, 55)],
                           [4, np.select([v < 0.85, v < 0.93], [3, 0], 1)], working)
    mult = np.log(np.array([d.income for d in sim.DISTRICTS]))[district]
    wage = (np.log(3600) + 0.17 * education + 0.12 * male - 0.15 * migrant
            - 0.0006 * (age - 42) ** 2 + mult + rng.normal(0, 0.5, n))
    log_income = np.choose(employment, [
        wage, wage + rng.normal(0, 0.3, n), np.log(1500) + rng.normal(0, 0.4, n),
        np.log(3200) + 0.08 * education - 0.2 * migrant + rng.normal(0, 0.3, n),
        np.log(1200) + rng.normal(0, 0.4, n)])
    return {"district": district, "age": age, "birth": birth, "male": male, "migrant": migrant,
            "education": education, "employment": employment, "income": np.exp(log_income)}


def _families(rng: np.random.Generator, people: int, ref: np.datetime64) -> Cols:
    """Adults, their marriages, minors attached to couples, and local adults' parents."""
    n_minor = round(people * sim.MINOR_SHARE)
    a = _adults(rng, people - n_minor, ref)
    wed = rng.random(len(a["age"])) < np.interp(a["age"], [21, 22, 25, 30, 65, 80, 90],
                                                [0, .25, .55, .85, .8, .5, .4])
    men, women = _pair(rng, a["district"] * 2 + a["migrant"], a["age"],
                       np.flatnonzero(wed & a["male"]), np.flatnonzero(wed & ~a["male"]))
    younger = np.minimum(a["age"][men], a["age"][women])
    birth, age = _births(rng, rng.integers(0, 18, n_minor), ref)
    couple = _attach(rng, np.zeros(n_minor, np.int64), age, np.zeros(len(men), np.int64),
                     younger, (24.0, 36.0))
    has, mum = couple >= 0, women[np.maximum(couple, 0)] if len(men) else np.zeros(n_minor, int)
    pop = np.array([d.population for d in sim.DISTRICTS])
    p = {k: np.concatenate([a[k], m]) for k, m in {
        "district": np.where(has, a["district"][mum], rng.choice(len(pop), n_minor,
                                                                 p=pop / pop.sum())),
        "age": age, "birth": birth, "male": rng.random(n_minor) < 0.53,
        "migrant": np.where(has, a["migrant"][mum], rng.random(n_minor) < 0.4),
        "education": np.searchsorted([6, 12, 15], age, side="right"),
        "employment": np.full(n_minor, 4), "income": np.zeros(n_minor)}.items()}
    n, adult = people, np.arange(people) < len(a["age"])
    father, mother = np.full(n, -1), np.full(n, -1)
    kids = len(a["age"]) + np.flatnonzero(has)
    father[kids], mother[kids] = men[couple[has]], women[couple[has]]
    grown = np.flatnonzero(adult & ~p["migrant"] & (p["age"] <= 55) & (rng.random(n) < 0.75))
    found = _attach(rng, p["district"][grown] * 2, p["age"][grown],
                    p["district"][women] * 2 + p["migrant"][women], younger, (24.0, 34.0))
    grown, found = grown[found >= 0], found[found >= 0]
    father[grown], mother[grown] = men[found], women[found]
    return {**p, "adult": adult, "father": father, "mother": mother, "men": men, "women": women}


def _households(rng: np.random.Generator, p: Cols) -> Cols:
    """Households, marital status, youngest child and income deciles."""
    n, adult, age, father = len(p["age"]), p["adult"], p["age"], p["father"]
    married = np.zeros(n, bool)
    married[p["men"]], married[p["women"]] = True, True
    household = np.arange(n)
    household[p["women"]] = p["men"]
    home = (father >= 0) & (~adult | (~married & (age < 30) & (rng.random(n) < 0.7)))
    household[home] = father[home]
    u = rng.random(n)
    widowed = u < np.clip((age - 55) / 50, 0, 0.6)
    divorced = ~widowed & (u < np.clip((age - 55) / 50, 0, 0.6) + np.where(age >= 30, .12, .02))
    youngest = np.full(n, 99)
    for parent in (father, p["mother"]):
        np.minimum.at(youngest, parent[parent >= 0], age[parent >= 0])
    grown = np.flatnonzero(adult)
    decile = np.zeros(n, np.int64)
    decile[grown[np.argsort(p["income"][grown], kind="stable")]] = (
        np.arange(len(grown)) * 10 // max(len(grown), 1) + 1)
    return {"household": np.cumsum(np.bincount(household, minlength=n) > 0)[household] - 1,
            "marital": np.select([married, ~adult, widowed, divorced], [1, 0, 3, 2], 0),
            "youngest": youngest, "decile": np.where(adult, decile, np.where(
                father >= 0, decile[np.maximum(father, 0)], rng.integers(1, 11, n)))}


def _traits(rng: np.random.Generator, p: Cols) -> dict[str, Floats]:
    """Latent traits, standard normal with small age, sex and education gradients."""
    n, age, male, adult = len(p["age"]), p["age"], p["male"], p["adult"]
    edu = (p["education"] - 3.5) / 2
    log_income = np.log(np.maximum(p["income"], 1.0))
    grown = log_income[adult] if adult.any() else np.zeros(1)
    z = (log_income - grown.mean()) / max(float(grown.std()), 1e-9)
    noise = [rng.normal(size=n) for _ in range(9)]
    return {"conscientiousness": noise[0] + 0.15 * edu + 0.01 * (age - 40),
            "civic": noise[1] + 0.2 * edu + 0.012 * (age - 40),
            "gaming": noise[2] - 0.04 * (age - 30) + 0.5 * male,
            "risk": noise[3] + 0.3 * male - 0.02 * (age - 35), "grievance": noise[4],
            "religiosity": noise[5] + 0.01 * (age - 40),
            "online": noise[6] - 0.03 * (age - 35) + 0.1 * edu,
            "frailty": 0.5 * noise[7] + 0.04 * (age - 45),
            "stress": np.where(adult, -0.8 * z + 0.6 * noise[8], 0.0)}


def _orgs(rng: np.random.Generator, n: int, ref: np.datetime64, p: Cols) -> Cols:
    """Credit codes (area = district), entity, sector, employees, legal representative."""
    weight = np.array([d.population * d.income for d in sim.DISTRICTS])
    areas = np.repeat([d.code for d in sim.DISTRICTS],
                      np.round(1000 * weight / weight.sum()).astype(np.int64))
    codes = ids.generate_usccs(rng, areas, n)
    chars = np.ascontiguousarray(codes).view(np.uint32).reshape(n, 18).astype(np.int64)
    district = np.searchsorted([int(d.code) for d in sim.DISTRICTS],
                               (chars[:, 2:8] - ord("0")) @ 10 ** np.arange(5, -1, -1))
    keys = np.array([ord(k[0]) * 256 + ord(k[1]) for k in sim.ENTITIES])
    entity = np.argmax((chars[:, 0] * 256 + chars[:, 1])[:, None] == keys[None, :], axis=1)
    share = np.array(sim.SECTOR_WEIGHTS) / sum(sim.SECTOR_WEIGHTS)
    sector = np.choose(entity, [rng.choice(len(share), n, p=share), rng.choice([1, 4, 8], n)] + [
        np.full(n, sim.SECTORS.index(s)) for s in ("agriculture", "social_services",
                                                   "public_services")])
    size = np.choose(entity, [rng.lognormal(np.log(12), 1.3, n), 1 + rng.poisson(1.5, n),
                              5 + rng.poisson(10, n), rng.lognormal(np.log(10), 0.8, n),
                              rng.lognormal(np.log(60), 1.0, n)])
    dormant = rng.random(n) < 0.08
    adult, age = p["adult"], p["age"]
    employer, hired = np.full(len(age), -1), np.full(len(age), np.datetime64("NaT"), "M8[D]")
    legal_rep = np.zeros(n, np.int64)
    if n:
        staff = np.flatnonzero(adult & (p["employment"] == 0))
        employer[staff] = _pick(rng, p["district"][staff], district,
                                np.where(dormant, 1.0, size), 0.75)
        hired[staff] = _years_back(rng, ref, np.minimum(age[staff] - 18, 15))
        cand = np.flatnonzero(adult & (age >= 25) & (age <= 70))
        weight = p["decile"][cand] ** 2 * np.where(p["employment"][cand] == 1, 10.0, 1.0)
        legal_rep = cand[_pick(rng, district, p["district"][cand], weight, 0.9)]
    employees = np.bincount(employer[employer >= 0], minlength=n)
    size_z = _z(np.log1p(employees))
    stress = (0.9 * rng.normal(size=n) - 0.25 * size_z + 0.6 * dormant
              + np.array([0, 0, .4, 0, .3] + [0] * 8)[sector])  # construction, hospitality
    compliance = 0.5 * p["traits"]["conscientiousness"][legal_rep] + 0.87 * rng.normal(size=n)
    days = np.maximum(rng.exponential(9 * DAY_YEAR, n), 30).astype(np.int64)
    return {"codes": codes, "district": district, "entity": entity, "sector": sector,
            "employees": employees, "founded": ref - days.astype("timedelta64[D]"),
            "legal_rep": legal_rep, "employer": employer, "hired": hired,
            "traits": {"compliance": compliance, "stress": stress,
                       "dormant": dormant.astype(np.float64), "size": size_z}}


def _relations(rng: np.random.Generator, ref: np.datetime64, p: Cols, o: Cols) -> Relations:
    """Spouses, parents, friends, employers and legal representatives, with start dates."""
    n, father, mother, employer = len(p["age"]), p["father"], p["mother"], o["employer"]
    friends = _friends(rng, p, p["adult"])
    child, staff = np.flatnonzero(father >= 0), np.flatnonzero(employer >= 0)
    links = [
        (p["men"], p["women"], "spouse",
         _years_back(rng, ref, np.minimum(p["age"][p["women"]] - 21.0, 50))),
        (child, father[child], "parent", p["birth"][child]),
        (child, mother[child], "parent", p["birth"][child]),
        (friends[0], friends[1], "friend", _years_back(rng, ref, np.minimum(
            10.0, np.minimum(p["age"][friends[0]], p["age"][friends[1]])))),
        (staff, n + employer[staff], "employer", o["hired"][staff]),
        (n + np.arange(len(o["legal_rep"])), o["legal_rep"], "legal_representative",
         o["founded"])]
    return Relations(
        np.concatenate([s for s, *_ in links]).astype(np.int64),
        np.concatenate([t for _, t, *_ in links]).astype(np.int64),
        np.concatenate([np.full(len(s), sim.RELATIONS.index(r)) for s, _, r, _ in links]),
        np.concatenate([since for *_, since in links]).astype("datetime64[D]"))


def make_city(people: int, orgs: int, seed: int, start: date = sim.DEFAULT_START) -> City:
    """A reproducible synthetic Suzhou: the same arguments give the same city."""
    if people < 0 or orgs < 0:
        raise InputError(f"a city needs non-negative sizes, got people={people}, orgs={orgs}")
    rng = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    ref = np.datetime64(start, "D")
    p = _families(rng[0], people, ref)
    p.update(_households(rng[1], p))
    p["traits"] = _traits(rng[2], p)
    minority = rng[2].random(people) < np.where(p["migrant"], 0.03, 0.008)
    ethnic = np.where(minority, rng[2].integers(1, 8, people), 0)
    ethnic = np.where(p["mother"] >= 0, ethnic[np.maximum(p["mother"], 0)], ethnic)
    ext = ids.generate_resident_ids(rng[3], _area_codes(rng[3], p), p["birth"], p["male"])
    o = _orgs(rng[4], orgs, ref, p)
    return City(
        People(ext, p["district"], p["birth"], p["age"], p["male"], p["migrant"],
               p["education"], p["employment"], p["income"], p["decile"], p["marital"],
               p["household"], p["father"], p["mother"], o["employer"], o["hired"],
               p["youngest"], ethnic, p["traits"]),
        Orgs(o["codes"], o["district"], o["entity"], o["sector"], o["employees"], o["founded"],
             o["legal_rep"], o["traits"]),
        _relations(rng[5], ref, p, o), seed, start)
