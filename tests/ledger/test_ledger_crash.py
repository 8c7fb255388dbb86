"""Crash safety: a writer killed with SIGKILL at random points loses no acknowledged batch and
leaves no partial one, on both stores."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ledgerkit import KEY

from glasscredit.ledger.ledger import Ledger

BATCHES = 60
ROWS = 500
KILLS = 6
WRITER = Path(__file__).with_name("crash_writer.py")


def _acked(ack: Path) -> set[int]:
    return {int(x) for x in ack.read_text().split()} if ack.exists() else set()


def _check(location: str, ack: Path) -> set[int]:
    """Every acknowledged batch whole, every stored batch whole; returns the batches stored."""
    acked = _acked(ack)
    with Ledger.open(location, KEY) as book:
        per_key = book.store.query(
            "SELECT split_part(source_event_id, '-', 1) AS b, count(*) AS n, "
            "count(DISTINCT batch_id) AS batches FROM ledger_events GROUP BY 1").to_pylist()
        per_batch = book.store.query(
            "SELECT e.batch_id, count(*) AS n, max(b.batch_id) AS logged FROM ledger_events e "
            "LEFT JOIN ledger_batches b ON b.batch_id = e.batch_id GROUP BY e.batch_id"
        ).to_pylist()
    stored = {int(r["b"]): r for r in per_key}
    assert acked <= set(stored), f"acknowledged but lost: {sorted(acked - set(stored))}"
    partial = {b: r["n"] for b, r in stored.items() if r["n"] != ROWS or r["batches"] != 1}
    assert not partial, f"partial batches: {partial}"
    assert all(r["n"] == ROWS and r["logged"] is not None for r in per_batch)
    return set(stored)


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_batch_nor_leaves_a_partial_one(
    location: str, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    with Ledger.init(location, KEY) as book:
        book.add_source("bank", 0.9)
    ack = tmp_path / "acks.txt"
    command = [sys.executable, str(WRITER), location, str(ack), str(BATCHES), str(ROWS)]
    kills = 0
    for _ in range(KILLS + 1):
        ready = ack.with_suffix(".ready")
        ready.unlink(missing_ok=True)
        child = subprocess.Popen(command, cwd=WRITER.parent, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        # killed after 1-8 more batches, at a random moment within the next: the writer's pace
        # varies with the store and the machine, and a fixed delay let a fast one finish first
        target = len(_acked(ack)) + rng.randint(1, 8)
        while len(_acked(ack)) < target and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        if kills < KILLS and child.poll() is None:
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            _check(location, ack)
            continue
        _, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr.decode()
        break
    stored = _check(location, ack)
    assert stored == set(range(BATCHES)), f"seed {seed}"
    assert kills == KILLS, f"seed {seed}: the writer was killed only {kills} time(s)"
