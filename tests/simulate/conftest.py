"""One synthetic city per session: generated once, written once, read by every simulate test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glasscredit.simulate.population import City, make_city
from glasscredit.simulate.write import CitySummary, write_city

PEOPLE, ORGS, MONTHS, SEED, FALSE = 20_000, 2_000, 12, 11, 0.02


@dataclass
class Written:
    """A city and the directory it was written to."""

    city: City
    path: Path
    summary: CitySummary

    def table(self, name: str) -> pa.Table:
        return pq.read_table(self.path / f"{name}.parquet")


@pytest.fixture(scope="session")
def city() -> City:
    return make_city(PEOPLE, ORGS, SEED)


@pytest.fixture(scope="session")
def written(city: City, tmp_path_factory: pytest.TempPathFactory) -> Written:
    path = tmp_path_factory.mktemp("city")
    return Written(city, path, write_city(city, path, MONTHS, FALSE))
