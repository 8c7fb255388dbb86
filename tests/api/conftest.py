"""Fixtures of the HTTP service tests; the world is shared (the engine plan takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apikit import NOW, World, make_world


@pytest.fixture(scope="session")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = make_world(tmp_path_factory.mktemp("api"))
    yield world
    world.client.close()
    world.ledger.close()


@pytest.fixture
def world(shared_world: World) -> World:
    """The shared world with its clock back at the start."""
    shared_world.clock.now = NOW
    return shared_world
