"""The demo: presets scored in worker processes give what one process gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from glasscredit.engine.sessions import duckdb_backend
from glasscredit.policy.load import load_policy
from glasscredit.simulate.demo import POLICIES, run_demo
from glasscredit.simulate.fairness import audit
from glasscredit.simulate.run import city_inputs, load_run, run_city


def test_demo_workers_give_what_one_process_gives(tmp_path: Path) -> None:
    summary = run_demo(tmp_path, people=1_500, orgs=100, months=2, seed=5)
    assert summary.report.is_file()
    assert [r["policy"] for r in summary.rows] == list(POLICIES)
    audits = json.loads((tmp_path / "audit.json").read_text())
    whatif = json.loads((tmp_path / "whatif.json").read_text())
    assert whatif["subjects"] > 0

    city = tmp_path / "city"
    b = duckdb_backend()
    inputs = city_inputs(b, city)
    for i, name in enumerate(POLICIES):
        cp = load_policy(name)
        run = run_city(city, cp, 2, backend=b, inputs=inputs)
        assert audit(b, inputs, cp, run, city) == audits[i], name
        back = load_run(tmp_path / "runs" / cp.name)
        assert back.months == run.months
        for table in ("scores", "lists", "measures", "reasons"):
            got, want = getattr(back, table), getattr(run, table)
            assert got.column_names == want.column_names, (name, table)
            for c in want.column_names:  # numbers to 1e-9: a worker's threads sum in its order
                if pa.types.is_floating(want[c].type):
                    assert np.allclose(got[c].to_numpy(zero_copy_only=False),
                                       want[c].to_numpy(zero_copy_only=False),
                                       rtol=0, atol=1e-9, equal_nan=True), (name, table, c)
                else:
                    assert got[c].equals(want[c]), (name, table, c)
