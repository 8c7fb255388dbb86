"""The study commands through Typer's runner, wired as cli.py would wire them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from studykit import CLEAN_RELATIVE, POLICY
from typer.testing import CliRunner

from glasscredit.commands import study


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer()
    simulate = typer.Typer()
    root.add_typer(simulate, name="simulate")
    study.register(root, simulate)
    return root


def test_audit_json(app: typer.Typer, fixture_city: Path) -> None:
    res = CliRunner().invoke(app, ["audit", "--policy", str(POLICY), "--city",
                                   str(fixture_city), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    kin = {r["measure"]: r for r in report["others_conduct"]["by_measure"]}["kin_ban"]
    assert kin["sample"] == [CLEAN_RELATIVE]


def test_run_whatif_report(app: typer.Typer, fixture_city: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "run", "--city", str(fixture_city), "--policy",
                              str(POLICY), "--months", "2", "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "runs" / "audit_fixture" / "month=2024-02" / "scores.parquet").is_file()
    res = runner.invoke(app, ["whatif", "--policy", str(POLICY), "--policy", str(POLICY),
                              "--city", str(fixture_city), "--months", "2"])
    assert res.exit_code == 0, res.output
    assert "0 of 200 change" in res.stdout
    res = runner.invoke(app, ["report", "--policy", str(POLICY), "--city", str(fixture_city),
                              "--months", "2", "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.html").stat().st_size > 500_000
