"""Prepared plans kept on disk: a new backend (a new process) replays the stored plan instead
of rebuilding it, with the same rows; a damaged or foreign file is ignored."""

from __future__ import annotations

import math

import pytest

from glasscredit.engine import plancache, prepared
from glasscredit.engine.run import Inputs, Snapshot, score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.examples import AS_OF, path, tables
from glasscredit.policy.load import compile_policy


@pytest.fixture
def plans(tmp_path, monkeypatch):
    monkeypatch.setenv(plancache.ENV, str(tmp_path / "plans"))
    return tmp_path / "plans"


def run(subset=None):
    b = duckdb_backend()
    cp = compile_policy(path("sesame_like.yaml").read_text())
    inp = Inputs(**{n: b.from_arrow(t) for n, t in tables().items()})
    snap = Snapshot()
    if subset:
        full = score(b, inp, cp, AS_OF).arrow("scores")
        snap = Snapshot(scores=b.from_arrow(full.select(["subject_id", "subject_kind", "score"])))
    rows = score(b, inp, cp, AS_OF, subset, snap).arrow("scores").to_pylist()
    return rows, b


def same(a, b):
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        for k in x:
            if isinstance(x[k], float):
                assert math.isclose(x[k], y[k], abs_tol=1e-9), k
            else:
                assert x[k] == y[k], k


@pytest.mark.parametrize("subset", [None, ["p03", "p12"]], ids=["full", "subset"])
def test_a_new_backend_replays_the_stored_plan(plans, monkeypatch, subset):
    first, _ = run(subset)
    files = sorted(plans.glob("*.json"))
    assert files, "the recorded plan was not stored"
    recorded = []
    real = prepared._record
    monkeypatch.setattr(prepared, "_record", lambda *a, **k: recorded.append(1) or real(*a, **k))
    second, b2 = run(subset)
    assert recorded == [], "a stored plan was rebuilt instead of replayed"
    same(first, second)
    # the stored plan's constant tables got names of the new backend, not the recorder's
    assert any("_k" in name for name in b2.constants | set(b2._temps))


def test_a_damaged_or_foreign_plan_file_is_ignored(plans, monkeypatch):
    first, _ = run()
    files = sorted(plans.glob("*.json"))
    files[0].write_text("{not json")
    for f in files[1:]:
        f.write_text('{"engine": "another engine", "steps": []}')
    again, _ = run()
    same(first, again)
    assert all(plancache.load(f) is not None for f in plans.glob("*.json"))


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv(plancache.ENV, "off")
    assert plancache.cache_dir() is None
    assert duckdb_backend().plan_dir is None
    monkeypatch.delenv(plancache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert plancache.cache_dir() == tmp_path / "glasscredit" / "plans"


def test_prepare_warms_up_without_scoring(plans):
    cp = compile_policy(path("sesame_like.yaml").read_text())
    first = duckdb_backend()
    inputs = Inputs(**{n: first.from_arrow(t) for n, t in tables().items()})
    assert prepared.prepare(first, inputs, cp) is True  # built, and stored
    assert prepared.prepare(first, inputs, cp) is False  # in memory now
    second = duckdb_backend()
    again = Inputs(**{n: second.from_arrow(t) for n, t in tables().items()})
    assert prepared.prepare(second, again, cp) is False  # read from disk
    assert len(second.cache) == 1
    rows = score(second, again, cp, AS_OF).arrow("scores").to_pylist()
    assert len(second.cache) == 1 and len(rows) == 36


def test_simulate_prepare_stores_the_plans_a_city_run_replays(plans, monkeypatch):
    from typer.testing import CliRunner

    from glasscredit.cli import app
    from glasscredit.engine.sessions import duckdb_backend as make
    from glasscredit.policy.load import load_policy
    from glasscredit.simulate.run import prepare as prepare_city

    runner = CliRunner()
    done = runner.invoke(app, ["simulate", "prepare", "--policy", "example:volunteer_rewards"])
    assert done.exit_code == 0, done.output
    assert "volunteer_rewards@2026.1" in done.output and len(list(plans.glob("*.json"))) == 1
    recorded = []
    real = prepared._record
    monkeypatch.setattr(prepared, "_record", lambda *a, **k: recorded.append(1) or real(*a, **k))
    prepare_city(make(), load_policy("example:volunteer_rewards"))
    assert recorded == []  # what a city run asks for is on disk
    monkeypatch.setenv(plancache.ENV, "off")
    off = runner.invoke(app, ["simulate", "prepare"])
    assert off.exit_code == 0 and "nothing to do" in off.output
