"""Sesame preset, worked by hand from the reported figures (DOMAIN.md "Sesame (Zhima) Credit").

score = 350 + 600 x (0.35 credit + 0.25 capacity + 0.20 behaviour + 0.15 personal
                     + 0.05 interpersonal), each category's raw points mapped to 0..1 by the
preset's linear curves: credit -100..100, capacity -25..75, behaviour -50..50,
personal 0..100, interpersonal = friends' mean own score on 350..950 (none: the midpoint 650).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from presetkit import Outcome, linear, preset, run

from enginekit import ev
from glasscredit.engine.sessions import Backend

WEIGHTS = {"credit": 0.35, "capacity": 0.25, "behaviour": 0.20, "personal": 0.15}
CURVES = {"credit": (-100, 100), "capacity": (-25, 75), "behaviour": (-50, 50),
          "personal": (0, 100)}
EVERYONE = {"dating_profile_display"}


def subs(raw: Mapping[str, float]) -> dict[str, float]:
    return {k: linear(raw.get(k, 0.0), *CURVES[k]) for k in WEIGHTS}


def sesame(raw: Mapping[str, float], friends: float = 650.0) -> float:
    """The score from raw category points and the friends' mean own score."""
    s = subs(raw)
    return 350 + 600 * (sum(WEIGHTS[k] * s[k] for k in WEIGHTS)
                        + 0.05 * linear(friends, 350, 950))


def own(raw: Mapping[str, float]) -> float:
    """The score a friend reads: own categories only, renormalised to their weight (0.95)."""
    s = subs(raw)
    return 350 + 600 * sum(WEIGHTS[k] * s[k] for k in WEIGHTS) / 0.95


def verified(who: str, day: str = "2025-01-10") -> list[dict]:
    return [ev(f"{who}-id", who, "identity_verification", day, result="match", method="document"),
            ev(f"{who}-pr", who, "profile_completeness", day, 100)]


PEOPLE = [(p, "person") for p in ("newcomer", "verified", "model", "gamer", "defaulter", "x")]
EVENTS = [
    *verified("verified"),
    # a second verification adds nothing: the rule's cap counts it once
    ev("verified-id2", "verified", "identity_verification", "2025-03-01", result="match"),
    *verified("model"),
    ev("m-sav-old", "model", "savings_balance", "2025-04-15", 30000),   # 47 days old: gone
    ev("m-sav", "model", "savings_balance", "2025-05-15", 50000),
    *[ev(f"m-bill{i}", "model", "bill_payment", f"{y}-{mo:02d}-01", days_late=0)
      for i, (y, mo) in enumerate([(2024, 8), (2024, 9), (2024, 10), (2024, 11), (2024, 12),
                                    (2025, 1), (2025, 2), (2025, 3), (2025, 4), (2025, 5)])],
    ev("m-bill-old", "model", "bill_payment", "2024-05-01", days_late=0),  # over a year old
    ev("m-diapers", "model", "purchase", "2025-03-01", 200, category="diapers"),
    ev("m-c1", "model", "contract_fulfilment", "2025-02-01", on_time=True),
    ev("m-c2", "model", "contract_fulfilment", "2025-04-01", on_time=True),
    *verified("gamer"),
    *[ev(f"g{i}", "gamer", "gaming_session", day, hours)
      for i, (day, hours) in enumerate([("2025-03-01", 11), ("2025-03-02", 10),
                                        ("2025-04-20", 12), ("2025-05-01", 6),
                                        ("2024-10-01", 12)])],
    ev("d1", "defaulter", "loan_default", "2024-01-10", 8000),
    ev("d2", "defaulter", "loan_default", "2024-06-10", 3000),
    ev("d3", "defaulter", "identity_fraud", "2024-02-01", document="resident_id"),
    *verified("x"),
]


@pytest.fixture(scope="module")
def out(b: Backend) -> Outcome:
    return run(b, preset("sesame"), PEOPLE, EVENTS, "2025-06-01",
               relations=[("x", "defaulter", "friend")])


def test_nobody_s_record_is_medium(out: Outcome) -> None:
    # 350 + 600 x (0.35 x 0.5 + 0.25 x 0.25 + 0.2 x 0.5 + 0.15 x 0 + 0.05 x 0.5)
    #   = 350 + 600 x 0.3625 = 567.5: medium, below every privilege from 600 up
    assert sesame({}) == pytest.approx(567.5)
    assert out.score("newcomer") == pytest.approx(567.5, abs=1e-9)
    assert out.band("newcomer") == "medium"
    assert out.measures("newcomer") == EVERYONE


def test_verified_identity_and_full_profile(out: Outcome) -> None:
    # personal: identity 50 (the second check is capped away) + profile 100% x 0.5 = 50 -> 1.0
    # 567.5 + 600 x 0.15 x 1.0 = 657.5: very good -> just-spend loan (600) and rentals (650)
    assert out.score("verified") == pytest.approx(sesame({"personal": 100}), abs=1e-9)
    assert out.score("verified") == pytest.approx(657.5, abs=1e-9)
    assert out.band("verified") == "very_good"
    assert out.measures("verified") == EVERYONE | {"just_spend_loan", "deposit_free_rental"}
    assert out.scores["verified"]["cat__personal_characteristics"] == pytest.approx(90.0)


def test_model_citizen_gets_every_visa(out: Outcome) -> None:
    # credit: 10 bills on time in the last year x 2 = 20 (the May 2024 bill is too old) -> 0.6
    # capacity: latest balance 50,000 x 0.001 = 50 + two contracts on time x 5 = 60 -> 0.85
    # behaviour: diapers +5 -> 0.55; personal 100 -> 1.0; no friends -> 0.5
    # 350 + 600 x (0.21 + 0.2125 + 0.11 + 0.15 + 0.025) = 350 + 424.5 = 774.5: excellent
    raw = {"credit": 20, "capacity": 60, "behaviour": 5, "personal": 100}
    assert sesame(raw) == pytest.approx(774.5)
    assert out.score("model") == pytest.approx(774.5, abs=1e-9)
    assert out.band("model") == "excellent"
    assert out.measures("model") == EVERYONE | {
        "just_spend_loan", "deposit_free_rental", "visa_luxembourg", "visa_japan", "visa_canada"}


def test_ten_hours_of_gaming_a_day_is_idle(out: Outcome) -> None:
    # three days of >= 10 h in the last 180 days x -10 = -30 (6 h does not count; the October
    # 2024 session is 243 days old) -> behaviour (-30 + 50) / 100 = 0.2
    # 657.5 - 600 x 0.2 x (0.5 - 0.2) = 657.5 - 36 = 621.5: good -> loan, but no rental
    assert out.score("gamer") == pytest.approx(sesame({"behaviour": -30, "personal": 100}))
    assert out.score("gamer") == pytest.approx(621.5, abs=1e-9)
    assert out.band("gamer") == "good"
    assert out.measures("gamer") == EVERYONE | {"just_spend_loan"}
    assert out.reasons("gamer") == [("idle_gaming", pytest.approx(36.0, abs=1e-9))]


def test_a_friend_s_defaults_cost_the_deposit_free_rental(out: Outcome) -> None:
    # defaulter: credit 2 x -50 = -100 -> 0; personal -100 (identity fraud) -> 0
    #   own score 350 + 600 x (0.0625 + 0.1) / 0.95 = 452.63...
    d_own = own({"credit": -100, "personal": -100})
    assert d_own == pytest.approx(350 + 600 * 0.1625 / 0.95)
    # x has the verified person's record (657.5 alone) but x's one friend is the defaulter:
    # 350 + 600 x (0.4875 + 0.05 x (452.63 - 350) / 600) = 647.63...: good, below 650: no rental
    x = sesame({"personal": 100}, friends=d_own)
    assert out.score("x") == pytest.approx(x, abs=1e-9)
    assert x == pytest.approx(647.63, abs=0.01)
    assert out.band("x") == "good"
    assert out.measures("x") == EVERYONE | {"just_spend_loan"}
    # the friend is the only reason: 600 x 0.05 x (0.5 - 0.171) = 9.87 points
    lost = 600 * 0.05 * (0.5 - linear(d_own, 350, 950))
    assert out.reasons("x") == [("network:interpersonal", pytest.approx(lost, abs=1e-9))]
    # ... and the defaulter's own score reads x's own score (657.89) as its friends' mean
    x_own = own({"personal": 100})
    assert out.score("defaulter") == pytest.approx(
        sesame({"credit": -100, "personal": -100}, friends=x_own), abs=1e-9)
    assert out.band("defaulter") == "poor"
    assert out.measures("defaulter") == EVERYONE
