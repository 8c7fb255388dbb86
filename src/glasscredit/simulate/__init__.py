"""The simulator's vocabulary: Suzhou's districts, where migrants come from, enums, sources.

A synthetic city is generated in three steps, each in its own module:

* ``population.make_city`` draws people and organisations as columns (``City``);
* ``behaviour.Behaviour`` turns the city into dated events, one month at a time;
* ``write.write_city`` streams them to Parquet in the engine's input shapes, and
  ``write.into_ledger`` loads that directory into a research ledger through ledger ingest.

Everything here is data the three steps share, kept in one place so that the docs
(``docs/simulate.md``) and the tests read the same numbers as the generator. Figures are
approximations from public statistics (2020 census of Suzhou), marked so in the docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

#: The default first simulated month: fixed, so the same seed gives the same bytes on any day.
DEFAULT_START: Final = date(2024, 1, 1)


@dataclass(frozen=True)
class District:
    """A county-level division of Suzhou and what the generator draws from it.

    ``codes`` lists (first year, GB/T 2260 codes) in force over time: a resident id keeps the
    area code of the year it was first issued (1985 for people born before resident ids
    existed), so an older Gusu resident carries a Pingjiang, Canglang or Jinchang code.
    """

    code: str
    name: str
    population: float  # 2020 census resident population, 10,000s (approximate)
    migrant_share: float  # share of residents without a local hukou (approximate)
    income: float  # income multiplier against the city median (assumed)
    codes: tuple[tuple[int, tuple[str, ...]], ...]


DISTRICTS: Final[tuple[District, ...]] = (
    District("320505", "Huqiu", 83.3, 0.50, 1.10, ((0, ("320511",)), (2000, ("320505",)))),
    District("320506", "Wuzhong", 139.1, 0.46, 1.05,
             ((0, ("320524",)), (1995, ("320586",)), (2001, ("320506",)))),
    District("320507", "Xiangcheng", 89.2, 0.42, 0.95,
             ((0, ("320524",)), (1995, ("320586",)), (2001, ("320507",)))),
    District("320508", "Gusu", 92.4, 0.25, 1.00,
             ((0, ("320502", "320503", "320504")), (2012, ("320508",)))),
    District("320509", "Wujiang", 154.5, 0.44, 0.95,
             ((0, ("320525",)), (1992, ("320584",)), (2012, ("320509",)))),
    District("320581", "Changshu", 167.7, 0.36, 0.95, ((0, ("320581",)),)),
    District("320582", "Zhangjiagang", 143.2, 0.38, 1.00,
             ((0, ("320521",)), (1986, ("320582",)))),
    District("320583", "Kunshan", 209.3, 0.52, 1.10, ((0, ("320523",)), (1989, ("320583",)))),
    District("320585", "Taicang", 83.1, 0.40, 1.00, ((0, ("320522",)), (1993, ("320585",)))),
)

#: Home counties of migrants (their ids carry these current codes) with their weights.
ORIGINS: Final[tuple[tuple[str, str, float], ...]] = (
    ("341221", "Linquan, Fuyang, Anhui", 0.14),
    ("341222", "Taihe, Fuyang, Anhui", 0.10),
    ("341322", "Xiao County, Suzhou, Anhui", 0.11),
    ("411623", "Shangshui, Zhoukou, Henan", 0.12),
    ("411481", "Yongcheng, Shangqiu, Henan", 0.08),
    ("320322", "Pei County, Xuzhou, Jiangsu", 0.10),
    ("320921", "Xiangshui, Yancheng, Jiangsu", 0.10),
    ("371321", "Yinan, Linyi, Shandong", 0.10),
    ("511902", "Bazhou, Bazhong, Sichuan", 0.08),
    ("520502", "Qixingguan, Bijie, Guizhou", 0.07),
)

#: Levels of ``education_attainment.level`` in the catalogue, lowest first.
EDUCATION: Final = ("none", "primary", "junior_secondary", "senior_secondary", "vocational",
                    "associate", "bachelor", "master", "doctorate")
#: Cut points of a standard-normal schooling score: the level shares of a local 30-year-old
#: (1%, 6%, 25%, 15%, 10%, 16%, 22%, 4.5%, 0.5%).
EDUCATION_CUTS: Final = (-2.326, -1.476, -0.468, -0.075, 0.176, 0.613, 1.645, 2.576)
#: ``employment_record.status`` values.
EMPLOYMENT: Final = ("employed", "self_employed", "unemployed", "retired", "student")
#: ``marital_status.status`` values.
MARITAL: Final = ("single", "married", "divorced", "widowed")
HUKOU: Final = ("local", "migrant")
SEXES: Final = ("F", "M")
#: Recorded ethnic groups: Han, then minorities in the proportions migrants bring.
ETHNIC_GROUPS: Final = ("Han", "Hui", "Miao", "Tujia", "Yi", "Zhuang", "Manchu", "Bouyei")
AGE_BANDS: Final = ((0, "0-17"), (18, "18-29"), (30, "30-44"), (45, "45-59"), (60, "60+"))
#: Share of residents under 18 (Suzhou 2020: about 15%).
MINOR_SHARE: Final = 0.15
#: Adult age pyramid by five-year band from 18 (approximate, 2020 census shape).
ADULT_AGES: Final = ((18, 0.10), (25, 0.10), (30, 0.12), (35, 0.11), (40, 0.09), (45, 0.09),
                     (50, 0.09), (55, 0.08), (60, 0.06), (65, 0.06), (70, 0.04), (75, 0.03),
                     (80, 0.02), (85, 0.01))

#: Organisation kinds from positions 1-2 of the credit code (GB 32100).
ENTITIES: Final = {"91": "enterprise", "92": "individual_business", "93": "farmers_coop",
                   "51": "social_organisation", "Y1": "other"}
#: Sectors; enterprises draw from the first block with these weights (Suzhou is industrial).
SECTORS: Final = ("manufacturing", "wholesale_retail", "construction", "logistics",
                  "hospitality", "it_services", "finance", "real_estate", "business_services",
                  "education_health", "agriculture", "social_services", "public_services")
SECTOR_WEIGHTS: Final = (0.30, 0.24, 0.07, 0.06, 0.08, 0.07, 0.02, 0.03, 0.08, 0.05)
SIZE_BANDS: Final = ((0, "micro"), (10, "small"), (100, "medium"), (1000, "large"))

#: Relation names, read as "related_id is the subject's <relation>".
RELATIONS: Final = ("spouse", "parent", "friend", "employer", "legal_representative")
#: The relation type each is written as: the ledger's and policies' vocabulary
#: (``catalogue.RELATION_TYPES``), where spouses and parents are ``family``.
RELATION_TYPES: Final[dict[str, str]] = {
    "spouse": "family", "parent": "family", "friend": "friend", "employer": "employer",
    "legal_representative": "legal_representative"}

#: Reliability of each catalogue source in the simulated city (assumed figures).
RELIABILITY: Final[dict[str, float]] = {
    "court": 1.0, "tax_bureau": 1.0, "bank": 0.95, "insurer": 0.9, "transport": 0.9,
    "platform": 0.8, "city_bureau": 0.95, "civil_affairs": 1.0, "police": 0.95,
    "hospital": 1.0, "telecom": 0.9, "market_regulator": 1.0, "environment_bureau": 0.95,
    "education_bureau": 1.0, "employer": 0.85, "community": 0.8, "device_vendor": 0.7,
}
#: The low-reliability source every false record is attributed to.
UNRELIABLE_SOURCE: Final = "data_broker"
UNRELIABLE_RELIABILITY: Final = 0.3
#: Mean days between an event and its recording, by source (assumed).
RECORDING_LAG_DAYS: Final[dict[str, float]] = {
    "court": 20.0, "tax_bureau": 5.0, "police": 3.0, "market_regulator": 10.0,
    "environment_bureau": 10.0, "civil_affairs": 7.0, "education_bureau": 14.0,
    "city_bureau": 5.0, "community": 3.0, UNRELIABLE_SOURCE: 2.0,
}
DEFAULT_LAG_DAYS: Final = 1.0


@dataclass(frozen=True)
class Spec:
    """One behaviour model: a kind for one subject kind, its monthly rate and its generators.

    ``rate`` is the mean number of events per eligible subject per month (``only`` names the
    eligibility mask); ``drivers`` move it log-linearly, e.g. ``"stress+1.2 consc-.6"``;
    ``value`` and ``attrs`` are generator phrases read by ``behaviour``; ``months`` restricts
    the kind to calendar months, ``due`` dates filings on that day plus their ``days_late``.
    """

    kind: str
    subject: str
    rate: float
    drivers: str = ""
    only: str = ""
    value: str = ""
    attrs: tuple[tuple[str, str], ...] = ()
    months: tuple[int, ...] = ()
    due: int = 0
    negative: bool = False


def _s(who: str, kind: str, rates: float | tuple[float, float], drivers: str = "", *,
       only: str = "", value: str = "", months: tuple[int, ...] = (), due: int = 0,
       neg: bool = False, **attrs: str) -> tuple[Spec, ...]:
    """Specs for people (``p``), organisations (``o``) or both (``po``, rates as a pair)."""
    pairs = rates if isinstance(rates, tuple) else (rates,)
    return tuple(Spec(kind, subject, rate, drivers, only if subject == "person" or who == "o"
                      else "", value, tuple(attrs.items()), months, due, neg)
                 for subject, rate in zip([{"p": "person", "o": "organisation"}[c] for c in who],
                                          pairs, strict=True))


SEV, CASE = "minor:6 general:3 serious:1", "@case"
#: Every kind of the catalogue with plausible monthly rates (tabulated in docs/simulate.md).
SPECS: Final[tuple[Spec, ...]] = tuple(spec for group in (
    # finance
    _s("po", "bill_payment", (.3, .6), days_late="late .05 12 stress+.9 consc-.5",
       amount="logn 5.3 .8 org+2"),
    _s("po", "loan_default", (.0008, .0008), "stress+1.2 consc-.6", neg=True,
       value="logn 9.5 1 org+1.5", days_overdue="ints 90 720", principal="logn 10 1 org+1.5",
       loan_type="consumer:4(org-9) mortgage:1(org-9) credit_card:3 business:.5(org+4) "
       "student:.3(org-9) peer_to_peer:2"),
    _s("po", "debt_settled", (.0005, .0005), "stress+.8", value="logn 9 1 org+1.5",
       days_overdue="ints 30 720"),
    _s("po", "credit_inquiry", (.03, .02), "income+.3 young+.3 size+.5"),
    _s("po", "savings_balance", (.04, .05), "income+.5 size+.8 stress-.5",
       value="scaled wealth 1.5 1", months_held="ints 1 120"),
    _s("p", "income_report", .04, only="working", value="scaled wealth 0 .1", period="monthly:1",
       verified=".7 registered+.5"),
    _s("o", "income_report", .08, value="scaled wealth 0 .3", period="monthly:3 annual:1"),
    _s("po", "insurance_premium_payment", (.05, .08), "income+.4 edu+.2 size+.5",
       value="logn 6 .8 org+2", days_late="late .04 10 stress+.9 consc-.5"),
    _s("po", "insurance_claim", (.004, .003), "old+.5", value="logn 8 1.2 org+2",
       fraud_found=".01 consc-.8"),
    _s("po", "loan_guarantee_call", (.0002, .0004), "stress+.8", neg=True,
       value="logn 10 1 org+1", honoured=".6 stress-.8", days_late="late .4 60 stress+.8"),
    _s("o", "bankruptcy", .0002, "stress+1.5 dormant+.8", neg=True,
       procedure="liquidation:6 reorganisation:2 settlement:1"),
    # contract and consumption
    _s("po", "contract_fulfilment", (.04, .15), "consc+.3 income+.3 size+.5",
       amount="logn 7 1.2 org+3", on_time=".92 consc+.8 stress-.6"),
    _s("po", "contract_breach", (.0015, .004), "stress+.9 consc-.7", neg=True,
       severity="minor:6 material:3 fundamental:1", amount="logn 8 1.2 org+3"),
    _s("po", "purchase", (.15, .1), "income+.3 online+.3 size+.5", value="logn 4.8 1.1 org+3",
       platform="@shop", category="diapers:.2(baby+4 org-9) video_games:1(gaming+1 org-9) "
       "alcohol:1(male+.5 risk+.4) tobacco:.7(male+1 risk+.4 org-9) books:1(edu+.5) "
       "groceries:6 clothing:3 electronics:2 luxury_goods:.3(income+1.2) travel:1(income+.5) "
       "education:.5(child+1.5) household:3 other:2"),
    _s("p", "restaurant_no_show", .006, "consc-.8 young+.4", neg=True, party_size="ints 1 8"),
    _s("po", "rental_return", (.03, .01), "young+.5 online+.3",
       days_late="late .06 4 consc-.7 stress+.3", damaged=".02 consc-.5",
       deposit_free=".5 income+.8 consc+.3"),
    # transport
    _s("po", "traffic_offence", (.012, .008), "risk+.8 size+.6 consc-.3", only="driver",
       neg=True, severity="minor:7 moderate:2.5(risk+.5) serious:.5(risk+1)",
       licence_points="=points", fine="=fine", offence_type="speeding:4 red_light:2 "
       "drink_driving:.3(risk+1) no_licence:.2 lane_violation:3 other:1"),
    _s("po", "illegal_parking", (.01, .006), "risk+.4 size+.5", only="driver", neg=True,
       fine="ints 50 200", blocking=".15"),
    _s("p", "fare_dodging", .002, "risk+.6 stress+.5 young+.5", neg=True,
       mode="metro:6 bus:3 rail:1 ferry:.1", fare="logn 1.4 .5"),
    _s("po", "ticket_touting", (.00003, .00002), "risk+.5 stress+.8 consc-1", neg=True,
       mark_up="logn 4 .7"),
    _s("p", "unruly_passenger", .0002, "risk+.8", neg=True, mode="rail:3 air:1",
       severity="minor:7 moderate:2.5 serious:.5"),
    # civic
    _s("p", "blood_donation", .0015, "civic+1.5 registered+.5", only="donor",
       value="=blood_litres", donation_type="=blood_type"),
    _s("po", "volunteering", (.04, .004), "civic+1.6 registered+1.2 old+.3 size+.8 consc+.5",
       value="gam 2 1.6 org+2.5", organisation="@charity"),
    _s("po", "poverty_aid", (.002, .002), "civic+1.2 income+.5 size+.8",
       value="logn 5.5 1 org+3", hours="gam 2 2"),
    _s("po", "charitable_donation", (.015, .006), "civic+1 income+.8 size+1",
       value="logn 5 1.1 org+4"),
    _s("po", "petition", (.0006, .0001), "grievance+1.3 stress+.5", neg=True,
       level="township:3 county:3 city:2 province:1 central:.5", skip_level=".15 grievance+.8"),
    _s("po", "administrative_penalty", (.0015, .003), "risk+.7 consc-.6 size+.3", neg=True,
       severity="warning:5 fine:4 detention:.5(org-9)", fine="logn 5.5 .8 org+2.5"),
    _s("po", "garbage_sorting_violation", (.008, .004), "consc-.7 old+.2", neg=True,
       repeat=".2 consc-.6"),
    _s("p", "pet_ownership_violation", .004, "consc-.6", only="pet", neg=True),
    _s("po", "civic_honour", (.0002, .0004), "civic+2 registered+1.5 old+.5 consc+1.2 size+1",
       level="district:6 city:3 province:.8 national:.1", award="@award"),
    # social and family
    _s("po", "peer_rating", (.06, .06), "online+.5 young+.3", value="stars 4.3 .6 consc+.4",
       scale_max="const 5"),
    _s("po", "neighbour_complaint", (.003, .002), "consc-.6 risk+.3", neg=True, upheld=".5"),
    _s("p", "dating_activity", .08, "young+.8 online+.6", only="single",
       matches="poisson 3", messages_sent="poisson 20", score_on_profile=".2 income+.5"),
    _s("p", "parent_visit", .2, "civic+.3 consc+.3", only="parent_local",
       days_since_last="ints 1 45", lives_apart=".85"),
    _s("p", "parent_visit", .04, "civic+.3", only="parent_away", days_since_last="ints 60 400",
       lives_apart=".999"),
    _s("p", "elder_care", .03, "civic+.8", only="carer", value="gam 2 4"),
    _s("p", "marital_status", .004, status="@marital"),
    _s("p", "marriage_registration_falsified", .00002, "consc-1 risk+.5", only="married",
       neg=True),
    _s("p", "maintenance_default", .0004, "stress+1 consc-.8", only="divorced", neg=True,
       value="logn 7.5 .7"),
    # judicial
    _s("po", "court_judgment", (.0008, .003), "stress+1 consc-.5 risk+.3 size+.5", neg=True,
       value="logn 9.5 1.2 org+1.5", case_id=CASE, non_monetary=".1",
       case_type="civil:6 commercial:2(org+1.5) administrative:.5 criminal:.3"),
    _s("po", "enforcement_order", (.0004, .0015), "stress+1.2 consc-.6", neg=True,
       value="logn 9.5 1.2 org+1.5", case_id=CASE),
    _s("po", "dishonest_judgment_debtor", (.00015, .0005), "stress+1.4 consc-1", neg=True,
       case_id=CASE, aggravated=".05", trigger="refuse_to_perform:8 obstruct_enforcement:.5 "
       "fake_litigation_or_concealment:1 violate_asset_reporting:2 "
       "violate_spending_restriction:1.5 refuse_settlement:1"),
    _s("po", "judgment_performed", (.0005, .002), "stress+.6", value="logn 9.5 1.1 org+1.5",
       case_id=CASE, days_after_deadline="late .3 60 stress+.8 consc-.5"),
    _s("po", "criminal_conviction", (.0001, .00003), "risk+1.2 consc-.8 male+.8", neg=True,
       offence_class="fraud:2 violence:1.5(org-9) property:2.5(org-9) public_order:1.5 "
       "traffic:2(org-9) corruption:.2(org+3) other:1", sentence_months="ints 1 60"),
    # tax
    _s("p", "tax_filing", .35, only="taxpayer", months=(6,), due=30,
       tax_type="individual_income:1", days_late="late .06 20 consc-.8 stress+.4"),
    _s("o", "tax_filing", .7, due=15, days_late="late .04 12 consc-.8 stress+.6 dormant+.8"),
    _s("p", "tax_payment", .3, only="self_employed", due=15, value="scaled wealth -3 .4",
       days_late="late .08 15 consc-.8 stress+.8"),
    _s("o", "tax_payment", .6, "dormant-2", due=15, value="scaled wealth -2.5 .8",
       days_late="late .04 15 stress+1 consc-.6"),
    _s("o", "financial_statement_filing", .3, only="enterprise", due=15,
       period="monthly:1 quarterly:4 annual:1", days_late="late .05 15 consc-.8 dormant+1"),
    _s("o", "vat_return", .6, only="enterprise", due=15, value="=vat_value",
       zero_or_negative="=vat_zero", consecutive_zero_months="=vat_run",
       zero_returns_in_year="=vat_year"),
    _s("o", "invoice_irregularity", .0015, "consc-1 stress+.5", neg=True, value="logn 9 1.2"),
    _s("po", "tax_evasion", (.00002, .0001), "consc-1.2 income+1 risk+.5", neg=True,
       value="logn 11 1.2 org+1"),
    _s("o", "tax_credit_grade", 1.0, only="enterprise", months=(4,), value="=grade_points",
       grade="=grade", year="=last_year", assigned_directly=".01 consc-1"),
    _s("p", "social_security_contribution", .1, "registered+.8", only="employed", due=15,
       value="scaled wealth -2.25 .05", days_late="late .03 20 stress+.5",
       employees_covered="const 1", full_base=".75 registered+1.2 income+.5 edu+.3"),
    _s("o", "social_security_contribution", .6, "consc+.3", only="employer", due=15,
       value="=payroll", days_late="late .03 15 stress+1", employees_covered="=covered",
       full_base=".6 consc+.8 size+.5"),
    # business
    _s("o", "business_licence", .01, action="granted:2 renewed:6 suspended:.5 revoked:.2",
       licence_type="@licence"),
    _s("o", "business_violation", .004, "consc-.9", neg=True, severity=SEV, fine="logn 8 1"),
    _s("o", "product_quality_violation", .003, "consc-.9", only="manuf", neg=True,
       severity=SEV, recall=".1", product_category="@product"),
    _s("o", "environmental_violation", .004, "consc-1", only="manuf", neg=True, severity=SEV,
       fine="logn 10 1"),
    _s("o", "public_procurement", .006, "size+1.2 consc+.3", value="logn 12 1.3",
       outcome="awarded:5 completed:4 defaulted:.3(stress+1)"),
    _s("o", "procurement_violation", .0002, "consc-1 size+.5", neg=True),
    _s("o", "legal_representative_change", .003, "stress+.5", changes_in_year="ints 1 2",
       during_enforcement=".05 stress+1"),
    _s("o", "annual_report_filing", 1.0, only="not_new", months=(6,), due=30,
       days_late="late .08 60 consc-1 dormant+2", false_information=".01 consc-1"),
    _s("o", "abnormal_operation_listing", .0015, "dormant+2.5 consc-.5", neg=True,
       reason="no_annual_report:5 unreachable_address:4 false_information:.5 "
       "no_public_disclosure:1"),
    _s("o", "merchant_rating", .15, only="retail", value="stars 4.4 .5 consc+.3",
       scale_max="const 5", disputes="poisson .5 consc-.5"),
    # employment and identity
    _s("p", "employment_record", .04, status="@employment", months_in_job="=months_in_job"),
    _s("o", "wage_arrears", .0015, "stress+1.3 consc-.6 construction+1.2", only="employer",
       neg=True, value="logn 10 1", workers_affected="=covered", days_overdue="ints 15 180"),
    _s("p", "trade_union_membership", .004, "edu+.2", only="employed",
       role="member:10 representative:1 officer:.3"),
    _s("po", "identity_verification", (.03, .02), "online+.3",
       result="match:96 partial:3 mismatch:1(consc-1)"),
    _s("po", "profile_completeness", (.02, .02), "online+.4", value="unif 40 100",
       fields_verified="ints 1 12"),
    _s("po", "identity_fraud", (.00002, .00002), "risk+1 consc-1", neg=True,
       document="resident_id:5(org-9) passport:1(org-9) business_licence:.5(org+5) "
       "household_register:1(org-9) other:.5"),
    _s("p", "ethnicity_record", .002, only="all", ethnic_group="@ethnic"),
    _s("p", "religious_affiliation", .003, only="religious", religion="@religion",
       registered_venue=".9"),
    _s("o", "religious_affiliation", .002, only="social", religion="@religion",
       registered_venue=".95"),
    _s("p", "biometric_verification", .03, "online+.3",
       modality="face:8 fingerprint:2 iris:.1 voice:.3 gait:.1", matched=".98"),
    # education and online
    _s("p", "education_attainment", .003, only="age10", level="@education",
       verified=".8 edu+.5"),
    _s("p", "academic_misconduct", .0002, "consc-1", only="student", neg=True,
       misconduct="exam_cheating:6 plagiarism:3 degree_fraud:.5 data_fabrication:.5"),
    _s("o", "academic_misconduct", .0005, only="edu_org", neg=True),
    _s("p", "gaming_session", .06, "gaming+1.6", only="age10", value="gam 2 1.2 gaming+.5",
       platform="@console", late_night=".2 gaming+.8"),
    _s("p", "game_cheating", .0004, "gaming+1.5 consc-.8", only="age10", neg=True,
       game="@game", penalty="warning:5 suspension:3 ban:1"),
    _s("po", "online_post", (.06, .1), "online+1 size+.5", views="logn 4 1.5",
       flagged_spam=".02 risk+.5 org+1"),
    _s("po", "political_post", (.004, .0002), "grievance+1 edu+.4 online+.5",
       stance="supportive:3 neutral:4 critical:1(grievance+1 org-3)", removed=".05 grievance+.5"),
    _s("po", "platform_rule_violation", (.001, .002), "risk+.6 consc-.6 online+.5", neg=True),
    _s("p", "browsing_history", .04, "online+.6", value="gam 2 300"),
    _s("po", "newspaper_subscription", (.002, .004), "edu+.6 old+.5 size+.5",
       outlet_type="state:6 commercial:3 foreign:.3(edu+.8) independent:.2", title="=title"),
    # health, location, home, communication
    _s("p", "health_record", .05, "frailty+.8", only="all", chronic=".2 frailty+.8",
       record_type="diagnosis:4 prescription:4 hospitalisation:.5 disability:.1 vaccination:1"),
    _s("p", "health_insurance_claim", .02, "frailty+.8", value="logn 6.5 1.2",
       inpatient=".1 frailty+.7"),
    _s("p", "fitness_tracker_activity", .02, "income+.6 young+.3", value="ints 2000 15000",
       resting_heart_rate="ints 50 90", sleep_hours="norm 7 1"),
    _s("p", "location_trace", .02, "online+.3", value="poisson 200", precision_m="logn 3 1"),
    _s("p", "smart_home_statistics", .02, "income+.8", value="gam 2 40", energy_kwh="logn 3 1"),
    _s("po", "private_message", (.02, .02), "online+.5 size+.5", value="poisson 100 org+1",
       recipients="poisson 15", flagged_keyword=".005 grievance+.8"),
    _s("po", "call_record", (.02, .02), "old+.3 size+.5", value="gam 2 30",
       international=".02 edu+.5 size+.8"),
    # credit repair
    _s("po", "commitment_letter", (.0001, .0003), "stress+1", record_severity=SEV, case_id=CASE),
    _s("po", "credit_repair_completed", (.00006, .0002), "stress+1", record_severity=SEV,
       training_completed=".8"),
) for spec in group)
