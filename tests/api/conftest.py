"""Fixtures of the HTTP service tests; the world is shared (the engine plan takes seconds).

Every test of the shared world runs twice: over a DuckDB file and over a PostgreSQL schema
(marked ``postgres``; skipped without a server, failed under CI).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apikit import NOW, World, make_world

from storekit import STORES, drop_pg, pg_url


@pytest.fixture(scope="session", params=STORES)
def shared_world(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = pg_url("gc_api") if request.param == "postgres" else None
    world = make_world(tmp_path_factory.mktemp("api"), location=url)
    try:
        yield world
    finally:
        world.client.close()
        world.ledger.close()
        if url is not None:
            drop_pg(url)


@pytest.fixture
def world(shared_world: World) -> World:
    """The shared world with its clock back at the start."""
    shared_world.clock.now = NOW
    return shared_world
