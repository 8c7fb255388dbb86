"""Suining 2010 preset: 0–200 from 100 (our scale), fast track from 120, restrictions below 90."""

from __future__ import annotations

import pytest
from presetkit import Outcome, preset, run

from enginekit import ev
from glasscredit.engine.sessions import Backend

FAST = {"promotion_fast_track", "top_school_access"}
RESTRICTED = {"permit_restriction", "social_services_restriction"}

PEOPLE = [(p, "person") for p in ("graduate", "petitioner", "spammer", "driver")]
EVENTS = [
    ev("g1", "graduate", "education_attainment", "2008-07-01", level="bachelor", verified=True),
    ev("g1b", "graduate", "education_attainment", "2009-07-01", level="master"),  # capped: once
    *[ev(f"g{i}", "graduate", "elder_care", f"2010-0{i}-01", 6, relationship="parent")
      for i in range(2, 7)],
    ev("p1", "petitioner", "education_attainment", "2000-07-01", level="senior_secondary"),
    ev("p2", "petitioner", "petition", "2010-03-01", level="province", skip_level=True),
    ev("p3", "petitioner", "petition", "2010-05-01", level="central", skip_level=True),
    ev("p4", "petitioner", "petition", "2010-06-01", level="county", skip_level=False),
    ev("p5", "petitioner", "traffic_offence", "2010-04-01", severity="minor"),
    ev("p6", "petitioner", "traffic_offence", "2010-08-01", severity="minor"),
    ev("s1", "spammer", "online_post", "2010-02-01", flagged_spam=True),
    ev("s2", "spammer", "online_post", "2010-02-02", flagged_spam=False),
    ev("s3", "spammer", "platform_rule_violation", "2010-03-01", violation="fake_reviews"),
    ev("d1", "driver", "traffic_offence", "2009-12-01", severity="serious"),
    ev("d2", "driver", "poverty_aid", "2010-05-01", 500, form="money"),
]


@pytest.fixture(scope="module")
def out(b: Backend) -> Outcome:
    return run(b, preset("suining"), PEOPLE, EVENTS, "2010-10-01")


def test_educated_carer_is_fast_tracked(out: Outcome) -> None:
    # degree +10 (the master's adds nothing: counted once) + 5 care records x 2 = 120
    assert out.score("graduate") == pytest.approx(120.0, abs=1e-9)
    assert out.band("graduate") == "fast_track"
    assert out.measures("graduate") == FAST


def test_illegal_petitions_and_minor_offences_restrict(out: Outcome) -> None:
    # senior secondary +5; two skip-level petitions x -10 (the county one is lawful);
    # two minor traffic offences x -2 -> 100 + 5 - 20 - 4 = 81 < 90: restricted
    assert out.score("petitioner") == pytest.approx(81.0, abs=1e-9)
    assert out.band("petitioner") == "restricted"
    assert out.measures("petitioner") == RESTRICTED
    assert out.reasons("petitioner") == [("illegal_petition", pytest.approx(20.0)),
                                         ("minor_traffic_offence", pytest.approx(4.0))]


def test_online_behaviour(out: Outcome) -> None:
    # one spam post -5, fake reviews -5 -> 90: ordinary, exactly not restricted (< 90)
    assert out.score("spammer") == pytest.approx(90.0, abs=1e-9)
    assert out.band("spammer") == "ordinary"
    assert out.measures("spammer") == set()


def test_serious_offence_and_helping_the_poor(out: Outcome) -> None:
    # serious offence -10 (two years), helping the poor +3 -> 93
    assert out.score("driver") == pytest.approx(93.0, abs=1e-9)
    assert out.measures("driver") == set()
