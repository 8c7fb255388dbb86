"""``glasscredit policy check`` through the real CLI, in-process."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from glasscredit.cli import app

runner = CliRunner()

GOOD = """\
policy: city_rewards
version: "3"
mode: live
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories:
  - name: civic
rules:
  - {id: blood, kind: blood_donation, points_per_unit: 10, category: civic, reason: Blood}
  - {id: help, kind: volunteering, points_per_unit: 1, category: civic, reason: Volunteering}
lists:
  - {name: helpers, type: redlist, context: civic, enter: "hits.help >= 10", max_duration: 1y}
measures:
  - {name: thanks, type: privilege, context: civic, when: "score >= 150"}
"""

BROKEN = """\
policy: broken
mode: live
aggregation: additive
scale: {min: 0, max: 200}
categories:
  - name: civic
rules:
  - id: blood
    kind: blood_donaton
    points: 10
    category: civic
    half_life: 90
    reason: Blood
  - id: late
    kind: bill_payment
    when: "dayz_late > 30"
    points: -5
    category: civic
    reason: Late
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_good_policy_prints_its_summary(tmp_path):
    f = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(app, ["policy", "check", f])
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[0]
    assert line.startswith(f"{f}: ok — policy city_rewards version 3, mode live, hash ")
    assert line.endswith("; 2 rules, 1 category, 1 list, 1 measure")
    assert result.stderr == ""


def test_every_problem_on_stderr_as_file_line_message(tmp_path):
    f = write(tmp_path, "broken.yaml", BROKEN)
    result = runner.invoke(app, ["policy", "check", f])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{f}:9: rules[0].kind: unknown event kind 'blood_donaton' (did you mean "
        "'blood_donation'?)",
        f"{f}:12: rules[0].half_life: a duration is a number and a unit (s, min, h, d, w, y) "
        "like '90d', '2y', '12h'; got 90",
        f"{f}:16: rules[1].when: condition 'dayz_late > 30': unknown name 'dayz_late' (did you "
        "mean 'days_late'?); known: amount, bill_type, days_late, value",
        f"{f}: 3 problem(s)",
    ]


def test_malformed_yaml(tmp_path):
    f = write(tmp_path, "bad.yaml", "policy: [unclosed\nmode: live\n")
    result = runner.invoke(app, ["policy", "check", f])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{f}:2: malformed YAML (column 5): expected ',' or ']', but got ':'",
        f"{f}: 1 problem(s)"]


def test_a_missing_file(tmp_path):
    result = runner.invoke(app, ["policy", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'nope.yaml'}: cannot read policy: No such file or directory")


def test_a_live_policy_refused_by_the_guards_exits_2(tmp_path):
    text = GOOD.replace("kind: volunteering", "kind: petition")
    f = write(tmp_path, "refused.yaml", text)
    result = runner.invoke(app, ["policy", "check", f])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{f}:10: [protected-data] rule help: scores event kind 'petition', protected as "
        "petitioning",
        f"{f}: live policy refused: 1 guard violation(s)",
    ]


def test_simulation_findings_are_warnings(tmp_path):
    text = GOOD.replace("kind: volunteering", "kind: petition").replace("mode: live",
                                                                       "mode: simulation")
    f = write(tmp_path, "sim.yaml", text)
    result = runner.invoke(app, ["policy", "check", f])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "mode simulation" in lines[0]
    assert lines[1:] == [
        "warning: 1 guard finding(s); this simulation policy could not run in live mode:",
        f"  {f}:10: [protected-data] rule help: scores event kind 'petition', protected as "
        "petitioning",
    ]


def test_several_files_worst_exit_code_wins(tmp_path):
    good = write(tmp_path, "good.yaml", GOOD)
    refused = write(tmp_path, "refused.yaml", GOOD.replace("volunteering", "petition"))
    broken = write(tmp_path, "broken.yaml", BROKEN)
    result = runner.invoke(app, ["policy", "check", good, refused])
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{good}: ok")
    result = runner.invoke(app, ["policy", "check", refused, broken, good])
    assert result.exit_code == 1
    assert f"{broken}: 3 problem(s)" in result.stderr
    assert f"{refused}: live policy refused" in result.stderr


def test_help_documents_the_exit_codes():
    result = runner.invoke(app, ["policy", "check", "--help"])
    assert result.exit_code == 0
    for text in ("0 = every file compiles", "1 = a file has problems",
                 "2 = no file has problems"):
        assert text in result.stdout
