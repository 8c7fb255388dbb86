"""The synthetic population: valid ids, plausible families, homophilous friends, employers."""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pytest

from glasscredit import ids
from glasscredit.simulate import DISTRICTS, ORIGINS, RELATIONS
from glasscredit.simulate.population import City, make_city


def _pairs(city: City, relation: str) -> tuple[np.ndarray, np.ndarray]:
    r = city.relations
    keep = r.relation == RELATIONS.index(relation)
    return r.subject[keep], r.related[keep]


def test_same_seed_same_city_other_seed_other_city() -> None:
    a, b, c = make_city(3000, 100, 5), make_city(3000, 100, 5), make_city(3000, 100, 6)
    assert np.array_equal(a.people.external_id, b.people.external_id)
    assert np.array_equal(a.relations.related, b.relations.related)
    assert np.array_equal(a.orgs.external_id, b.orgs.external_id)
    assert not np.array_equal(a.people.external_id, c.people.external_id)


def test_every_resident_id_is_valid_unique_and_encodes_birth_and_sex(city: City) -> None:
    p = city.people
    assert len(set(p.external_id.tolist())) == city.n_people
    for i in range(0, city.n_people, 7):
        parsed = ids.validate_resident_id(str(p.external_id[i]))
        assert parsed.birth_date == p.birth[i].astype(date)
        assert parsed.sex == ("M" if p.male[i] else "F")


def test_area_codes_are_suzhou_districts_or_migrants_home_counties(city: City) -> None:
    p = city.people
    area = p.external_id.astype("U6")
    home = {c for c, *_ in ORIGINS}
    assert set(area[p.migrant].tolist()) <= home
    suzhou = {code for d in DISTRICTS for _, codes in d.codes for code in codes}
    assert set(area[~p.migrant].tolist()) <= suzhou
    young = ~p.migrant & (p.birth >= np.datetime64("2013-01-01"))
    assert set(area[young].tolist()) <= {d.code for d in DISTRICTS}  # today's codes after 2012


def test_every_credit_code_is_valid_and_registered_in_its_district(city: City) -> None:
    o = city.orgs
    assert len(set(o.external_id.tolist())) == city.n_orgs
    for i, code in enumerate(o.external_id.tolist()):
        assert ids.validate_uscc(code).area == DISTRICTS[o.district[i]].code


def test_population_shape_is_plausible(city: City) -> None:
    p = city.people
    adult = p.age >= 18
    assert 0.13 < (~adult).mean() < 0.17
    assert 0.30 < p.migrant.mean() < 0.50
    median = np.median(p.income[adult & (p.employment == 0)])
    assert 5_000 < median < 9_000  # monthly RMB of employees, Suzhou-like
    assert set(np.unique(p.decile[adult]).tolist()) == set(range(1, 11))
    assert p.income[p.migrant & adult].mean() < p.income[~p.migrant & adult].mean()


def test_spouses_are_adults_of_opposite_sex_and_similar_age(city: City) -> None:
    p = city.people
    a, b = _pairs(city, "spouse")
    assert len(a) > city.n_people * 0.2
    assert (p.male[a] != p.male[b]).all()
    assert (p.age[a] >= 22).all() and (p.age[b] >= 22).all()
    assert np.median(np.abs(p.age[a] - p.age[b])) <= 5
    assert (p.household[a] == p.household[b]).all()


def test_parents_are_at_least_eighteen_years_older(city: City) -> None:
    p = city.people
    child, parent = _pairs(city, "parent")
    assert len(child) > 0
    assert ((p.birth[child] - p.birth[parent]).astype(int) >= 18 * 365).all()
    minors = np.flatnonzero(p.age < 18)
    assert (p.father[minors] >= 0).mean() > 0.9


def test_friends_resemble_each_other(city: City) -> None:
    """Homophily: friends' incomes correlate, districts and hukou match, far above chance."""
    p = city.people
    a, b = _pairs(city, "friend")
    degree = np.bincount(np.r_[a, b], minlength=city.n_people)[p.age >= 18]
    assert 8 <= degree.mean() <= 11
    log_income = np.log(np.maximum(p.income, 1))
    adults = (p.age[a] >= 18) & (p.age[b] >= 18)
    friends = np.corrcoef(log_income[a[adults]], log_income[b[adults]])[0, 1]
    rng = np.random.default_rng(0)
    x, y = rng.choice(np.flatnonzero(p.age >= 18), (2, 50_000))
    strangers = np.corrcoef(log_income[x], log_income[y])[0, 1]
    assert friends > 0.4 and friends > strangers + 0.3
    assert (p.district[a] == p.district[b]).mean() > 3 * (p.district[x] == p.district[y]).mean()
    assert (p.migrant[a] == p.migrant[b]).mean() > (p.migrant[x] == p.migrant[y]).mean() + 0.1


def test_employers_and_legal_representatives(city: City) -> None:
    p, o = city.people, city.orgs
    staff, org = _pairs(city, "employer")
    assert (org >= city.n_people).all() and (p.employment[staff] == 0).all()
    assert np.array_equal(np.bincount(org - city.n_people, minlength=city.n_orgs), o.employees)
    assert (p.district[staff] == o.district[org - city.n_people]).mean() > 0.7
    firm, rep = _pairs(city, "legal_representative")
    assert len(firm) == city.n_orgs and ((p.age[rep] >= 25) & (p.age[rep] <= 70)).all()


@pytest.mark.parametrize("people, orgs", [(0, 0), (1, 0), (40, 3)])
def test_tiny_cities(people: int, orgs: int) -> None:
    city = make_city(people, orgs, 1)
    assert city.n_people == people and city.n_orgs == orgs


def test_a_million_people_is_a_matter_of_seconds_per_ten_thousand() -> None:
    began = time.process_time()
    make_city(10_000, 500, 2)
    assert time.process_time() - began < 2.0
