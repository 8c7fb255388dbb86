"""Suzhou preset: 0–200 from 100, calibrated on the 2016 top citizen (seed: > 1 l of blood and
> 500 h of volunteering -> 134). Blood 14 points a litre, volunteering 0.04 an hour."""

from __future__ import annotations

import pytest
from presetkit import Outcome, preset, run

from enginekit import ev
from glasscredit.engine.sessions import Backend

BOTH = {"transit_discount", "hospital_queue_priority"}

PEOPLE = [(p, "person") for p in ("top", "just_over", "newcomer", "donor", "volunteer",
                                  "transgressor")]
EVENTS = [
    # the 2016 top citizen at the reported bounds: 400 + 400 + 200 ml and 200 + 300 hours
    ev("t1", "top", "blood_donation", "2014-03-01", 0.4),
    ev("t2", "top", "blood_donation", "2015-03-01", 0.4),
    ev("t3", "top", "blood_donation", "2016-03-01", 0.2),
    ev("t4", "top", "volunteering", "2015-06-01", 200, activity="elder_care"),
    ev("t5", "top", "volunteering", "2016-06-01", 300, activity="community"),
    # just over the bounds: 1.1 l and 505 h
    ev("j1", "just_over", "blood_donation", "2015-01-10", 0.4),
    ev("j2", "just_over", "blood_donation", "2015-08-10", 0.4),
    ev("j3", "just_over", "blood_donation", "2016-03-10", 0.3),
    ev("j4", "just_over", "volunteering", "2016-05-01", 505),
    ev("d1", "donor", "blood_donation", "2016-02-01", 0.4),
    ev("v1", "volunteer", "volunteering", "2016-09-01", 250),
    # the announced next step, on a volunteer with 300 h (112 points)
    ev("x1", "transgressor", "volunteering", "2016-04-01", 300),
    ev("x2", "transgressor", "fare_dodging", "2016-10-01", mode="metro", fare=4),
    ev("x3", "transgressor", "restaurant_no_show", "2016-11-01", party_size=4),
    ev("x4", "transgressor", "game_cheating", "2016-11-15", penalty="ban"),
    ev("x5", "transgressor", "fare_dodging", "2015-06-01", mode="bus"),   # over a year old
]


@pytest.fixture(scope="module")
def out(b: Backend) -> Outcome:
    return run(b, preset("suzhou"), PEOPLE, EVENTS, "2016-12-31")


def test_the_2016_top_citizen_is_on_134(out: Outcome) -> None:
    # 100 + 1.0 l x 14 + 500 h x 0.04 = 100 + 14 + 20 = 134
    assert out.score("top") == pytest.approx(134.0, abs=1e-9)
    assert out.scores["top"]["cat__civic"] == pytest.approx(34.0, abs=1e-9)
    assert out.band("top") == "model_citizen"
    assert out.measures("top") == BOTH
    assert out.scores["top"]["rank"] == 2.0


def test_just_over_the_bounds_is_about_134(out: Outcome) -> None:
    # 100 + 1.1 x 14 + 505 x 0.04 = 100 + 15.4 + 20.2 = 135.6, the top of this small city
    assert out.score("just_over") == pytest.approx(135.6, abs=1e-9)
    assert out.scores["just_over"]["rank"] == 1.0
    assert out.measures("just_over") == BOTH


def test_everyone_starts_at_100(out: Outcome) -> None:
    assert out.score("newcomer") == 100.0
    assert out.band("newcomer") == "member"
    assert out.measures("newcomer") == set()


def test_prize_thresholds(out: Outcome) -> None:
    # one 400 ml donation: 100 + 0.4 x 14 = 105.6: no prize
    assert out.score("donor") == pytest.approx(105.6, abs=1e-9)
    assert out.measures("donor") == set()
    # 250 h: 100 + 250 x 0.04 = 110: the transit discount (>= 110), not the hospital (>= 120)
    assert out.score("volunteer") == pytest.approx(110.0, abs=1e-9)
    assert out.band("volunteer") == "commended"
    assert out.measures("volunteer") == {"transit_discount"}


def test_the_announced_transgressions_take_the_discount_away(out: Outcome) -> None:
    # 100 + 300 x 0.04 = 112, then fare dodging -5, no-show -2, game cheating -5 -> 100;
    # the 2015 fare dodge is more than a year old and no longer counts
    assert out.score("transgressor") == pytest.approx(100.0, abs=1e-9)
    assert out.scores["transgressor"]["cat__transgressions"] == pytest.approx(-12.0)
    assert out.measures("transgressor") == set()
    assert [r for r, _ in out.reasons("transgressor")] == [
        "fare_dodging", "game_cheating", "restaurant_no_show"]
