"""One DuckDB backend per test module: the first score call per policy builds the plan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from glasscredit.engine.sessions import Backend, duckdb_backend


@pytest.fixture(scope="module")
def b() -> Iterator[Backend]:
    backend = duckdb_backend()
    yield backend
    backend.release()
