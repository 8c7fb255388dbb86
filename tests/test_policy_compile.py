"""The policy compiler refuses bad input with every problem at once, each at its line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glasscredit.errors import GuardError, PolicyError, Problem
from glasscredit.policy.load import compile_policy, load_policy
from glasscredit.policy.model import parse_duration

GOOD = """\
policy: city_rewards
mode: simulation
aggregation: additive
scale: {min: 0, max: 200, start: 100}
categories:
  - name: civic
  - name: finance
rules:
  - id: late
    kind: bill_payment
    when: "days_late > 30"
    points: -20
    category: finance
    reason: Bill paid late
  - id: blood
    kind: blood_donation
    points_per_unit: 10
    category: civic
    reason: Blood donated
bands:
  - {name: low, min: 0, max: 100}
  - {name: high, min: 100, max: 200}
lists:
  - name: late_payers
    type: blacklist
    context: finance
    enter: "hits.late >= 3"
    min_duration: 90d
    max_duration: 2y
measures:
  - name: loan_limit
    type: sanction
    context: finance
    when: "listed.late_payers"
    notice: {days: 30}
    appeal: {route: finance bureau}
"""

WEIGHTED = """\
policy: sesame_mini
mode: simulation
aggregation: weighted
scale: {min: 350, max: 950}
categories:
  - name: history
    weight: 0.6
    curve: {type: linear, lo: -100, hi: 100}
  - name: capacity
    weight: 0.4
    curve: {type: logistic, mid: 0, scale: 50}
rules:
  - {id: late, kind: bill_payment, when: "days_late > 30", points: -40, category: history,
     reason: Bill paid late}
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def at(text: str, snippet: str) -> int:
    """The 1-based line of the first line containing ``snippet``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if snippet in line)


def problems(text: str) -> list[Problem]:
    with pytest.raises(PolicyError) as info:
        compile_policy(text, source="p.yaml")
    assert info.value.source == "p.yaml"
    assert isinstance(info.value, ValueError)  # input errors are ValueErrors
    return info.value.problems


def one(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_the_base_policies_compile():
    cp = compile_policy(GOOD)
    assert cp.name == "city_rewards" and cp.findings == ()
    assert cp.version_id.startswith("city_rewards@1#") and len(cp.content_hash) == 64
    assert cp.rule_contexts == {"late": "finance", "blood": "civic"}
    assert compile_policy(WEIGHTED).policy.aggregation == "weighted"


def test_malformed_yaml_names_line_and_column():
    text = GOOD + "  - name: x\n   type: [\n"
    p = one(text)
    assert (p.line, p.column, p.path) == (at(text, "type: ["), 4, "")
    assert p.message == ("malformed YAML (column 4): expected <block end>, "
                         "but found '<block mapping start>'")
    p = one("policy: p\n\tmode: live\n")
    assert (p.line, p.column) == (2, 1)
    assert p.message == ("malformed YAML (column 1): found character '\\t' that cannot start "
                         "any token")


@pytest.mark.parametrize(("text", "message"), [
    ("", "the document is empty"),
    ("# only a comment\n", "the document is empty"),
    ("- a\n- b\n", "a policy is a mapping of fields"),
])
def test_not_a_policy_at_all(text, message):
    assert one(text) == Problem(message, "", 1)


def test_duplicate_key():
    text = GOOD + "mode: live\n"
    assert one(text) == Problem("duplicate key 'mode'", "mode", at(text, "mode: live"))


def test_unknown_top_level_field_with_suggestion():
    text = edit(GOOD, "bands:", "colour: red\nband:\n  - {name: x, min: 0, max: 1}\nbands:")
    assert problems(text) == [
        Problem("unknown field 'colour'", "colour", at(text, "colour")),
        Problem("unknown field 'band' (did you mean 'bands'?)", "band", at(text, "band:")),
    ]


def test_unknown_nested_field_points_at_its_key():
    text = edit(GOOD, "    points: -20\n", "    points: -20\n    halflife: 90d\n")
    assert one(text) == Problem("unknown field 'halflife' (did you mean 'half_life'?)",
                                "rules[0].halflife", at(text, "halflife"))


def test_missing_required_fields():
    text = edit(GOOD, "mode: simulation\n", "")
    assert one(text) == Problem("missing required field 'mode'", "mode", 1)
    text = edit(GOOD, "    reason: Bill paid late\n", "")
    assert one(text) == Problem("missing required field 'reason'", "rules[0].reason",
                                at(text, "- id: late"))


def test_unknown_event_kind_with_suggestion():
    text = edit(GOOD, "kind: bill_payment", "kind: bill_paymnt")
    assert one(text) == Problem("unknown event kind 'bill_paymnt' (did you mean 'bill_payment'?)",
                                "rules[0].kind", 10)


def test_unknown_attribute_in_a_condition_with_suggestion_and_column():
    text = edit(GOOD, "days_late > 30", "dayz_late > 30")
    assert one(text) == Problem(
        "condition 'dayz_late > 30': unknown name 'dayz_late' (did you mean 'days_late'?); "
        "known: amount, bill_type, days_late, value", "rules[0].when", 11, 12)


def test_a_condition_naming_an_attribute_the_kind_does_not_have():
    # blood donations have no days_late: the condition could never be evaluated
    text = edit(GOOD, "    points_per_unit: 10\n",
                "    when: days_late > 3\n    points_per_unit: 10\n")
    assert one(text) == Problem(
        "condition 'days_late > 3': unknown name 'days_late'; known: donation_type, value",
        "rules[1].when", at(text, "when: days_late"), 11)


def test_a_condition_that_does_not_parse_names_its_column():
    text = edit(GOOD, "days_late > 30", "days_late > > 30")
    # column in the file: the opening quote is column 11, the second '>' column 24
    assert one(text) == Problem(
        "condition 'days_late > > 30': expected a value, a name or '(' at column 13, found '>'",
        "rules[0].when", 11, 24)


def test_conditions_in_flow_mappings_and_block_scalars():
    text = edit(WEIGHTED, 'when: "days_late > 30"', 'when: "days_late >= 3O"')
    p = one(text)
    assert (p.line, p.column) == (13, 57)  # the 'O' of '3O'
    text = edit(GOOD, 'when: "days_late > 30"', "when: >-\n      days_late\n      > > 30")
    p = one(text)
    # a folded scalar: the line where it starts, and no column rather than a wrong one
    assert (p.line, p.column) == (11, None)


@pytest.mark.parametrize(("condition", "message", "column"), [
    ("days_late + 1", "condition 'days_late + 1' is not true/false", None),
    ("days_late == 'x'",
     "condition \"days_late == 'x'\": cannot compare number with string using '=='", 12),
    ("bill_type == 'rnt'",
     "condition \"bill_type == 'rnt'\": 'rnt' is not a value of 'bill_type' (did you mean "
     "'rent'?); values: utility, phone, rent, credit_card, loan_instalment, other", 25),
    ("bill_type < 'rent'",
     "condition \"bill_type < 'rent'\": '<' does not order the values of 'bill_type'; "
     "list the ones you mean with 'in (...)'", 12),
    ("bill_type in ('rent', 1)",
     "condition \"bill_type in ('rent', 1)\": 'in' compares a string with the number 1", 34),
    ("days_late > 30 and amount", "condition 'days_late > 30 and amount': 'and' joins "
     "conditions, got bool and number", 12),
    ("days_late = null", "condition 'days_late = null': expected a value (test for null with "
     "'is null' or 'is not null') at column 13, found 'null'", 24),
    ("bill_type == 'rent", "condition \"bill_type == 'rent\": unterminated string at column 14",
     25),
])
def test_conditions_that_do_not_type_check(condition, message, column):
    text = edit(GOOD, '"days_late > 30"', f'"{condition}"')
    assert one(text) == Problem(message, "rules[0].when", 11, column)


def test_weights_must_sum_to_one():
    text = edit(WEIGHTED, "weight: 0.4", "weight: 0.5")
    assert one(text) == Problem("category weights sum to 1.1 (0.6 + 0.5), not 1", "categories", 5)


def test_weight_out_of_range_points_at_the_weight_line():
    text = edit(WEIGHTED, "weight: 0.4", "weight: 1.5")
    assert problems(text) == [
        Problem("Input should be less than or equal to 1", "categories[1].weight",
                at(text, "weight: 1.5"))]


def test_weighted_category_needs_weight_and_curve():
    text = edit(WEIGHTED, "    curve: {type: logistic, mid: 0, scale: 50}\n", "")
    assert one(text) == Problem("category 'capacity' needs a curve (aggregation: weighted)",
                                "categories[1]", 9)
    text = edit(WEIGHTED, "    weight: 0.4\n", "")
    assert one(text) == Problem("category 'capacity' needs a weight (aggregation: weighted)",
                                "categories[1]", 9)


def test_bad_curves():
    text = edit(WEIGHTED, "lo: -100, hi: 100", "lo: 100, hi: -100")
    assert one(text) == Problem("curve lo 100.0 must be below hi -100.0", "categories[0].curve", 8)
    text = edit(WEIGHTED, "mid: 0, scale: 50", "mid: 0")
    assert one(text) == Problem("a logistic curve needs mid and scale", "categories[1].curve", 11)


def test_overlapping_bands_and_band_outside_the_scale():
    text = edit(GOOD, "{name: high, min: 100, max: 200}", "{name: high, min: 90, max: 210}")
    line = at(text, "name: high")
    assert problems(text) == [
        Problem("band 'high' [90, 210) overlaps band 'low' [0, 100)", "bands[1]", line),
        Problem("band 'high' [90, 210) reaches outside the scale 0..200", "bands[1]", line),
    ]
    text = edit(GOOD, "{name: low, min: 0, max: 100}", "{name: low, min: 100, max: 0}")
    assert one(text) == Problem("band 'low': min 100.0 must be below max 0.0", "bands[0]",
                                at(text, "name: low"))


def test_scale_order():
    text = edit(GOOD, "{min: 0, max: 200, start: 100}", "{min: 0, max: 200, start: 300}")
    assert one(text) == Problem("scale start 300.0 is outside 0.0..200.0", "scale", 4)


def test_duplicate_names_in_every_section():
    text = edit(GOOD, "  - id: blood\n", "  - id: late\n")
    assert one(text) == Problem("duplicate id 'late' (first at line 9)", "rules[1].id", 15)
    text = edit(GOOD, "  - name: finance\n", "  - name: civic\n")
    p = problems(text)
    assert p[0] == Problem("duplicate name 'civic' (first at line 6)", "categories[1].name", 7)


def test_points_both_or_neither():
    text = edit(GOOD, "    points_per_unit: 10\n", "    points: 5\n    points_per_unit: 10\n")
    assert one(text) == Problem("give points or points_per_unit, not both",
                                "rules[1].points_per_unit", at(text, "points_per_unit"))
    text = edit(GOOD, "    points: -20\n", "")
    assert one(text) == Problem("a rule needs points or points_per_unit", "rules[0]", 9)


@pytest.mark.parametrize(("written", "message"), [
    ("90", "a duration is a number and a unit (s, min, h, d, w, y) like '90d', '2y', '12h'; "
           "got 90"),
    ("-3d", "a duration must be positive; got '-3d'"),
    ("0d", "a duration must be positive; got '0d'"),
    ("3 parsecs", "a duration is a number and a unit (s, min, h, d, w, y) like '90d', '2y', "
                  "'12h'; got '3 parsecs'"),
    ("true", "a duration is a number and a unit (s, min, h, d, w, y) like '90d', '2y', '12h'; "
             "got True"),
])
def test_bad_durations(written, message):
    text = edit(GOOD, "    points: -20\n", f"    points: -20\n    half_life: {written}\n")
    assert one(text) == Problem(message, "rules[0].half_life", at(text, "half_life"))


def test_durations_in_every_unit():
    assert [parse_duration(x) for x in ("30s", "5min", "12h", "90d", "2w", "2y", "1.5d")] == [
        30, 300, 43200, 90 * 86400, 14 * 86400, 730 * 86400, 1.5 * 86400]


def test_clip_low_above_high():
    text = edit(GOOD, "    points_per_unit: 10\n", "    points_per_unit: 10\n    clip: [5, 1]\n")
    assert one(text) == Problem("clip [5, 1]: low is above high", "rules[1].clip",
                                at(text, "clip"))


def test_list_min_duration_longer_than_max():
    text = edit(GOOD, "max_duration: 2y", "max_duration: 30d")
    assert one(text) == Problem("max_duration 30d is shorter than min_duration 90d",
                                "lists[0].max_duration", at(text, "max_duration"))


def test_unknown_contexts_on_lists_measures_and_links():
    text = edit(GOOD, "    context: finance\n    when", "    context: financ_\n    when")
    text = edit(text, "    notice:", "    linked_contexts:\n      - {context: transprt, "
                "justification: because it is so}\n    notice:")
    assert problems(text) == [
        Problem("unknown context 'financ_' (did you mean 'finance'?)", "measures[0].context",
                at(text, "context: financ_")),
        Problem("unknown context 'transprt' (did you mean 'transport'?)",
                "measures[0].linked_contexts[0].context", at(text, "transprt")),
    ]


def test_low_water_needs_a_threshold_condition():
    text = edit(GOOD, "    notice:", "    hysteresis: {low_water: 0.9}\n    notice:")
    assert one(text) == Problem("low_water needs a condition of the form 'score >= N', not "
                                "'listed.late_payers'; use keep_while otherwise",
                                "measures[0].hysteresis.low_water", at(text, "low_water"))
    ok = edit(text, '"listed.late_payers"', '"score >= 150"')
    cp = compile_policy(ok)
    keep = cp.measure_keep["loan_limit"]
    assert keep is not None and keep.right.value == pytest.approx(135.0)


def test_keep_while_is_checked_like_when():
    text = edit(GOOD, "    notice:", "    hysteresis: {keep_while: 'scor > 3'}\n    notice:")
    p = one(text)
    assert p.path == "measures[0].hysteresis.keep_while" and p.line == at(text, "keep_while")
    assert "unknown name 'scor' (did you mean 'score'?)" in p.message


def test_network_category_cannot_have_rules():
    text = edit(GOOD, "  - name: civic\n", "  - name: civic\n    network: {relations: [friend]}\n")
    assert one(text) == Problem("network category 'civic' cannot also have rules: it is computed "
                                "from related subjects' scores", "categories[0].network", 7)


def test_at_most_one_network_category():
    text = edit(GOOD, "  - name: civic\n", "  - name: civic\n  - name: friends\n    network: "
                "{relations: [friend]}\n  - name: family\n    network: {relations: [family]}\n")
    assert one(text) == Problem("category 'family': a policy has at most one network category "
                                "(the first is 'friends')", "categories[2].network",
                                at(text, "[family]"))


def test_unknown_category_in_a_rule():
    text = edit(GOOD, "category: finance", "category: financ")
    assert one(text) == Problem("unknown category 'financ' (did you mean 'finance'?); declared: "
                                "civic, finance", "rules[0].category", 13)


def test_measure_and_list_conditions_check_their_names():
    text = edit(GOOD, '"hits.late >= 3"', '"hits.lat >= 3 or listed.late_payers"')
    p = one(text)
    assert (p.path, p.line, p.column) == ("lists[0].enter", at(text, "hits.lat"), 13)
    assert p.message.startswith("condition 'hits.lat >= 3 or listed.late_payers': unknown name "
                                "'hits.lat' (did you mean 'hits.late'?); known: band, ")
    text = edit(GOOD, '"listed.late_payers"', "\"band == 'hgh'\"")
    assert one(text).message == ("condition \"band == 'hgh'\": 'hgh' is not a value of 'band' "
                                 "(did you mean 'high'?); values: low, high")


def test_subject_kind_mismatch():
    text = edit(GOOD, "aggregation: additive", "subject_kind: organisation\naggregation: additive")
    assert one(text) == Problem("kind 'blood_donation' is not recorded about a organisation",
                                "rules[1].kind", at(text, "kind: blood_donation"))


def test_bad_names_and_enums_read_plainly():
    text = edit(GOOD, "policy: city_rewards", "policy: City Rewards")
    assert one(text) == Problem("'City Rewards' is not a valid name: use lowercase letters, "
                                "digits and '_', starting with a letter", "policy", 1)
    text = edit(GOOD, "mode: simulation", "mode: testing")
    assert one(text) == Problem("Input should be 'live' or 'simulation'", "mode", 2)


def test_numeric_version_and_empty_sections_are_fine():
    text = GOOD.replace("policy: city_rewards\n", "policy: city_rewards\nversion: 2\n")
    text = text.split("bands:")[0] + "bands:\nlists:\nmeasures:\n"
    cp = compile_policy(text)
    assert cp.policy.version == "2" and cp.policy.bands == [] and cp.policy.measures == []


def test_every_problem_at_once_sorted_by_line():
    text = """\
policy: many_mistakes
mode: simulation
aggregation: weighted
scale: {min: 350, max: 950}
colour: red
categories:
  - name: history
    weight: 0.7
    curve: {type: linear, lo: -100, hi: 100}
  - name: capacity
    weight: 0.4
rules:
  - id: late
    kind: bill_paymnt
    points: -40
    category: history
    reason: Bill paid late
  - id: late
    kind: bill_payment
    when: "dayz_late > 30"
    points: -40
    points_per_unit: 2
    category: histroy
    half_life: 90
    reason: Bill paid very late
  - id: savings
    kind: savings_balance
    when: "value + 1"
    points_per_unit: 0.001
    clip: [100, 0]
    category: capacity
    valid_for: 3 parsecs
    reason: Savings
bands:
  - {name: poor, min: 350, max: 600}
  - {name: good, min: 550, max: 1000}
lists:
  - name: debtors
    type: blacklist
    context: financ
    enter: "hits.late >= > 1"
    min_duration: 2y
    max_duration: 90d
"""
    found = problems(text)
    assert [(p.line, p.message) for p in found] == [
        (5, "unknown field 'colour'"),
        (6, "category weights sum to 1.1 (0.7 + 0.4), not 1"),
        (10, "category 'capacity' needs a curve (aggregation: weighted)"),
        (14, "unknown event kind 'bill_paymnt' (did you mean 'bill_payment'?)"),
        (18, "duplicate id 'late' (first at line 13)"),
        (20, "condition 'dayz_late > 30': unknown name 'dayz_late' (did you mean 'days_late'?); "
             "known: amount, bill_type, days_late, value"),
        (22, "give points or points_per_unit, not both"),
        (23, "unknown category 'histroy' (did you mean 'history'?); declared: capacity, "
             "history"),
        (24, "a duration is a number and a unit (s, min, h, d, w, y) like '90d', '2y', '12h'; "
             "got 90"),
        (28, "condition 'value + 1' is not true/false"),
        (30, "clip [100, 0]: low is above high"),
        (32, "a duration is a number and a unit (s, min, h, d, w, y) like '90d', '2y', '12h'; "
             "got '3 parsecs'"),
        (36, "band 'good' [550, 1000) overlaps band 'poor' [350, 600)"),
        (36, "band 'good' [550, 1000) reaches outside the scale 350..950"),
        (40, "unknown context 'financ' (did you mean 'finance'?)"),
        (41, "condition 'hits.late >= > 1': expected a value, a name or '(' at column 14, "
             "found '>'"),
        (43, "max_duration 90d is shorter than min_duration 2y"),
    ]
    assert [p.line for p in found] == sorted(p.line for p in found)
    assert str(found[0]) == "line 5 at colour: unknown field 'colour'"


def test_a_broken_item_does_not_cascade():
    # the category fails validation, but rules naming it do not also report it unknown
    text = edit(WEIGHTED, "    weight: 0.6\n", "    weight: lots\n")
    assert one(text) == Problem("Input should be a valid number, unable to parse string as a "
                                "number", "categories[0].weight", 7)


def test_a_broken_section_does_not_cascade():
    # categories is not a list: rules and conditions naming categories are not also errors
    text = edit(GOOD, "  - name: civic\n  - name: finance\n", "  civic: {}\n")
    text = edit(text, '"listed.late_payers"', '"listed.late_payers and category.civic < 0"')
    assert one(text) == Problem("Input should be a valid list", "categories", 5)
    # a rule without a readable id: conditions naming hits of it are not errors
    text = edit(GOOD, "  - id: late\n", "  - kind_of: late\n")
    assert [p.message for p in problems(text)] == ["missing required field 'id'",
                                                   "unknown field 'kind_of' (did you mean 'kind'?)"]


def test_module_doctests():
    import doctest

    from glasscredit.policy import load, model, yamlsrc

    for module in (load, model, yamlsrc):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_load_policy_reads_files_and_reports_unreadable_ones(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(GOOD, encoding="utf-8")
    assert load_policy(f).name == "city_rewards"
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "missing.yaml")
    assert info.value.problems == [Problem("cannot read policy: No such file or directory")]
    assert info.value.source.endswith("missing.yaml")


def test_shipped_examples_compile():
    from glasscredit.examples import path

    assert load_policy(path("volunteer_rewards.yaml")).findings == ()
    assert {f.guard for f in load_policy(path("sesame_like.yaml")).findings} == {
        "cross-context", "others-conduct"}


_VALUES = ["", "1", "-1", "0", "1.5", "x", "[]", "{}", "[1, 2]", "{a: 1}", "null", "true",
           "'a'", "90d", "-3d", '"score >"', '"hits.late >= 1"', "live", "finance", "&a x",
           "*a", "'", "{", "policy", "- 1"]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mangled_policies_fail_cleanly(data):
    """Whatever is done to a policy, it compiles or raises PolicyError: never another error."""
    lines = data.draw(st.sampled_from([GOOD, WEIGHTED])).splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "value", "indent"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = "  " + lines[i]
        elif ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {data.draw(st.sampled_from(_VALUES))}"
        if not lines:
            break
    try:
        compile_policy("\n".join(lines) + "\n")
    except (PolicyError, GuardError) as exc:
        problems_ = getattr(exc, "problems", None) or getattr(exc, "findings", None)
        assert problems_


def test_relation_types_come_from_one_vocabulary():
    text = edit(WEIGHTED, "    curve: {type: logistic, mid: 0, scale: 50}\n",
                "    curve: {type: logistic, mid: 0, scale: 50}\n"
                "  - name: circle\n    weight: 0\n    curve: {type: linear, lo: 350, hi: 950}\n"
                "    network: {relations: [freind], aggregate: mean}\n")
    p = one(text)
    assert p.message.startswith("unknown relation type 'freind' (did you mean 'friend'?)")
    assert p.path == "categories[2].network.relations[0]"
    assert p.line == at(text, "network: {relations: [freind]")
    measure = (WEIGHTED + "measures:\n  - {name: school_ban, type: sanction, context: education,"
               " when: \"score < 400\", via_relation: [famly], notice: {days: 30},"
               " appeal: {route: \"school board\"}}\n")
    p = one(measure)
    assert "unknown relation type 'famly' (did you mean 'family'?)" in p.message
    assert p.path == "measures[0].via_relation[0]"
