"""Shanghai preset: four reported behaviours lower a score that starts at 100 (our scale)."""

from __future__ import annotations

import pytest
from presetkit import Outcome, preset, run

from enginekit import ev
from glasscredit.engine.sessions import Backend

PEOPLE = [(p, "person") for p in ("clean", "parker", "rare_visitor", "dutiful", "fraudster",
                                  "old_parker")]
EVENTS = [
    ev("p1", "parker", "illegal_parking", "2024-03-01", fine=200),
    ev("p2", "parker", "illegal_parking", "2024-09-01", fine=200, blocking=True),
    ev("r1", "rare_visitor", "parent_visit", "2024-02-01", days_since_last=120, lives_apart=True),
    ev("r2", "rare_visitor", "parent_visit", "2024-05-01", days_since_last=90, lives_apart=True),
    ev("r3", "rare_visitor", "parent_visit", "2024-05-20", days_since_last=19, lives_apart=True),
    # living with the parents: the gap is not read
    ev("s1", "dutiful", "parent_visit", "2024-06-01", days_since_last=100, lives_apart=False),
    ev("s2", "dutiful", "parent_visit", "2024-06-08", days_since_last=7, lives_apart=True),
    ev("f1", "fraudster", "marriage_registration_falsified", "2023-05-01",
       falsified_field="marital_history"),
    ev("f2", "fraudster", "ticket_touting", "2024-01-15", 15, mark_up=300),
    ev("o1", "old_parker", "illegal_parking", "2022-06-01", blocking=True),
]


@pytest.fixture(scope="module")
def out(b: Backend) -> Outcome:
    return run(b, preset("shanghai"), PEOPLE, EVENTS, "2024-12-01")


def test_a_clean_record_keeps_100(out: Outcome) -> None:
    assert out.score("clean") == 100.0 and out.band("clean") == "good"
    assert out.score("old_parker") == 100.0   # 2022 parking: more than a year old


def test_illegal_parking(out: Outcome) -> None:
    # -2 and -2 - 3 (blocking a fire lane) = -7 -> 93: fair
    assert out.score("parker") == pytest.approx(93.0, abs=1e-9)
    assert out.band("parker") == "fair"
    assert dict(out.reasons("parker")) == {"illegal_parking": pytest.approx(4.0),
                                           "parking_blocking": pytest.approx(3.0)}


def test_not_visiting_parents_often(out: Outcome) -> None:
    # two visits after gaps of 120 and 90 days (> 60) x -5 = -10 -> 90; the 19-day one is fine
    assert out.score("rare_visitor") == pytest.approx(90.0, abs=1e-9)
    assert out.reasons("rare_visitor") == [("infrequent_parent_visit", pytest.approx(10.0))]
    assert out.score("dutiful") == 100.0


def test_falsified_marriage_registration_and_ticket_touting(out: Outcome) -> None:
    # marriage registration -20 (counts 3 years); 15 tickets x -2 = -30, clipped to -20 -> 60
    assert out.score("fraudster") == pytest.approx(60.0, abs=1e-9)
    assert out.band("fraudster") == "bad"
    assert out.scores["fraudster"]["cat__family"] == pytest.approx(-20.0)
    assert out.scores["fraudster"]["cat__transport"] == pytest.approx(-20.0)
