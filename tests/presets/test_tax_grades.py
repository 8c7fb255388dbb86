"""Tax-grade preset: 100 minus the documented deductions (late payment -5 a case, late
statements -3, zero VAT returns -11 once a year), A >= 90, B 70–<90, C 40–<70, D < 40.
The evaluation year is 2024, run on 2024-12-31."""

from __future__ import annotations

import pytest
from presetkit import Outcome, preset, run

from enginekit import ev
from glasscredit.engine.sessions import Backend

A_BENEFITS = {"better_credit", "lower_tax_rate", "investment_opportunities"}
D_CONSEQUENCES = {"invoice_supply_limited", "higher_tax_scrutiny", "loan_restriction",
                  "procurement_exclusion", "investment_restriction"}
FIRMS = ("clean", "late", "zero_vat", "low", "very_low", "evader", "sister", "third_year",
         "new")


def income(eid: str, firm: str, day: str = "2024-04-15") -> dict:
    return ev(eid, firm, "vat_return", day, 50000, zero_or_negative=False,
              consecutive_zero_months=0)


def zero(eid: str, firm: str, day: str, running: int, in_year: int) -> dict:
    return ev(eid, firm, "vat_return", day, 0, zero_or_negative=True,
              consecutive_zero_months=running, zero_returns_in_year=in_year)


def late_payments(firm: str, n: int) -> list[dict]:
    return [ev(f"{firm}-tp{i}", firm, "tax_payment", f"2024-{i + 1:02d}-15", 1000,
               tax_type="vat", days_late=10) for i in range(n)]


EVENTS = [
    *[income(f"{f}-inc", f) for f in FIRMS if f != "new"],
    *late_payments("late", 2),
    ev("late-old", "late", "tax_payment", "2023-06-15", 1000, days_late=30),   # 2023: not counted
    ev("late-on", "late", "tax_payment", "2024-07-15", 1000, days_late=0),
    ev("late-fs", "late", "financial_statement_filing", "2024-04-30", period="annual",
       days_late=12),
    # zero returns Jan-Mar (3 running in March) and Jul-Sep (3 running, 6 in the year)
    *[zero(f"z{m}", "zero_vat", f"2024-{m:02d}-20", r, y)
      for m, r, y in [(1, 1, 1), (2, 2, 2), (3, 3, 3), (7, 1, 4), (8, 2, 5), (9, 3, 6)]],
    *late_payments("low", 7),
    ev("low-fs1", "low", "financial_statement_filing", "2024-04-30", days_late=5),
    ev("low-fs2", "low", "financial_statement_filing", "2024-07-30", days_late=5),
    *late_payments("very_low", 12),
    ev("vl-fs", "very_low", "financial_statement_filing", "2024-04-30", days_late=5),
    ev("ev1", "evader", "tax_evasion", "2024-05-01", 2_000_000, case_type="evasion"),
    ev("t1", "third_year", "invoice_irregularity", "2022-03-01", 800000, issue="false_invoice"),
    ev("n1", "new", "business_licence", "2024-03-01", action="granted"),
    ev("n2", "new", "financial_statement_filing", "2024-07-30", days_late=3),
]


@pytest.fixture(scope="module")
def out(b: Backend) -> Outcome:
    return run(b, preset("tax_grades"), [(f, "organisation") for f in FIRMS], EVENTS,
               "2024-12-31", relations=[("sister", "evader", "same_responsible_person")])


def test_a_clean_firm_is_a(out: Outcome) -> None:
    assert out.score("clean") == 100.0 and out.band("clean") == "A"
    assert out.measures("clean") == A_BENEFITS


def test_late_payments_and_statements(out: Outcome) -> None:
    # two late payments x -5, one late statement -3 (the 2023 case is outside the year) -> 87: B
    assert out.score("late") == pytest.approx(87.0, abs=1e-9)
    assert out.band("late") == "B"
    assert out.measures("late") == set()
    assert out.reasons("late") == [("late_tax_payment", pytest.approx(10.0)),
                                   ("late_financial_statements", pytest.approx(3.0))]


def test_zero_vat_returns_cost_11_once_and_bar_a(out: Outcome) -> None:
    # March (3 running) and September (3 running, 6 in total) both qualify: -22 capped at -11
    # for the year -> 89: B, never A
    assert out.score("zero_vat") == pytest.approx(89.0, abs=1e-9)
    assert out.band("zero_vat") == "B"


def test_c_and_d_by_score(out: Outcome) -> None:
    # 7 x -5 and 2 x -3 -> 100 - 35 - 6 = 59: C
    assert out.score("low") == pytest.approx(59.0, abs=1e-9) and out.band("low") == "C"
    assert out.measures("low") == set()
    # 12 x -5 and -3 -> 37 < 40: D, listed for two years, every D consequence
    assert out.score("very_low") == pytest.approx(37.0, abs=1e-9)
    assert out.band("very_low") == "D"
    assert out.listed("very_low") == {"d_grade"}
    assert out.measures("very_low") == D_CONSEQUENCES


def test_direct_d_and_the_responsible_person_s_other_firm(out: Outcome) -> None:
    # a tax-evasion case: -100 (and -11) -> 0: D assigned directly
    assert out.score("evader") == 0.0 and out.band("evader") == "D"
    assert out.measures("evader") == D_CONSEQUENCES
    # the sister firm's own record is clean (A), but it shares the evader's responsible person
    assert out.band("sister") == "A"
    assert out.measures("sister") == A_BENEFITS | {"rated_d_by_association"}


def test_no_a_in_the_third_year_after_d(out: Outcome) -> None:
    # false invoices in March 2022: the -100 counted two years; the -11 counts three -> 89: B
    assert out.score("third_year") == pytest.approx(89.0, abs=1e-9)
    assert out.band("third_year") == "B"


def test_a_new_firm_is_m(out: Outcome) -> None:
    # licensed in 2024, one late statement -> 97: the band says A, the grade is M, and the
    # A-grade benefits are withheld
    assert out.score("new") == pytest.approx(97.0, abs=1e-9)
    assert out.band("new") == "A"
    assert out.measures("new") == {"grade_m"}
