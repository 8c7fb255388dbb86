"""The shipped catalogue covers the seed article and tags sensitive data; bad input is refused."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any

import pytest

from glasscredit.catalogue import Catalogue, load_catalogue, parse_catalogue
from glasscredit.errors import CatalogueError, InputError

REPAIR = "credit_repair_completed"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


# Every behaviour and data source the seed article names (quoted), with DOMAIN.md's corporate ones.
SEED_BEHAVIOURS = [
    ("pays his bills on time", "bill_payment"),
    ("payment of invoices", "bill_payment"),
    ("historical payment", "bill_payment"),
    ("past payment history and level of debt", "loan_default"),
    ("insurance, loan", "loan_default"),
    ("ability to honor stipulated contracts", "contract_fulfilment"),
    ("a conspicuous level of savings", "savings_balance"),
    ("financial situation", "income_report"),
    ("a user who buys diapers", "purchase"),
    ("spends huge sums for online games", "purchase"),
    ("offline shopping trends paid through Alipay", "purchase"),
    ("shopping history", "purchase"),
    ("gaming duration", "gaming_session"),
    ("compliance with traffic laws", "traffic_offence"),
    ("minor traffic offenses", "traffic_offence"),
    ("parking illegally", "illegal_parking"),
    ("dodging transport fares", "fare_dodging"),
    ("failing to turn up to a restaurant booking", "restaurant_no_show"),
    ("cheating in video games", "game_cheating"),
    ("not visiting parents often", "parent_visit"),
    ("looking after elderly family members", "elder_care"),
    ("helping the poor", "poverty_aid"),
    ("donated over one liter of blood", "blood_donation"),
    ("volunteered over 500 hours of work", "volunteering"),
    ("falsifying personal history when registering", "marriage_registration_falsified"),
    ("illegally selling train tickets", "ticket_touting"),
    ("illegally petitioned higher authorities", "petition"),
    ("education level", "education_attainment"),
    ("online behavior", "online_post"),
    ("writing highly critical posts to government officials", "political_post"),
    ("ordered by a court to apologize", "court_judgment"),
    ("the list of untrustworthy people", "dishonest_judgment_debtor"),
    ("location", "location_trace"),
    ("mobile phone position", "location_trace"),
    ("health records", "health_record"),
    ("insurance", "insurance_premium_payment"),
    ("private messages", "private_message"),
    ("the messages of WeChat's 850 million active users", "private_message"),
    ("smart home statistics", "smart_home_statistics"),
    ("preferred newspapers", "newspaper_subscription"),
    ("dating behavior", "dating_activity"),
    ("Baidu's online history", "browsing_history"),
    ("official identity ... records", "identity_verification"),
    ("extent and accuracy of personal information", "profile_completeness"),
    ("the online characteristics of a users' friends", "peer_rating"),
    ("infractions on the part of a business", "business_violation"),
    ("chances to participate in publicly funded projects", "public_procurement"),
    # DOMAIN.md: Suzhou Osmanthus, credit repair, judgment debtors, corporate tax grades
    ("marital status", "marital_status"),
    ("social-security payments", "social_security_contribution"),
    ("commitment letter", "commitment_letter"),
    ("removed on performance", "judgment_performed"),
    ("spending-restriction order", "enforcement_order"),
    ("late tax payment", "tax_payment"),
    ("late financial statements", "financial_statement_filing"),
    ("zero or negative VAT returns", "vat_return"),
    ("invoice supply limited", "invoice_irregularity"),
    ("tax grade", "tax_credit_grade"),
    ("legal representative", "legal_representative_change"),
    ("product quality", "product_quality_violation"),
    ("environmental violation", "environmental_violation"),
    ("business licence", "business_licence"),
]

# The article's sensitive data sources, and the guards' other special categories.
PROTECTED = [
    ("location", "location_trace", "location"),
    ("health records", "health_record", "health"),
    ("private messages", "private_message", "private_communications"),
    ("preferred newspapers", "newspaper_subscription", "political_opinion"),
    ("dating behavior", "dating_activity", "sexual_orientation"),
    ("smart home statistics", "smart_home_statistics", "location"),
    ("illegally petitioned higher authorities", "petition", "petitioning"),
    ("highly critical posts", "political_post", "political_opinion"),
    ("religion", "religious_affiliation", "religion"),
    ("ethnicity", "ethnicity_record", "ethnicity"),
    ("trade-union membership", "trade_union_membership", "trade_union"),
    ("biometrics", "biometric_verification", "biometrics"),
    ("health insurance", "health_insurance_claim", "health"),
]


def test_shipped_catalogue_loads_once_and_is_package_data(cat: Catalogue) -> None:
    assert load_catalogue() is cat
    assert 60 <= len(cat.kinds) <= 90
    shipped = resources.files("glasscredit").joinpath("catalogue.yaml")
    assert shipped.is_file()
    assert parse_catalogue(shipped.read_text(encoding="utf-8")) == cat


def test_every_context_and_tag_is_used(cat: Catalogue) -> None:
    assert all(cat.kinds_in_context(c) for c in cat.contexts)
    assert set(cat.protected_kinds().values()) == set(cat.protected_tags)


@pytest.mark.parametrize(("phrase", "kind"), SEED_BEHAVIOURS)
def test_seed_behaviour_has_a_kind(cat: Catalogue, phrase: str, kind: str) -> None:
    assert kind in cat, phrase
    assert cat.kind(kind).description


@pytest.mark.parametrize(("phrase", "kind", "tag"), PROTECTED)
def test_sensitive_sources_are_protected(cat: Catalogue, phrase: str, kind: str, tag: str) -> None:
    assert cat.kind(kind).protected == tag, phrase
    assert cat.protected_kinds()[kind] == tag


def test_seed_details(cat: Catalogue) -> None:
    assert cat.kind("blood_donation").unit == "litres"
    assert cat.kind("volunteering").unit == "hours"
    assert cat.kind("gaming_session").unit == "hours"
    assert cat.attribute("bill_payment", "days_late").type == "int"
    assert cat.attribute("bill_payment", "amount").type == "float"
    categories = cat.attribute("purchase", "category").values
    assert {"diapers", "video_games", "alcohol", "books"} <= set(categories)
    assert cat.attribute("traffic_offence", "severity").type == "enum"
    assert "bachelor" in cat.attribute("education_attainment", "level").values
    assert cat.attribute("dishonest_judgment_debtor", "trigger").values == (
        "refuse_to_perform", "obstruct_enforcement", "fake_litigation_or_concealment",
        "violate_asset_reporting", "violate_spending_restriction", "refuse_settlement",
    )
    assert cat.kind("tax_credit_grade").subjects == ("organisation",)
    assert cat.kind("bill_payment").subjects == ("person", "organisation")


def test_neutral_online_post_carries_no_opinion(cat: Catalogue) -> None:
    post = cat.kind("online_post")
    assert post.protected is None
    assert "stance" not in post.attributes
    assert "stance" in cat.kind("political_post").attributes


def test_kinds_in_context(cat: Catalogue) -> None:
    names = [k.name for k in cat.kinds_in_context("transport")]
    assert {"traffic_offence", "illegal_parking", "fare_dodging", "ticket_touting"} <= set(names)
    with pytest.raises(CatalogueError, match=r"'transprot' \(did you mean 'transport'\?\)"):
        cat.kinds_in_context("transprot")


def test_unknown_kind_suggests_the_closest(cat: Catalogue) -> None:
    with pytest.raises(CatalogueError) as info:
        cat.kind("bil_payment")
    assert str(info.value) == "unknown event kind 'bil_payment' (did you mean 'bill_payment'?)"
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    assert "bil_payment" not in cat
    with pytest.raises(CatalogueError, match=r"'zzzz'$"):
        cat.kind("zzzz")


def test_unknown_attribute_suggests_the_closest(cat: Catalogue) -> None:
    with pytest.raises(CatalogueError, match=r"'day_late' \(did you mean 'days_late'\?\)"):
        cat.attribute("bill_payment", "day_late")
    with pytest.raises(CatalogueError, match="did you mean 'bill_payment'"):
        cat.attribute("bill_paymnt", "days_late")


@pytest.mark.parametrize(
    ("kind", "attrs"),
    [
        ("bill_payment", {"days_late": 3, "amount": 120, "bill_type": "utility"}),
        ("bill_payment", {"amount": 99.5, "days_late": None}),
        ("bill_payment", {}),
        ("credit_repair_completed", {"repaired_on": "2024-02-29", "training_completed": False}),
        ("credit_repair_completed", {"repaired_on": dt.date(2024, 2, 29)}),
        ("religious_affiliation", {"religion": "any text"}),
    ],
)
def test_check_value_accepts_fitting_attributes(
    cat: Catalogue, kind: str, attrs: dict[str, Any]
) -> None:
    assert cat.check_value(kind, attrs) == []


@pytest.mark.parametrize(
    ("kind", "attrs", "problem"),
    [
        ("bill_payment", {"dayslate": 3}, "unknown attribute 'dayslate' for 'bill_payment'"),
        ("bill_payment", {"dayslate": 3}, "(did you mean 'days_late'?)"),
        ("bill_payment", {"days_late": "3"}, "attribute 'days_late': expected int, got str '3'"),
        ("bill_payment", {"days_late": 2.5}, "attribute 'days_late': expected int, got float 2.5"),
        ("bill_payment", {"days_late": True}, "attribute 'days_late': expected int, got bool True"),
        ("bill_payment", {"amount": False}, "attribute 'amount': expected float, got bool False"),
        ("bill_payment", {"amount": float("inf")}, "'amount': expected float, got float inf"),
        ("restaurant_no_show", {"cancelled_late": 1}, "'cancelled_late': expected bool, got int 1"),
        ("game_cheating", {"game": 7}, "attribute 'game': expected string, got int 7"),
        (REPAIR, {"repaired_on": "2024-02-30"}, "expected ISO date, got str '2024-02-30'"),
        (REPAIR, {"repaired_on": "20240201"}, "expected ISO date, got str '20240201'"),
        (REPAIR, {"repaired_on": dt.datetime(2024, 1, 1)}, "expected ISO date, got datetime"),
        ("purchase", {"category": "diaper"}, "'diaper' is not one of diapers, video_games"),
        ("purchase", {"category": "diaper"}, "(did you mean 'diapers'?)"),
        ("purchase", {"category": 3}, "attribute 'category': expected enum, got int 3"),
        ("bil_payment", {}, "unknown event kind 'bil_payment' (did you mean 'bill_payment'?)"),
        ("bill_payment", {"x": 1}, "unknown attribute 'x' for 'bill_payment'"),
    ],
)
def test_check_value_reports_problems(
    cat: Catalogue, kind: str, attrs: dict[str, Any], problem: str
) -> None:
    problems = cat.check_value(kind, attrs)
    assert len(problems) == 1
    assert problem in problems[0]


def test_check_value_reports_every_problem(cat: Catalogue) -> None:
    problems = cat.check_value("bill_payment", {"days_late": "x", "amount": "y", "extra": 1})
    assert len(problems) == 3
    assert cat.check_value("bill_payment", ["days_late"]) == [  # type: ignore[arg-type]
        "attributes must be a mapping, got list"
    ]


def _doc(**kinds: Any) -> dict[str, Any]:
    return {
        "contexts": {"finance": "Money", "transport": "Roads"},
        "protected_tags": {"health": "GDPR Art. 9"},
        "kinds": kinds,
    }


def test_minimal_document_builds() -> None:
    paid = {"type": "bool", "description": "Paid"}
    fine = {"context": "transport", "subjects": ["person"], "unit": "rmb", "description": "A fine"}
    doc = _doc(fine={**fine, "attributes": {"paid": paid}})
    built = Catalogue.from_dict(doc)
    assert built.kind("fine").attributes["paid"].type == "bool"
    assert built.kind("fine").protected is None and built.kind("fine").source is None


def test_malformed_document_reports_every_problem_at_once() -> None:
    doc = _doc(
        loan={"context": "finanse", "subjects": ["person"], "unit": "rmb", "description": "A loan",
              "protected": "helth",
              "attributes": {
                  "days_late": {"type": "integer", "description": "Days"},
                  "grade": {"type": "enum", "description": "Grade"},
                  "flag": {"type": "enum", "values": [True, False], "description": "Yes or no"},
                  "value": {"type": "int", "description": "Shadows the event column"},
                  "note": {"type": "string", "values": ["a"], "descripton": "typo"},
              }},
        ride={"context": "transport", "subjects": ["citizen"], "description": "A ride",
              "protect": "health"},
    )
    doc["colours"] = {}
    with pytest.raises(CatalogueError) as info:
        Catalogue.from_dict(doc)
    message = str(info.value)
    expected = [
        "kinds.loan.context: unknown context 'finanse' (did you mean 'finance'?)",
        "kinds.loan.protected: unknown protected tag 'helth' (did you mean 'health'?)",
        "kinds.loan.attributes.days_late: unknown type 'integer' (did you mean 'int'?)",
        "kinds.loan.attributes.grade: enum needs a non-empty list of values",
        "kinds.loan.attributes.flag: enum values must be strings",
        "kinds.loan.attributes.value: attribute name must be snake_case and not reserved",
        "kinds.loan.attributes.note: only enum attributes take values",
        "kinds.loan.attributes.note: unknown key 'descripton' (did you mean 'description'?)",
        "kinds.loan.attributes.note: needs a description",
        "kinds.ride: missing unit",
        "kinds.ride.subjects: expected a list drawn from person, organisation, got ['citizen']",
        "kinds.ride: unknown key 'protect' (did you mean 'protected'?)",
        "top level: unknown key 'colours'",
    ]
    for line in expected:
        assert line in message
    assert message.startswith(f"{len(expected)} problem(s) in <catalogue>:")


def test_duplicate_kinds_are_reported_with_the_other_problems(tmp_path: Any) -> None:
    text = """\
contexts: {finance: Money}
protected_tags: {health: GDPR Art. 9}
kinds:
  loan: {context: finance, subjects: [person], unit: rmb, description: A loan}
  loan: {context: finanse, subjects: [person], unit: rmb, description: Another loan}
  flag:
    context: finance
    subjects: [person]
    unit: count
    description: A flag
    attributes:
      answer: {type: enum, values: [yes, no], description: YAML 1.1 reads these as booleans}
"""
    path = tmp_path / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert "line 5: duplicate key 'loan' (first at line 4)" in message
    assert "unknown context 'finanse'" in message
    assert "(quote yes, no, on, off)" in message
    assert message.startswith(f"3 problem(s) in {path}")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("kinds: [a, b", "not valid YAML"),
        ("- just a list", "a catalogue must be a mapping, got list"),
        ("", "a catalogue must be a mapping, got NoneType"),
        ("contexts: {}\nprotected_tags: {}\nkinds: {}", "kinds: expected a non-empty mapping"),
        (
            "contexts: {a: A}\nprotected_tags: {}\nkinds:\n"
            "  k: {context: [a], subjects: [[person]], unit: count, description: K}",
            r"(?s)unknown context \['a'\].*expected a list drawn from person, organisation",
        ),
    ],
)
def test_unusable_documents(text: str, match: str) -> None:
    with pytest.raises(CatalogueError, match=match):
        parse_catalogue(text)
