"""Scoring a city month by month: the fast path gives what the plain chain of scores gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from glasscredit.catalogue import RELATION_TYPES
from glasscredit.engine.run import Inputs, Snapshot, score
from glasscredit.engine.sessions import Backend, duckdb_backend
from glasscredit.engine.tables import SNAPSHOT_SCHEMAS
from glasscredit.ledger.ledger import arrow_schema
from glasscredit.policy.load import load_policy
from glasscredit.simulate.fairness import audit
from glasscredit.simulate.population import make_city
from glasscredit.simulate.run import (
    city_inputs,
    city_start,
    empty_snapshot,
    load_run,
    month_ends,
    score_months,
)
from glasscredit.simulate.write import write_city

MONTHS = 4
#: Hysteresis with a grace period, entered and left often: a bill paid on time in the last
#: month grants the privilege, kept for 20 days after it stops holding.
HYSTERESIS = """
policy: grace_fixture
version: "1"
mode: simulation
description: A privilege for a bill paid on time this month, with a grace period.
sources: ["tests/simulate: a fixture for chained state"]
subject_kind: person
aggregation: additive
scale: {min: 0, max: 100, start: 50}
categories:
  - name: bills
    description: Bills paid on time
rules:
  - id: bill_on_time
    kind: bill_payment
    when: "days_late == 0"
    points: 10
    valid_for: 31d
    category: bills
    reason: A bill paid on time in the last month
measures:
  - name: fast_lane
    type: privilege
    context: finance
    when: "score >= 60"
    hysteresis: {low_water: 0.95, grace: 20d}
"""


@pytest.fixture(scope="module")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small_city")
    write_city(make_city(3_000, 300, 4), path, MONTHS, false_records=0.05)
    return path


@pytest.fixture(scope="module")
def backend(small_city: Path) -> tuple[Backend, Inputs]:
    b = duckdb_backend()
    return b, city_inputs(b, small_city)


@pytest.fixture(scope="module")
def grace_policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("policy") / "grace_fixture.yaml"
    path.write_text(HYSTERESIS)
    return str(path)


def _full(b: Backend, table: pa.Table, name: str) -> object:
    schema = arrow_schema(SNAPSHOT_SCHEMAS[name])
    return b.from_arrow(table.select(schema.names).cast(schema))


def _reference(b: Backend, inputs: Inputs, policy: str, ends: list) -> dict[str, pa.Table]:
    """The plain chain: every month's whole lists and measures tables as the next snapshot."""
    cp = load_policy(policy)
    snap = empty_snapshot(b)
    out: dict[str, pa.Table] = {}
    for as_of in ends:
        r = score(b, inputs, cp, as_of, snapshot=snap, reasons=True)
        out = {name: r.arrow(name) for name in ("scores", "lists", "measures")}
        snap = Snapshot(_full(b, out["lists"], "list_state"),
                        _full(b, out["measures"], "measure_state"))
    return out


def test_city_relations_speak_the_policy_vocabulary(small_city: Path) -> None:
    written = pq.read_table(small_city / "relations.parquet")["relation"]
    assert set(written.to_pylist()) <= set(RELATION_TYPES)
    assert pc.sum(pc.equal(written, "family")).as_py() > 0


@pytest.mark.parametrize("policy", ["national", "grace"])
def test_monthly_runs_equal_the_plain_chain(backend: tuple[Backend, Inputs], small_city: Path,
                                            grace_policy: str, policy: str) -> None:
    """Only state-carrying rows go into the snapshot, and that changes nothing."""
    b, inputs = backend
    policy = grace_policy if policy == "grace" else policy
    ends = month_ends(city_start(small_city), MONTHS)
    run = score_months(b, inputs, load_policy(policy), ends)
    want = _reference(b, inputs, policy, ends)
    assert run.lists.equals(want["lists"])
    assert run.measures.equals(want["measures"])
    got, ref = run.scores, want["scores"]
    assert got["subject_id"].equals(ref["subject_id"]) and got["band"].equals(ref["band"])
    assert np.allclose(got["score"].to_numpy(), ref["score"].to_numpy(), rtol=0, atol=1e-9)
    assert sum(run.months[-1].measures.values()) > 0  # the comparison is not vacuous
    if policy == grace_policy:  # some privileges are held only through the grace period
        assert pc.sum(pc.is_valid(run.measures["failing_since"])).as_py() > 0


def test_a_policy_run_and_its_audit_share_one_prepared_plan(small_city: Path) -> None:
    b = duckdb_backend()
    inputs = city_inputs(b, small_city)
    cp = load_policy("national")
    run = score_months(b, inputs, cp, month_ends(city_start(small_city), MONTHS))
    report = audit(b, inputs, cp, run, small_city)
    assert len(b.cache) == 1
    assert report["false_records"]["planted"] > 0
    assert run.reasons.num_rows > 0


def test_a_written_run_reads_back_as_it_was(backend: tuple[Backend, Inputs], small_city: Path,
                                            tmp_path: Path) -> None:
    b, inputs = backend
    run = score_months(b, inputs, load_policy("national"),
                       month_ends(city_start(small_city), MONTHS), out_dir=tmp_path)
    back = load_run(tmp_path)
    for name in ("scores", "lists", "measures", "reasons"):
        got, want = getattr(back, name), getattr(run, name)
        assert got.column_names == want.column_names, name
        assert all(got[c].equals(want[c]) for c in got.column_names), name  # values and types
    assert back.months == run.months and back.as_of == run.as_of
    assert back.version == run.version
    assert len(list(tmp_path.glob("month=*/measures.parquet"))) == MONTHS
