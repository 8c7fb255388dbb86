"""The whole command-line path a new operator takes: init, source, ingest, score, decide,
explain — through the real CLI, on a real DuckDB ledger."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from glasscredit.cli import app

runner = CliRunner()
ENV = {"GLASSCREDIT_LEDGER": None, "GLASSCREDIT_PSEUDONYM_KEY": None,
       "GLASSCREDIT_KEY_FILE": None, "COLUMNS": "200"}
PERSON, PERSON_2 = "11010519491231002X", "34052419800101001X"


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_init_ingest_score_decide_explain(tmp_path: Path) -> None:
    book = str(tmp_path / "city.duckdb")
    run("init", book)
    run("source", "add", "city", "--reliability", "1.0", "--ledger", book)
    events = tmp_path / "events.jsonl"
    rows = [
        {"source_event_id": "a1", "subject": PERSON, "kind": "volunteering",
         "occurred_at": "2026-03-01T10:00:00Z", "value": 200, "attrs": {}},
        {"source_event_id": "a3", "subject": PERSON, "kind": "volunteering",
         "occurred_at": "2026-03-02T10:00:00Z", "value": 10, "attrs": {}},
        {"source_event_id": "a2", "subject": PERSON, "kind": "blood_donation",
         "occurred_at": "2026-04-01T10:00:00Z", "value": 0.4, "attrs": {}},
        {"source_event_id": "b1", "subject": PERSON_2, "kind": "elder_care",
         "occurred_at": "2026-05-01T10:00:00Z", "value": 3,
         "attrs": {"relationship": "parent"}},
    ]
    events.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "4 stored" in run("ingest", str(events), "--source", "city", "--ledger", book)
    policy = "example:volunteer_rewards"
    table = run("score", "--policy", policy, "--ledger", book, "--as-of", "2026-11-01")
    # blood 0.4 l x 20 = 8; volunteering 200 h x 0.03 = 6 capped at 1 that day, and
    # 10 h x 0.03 = 0.3 the next day -> 109.3; elder care 1 point -> 101
    assert "109.30" in table and "101.00" in table
    from glasscredit.commands.ledger import open_ledger

    ledger = open_ledger(book, None)
    me = ledger.subject_id(PERSON)
    ledger.close()
    assert me is not None
    out = run("decide", me, "transit_discount", "--policy", policy, "--ledger", book,
              "--as-of", "2026-11-02")
    # 109.3 < 110: no discount
    assert out.startswith("DENY") and "109.30" in out and "volunteer_rewards@2026.1#" in out
    out = run("explain", me, "--policy", policy, "--ledger", book, "--as-of", "2026-11-02")
    assert "score 109.30" in out and "transit_discount" in out and "does not apply" in out
    refused = run("score", "--policy", "example:sesame_like", "--ledger", book, code=1)
    assert "simulation" in refused and "research" in refused
    unknown = run("decide", me, "flight_ban", "--policy", policy, "--ledger", book, code=1)
    assert "no measure 'flight_ban'" in unknown


def test_explain_traces_each_reason_to_its_events() -> None:
    """The demo's own suggestion: p03 under sesame_like has reasons, each with its events."""
    import re

    out = " ".join(run("explain", "p03", "--policy", "example:sesame_like").split())
    assert "1. Loan default in the last five years" in out, out
    # the event behind it: the rule's -80 points x the bank's reliability 0.95 x no decay
    m = re.search(r"loan_default from bank: ([-+][\d.]+) \(raw ([-+][\d.]+) × reliability "
                  r"([\d.]+) × decay ([\d.]+)\)", out)
    assert m, out
    points, raw, reliability, decay = map(float, m.groups())
    assert (raw, reliability, decay) == (-80.0, 0.95, 1.0)
    assert points == -76.0 == round(raw * reliability * decay, 2)


def test_demo_prints_both_policies_and_their_findings() -> None:
    out = run("demo", "--example")
    assert "volunteer_rewards@2026.1" in out and "sesame_like@2026.1" in out
    assert "6 guard finding(s)" in out and "[others-conduct]" in out


def test_explain_sql_shows_the_generated_query() -> None:
    out = run("explain", "p03", "--policy", "example:sesame_like", "--sql")
    assert "SELECT" in out and "json_extract_string" in out.lower()
