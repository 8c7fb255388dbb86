"""Shared constants and the written-city handle for the simulate tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from glasscredit.simulate.population import City
from glasscredit.simulate.write import CitySummary

PEOPLE, ORGS, MONTHS, SEED, FALSE = 20_000, 2_000, 12, 11, 0.02


@dataclass
class Written:
    """A city and the directory it was written to."""

    city: City
    path: Path
    summary: CitySummary

    def table(self, name: str) -> pa.Table:
        return pq.read_table(self.path / f"{name}.parquet")
