"""The four guards, case by case: a live policy that breaks each is refused (GuardError), one
that does not compiles, and the breaking one in simulation mode compiles with the finding."""

from __future__ import annotations

import pytest

from glasscredit.catalogue import load_catalogue
from glasscredit.errors import Finding, GuardError, PolicyError
from glasscredit.policy.lint import GUARDS, dependence
from glasscredit.policy.load import compile_policy

LIVE = """\
policy: guarded
mode: live
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories:
  - name: finance
  - name: transport
rules:
  - id: late
    kind: bill_payment
    when: "days_late > 30"
    points: -20
    category: finance
    reason: Bill paid late
  - id: dodge
    kind: fare_dodging
    points: -10
    category: transport
    reason: Fare dodged
lists:
  - name: fare_dodgers
    type: blacklist
    context: transport
    enter: "hits.dodge >= 3"
    max_duration: 1y
measures:
  - name: credit_limit
    type: sanction
    context: finance
    when: "category.finance < -40"
    notice: {days: 30}
    appeal: {route: "Ombudsman of the finance bureau"}
"""

NETWORK = """\
policy: circles
mode: live
aggregation: weighted
scale: {min: 0, max: 100}
categories:
  - {name: own, weight: 0.8, curve: {type: linear, lo: -50, hi: 50}}
  - name: circle
    weight: 0.2
    curve: {type: linear, lo: 0, hi: 100}
    network: {relations: [friend]}
rules:
  - {id: late, kind: bill_payment, points: -25, category: own, reason: Late bill}
measures:
  - name: loan_offer
    type: privilege
    context: finance
    when: "category.own > 10"
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def at(text: str, snippet: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if snippet in line)


def with_rule(text: str, kind: str, points: int = -1) -> str:
    """Add a rule that nothing else reads (category transport), scoring ``kind``."""
    return edit(text, "lists:", f"  - {{id: spy, kind: {kind}, points: {points}, "
                f"category: transport, reason: Scores {kind}}}\nlists:")


def refused(text: str) -> list[Finding]:
    """The findings that refuse ``text`` live; the same policy in simulation reports them."""
    with pytest.raises(GuardError) as info:
        compile_policy(text, source="live.yaml")
    found = info.value.findings
    assert found and isinstance(info.value, ValueError)
    simulated = compile_policy(text.replace("mode: live", "mode: simulation"))
    assert list(simulated.findings) == found
    assert [f.line or 0 for f in found] == sorted(f.line or 0 for f in found)
    return found


def passes(text: str) -> None:
    assert compile_policy(text).findings == ()


def test_the_base_policies_pass_every_guard():
    passes(LIVE)
    passes(NETWORK)


def test_lint_false_skips_the_guards():
    assert compile_policy(with_rule(LIVE, "petition"), lint=False).findings == ()


# ------------------------------------------------------------------ 1. protected data

@pytest.mark.parametrize(("kind", "tag"), [
    ("petition", "petitioning"),
    ("political_post", "political_opinion"),
    ("newspaper_subscription", "political_opinion"),
    ("health_record", "health"),
    ("fitness_tracker_activity", "health"),
    ("location_trace", "location"),
    ("private_message", "private_communications"),
    ("call_record", "private_communications"),
    ("dating_activity", "sexual_orientation"),
    ("religious_affiliation", "religion"),
    ("ethnicity_record", "ethnicity"),
    ("trade_union_membership", "trade_union"),
    ("biometric_verification", "biometrics"),
])
def test_protected_kinds_are_refused(kind, tag):
    text = with_rule(LIVE, kind)
    assert refused(text) == [Finding("protected-data", "rule spy",
                                     f"scores event kind {kind!r}, protected as {tag}",
                                     at(text, f"kind: {kind}"))]


def test_every_protected_kind_in_the_catalogue_is_refused():
    for kind in load_catalogue().protected_kinds():
        assert [f.guard for f in refused(with_rule(LIVE, kind))] == ["protected-data"], kind


def test_unprotected_kinds_pass():
    for kind in ("blood_donation", "traffic_offence", "tax_payment", "court_judgment"):
        passes(with_rule(LIVE, kind))


def test_a_protected_kind_with_zero_points_is_still_refused():
    # counting petitions (for hits) is scoring them, whatever the points
    assert [f.subject for f in refused(with_rule(LIVE, "petition", 0))] == ["rule spy"]


# ------------------------------------------------------------------ 2. cross-context

def cross(subject: str, context: str, others: str, line: int) -> Finding:
    return Finding("cross-context", subject,
                   f"acts in context {context!r} on records from {others}; declare each in "
                   "linked_contexts with a justification, or drop it", line)


def test_cross_context_through_score():
    text = edit(LIVE, 'when: "category.finance < -40"', 'when: "score < 80"')
    assert refused(text) == [cross("sanction credit_limit", "finance", "'transport'",
                                   at(text, "score < 80"))]


def test_cross_context_through_band():
    text = edit(LIVE, 'when: "category.finance < -40"', "when: \"band == 'low'\"")
    text += "bands:\n  - {name: low, min: 0, max: 100}\n  - {name: high, min: 100, max: 200}\n"
    assert refused(text) == [cross("sanction credit_limit", "finance", "'transport'",
                                   at(text, "band == 'low'"))]


def test_cross_context_through_a_category():
    text = edit(LIVE, 'when: "category.finance < -40"', 'when: "category.transport < -40"')
    assert refused(text) == [cross("sanction credit_limit", "finance", "'transport'",
                                   at(text, "category.transport"))]


def test_cross_context_through_hits_and_points():
    for name in ("hits.dodge > 2", "points.dodge < -5"):
        text = edit(LIVE, 'when: "category.finance < -40"', f'when: "{name}"')
        assert refused(text) == [cross("sanction credit_limit", "finance", "'transport'",
                                       at(text, name))]


def test_cross_context_through_a_list():
    # a debt -> hotel ban: the finance sanction reads the transport blacklist
    text = edit(LIVE, 'when: "category.finance < -40"', 'when: "listed.fare_dodgers"')
    assert refused(text) == [cross("sanction credit_limit", "finance", "'transport'",
                                   at(text, "listed.fare_dodgers"))]


def test_cross_context_in_a_list_entry_and_exit():
    text = edit(LIVE, 'enter: "hits.dodge >= 3"', 'enter: "score < 50"')
    assert refused(text) == [cross("blacklist fare_dodgers", "transport", "'finance'",
                                   at(text, "score < 50"))]
    text = edit(LIVE, 'enter: "hits.dodge >= 3"',
                'enter: "hits.dodge >= 3"\n    exit: "hits.late == 0"')
    assert refused(text) == [cross("blacklist fare_dodgers", "transport", "'finance'",
                                   at(text, "hits.late == 0"))]


def test_cross_context_in_keep_while():
    text = edit(LIVE, "    notice:", "    hysteresis: {keep_while: 'hits.dodge > 0'}\n    notice:")
    assert refused(text) == [cross("sanction credit_limit", "finance", "'transport'",
                                   at(text, "keep_while"))]


def test_linked_contexts_with_justification_allow_the_link():
    text = edit(LIVE, 'when: "category.finance < -40"', 'when: "score < 80"')
    text = edit(text, "    notice:", "    linked_contexts:\n      - context: transport\n"
                "        justification: Unpaid fares are debts owed to the transit company.\n"
                "    notice:")
    passes(text)
    # a link to a different context does not cover this one
    wrong = edit(text, "      - context: transport", "      - context: civic")
    assert [f.guard for f in refused(wrong)] == ["cross-context"]
    # a link needs a real justification
    short = edit(text, "Unpaid fares are debts owed to the transit company.", "because")
    with pytest.raises(PolicyError) as info:
        compile_policy(short)
    assert [(p.path, p.line) for p in info.value.problems] == [
        ("measures[0].linked_contexts[0].justification", at(short, "justification"))]


def test_a_privilege_reading_a_score_made_in_its_own_context_passes():
    text = edit(LIVE, 'when: "category.finance < -40"', 'when: "score > 110"')
    text = edit(text, "type: sanction", "type: privilege")
    text = edit(text, "context: finance\n    when", "context: transport\n    when")
    # the score still reads finance: refused
    assert [f.guard for f in refused(text)] == ["cross-context"]
    # only transport rules: passes
    head, tail = text.split("  - id: late")
    only_transport = head + "  - id: dodge" + tail.split("  - id: dodge")[1]
    passes(only_transport)


def test_privileges_and_redlists_are_checked_too():
    # withholding a privilege is unfavourable treatment (AI Act Art. 5(1)(c))
    text = edit(LIVE, "type: blacklist", "type: redlist")
    text = edit(text, 'enter: "hits.dodge >= 3"', 'enter: "score > 120"')
    assert refused(text) == [cross("redlist fare_dodgers", "transport", "'finance'",
                                   at(text, "score > 120"))]


def test_rules_that_cannot_move_the_score_do_not_count():
    # a zero-point rule only counts hits: reading the score does not read its context
    text = edit(LIVE, "kind: fare_dodging\n    points: -10", "kind: fare_dodging\n    points: 0")
    text = edit(text, 'when: "category.finance < -40"', 'when: "score < 80"')
    passes(text)
    # ... but reading its hits does
    text = edit(text, 'when: "score < 80"', 'when: "hits.dodge > 1"')
    assert [f.guard for f in refused(text)] == ["cross-context"]


# ------------------------------------------------------------------ 3. others' conduct

def test_network_category_through_score():
    text = edit(NETWORK, 'when: "category.own > 10"', 'when: "score > 60"')
    assert refused(text) == [Finding(
        "others-conduct", "privilege loan_offer",
        "depends on other subjects' conduct (score includes the network category 'circle')",
        at(text, "score > 60"))]


def test_network_category_read_directly():
    text = edit(NETWORK, 'when: "category.own > 10"', 'when: "category.circle > 10"')
    assert refused(text) == [Finding(
        "others-conduct", "privilege loan_offer",
        "depends on other subjects' conduct (category.circle is a network category)",
        at(text, "category.circle"))]


def test_network_category_with_zero_weight_does_not_count():
    text = edit(NETWORK, "weight: 0.8", "weight: 1.0")
    text = edit(text, "weight: 0.2", "weight: 0")
    text = edit(text, 'when: "category.own > 10"', 'when: "score > 60"')
    passes(text)


def test_network_category_in_an_additive_policy_counts():
    text = edit(LIVE, "  - name: transport\n", "  - name: transport\n  - name: circle\n"
                "    network: {relations: [family]}\n")
    passes(text)  # nothing reads the score yet
    text = edit(text, 'when: "category.finance < -40"', 'when: "score < 80"')
    assert {f.guard for f in refused(text)} == {"cross-context", "others-conduct"}


def test_via_relation():
    text = edit(NETWORK, 'when: "category.own > 10"',
                'when: "category.own > 10"\n    via_relation: [family]')
    assert refused(text) == [Finding(
        "others-conduct", "privilege loan_offer",
        "applies through relations family: a subject is treated by another's record",
        at(text, "via_relation"))]


def test_a_list_whose_entry_reads_a_network_score():
    text = NETWORK + """\
lists:
  - name: untrusted
    type: blacklist
    context: finance
    enter: "score < 30"
    max_duration: 1y
"""
    found = refused(text)
    assert found == [Finding(
        "others-conduct", "blacklist untrusted",
        "depends on other subjects' conduct (score includes the network category 'circle')",
        at(text, "score < 30"))]
    # a measure reading that list inherits the dependence
    text = edit(text, 'when: "category.own > 10"', 'when: "not listed.untrusted"')
    found = refused(text)
    assert found[0] == Finding(
        "others-conduct", "privilege loan_offer",
        "depends on other subjects' conduct (listed.untrusted: score includes the network "
        "category 'circle')", at(text, "listed.untrusted"))
    assert found[1].subject == "blacklist untrusted"


def test_dependence_traces_names():
    cp = compile_policy(edit(NETWORK, 'when: "category.own > 10"', 'when: "score > 1"'),
                        lint=False)
    d = dependence(cp, cp.measure_when["loan_offer"])
    assert d.contexts == frozenset({"finance"}) and d.others
    assert dependence(cp, None).contexts == frozenset()


# ------------------------------------------------------------------ 4. due process

@pytest.mark.parametrize(("old", "new", "missing"), [
    ("    notice: {days: 30}\n", "", "notice"),
    ('    appeal: {route: "Ombudsman of the finance bureau"}\n', "", "an appeal route"),
    ("    notice: {days: 30}\n", "    notice: {days: 30}\n    reasons: false\n", "reasons"),
    ('    notice: {days: 30}\n    appeal: {route: "Ombudsman of the finance bureau"}\n',
     "    reasons: false\n", "notice, reasons, an appeal route"),
])
def test_sanction_without_notice_reasons_or_appeal(old, new, missing):
    text = edit(LIVE, old, new)
    assert refused(text) == [Finding("due-process", "sanction credit_limit",
                                     f"sanction without {missing}", at(text, "- name: credit"))]


def test_a_privilege_needs_no_notice():
    text = edit(LIVE, "type: sanction", "type: privilege")
    text = edit(text, "    notice: {days: 30}\n", "")
    passes(text)


def test_list_without_max_duration():
    text = edit(LIVE, "    max_duration: 1y\n", "")
    assert refused(text) == [Finding("due-process", "blacklist fare_dodgers",
                                     "has no max_duration: a listing must end",
                                     at(text, "- name: fare_dodgers"))]


# ------------------------------------------------------------------ all at once

def test_every_guard_at_once_in_line_order():
    text = with_rule(LIVE, "petition")
    text = edit(text, "    max_duration: 1y\n", "")
    text = edit(text, 'when: "category.finance < -40"', 'when: "listed.fare_dodgers"\n'
                "    via_relation: [family]")
    text = edit(text, "    notice: {days: 30}\n", "")
    found = refused(text)
    assert [(f.guard, f.subject, f.line) for f in found] == [
        ("protected-data", "rule spy", at(text, "kind: petition")),
        ("due-process", "blacklist fare_dodgers", at(text, "- name: fare_dodgers")),
        ("due-process", "sanction credit_limit", at(text, "- name: credit_limit")),
        ("cross-context", "sanction credit_limit", at(text, "listed.fare_dodgers")),
        ("others-conduct", "sanction credit_limit", at(text, "via_relation")),
    ]
    assert {f.guard for f in found} == set(GUARDS)
    with pytest.raises(GuardError) as info:
        compile_policy(text, source="live.yaml")
    assert str(info.value).splitlines()[0] == "live policy refused: 5 guard violation(s):"
    assert str(info.value).splitlines()[1] == (
        f"  live.yaml: line {at(text, 'kind: petition')}: [protected-data] rule spy: scores "
        "event kind 'petition', protected as petitioning")
