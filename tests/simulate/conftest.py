"""One synthetic city per session: generated once, written once, read by every simulate test."""

from __future__ import annotations

import pytest
from simkit import FALSE, MONTHS, ORGS, PEOPLE, SEED, Written

from glasscredit.simulate.population import City, make_city
from glasscredit.simulate.write import write_city


@pytest.fixture(scope="session")
def city() -> City:
    return make_city(PEOPLE, ORGS, SEED)


@pytest.fixture(scope="session")
def written(city: City, tmp_path_factory: pytest.TempPathFactory) -> Written:
    path = tmp_path_factory.mktemp("city")
    return Written(city, path, write_city(city, path, MONTHS, FALSE))
