"""Study fixtures: one DuckDB backend, the fixture city and its policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from studykit import POLICY, write_fixture_city

from glasscredit.engine.sessions import Backend, duckdb_backend
from glasscredit.policy.load import CompiledPolicy, load_policy


@pytest.fixture(scope="session")
def backend() -> Backend:
    return duckdb_backend()


@pytest.fixture(scope="session")
def fixture_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture_city(tmp_path_factory.mktemp("fixture_city"))


@pytest.fixture(scope="session")
def fixture_policy() -> CompiledPolicy:
    return load_policy(POLICY)
