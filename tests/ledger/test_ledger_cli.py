"""The ledger commands through their real interface (Typer's runner), and Parquet export/import."""

from __future__ import annotations

import csv
import json
import stat
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ledgerkit import KEY, ORG, PERSON, events_table
from typer.testing import CliRunner

from glasscredit.commands.ledger import app
from glasscredit.engine.tables import INPUT_SCHEMAS
from glasscredit.ledger.ledger import Ledger, arrow_schema

runner = CliRunner()
NO_ENV = {"GLASSCREDIT_LEDGER": None, "GLASSCREDIT_PSEUDONYM_KEY": None,
          "GLASSCREDIT_KEY_FILE": None}


def run(*args: str, env: dict[str, str | None] | None = None, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={**NO_ENV, **(env or {})})
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture
def cli_ledger(location: str, tmp_path: Path) -> tuple[str, Path]:
    """An initialised ledger (each store) with a key file and a source, made through the CLI."""
    key = tmp_path / "ledger.key"
    out = run("init", location, "--key-file", str(key))
    assert "live (real subjects)" in out
    run("source", "add", "bank", "--reliability", "0.9", "--ledger", location,
        "--key-file", str(key))
    return location, key


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    table = events_table(rows)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(table.column_names)
        out.writerows([["" if v is None else v for v in r.values()] for r in table.to_pylist()])
    return path


def test_init_makes_a_private_key_and_records_research(tmp_path: Path) -> None:
    where = tmp_path / "r.duckdb"
    out = run("init", str(where), "--research")
    assert "research (synthetic subjects)" in out
    key = Path(f"{where}.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with Ledger.open(where, bytes.fromhex(key.read_text())) as book:
        assert book.is_research()
    assert "already exists" in run("init", str(where), code=1)


def test_key_from_environment(tmp_path: Path) -> None:
    env = {"GLASSCREDIT_PSEUDONYM_KEY": KEY.hex(), "GLASSCREDIT_LEDGER": str(tmp_path / "e.db")}
    run("init", env=env)
    assert not Path(f"{tmp_path / 'e.db'}.key").exists()
    run("source", "add", "court", "-r", "1", env=env)
    assert "does not match" in run("source", "add", "x", "-r", "1",
                                   env={**env, "GLASSCREDIT_PSEUDONYM_KEY": "00" * 32}, code=1)


def test_ingest_reports_counts_and_writes_rejects(cli_ledger, tmp_path: Path) -> None:
    location, key = cli_ledger
    path = _csv(tmp_path / "e.csv", [{"source_event_id": "a"}, {"source_event_id": "b",
                                                                "kind": "nope"}])
    opts = ["--source", "bank", "--ledger", location, "--key-file", str(key)]
    out = run("ingest", str(path), *opts, code=2)
    assert "2 read, 1 stored, 0 already present, 0 conflicting, 1 rejected" in out
    rejects = tmp_path / "e.csv.rejects.csv"
    assert rejects.read_text().splitlines()[1] == "2,kind,unknown event kind 'nope'"
    again = run("ingest", str(path), *opts, "--reject-file", str(tmp_path / "r.csv"), code=2)
    assert "0 stored, 1 already present" in again and (tmp_path / "r.csv").exists()


def test_strict_ingest_fails_and_writes_nothing(cli_ledger, tmp_path: Path) -> None:
    location, key = cli_ledger
    path = _csv(tmp_path / "e.csv", [{"source_event_id": "a"}, {"source_event_id": "b",
                                                                "value": "x"}])
    out = run("ingest", str(path), "--source", "bank", "--strict", "--ledger", location,
              "--key-file", str(key), code=1)
    assert "row 2: value 'x' is not a finite number (strict: nothing written)" in out
    with Ledger.open(location, key=bytes.fromhex(key.read_text())) as book:
        assert book.table("events").num_rows == 0


def test_export_then_import_scores(cli_ledger, tmp_path: Path) -> None:
    location, key = cli_ledger
    path = _csv(tmp_path / "e.csv", [{"source_event_id": "a"},
                                     {"source_event_id": "b", "subject": ORG}])
    opts = ["--ledger", location, "--key-file", str(key)]
    run("ingest", str(path), "--source", "bank", *opts)
    out_dir = tmp_path / "lake"
    run("export", str(out_dir), *opts)
    for name, columns in INPUT_SCHEMAS.items():
        assert pq.read_schema(out_dir / f"{name}.parquet").remove_metadata() == \
            arrow_schema(columns)
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["tables"]["events"] == 2 and manifest["research"] is False
    subjects = pq.read_table(out_dir / "subjects.parquet")
    with Ledger.open(location, bytes.fromhex(key.read_text())) as book:
        policy = book.store_policy("mode: live\n", "p", "live")
    scores = subjects.append_column("score", pa.array([700.0, 410.0]))
    pq.write_table(scores, tmp_path / "scores.parquet")
    out = run("import-scores", str(tmp_path / "scores.parquet"), "--policy-hash", policy,
              "--as-of", "2026-05-01T00:00:00", *opts)
    assert "2 scores imported" in out
    with Ledger.open(location, bytes.fromhex(key.read_text())) as book:
        got = book.read_scores(policy, datetime(2026, 5, 2))
    assert sorted(got["score"].to_pylist()) == [410.0, 700.0]
    assert "not stored in this ledger" in run(
        "import-scores", str(tmp_path / "scores.parquet"), "--policy-hash", "f" * 64,
        "--as-of", "2026-05-01", *opts, code=1)
    pq.write_table(pa.concat_tables([scores, scores]), tmp_path / "twice.parquet")
    assert "subject_id repeats" in run(
        "import-scores", str(tmp_path / "twice.parquet"), "--policy-hash", policy,
        "--as-of", "2026-05-01", *opts, code=1)


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "k").write_text(KEY.hex())
    (tmp_path / "k").chmod(0o600)
    out = run("export", str(tmp_path / "x"), "--ledger", str(tmp_path / "none.duckdb"),
              "--key-file", str(tmp_path / "k"), code=1)
    assert "no ledger at" in out and "glasscredit init" in out
    assert PERSON not in out
