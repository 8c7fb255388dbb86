"""National preset: lists drive every measure (SPC 2017 provisions, 2016 memorandum, NDRC
Order 58); the score is our 0–100 "public credit record" index that no measure reads.

Runs chain by snapshot, as in production: 2024-02-01, then 2024-06-01 reading the first run's
list and measure states.
"""

from __future__ import annotations

import pytest
from presetkit import Outcome, first_snapshot, preset, run

from enginekit import D, ev, snapshot_from
from glasscredit.engine.sessions import Backend

LISTED = ("dishonest_judgment_debtors", "dishonest_judgment_debtors_aggravated")
PERSON_BANS = {"flight_ban", "high_speed_rail_ban", "star_hotel_ban", "slow_internet",
               "prestige_job_exclusion", "public_blacklist", "procurement_exclusion"}
REWARDS = {"redlist_easy_finance", "redlist_deposit_free_rental", "redlist_travel_facilitation",
           "redlist_public_commendation"}

SUBJECTS = [*[(p, "person") for p in ("debtor", "kid", "performer", "aggravated", "expired",
                                      "serious", "early_repair", "minor", "honoured",
                                      "honoured_fined")], ("firm", "organisation")]
RELATIONS = [("kid", "debtor", "family")]


def dj(eid: str, who: str, day: str, trigger: str, aggravated: bool = False) -> dict:
    return ev(eid, who, "dishonest_judgment_debtor", day, trigger=trigger, aggravated=aggravated,
              case_id=f"case-{eid}")


EVENTS = [
    dj("d1", "debtor", "2024-01-10", "refuse_to_perform"),
    dj("p1", "performer", "2024-01-10", "obstruct_enforcement"),
    ev("p2", "performer", "judgment_performed", "2024-03-01", 20000, case_id="case-p1"),
    dj("a1", "aggravated", "2021-01-10", "fake_litigation_or_concealment", aggravated=True),
    dj("e1", "expired", "2022-01-10", "refuse_settlement"),
    ev("s1", "serious", "administrative_penalty", "2023-03-01", severity="detention"),
    ev("s2", "serious", "commitment_letter", "2024-04-01", record_severity="serious"),
    ev("s3", "serious", "credit_repair_completed", "2024-05-01", record_severity="serious"),
    ev("r1", "early_repair", "administrative_penalty", "2023-11-01", severity="detention"),
    ev("r2", "early_repair", "commitment_letter", "2024-03-01", record_severity="serious"),
    ev("r3", "early_repair", "credit_repair_completed", "2024-03-01", record_severity="serious"),
    ev("m1", "minor", "administrative_penalty", "2024-05-01", severity="warning"),
    ev("m2", "minor", "administrative_penalty", "2023-03-01", severity="fine"),
    ev("h1", "honoured", "civic_honour", "2023-09-01", level="city"),
    ev("h2", "honoured_fined", "civic_honour", "2023-09-01", level="city"),
    ev("h3", "honoured_fined", "administrative_penalty", "2024-04-01", severity="fine"),
    dj("f1", "firm", "2024-01-20", "refuse_to_perform"),
    ev("f2", "firm", "business_violation", "2023-08-01", severity="serious", regulator="safety"),
]

Runs = tuple[Outcome, Outcome]


@pytest.fixture(scope="module")
def runs(b: Backend) -> Runs:
    cp = preset("national")
    first = run(b, cp, SUBJECTS, EVENTS, "2024-02-01", relations=RELATIONS,
                snapshot=first_snapshot(b))
    second = run(b, cp, SUBJECTS, EVENTS, "2024-06-01", relations=RELATIONS,
                 snapshot=snapshot_from(b, first.result))
    return first, second


def test_a_listed_debtor_and_joint_punishment(runs: Runs) -> None:
    first, out = runs
    # listed from the trigger (2024-01-10) for two years; -30 on the record index
    assert out.listed("debtor") == {"dishonest_judgment_debtors"}
    assert out.list_row("debtor", LISTED[0])["since"] == D("2024-01-10")
    assert out.score("debtor") == pytest.approx(70.0, abs=1e-9)
    assert out.measures("debtor") == PERSON_BANS
    assert first.measures("debtor") == PERSON_BANS


def test_the_debtor_s_child_is_excluded_from_private_schools(runs: Runs) -> None:
    _, out = runs
    # the child's own record is clean: only the parent's listing reaches it
    assert out.score("kid") == 100.0 and out.listed("kid") == set()
    assert out.measures("kid") == {"children_private_school_exclusion"}
    assert "children_private_school_exclusion" not in out.measures("debtor")


def test_removed_on_performance(runs: Runs) -> None:
    first, out = runs
    assert first.listed("performer") == {"dishonest_judgment_debtors"}
    # one performance >= one listing: the listing ends at the next run
    assert out.listed("performer") == set()
    assert out.list_row("performer", LISTED[0])["ended_at"] == D("2024-06-01")
    assert out.measures("performer") == set()


def test_aggravation_extends_the_listing(runs: Runs) -> None:
    _, out = runs
    # 2021-01-10: the plain listing's trigger counts 2 years, long gone; the aggravated
    # listing lasts 5 (2 + at most 3)
    assert out.listed("aggravated") == {"dishonest_judgment_debtors_aggravated"}
    assert out.list_row("aggravated", LISTED[1])["since"] == D("2021-01-10")
    assert out.measures("aggravated") == PERSON_BANS
    # the trigger's -30 counted two years; the aggravation's -10 counts five -> 90
    assert out.score("aggravated") == pytest.approx(90.0, abs=1e-9)


def test_a_listing_ends_after_two_years(runs: Runs) -> None:
    _, out = runs
    # listed 2022-01-10: the trigger and the listing both ran out on 2024-01-10
    assert out.listed("expired") == set()
    assert out.score("expired") == 100.0
    assert out.measures("expired") == set()


def test_credit_repair_of_a_serious_record(runs: Runs) -> None:
    first, out = runs
    # detention: -20 for three years; listed as serious dishonesty from 2023-03-01
    assert first.listed("serious") == {"serious_dishonesty"}
    # repaired (proof + commitment letter) after the one-year minimum: delisted
    assert out.listed("serious") == set()
    assert out.score("serious") == pytest.approx(80.0, abs=1e-9)
    # repaired four months after the record: the one-year minimum holds it on the list
    assert out.listed("early_repair") == {"serious_dishonesty"}
    assert out.measures("early_repair") == {"procurement_exclusion"}


def test_disclosure_windows(runs: Runs) -> None:
    _, out = runs
    # a warning counts 3 months (-2); the 2023 fine's one-year window has passed -> 98
    assert out.score("minor") == pytest.approx(98.0, abs=1e-9)
    assert out.measures("minor") == set()


def test_redlist_rewards(runs: Runs) -> None:
    first, out = runs
    assert out.listed("honoured") == {"honest_redlist"}
    assert out.measures("honoured") == REWARDS
    # honoured, then fined (-5 -> 95): on the redlist in February, off it in June
    assert first.listed("honoured_fined") == {"honest_redlist"}
    assert out.listed("honoured_fined") == set()
    assert out.score("honoured_fined") == pytest.approx(95.0, abs=1e-9)
    assert out.measures("honoured_fined") == set()


def test_an_organisation_on_both_blacklists(runs: Runs) -> None:
    _, out = runs
    # -30 (listing) - 20 (serious safety violation) -> 50; person-only bans do not apply
    assert out.score("firm") == pytest.approx(50.0, abs=1e-9)
    assert out.listed("firm") == {"dishonest_judgment_debtors", "serious_dishonesty"}
    assert out.measures("firm") == {"public_blacklist", "procurement_exclusion"}


def test_a_first_run_does_not_list_a_debtor_who_already_performed(b: Backend) -> None:
    out = run(b, preset("national"), SUBJECTS, EVENTS, "2024-06-01", relations=RELATIONS,
              snapshot=first_snapshot(b))
    assert out.listed("performer") == set()
