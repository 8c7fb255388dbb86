import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os
import tempfile

# Prepared plans kept on disk go to a folder of this test run, not the user's cache; the
# subprocesses the tests start (the CLI) inherit it.
os.environ["GLASSCREDIT_PLAN_CACHE"] = tempfile.mkdtemp(prefix="glasscredit-plans-")


from collections.abc import Iterator

import pytest

from storekit import STORES, Clock, drop_pg, pg_url


@pytest.fixture(params=STORES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh ledger goes: a DuckDB file, or a throw-away PostgreSQL schema (marked
    ``postgres``; skipped without a server, failed under CI)."""
    if request.param == "duckdb":
        yield str(tmp_path / "ledger.duckdb")
        return
    url = pg_url()
    try:
        yield url
    finally:
        drop_pg(url)


@pytest.fixture
def clock() -> Clock:
    return Clock()
