"""Every shipped preset compiles; the documented systems run only in simulation and report the
guards they break; the live preset passes every guard."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from presetkit import LIVE, PRESETS, preset
from typer.testing import CliRunner

from glasscredit.cli import app


def findings(name: str) -> set[tuple[str, str]]:
    return {(f.guard, f.subject) for f in preset(name).findings}


def test_the_preset_directory_holds_exactly_these_presets() -> None:
    shipped = {p.name.removesuffix(".yaml")
               for p in (files("glasscredit.policy") / "presets").iterdir()
               if p.name.endswith(".yaml")}
    assert shipped == set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_compiles_with_its_sources(name: str) -> None:
    cp = preset(name)
    assert cp.name == name
    assert cp.policy.sources, "a preset cites its sources"
    assert cp.policy.mode == ("live" if name in LIVE else "simulation")


def test_docs_have_a_section_per_preset() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "presets.md").read_text(encoding="utf-8")
    assert [line.split("`")[1] for line in docs.splitlines() if line.startswith("## `")] == [
        *PRESETS]


@pytest.mark.parametrize("name", LIVE)
def test_the_live_preset_has_no_findings(name: str) -> None:
    assert preset(name).findings == ()


def test_policy_check_passes_on_every_preset() -> None:
    paths = [str(files("glasscredit.policy") / "presets" / f"{n}.yaml") for n in PRESETS]
    result = CliRunner().invoke(app, ["policy", "check", *paths])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok — policy ") == len(PRESETS)


def test_sesame_acts_on_friends_and_unrelated_contexts() -> None:
    found = findings("sesame")
    privileges = ("just_spend_loan", "deposit_free_rental", "visa_luxembourg", "visa_japan",
                  "visa_canada", "dating_profile_display")
    assert found == {(g, f"privilege {m}") for m in privileges
                     for g in ("others-conduct", "cross-context")}
    net = [f for f in preset("sesame").findings if f.guard == "others-conduct"]
    assert all("network category 'interpersonal'" in f.message for f in net)


def test_suzhou_prizes_read_civic_records() -> None:
    assert findings("suzhou") == {("cross-context", "privilege transit_discount"),
                                  ("cross-context", "privilege hospital_queue_priority")}


def test_shanghai_breaks_no_guard_but_stays_a_simulation() -> None:
    # no measure: the seed reports no consequence; simulation because it scores family life
    assert findings("shanghai") == set()
    assert preset("shanghai").policy.mode == "simulation"


def test_suining_scores_petitioning_and_restricts_without_due_process() -> None:
    found = findings("suining")
    assert ("protected-data", "rule illegal_petition") in found
    petition = next(f for f in preset("suining").findings if f.guard == "protected-data")
    assert "protected as petitioning" in petition.message
    assert {s for g, s in found if g == "due-process"} == {
        "sanction permit_restriction", "sanction social_services_restriction"}
    assert {s for g, s in found if g == "cross-context"} == {
        "privilege promotion_fast_track", "privilege top_school_access",
        "sanction permit_restriction", "sanction social_services_restriction"}


def test_national_punishes_children_and_across_contexts() -> None:
    found = findings("national")
    assert ("others-conduct", "sanction children_private_school_exclusion") in found
    assert {s for g, s in found if g == "others-conduct"} == {
        "sanction children_private_school_exclusion"}
    for ban in ("flight_ban", "high_speed_rail_ban", "star_hotel_ban", "slow_internet",
                "prestige_job_exclusion", "children_private_school_exclusion",
                "procurement_exclusion"):
        assert ("cross-context", f"sanction {ban}") in found
    # the public blacklist acts in the judicial context itself
    assert ("cross-context", "sanction public_blacklist") not in found
    assert {s for g, s in found if g == "due-process"} == {
        "sanction slow_internet", "sanction prestige_job_exclusion"}


def test_tax_grades_rate_a_firm_by_another_s_record() -> None:
    found = findings("tax_grades")
    assert {s for g, s in found if g == "others-conduct"} == {"sanction rated_d_by_association"}
    for m in ("sanction loan_restriction", "sanction procurement_exclusion",
              "sanction investment_restriction", "privilege better_credit"):
        assert ("cross-context", m) in found
    assert not any(g in ("protected-data", "due-process") for g, _ in found)
