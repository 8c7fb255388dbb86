"""Writing a city: engine shapes, audit tables, reproducible bytes, the CLI and a ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from simkit import MONTHS, Written
from typer.testing import CliRunner

from glasscredit.commands.simulate import app
from glasscredit.engine.tables import INPUT_SCHEMAS
from glasscredit.ledger.ledger import Ledger, arrow_schema
from glasscredit.ledger.pseudonym import read_key_file
from glasscredit.simulate.population import make_city
from glasscredit.simulate.write import write_city


def test_engine_tables_have_exactly_the_engine_schemas(written: Written) -> None:
    for name, columns in INPUT_SCHEMAS.items():
        assert pq.read_schema(written.path / f"{name}.parquet") == arrow_schema(columns), name
    subjects = written.table("subjects")
    assert subjects.num_rows == written.city.n_people + written.city.n_orgs
    assert subjects["subject_id"][0].as_py() == "p0000001"
    events = written.table("events")
    assert events.num_rows == written.summary.events
    assert pc.count_distinct(events["event_id"]).as_py() == events.num_rows
    assert set(events["subject_id"].to_pylist()) <= set(subjects["subject_id"].to_pylist())
    months = pc.strftime(events["occurred_at"], "%Y-%m")
    assert pc.min(months).as_py() == "2024-01" and pc.count_distinct(months).as_py() >= MONTHS


def test_audit_tables_name_every_subject_with_its_groups(written: Written) -> None:
    people, orgs = written.table("people"), written.table("orgs")
    assert people.num_rows == written.city.n_people and orgs.num_rows == written.city.n_orgs
    for column in ("age_band", "sex", "hukou", "income_decile", "district", "education"):
        assert people[column].null_count == 0, column
    assert set(people["hukou"].to_pylist()) == {"local", "migrant"}
    reps = set(orgs["legal_rep_id"].to_pylist())
    assert reps <= set(people["subject_id"].to_pylist())
    truth = written.table("truth_people")
    assert truth.num_rows == people.num_rows and "conscientiousness" in truth.column_names
    manifest = json.loads((written.path / "city.json").read_text())
    assert manifest["events"] == written.summary.events and manifest["end"] == "2025-01-01"


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_city(make_city(1500, 80, 21), tmp_path / run, 2, false_records=0.05)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 11
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_ten_thousand_people_for_a_year_take_seconds(tmp_path: Path) -> None:
    began = time.process_time()
    summary = write_city(make_city(10_000, 500, 3), tmp_path, 12)
    assert time.process_time() - began < 12
    assert 150_000 < summary.events < 400_000


def test_cli_writes_a_city_and_loads_it_into_a_research_ledger(tmp_path: Path) -> None:
    out, book = tmp_path / "city", tmp_path / "city.duckdb"
    result = CliRunner().invoke(app, [
        "city", "--people", "600", "--orgs", "40", "--months", "2", "--seed", "5",
        "--out", str(out), "--false-records", "0.05", "--ledger", str(book)])
    assert result.exit_code == 0, result.output
    assert "Events per kind" in result.output and "hukou" in result.output
    assert "0 rejected" in result.output
    events = pq.read_table(out / "events.parquet")
    with Ledger.open(book, read_key_file(Path(f"{book}.key"))) as ledger:
        assert ledger.is_research()
        assert ledger.table("events").num_rows == events.num_rows
        assert ledger.table("subjects").num_rows == 640
        relations = pq.read_metadata(out / "relations.parquet").num_rows
        assert ledger.table("relations").num_rows == relations
        broker = ledger.table("events").filter(pc.equal(
            ledger.table("events")["source_id"], "data_broker"))
        assert broker.num_rows == pq.read_metadata(out / "truth_false_records.parquet").num_rows


def test_cli_refuses_a_future_period_for_a_ledger(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["city", "--people", "10", "--start", "2999-01",
                                      "--out", str(tmp_path), "--ledger",
                                      str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2 and "future" in result.output
