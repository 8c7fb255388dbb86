"""The audit finds what was planted in the fixture city; run and what-if on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from studykit import CLEAN_RELATIVE, FALSE_VICTIM, LATE

from glasscredit.engine.sessions import Backend
from glasscredit.policy.load import CompiledPolicy
from glasscredit.simulate.fairness import audit, flagged, impact
from glasscredit.simulate.run import CityRun, city_inputs, month_ends, run_city
from glasscredit.simulate.whatif import whatif


@pytest.fixture(scope="module")
def run(backend: Backend, fixture_city: Path, fixture_policy: CompiledPolicy,
        tmp_path_factory: pytest.TempPathFactory) -> CityRun:
    out = tmp_path_factory.mktemp("runs")
    return run_city(fixture_city, fixture_policy, 3, backend=backend, out_dir=out)


@pytest.fixture(scope="module")
def report(backend: Backend, fixture_city: Path, fixture_policy: CompiledPolicy,
           run: CityRun) -> dict[str, Any]:
    return audit(backend, city_inputs(backend, fixture_city), fixture_policy, run,
                 fixture_city)


def test_month_ends_are_the_last_second_of_each_month() -> None:
    ends = month_ends(__import__("datetime").date(2024, 11, 1), 3)
    assert [t.isoformat() for t in ends] == [
        "2024-11-30T23:59:59", "2024-12-31T23:59:59", "2025-01-31T23:59:59"]


def test_run_chains_months_and_writes_parquet(run: CityRun) -> None:
    assert [m.as_of for m in run.months] == ["2024-01-31", "2024-02-29", "2024-03-31"]
    bans = [m.measures.get("ban", 0) for m in run.months]
    assert bans == [len(LATE), len(LATE) + 1, len(LATE) + 1]  # the false record lands in Feb
    assert run.active("kin_ban") == {CLEAN_RELATIVE}
    assert run.out_dir is not None
    assert (run.out_dir / "month=2024-03" / "measures.parquet").is_file()
    assert json.loads((run.out_dir / "run.json").read_text())["policy"] == "audit_fixture"
    assert run.reasons.num_rows > 0


def test_correlated_behaviour_is_flagged_by_hukou(report: dict[str, Any]) -> None:
    rows = {(r["measure"], r["dimension"]): r for r in report["rates"]}
    lane = rows[("fast_lane", "hukou")]
    # locals: 5 late + 1 false record of 100; migrants: 40 of 100
    assert lane["ratio"] == pytest.approx(0.60 / 0.94)
    assert lane["flagged"] and lane["lowest"] == "migrant"
    ban = rows[("ban", "hukou")]
    assert ban["ratio"] == pytest.approx(0.60 / 0.94)  # NOT being sanctioned
    assert ban["flagged"]
    assert not rows[("fast_lane", "district")]["flagged"]  # one district: no ratio
    assert rows[("fast_lane", "district")]["ratio"] is None
    assert ("fast_lane", "hukou") in {(r["measure"], r["dimension"]) for r in flagged(report)}


def test_network_only_sanction_is_counted(report: dict[str, Any]) -> None:
    others = report["others_conduct"]
    assert others["sanctions"] == 1
    kin = next(r for r in others["by_measure"] if r["measure"] == "kin_ban")
    assert kin["sample"] == [CLEAN_RELATIVE] and kin["via_relation"]


def test_false_record_sanction_is_counted(report: dict[str, Any]) -> None:
    false = report["false_records"]
    assert false["planted"] == 1
    ban = next(r for r in false["by_measure"] if r["measure"] == "ban")
    assert ban["sample"] == [FALSE_VICTIM]
    assert false["sanctions"] == 1
    assert false["privileges"] == 1  # the fast lane comes back too


def test_guards_and_json(report: dict[str, Any]) -> None:
    assert {g["guard"] for g in report["guards"]} == {"due-process", "others-conduct"}
    assert json.loads(json.dumps(report)) == report


def test_chained_counterfactuals_agree_here(backend: Backend, fixture_city: Path,
                                            fixture_policy: CompiledPolicy,
                                            run: CityRun) -> None:
    chained = audit(backend, city_inputs(backend, fixture_city), fixture_policy, run,
                    fixture_city, chained=True)
    assert chained["others_conduct"]["sanctions"] == 1
    assert chained["false_records"]["sanctions"] == 1


def test_impact_definition_for_sanctions() -> None:
    rows = [{"group": "a", "people": 100, "holders": 30, "rate": 0.3},
            {"group": "b", "people": 100, "holders": 5, "rate": 0.05},
            {"group": "c", "people": 10, "holders": 10, "rate": 1.0}]  # too small: left out
    out = impact("sanction", rows)
    assert out["ratio"] == pytest.approx(0.7 / 0.95)
    assert out["sanction_rate_ratio"] == pytest.approx(6.0)
    assert out["lowest"] == "a" and out["flagged"]


def test_whatif_against_itself_and_a_stricter_view(run: CityRun) -> None:
    same = whatif(run, run)
    assert same["changed_band"] == 0
    assert all(m["gained"] == m["lost"] == 0 for m in same["measures"])
    earlier = CityRun(run.policy, run.version, run.as_of, run.scores, run.lists,
                      run.measures.filter(__import__("pyarrow.compute").compute.not_equal(
                          run.measures["subject_id"], FALSE_VICTIM)), run.reasons,
                      run.months)
    diff = whatif(earlier, run)
    ban = next(m for m in diff["measures"] if m["measure"] == "ban")
    assert ban["gained"] == 1 and ban["gained_sample"] == [FALSE_VICTIM]
    assert ban["why_gained"][0]["rule_id"] == "bill_late"
    assert json.loads(json.dumps(diff)) == diff
