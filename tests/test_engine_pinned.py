"""Scores worked out by hand on small fixtures: the contract in DESIGN.md, "Scoring semantics"."""

from __future__ import annotations

import math

import pytest

from enginekit import NETWORK_POLICY, D, ev, inputs, rows, snapshot_from
from glasscredit.engine.run import score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.policy.load import compile_policy

ADDITIVE = """
policy: suzhou_mini
mode: simulation
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories:
  - name: civic
  - name: finance
rules:
  - {id: blood, kind: blood_donation, points_per_unit: 10, category: civic,
     reason: "Blood donated"}
  - {id: volunteer, kind: volunteering, points_per_unit: 0.04, clip: [0, 20], category: civic,
     reason: "Hours volunteered", cap: {points: 30, per: 1d}}
  - {id: late, kind: bill_payment, when: "days_late > 30", points: -20, category: finance,
     reason: "Bill paid more than 30 days late", half_life: 365d}
  - {id: parking, kind: illegal_parking, points: -5, category: finance, valid_for: 90d,
     reason: "Illegal parking"}
bands:
  - {name: low, min: 0, max: 100}
  - {name: high, min: 100, max: 200}
"""


@pytest.fixture(scope="module")
def b():
    backend = duckdb_backend()
    yield backend
    backend.release()


def one(result, subject):
    return next(r for r in rows(result.arrow("scores")) if r["subject_id"] == subject)


def test_additive_clip_cap_and_decay(b):
    cp = compile_policy(ADDITIVE)
    inp = inputs(b, [("a", "person"), ("b", "person"), ("c", "person")], [
        ev("e1", "a", "blood_donation", "2024-01-01", 0.4),
        ev("e2", "a", "volunteering", "2024-02-01", 300),
        ev("e3", "a", "volunteering", "2024-02-01", 600),
        ev("e4", "b", "bill_payment", "2024-06-01", days_late=40),
        ev("e5", "b", "bill_payment", "2024-07-01", days_late=10),
        ev("e6", "b", "bill_payment", "2024-08-01", days_late=90),
    ])
    r = score(b, inp, cp, D("2025-06-01"))
    a = one(r, "a")
    # blood 0.4 l x 10 = 4; volunteering 300 h x 0.04 = 12 and 600 h x 0.04 = 24 -> clip 20;
    # that day's 32 raw points are capped at 30; civic 34, score 100 + 34 = 134
    assert a["score"] == pytest.approx(134.0, abs=1e-9)
    assert a["cat__civic"] == pytest.approx(34.0, abs=1e-9)
    assert a["band"] == "high"
    bb = one(r, "b")
    # e5 (10 days late) does not match; e4 is 365 days old: -20 x 0.5 = -10;
    # e6 is 304 days old: -20 x 0.5^(304/365)
    expected = 100 - 10 - 20 * 0.5 ** (304 / 365)
    assert bb["score"] == pytest.approx(expected, abs=1e-9)
    assert bb["band"] == "low"
    c = one(r, "c")
    assert c["score"] == 100.0 and c["rank"] == 2.0
    assert a["rank"] == 1.0 and bb["rank"] == 3.0
    assert a["percentile"] == pytest.approx(100.0) and bb["percentile"] == pytest.approx(100 / 3)


def test_validity_window_and_as_of_time_travel(b):
    cp = compile_policy(ADDITIVE)
    inp = inputs(b, [("a", "person")], [
        ev("p1", "a", "illegal_parking", "2024-01-10"),
        ev("p2", "a", "illegal_parking", "2024-03-01"),
    ])
    # 2024-02-01: p1 is 22 days old, p2 has not happened yet -> 95
    assert one(score(b, inp, cp, D("2024-02-01")), "a")["score"] == 95.0
    # 2024-04-01: p1 is 82 days old (< 90) and p2 31 days -> 90
    assert one(score(b, inp, cp, D("2024-04-01")), "a")["score"] == 90.0
    # 2024-04-10: p1 is exactly 91 days old: outside its 90-day window -> 95
    assert one(score(b, inp, cp, D("2024-04-10")), "a")["score"] == 95.0
    # 2024-06-01: both expired -> 100
    assert one(score(b, inp, cp, D("2024-06-01")), "a")["score"] == 100.0


def test_voids_count_from_their_time(b):
    cp = compile_policy(ADDITIVE)
    inp = inputs(b, [("a", "person")], [
        ev("p1", "a", "illegal_parking", "2024-01-10"),
        ev("p2", "a", "illegal_parking", "2024-01-20"),
    ], voids=[("p2", "2024-02-15")])
    # before the void both count (-10), after it only p1 (-5)
    assert one(score(b, inp, cp, D("2024-02-01")), "a")["score"] == 90.0
    assert one(score(b, inp, cp, D("2024-03-01")), "a")["score"] == 95.0


WEIGHTED = """
policy: sesame_mini
mode: simulation
aggregation: weighted
scale: {min: 350, max: 950}
categories:
  - {name: history, weight: 0.6, curve: {type: linear, lo: -100, hi: 100}}
  - {name: capacity, weight: 0.4, curve: {type: logistic, mid: 0, scale: 50}}
rules:
  - {id: late, kind: bill_payment, when: "days_late > 30", points: -40, category: history,
     reason: "Bill paid more than 30 days late"}
  - {id: ontime, kind: bill_payment, when: "days_late == 0", points: 10, category: history,
     reason: "Bills paid on time"}
  - {id: savings, kind: savings_balance, points_per_unit: 0.001, clip: [0, 100],
     category: capacity, reason: "Savings"}
bands:
  - {name: poor, min: 350, max: 550}
  - {name: medium, min: 550, max: 600}
  - {name: good, min: 600, max: 650}
  - {name: very_good, min: 650, max: 700}
  - {name: excellent, min: 700, max: 950}
"""


def test_weighted_curves_and_reliability(b):
    cp = compile_policy(WEIGHTED)
    inp = inputs(b, [("a", "person"), ("z", "person")], [
        ev("e1", "a", "bill_payment", "2024-01-01", days_late=45, source="bank"),
        ev("e2", "a", "bill_payment", "2024-02-01", days_late=0, source="bank"),
        ev("e3", "a", "bill_payment", "2024-03-01", days_late=0, source="shaky"),
        ev("e4", "a", "savings_balance", "2024-03-01", 50000, source="bank"),
    ], sources={"bank": 1.0, "shaky": 0.5})
    r = score(b, inp, cp, D("2024-06-01"))
    # history raw: -40 + 10 + 10 x 0.5 (reliability) = -25 -> linear (-25 + 100) / 200 = 0.375
    # capacity raw: 50000 x 0.001 = 50 -> logistic 1 / (1 + e^-1)
    sub_h, sub_c = 0.375, 1 / (1 + math.exp(-1))
    expected = 350 + 600 * (0.6 * sub_h + 0.4 * sub_c)
    a = one(r, "a")
    assert a["score"] == pytest.approx(expected, abs=1e-9)
    assert a["cat__history"] == pytest.approx(600 * 0.6 * sub_h, abs=1e-9)
    assert a["band"] == "very_good"  # 350 + 600 x (0.225 + 0.2924...) = 660.4...
    # nobody's record: history 0.5, capacity 0.5 -> 650, the bottom of "very_good"
    z = one(r, "z")
    assert z["score"] == pytest.approx(650.0, abs=1e-9) and z["band"] == "very_good"
    why = [x for x in rows(r.arrow("reasons")) if x["subject_id"] == "a"]
    # the only rule costing points: without "late" history raw is 15 -> 0.575;
    # cost 600 x 0.6 x (0.575 - 0.375) = 72
    assert [(x["rule_id"], x["rank"]) for x in why] == [("late", 1)]
    assert why[0]["points_lost"] == pytest.approx(72.0, abs=1e-9)


NETWORK = NETWORK_POLICY


def test_network_mean_of_friends_own_scores(b):
    cp = compile_policy(NETWORK)
    inp = inputs(b, [("a", "person"), ("b", "person"), ("c", "person"), ("d", "person")], [
        ev("e1", "b", "bill_payment", "2024-01-01"),
        ev("e2", "c", "bill_payment", "2024-01-01"),
        ev("e3", "c", "bill_payment", "2024-01-02"),
    ], relations=[("a", "b", "friend"), ("c", "a", "friend"), ("a", "d", "colleague")])
    r = score(b, inp, cp, D("2024-06-01"))
    # own scores (own category only, renormalised): a 50, b (-25+50)/100 = 25, c 0, d 50
    # a's friends b and c (the relation counts both ways; d is a colleague): mean 12.5
    # a = 0.8 x 100 x 0.5 + 0.2 x 100 x 0.125 = 40 + 2.5
    assert one(r, "a")["score"] == pytest.approx(42.5, abs=1e-9)
    # b's only friend is a (own 50): 0.8 x 25 + 0.2 x 50 = 30
    assert one(r, "b")["score"] == pytest.approx(30.0, abs=1e-9)
    # d has no friends: neutral 50 -> 0.8 x 50 + 0.2 x 50 = 50
    assert one(r, "d")["score"] == pytest.approx(50.0, abs=1e-9)
    why = [x for x in rows(r.arrow("reasons")) if x["subject_id"] == "a"]
    # a loses 0.2 x 100 x (0.5 - 0.125) = 7.5 points to its friends
    assert why[0]["rule_id"] == "network:circle"
    assert why[0]["points_lost"] == pytest.approx(7.5, abs=1e-9)


HYSTERESIS = """
policy: privilege_keep
mode: simulation
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories: [{name: civic}]
rules:
  - {id: volunteer, kind: volunteering, points_per_unit: 1, category: civic,
     valid_for: 30d, reason: "Hours volunteered"}
measures:
  - name: discount
    type: privilege
    context: transport
    when: "score >= 120"
    hysteresis: {low_water: 0.9, grace: 14d}
"""


def test_hysteresis_low_water_and_grace(b):
    cp = compile_policy(HYSTERESIS)
    inp = inputs(b, [("a", "person")], [
        ev("v1", "a", "volunteering", "2024-01-01", 25),   # 125 until 2024-01-31
        ev("v2", "a", "volunteering", "2024-01-20", 10),   # 110 alone, until 2024-02-19
    ])

    def step(when, snap):
        r = score(b, inp, cp, D(when), snapshot=snap)
        m = rows(r.arrow("measures"))[0]
        return r, m

    r1, m = step("2024-01-25", None)      # 135 >= 120: granted
    assert one(r1, "a")["score"] == 135.0 and m["active"] is True
    r2, m = step("2024-02-05", snapshot_from(b, r1))   # 110 >= 108 (0.9 x 120): kept
    assert one(r2, "a")["score"] == 110.0 and m["active"] is True
    assert m["since"] == D("2024-01-25")
    r3, m = step("2024-02-25", snapshot_from(b, r2))   # 100 < 108: grace starts
    assert m["active"] is True and m["failing_since"] == D("2024-02-25")
    r4, m = step("2024-03-05", snapshot_from(b, r3))   # 9 days into grace: still kept
    assert m["active"] is True and m["failing_since"] == D("2024-02-25")
    _, m = step("2024-03-11", snapshot_from(b, r4))   # 15 days: lost
    assert m["active"] is False and m["since"] is None
    # without a snapshot the same time shows only the plain condition
    _, m = step("2024-02-05", None)
    assert m["active"] is False


LISTS = """
policy: debtors
mode: simulation
aggregation: additive
scale: {min: 0, max: 100, start: 100}
categories: [{name: judicial}]
rules:
  - {id: refuse, kind: dishonest_judgment_debtor, when: "trigger == 'refuse_to_perform'",
     points: -30, category: judicial, reason: "Able but refusing to perform a judgment"}
  - {id: performed, kind: judgment_performed, points: 0, category: judicial,
     reason: "Judgment performed"}
lists:
  - name: dishonest
    type: blacklist
    context: judicial
    enter: "hits.refuse >= 1"
    exit: "hits.performed >= 1"
    min_duration: 90d
    max_duration: 2y
"""


def test_list_durations_exit_and_no_relisting_without_new_trigger(b):
    cp = compile_policy(LISTS)
    inp = inputs(b, [("a", "person"), ("b", "person")], [
        ev("j1", "a", "dishonest_judgment_debtor", "2024-01-01", trigger="refuse_to_perform"),
        ev("j2", "a", "judgment_performed", "2024-02-01"),
        ev("j3", "b", "dishonest_judgment_debtor", "2022-01-01", trigger="refuse_to_perform"),
        ev("j4", "b", "dishonest_judgment_debtor", "2022-01-01", trigger="refuse_settlement"),
    ])

    def listed(result):
        return {(x["subject_id"]): x for x in rows(result.arrow("lists"))}

    r1 = score(b, inp, cp, D("2024-01-15"))
    got = listed(r1)
    assert got["a"]["listed"] is True and got["a"]["since"] == D("2024-01-01")
    # b's trigger is more than two years old: its listing already ran out
    assert got["b"]["listed"] is False and got["b"]["ended_at"] == D("2024-01-01")
    # performed on 2024-02-01 but the minimum is 90 days: still listed on 2024-03-01
    r2 = score(b, inp, cp, D("2024-03-01"), snapshot=snapshot_from(b, r1))
    assert listed(r2)["a"]["listed"] is True
    r3 = score(b, inp, cp, D("2024-04-15"), snapshot=snapshot_from(b, r2))
    assert listed(r3)["a"]["listed"] is False
    assert listed(r3)["a"]["ended_at"] == D("2024-04-15")
    # the old trigger still matches "enter", but cannot list a again after the ending
    r4 = score(b, inp, cp, D("2024-05-01"), snapshot=snapshot_from(b, r3))
    assert listed(r4)["a"]["listed"] is False


def test_corroboration_drops_lone_negative_from_unreliable_source(b):
    text = ADDITIVE.replace(
        "reason: \"Illegal parking\"}",
        "reason: \"Illegal parking\", corroboration: {below: 0.6}}")
    cp = compile_policy(text)
    inp = inputs(b, [("a", "person"), ("b", "person")], [
        ev("x1", "a", "illegal_parking", "2024-01-10", source="rumour"),
        ev("x2", "b", "illegal_parking", "2024-01-10", source="rumour"),
        ev("x3", "b", "illegal_parking", "2024-01-10", source="police"),
    ], sources={"rumour": 0.5, "police": 1.0})
    r = score(b, inp, cp, D("2024-02-01"))
    # a: only the unreliable source reports it -> does not count
    assert one(r, "a")["score"] == 100.0
    # b: confirmed by the police on the same day -> rumour counts at 0.5 weight, police fully
    assert one(r, "b")["score"] == pytest.approx(100 - 2.5 - 5, abs=1e-9)


def test_a_first_run_does_not_list_whoever_already_meets_the_exit(b):
    cp = compile_policy(LISTS.replace("min_duration: 90d", "min_duration: 1d"))
    inp = inputs(b, [("a", "person")], [
        ev("j1", "a", "dishonest_judgment_debtor", "2024-01-01", trigger="refuse_to_perform"),
        ev("j2", "a", "judgment_performed", "2024-02-01"),
    ])
    # without a snapshot on 2024-03-01 the judgment is already performed: never listed
    assert rows(score(b, inp, cp, D("2024-03-01")).arrow("lists")) == []
    # with the 90-day minimum the listing from 2024-01-01 still holds on 2024-03-01
    held = rows(score(b, inp, compile_policy(LISTS), D("2024-03-01")).arrow("lists"))
    assert [(x["subject_id"], x["listed"]) for x in held] == [("a", True)]
