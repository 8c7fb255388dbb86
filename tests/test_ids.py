"""GB 11643 resident ids and GB 32100 credit codes: validation, reasons, generators and the CLI.

The detection law both checksums obey, and which the property tests below pin:

* MOD 11-2: with X = 10, a resident id a1..a18 is valid iff sum(a_i * 2**(18 - i)) = 1 (mod 11);
  the published weights 7 9 10 5 8 4 2 1 6 3 ... are 2**17 .. 2**1 mod 11; the check weighs 1.
* MOD 31: with GB 32100 values v1..v18 (0-30), a credit code is valid iff
  sum(v_i * 3**(i - 1) for i <= 17) + v18 = 0 (mod 31).

Both moduli are prime, no weight is 0 modulo them and every character value is below the modulus,
so replacing one character changes the sum by w * delta with w, delta != 0 (mod p): **every single
substitution is detected**. Neighbouring weights also differ (ratios 2 and 3, and the last body
weight differs from the check's weight 1), so every adjacent transposition of two different
characters is detected as well. A change that breaks the format (a letter among the digits, a
non-date) is refused even earlier, so in every case the altered id raises IdError.
"""

from __future__ import annotations

import contextlib
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from glasscredit.cli import app
from glasscredit.errors import IdError, InputError
from glasscredit.ids import (
    USCC,
    USCC_ALPHABET,
    ResidentId,
    check_id,
    generate_resident_ids,
    generate_usccs,
    resident_id,
    uscc,
    validate_resident_id,
    validate_uscc,
)

VALID_RESIDENT = {
    "11010519491231002X": ("110105", date(1949, 12, 31), 2, "F"),
    "34052419800101001X": ("340524", date(1980, 1, 1), 1, "M"),
    "513200199909060190": ("513200", date(1999, 9, 6), 19, "M"),
}
VALID_USCC = "91110000600037341L"
LEGACY_USCC = "91350100M0001TGQXM"
RESIDENT_CHARS = "0123456789X"
DIGITS = "0123456789"


def reason(call, *args, **kwargs) -> str:
    with pytest.raises(IdError) as caught:
        call(*args, **kwargs)
    return caught.value.reason


def resident_sum(value: str) -> int:
    return sum(RESIDENT_CHARS.index(c) * 2 ** (17 - i) for i, c in enumerate(value)) % 11


def uscc_sum(value: str) -> int:
    values = [USCC_ALPHABET.index(c) for c in value]
    return (sum(v * 3**i for i, v in enumerate(values[:17])) + values[17]) % 31


# --- the examples from DOMAIN.md ------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), VALID_RESIDENT.items())
def test_domain_resident_ids_are_valid(value: str, expected: tuple) -> None:
    parsed = validate_resident_id(value)
    assert (parsed.area, parsed.birth_date, parsed.sequence, parsed.sex) == expected
    assert parsed.value == value
    assert check_id(value) == parsed


def test_hand_worked_resident_check_character() -> None:
    # 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2   (11010519491231002, body of 11010519491231002X)
    # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    # 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167;  167 mod 11 = 2;  "10X98765432"[2] = 'X'
    assert resident_id("110105", date(1949, 12, 31), 2) == "11010519491231002X"
    # 5 1 3 2 0 0 1 9 9 9 0 9 0 6 0 1 9 -> 35+9+30+10+0+0+2+9+54+27+0+81+0+30+0+4+18 = 309
    # 309 mod 11 = 1;  "10X98765432"[1] = '0'
    assert resident_id("513200", date(1999, 9, 6), 19) == "513200199909060190"


def test_domain_uscc_is_valid_with_its_parts() -> None:
    assert validate_uscc(VALID_USCC) == USCC(VALID_USCC, "9", "1", "110000", "600037341", False)
    assert check_id(VALID_USCC) == validate_uscc(VALID_USCC)


def test_hand_worked_uscc_and_organisation_check_characters() -> None:
    # GB 11714 on 60003734: 6*3 + 0*7 + 0*9 + 0*10 + 3*5 + 7*8 + 3*4 + 4*2 = 109;
    # 109 mod 11 = 10;  11 - 10 = 1  -> position 17 is '1'
    # GB 32100 on 91110000600037341 with weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
    # 9+3+9+27+0+0+0+0+120+0+0+0+24+168+30+120+28 = 538;  538 mod 31 = 11;  31 - 11 = 20 -> 'L'
    assert uscc("9", "1", "110000", "60003734") == VALID_USCC


def test_lower_case_letters_are_normalised() -> None:
    assert validate_resident_id("11010519491231002x").value == "11010519491231002X"
    assert validate_uscc(VALID_USCC.lower()).value == VALID_USCC


def test_legacy_pilot_code_needs_the_flag() -> None:
    assert reason(validate_uscc, LEGACY_USCC) == "check character is 'M', expected '1'"
    assert reason(check_id, LEGACY_USCC) == "check character is 'M', expected '1'"
    parsed = validate_uscc(LEGACY_USCC, allow_legacy=True)
    assert parsed.legacy
    assert (parsed.area, parsed.org_code) == ("350100", "M0001TGQX")
    assert check_id(LEGACY_USCC, allow_legacy=True) == parsed
    assert not validate_uscc(VALID_USCC, allow_legacy=True).legacy


def test_errors_are_input_errors_with_structured_fields() -> None:
    with pytest.raises(IdError) as caught:
        validate_resident_id("110105194912310023")
    assert isinstance(caught.value, InputError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.value == "110105194912310023"
    assert str(caught.value) == "'110105194912310023': check character is '3', expected 'X'"


# --- one test per kind of failure, exact wording ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1101051949123100", "length is 16, expected 18"),
        ("11010519A91231002X", "character 'A' at position 9 is not a digit"),
        ("11010519491231002Y", "character 'Y' at position 18 is not a digit or 'X'"),
        ("000000194912310023", "area code '000000' must be 6 digits, not 000000"),
        ("11010519491331002X", "birth date '19491331' is not a calendar date in 1800-2099"),
        ("11010517991231002X", "birth date '17991231' is not a calendar date in 1800-2099"),
        ("110105194912310023", "check character is '3', expected 'X'"),
    ],
)
def test_resident_id_failure_reasons(value: str, expected: str) -> None:
    assert reason(validate_resident_id, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91110000600037341", "length is 17, expected 18"),
        ("9111000060003734IL", "character 'I' at position 17 is not allowed "
                               "(GB 32100 uses 0-9 and A-Z without I, O, Z, S, V)"),
        ("91AA0000600037341L", "character 'A' at position 3 is not a digit "
                               "(positions 3-8 hold the area code)"),
        ("91000000600037341L", "area code '000000' must be 6 digits, not 000000"),
        ("91110000600037342L", "check character is 'L', expected 'P'"),
        ("91110000600037342P", "organisation code check character (position 17) is '2', "
                               "expected '1'"),
    ],
)
def test_uscc_failure_reasons(value: str, expected: str) -> None:
    assert reason(validate_uscc, value) == expected


def test_check_id_reports_the_likely_kind() -> None:
    # 17 digits and a real birth date: a resident id, even if USCC rules would also complain
    assert reason(check_id, "110105194912310023") == "check character is '3', expected 'X'"
    # letters: a credit code
    assert reason(check_id, "91110000600037342L") == "check character is 'L', expected 'P'"
    assert reason(check_id, "11010519491231002") == "length is 17, expected 18"
    # a resident id's shape with a letter among its last four: both readings, both reasons
    assert reason(check_id, "11010519491231002Y") == (
        "neither a resident id (character 'Y' at position 18 is not a digit or 'X') "
        "nor a credit code (check character is 'Y', expected 'B')")
    assert reason(check_id, "3405241980010100XX").startswith(
        "neither a resident id (character 'X' at position 17 is not a digit) nor a credit code")
    # digits but no possible birth date: both readings fail, both reasons are given
    assert reason(check_id, "11010519491331002X") == (
        "neither a resident id (birth date '19491331' is not a calendar date in 1800-2099) "
        "nor a credit code (organisation code check character (position 17) is '2', "
        "expected '6')")


def test_check_id_decides_by_shape() -> None:
    # a strictly valid all-digit credit code whose positions 7-14 read as 1990-01-00: no real
    # date, so check_id reads it as a credit code
    assert isinstance(check_id("911101199001000314"), USCC)
    # ... but one whose positions 7-14 are a real date reads as a (here invalid) resident id;
    # callers who know they hold a credit code use validate_uscc
    assert not validate_uscc("911101199001010697").legacy
    assert reason(check_id, "911101199001010697") == "check character is '7', expected '9'"
    # a digit string is never accepted as a legacy credit code, --legacy or not
    assert validate_uscc("911101199001010180", allow_legacy=True).legacy
    assert reason(check_id, "911101199001010180", allow_legacy=True) == (
        "check character is '0', expected '9'")


# --- scalar generators ------------------------------------------------------------------------


def test_scalar_generators_refuse_bad_parts() -> None:
    assert reason(resident_id, "11010", date(1990, 1, 1), 1) == (
        "area code '11010' must be 6 digits, not 000000")
    assert reason(resident_id, "000000", date(1990, 1, 1), 1) == (
        "area code '000000' must be 6 digits, not 000000")
    assert reason(resident_id, "110105", date(1990, 1, 1), 1000) == (
        "sequence must be between 0 and 999")
    assert reason(resident_id, "110105", date(1700, 1, 1), 1) == (
        "birth date '17000101' is not a calendar date in 1800-2099")
    assert reason(uscc, "9", "1", "110000", "6000373") == (
        "parts must be 1+1+6+8 characters of the GB 32100 alphabet")
    assert reason(uscc, "9", "1", "110000", "6000373I") == (
        "parts must be 1+1+6+8 characters of the GB 32100 alphabet")


areas = st.from_regex(r"[0-9]{6}", fullmatch=True).filter(lambda a: a != "000000")
births = st.dates(date(1800, 1, 1), date(2099, 12, 31))
alphabet = st.sampled_from(USCC_ALPHABET)
credit_codes = st.builds(
    uscc, alphabet, alphabet, areas, st.text(USCC_ALPHABET, min_size=8, max_size=8))
resident_ids = st.builds(resident_id, areas, births, st.integers(0, 999))


@given(areas, births, st.integers(0, 999))
def test_generated_resident_ids_validate_and_round_trip(area: str, born: date, seq: int) -> None:
    parsed = validate_resident_id(resident_id(area, born, seq))
    assert (parsed.area, parsed.birth_date, parsed.sequence) == (area, born, seq)
    assert parsed.sex == ("M" if seq % 2 else "F")
    assert resident_sum(parsed.value) == 1


@given(credit_codes)
def test_generated_usccs_validate(code: str) -> None:
    parsed = validate_uscc(code)
    assert not parsed.legacy
    assert uscc_sum(code) == 0


# --- the detection law ------------------------------------------------------------------------


@given(resident_ids, st.integers(0, 17), st.sampled_from(RESIDENT_CHARS))
def test_any_single_substitution_breaks_a_resident_id(value: str, pos: int, new: str) -> None:
    changed = value[:pos] + new + value[pos + 1:]
    if changed != value:
        assert resident_sum(changed) != 1 or not set(changed[:17]) <= set(DIGITS)
        with pytest.raises(IdError):
            validate_resident_id(changed)


@given(credit_codes, st.integers(0, 17), alphabet)
def test_any_single_substitution_breaks_a_uscc(value: str, pos: int, new: str) -> None:
    changed = value[:pos] + new + value[pos + 1:]
    if changed != value:
        assert uscc_sum(changed) != 0
        with pytest.raises(IdError):
            validate_uscc(changed)
        with contextlib.suppress(IdError):  # the legacy flag may let it pass, but only as legacy
            assert validate_uscc(changed, allow_legacy=True).legacy


@pytest.mark.parametrize("value", [*VALID_RESIDENT, VALID_USCC])
def test_every_substitution_of_the_domain_examples_is_refused(value: str) -> None:
    chars = RESIDENT_CHARS if value in VALID_RESIDENT else USCC_ALPHABET
    validate = validate_resident_id if value in VALID_RESIDENT else validate_uscc
    for pos in range(18):
        for new in chars.replace(value[pos], ""):
            with pytest.raises(IdError):
                validate(value[:pos] + new + value[pos + 1:])


@given(resident_ids, credit_codes, st.integers(0, 16))
def test_adjacent_transpositions_are_detected(person: str, code: str, pos: int) -> None:
    for value, validate in ((person, validate_resident_id), (code, validate_uscc)):
        swapped = value[:pos] + value[pos + 1] + value[pos] + value[pos + 2:]
        if swapped != value:
            with pytest.raises(IdError):
                validate(swapped)


# --- vectorised generators --------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300))
def test_vectorised_resident_ids_validate_and_are_unique(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    area_codes = np.array(["110105", "340524", "513200"])[rng.integers(0, 3, n)]
    born = np.datetime64("1800-01-01") + rng.integers(0, 109_572, n).astype("timedelta64[D]")
    male = rng.random(n) < 0.5
    ids = generate_resident_ids(rng, area_codes, born, male)
    assert ids.shape == (n,)
    assert len(set(ids.tolist())) == n
    for value, area, birth, is_male in zip(ids.tolist(), area_codes, born, male, strict=True):
        parsed = validate_resident_id(value)
        assert (parsed.area, parsed.birth_date, parsed.sex) == (
            area, birth.astype(date), "M" if is_male else "F")


def test_vectorised_resident_ids_fill_a_crowded_group_then_refuse() -> None:
    rng = np.random.default_rng(7)
    day = np.datetime64("1990-01-01")
    men = generate_resident_ids(rng, ["110105"] * 500, [day] * 500, ["M"] * 500)
    women = generate_resident_ids(rng, ["110105"] * 499, [day] * 499, ["F"] * 499)
    assert len(set(men.tolist()) | set(women.tolist())) == 999
    assert {validate_resident_id(v).sequence for v in women.tolist()} == set(range(2, 999, 2))
    assert reason(generate_resident_ids, rng, ["110105"] * 500, [day] * 500, ["F"] * 500) == (
        "too many ids share an area, birth date and sex to be unique")


def test_vectorised_generators_refuse_bad_input() -> None:
    rng = np.random.default_rng(0)
    day = [np.datetime64("1990-01-01")]
    assert reason(generate_resident_ids, rng, ["11010"], day, ["M"]) == (
        "area code '11010' must be 6 digits, not 000000")
    assert reason(generate_resident_ids, rng, ["1101055"], day, ["M"]) == (
        "area code '1101055' must be 6 digits, not 000000")
    assert reason(generate_resident_ids, rng, ["110105"], day, ["X"]) == (
        "each sex must be 'M', 'F' or a boolean")
    assert reason(generate_resident_ids, rng, ["110105"], ["NaT"], ["M"]) == (
        "every birth year must be in 1800-2099")
    assert reason(generate_resident_ids, rng, ["110105"] * 2, day, ["M"]) == (
        "areas, births and sexes differ in length")
    assert reason(generate_usccs, rng, ["000000"], 3) == (
        "area code '000000' must be 6 digits, not 000000")
    assert generate_resident_ids(rng, [], np.array([], "datetime64[D]"), []).shape == (0,)
    assert generate_usccs(rng, ["110000"], 0).shape == (0,)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300))
def test_vectorised_usccs_validate_and_are_unique(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    codes = generate_usccs(rng, np.array(["110000", "310115"]), n)
    assert len(set(codes.tolist())) == n
    for code in codes.tolist():
        parsed = validate_uscc(code)
        assert parsed.area in {"110000", "310115"}
        assert not parsed.legacy


def test_vectorised_generators_are_reproducible() -> None:
    def run(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        ids = generate_resident_ids(rng, ["110105"] * 3, ["1990-01-01"] * 3, [True, False, True])
        return ids.tolist() + generate_usccs(rng, ["110000"], 3).tolist()

    assert run(1) == run(1)


@pytest.mark.slow
def test_a_million_of_each_are_unique_and_valid() -> None:
    """At scale the vectorised generators stay unique and valid (their speed is measured by
    the simulator benchmark, not asserted here)."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    area_codes = np.array(["110105", "340524", "513200", "440305"])[rng.integers(0, 4, n)]
    born = np.datetime64("1940-01-01") + rng.integers(0, 30_000, n).astype("timedelta64[D]")
    male = rng.random(n) < 0.5
    ids = generate_resident_ids(rng, area_codes, born, male)
    codes = generate_usccs(rng, area_codes[:1000], n)
    assert len(set(ids.tolist())) == n
    assert len(set(codes.tolist())) == n
    for value in ids[:: n // 1000].tolist():
        validate_resident_id(value)
    for value in codes[:: n // 1000].tolist():
        validate_uscc(value)


# --- the CLI ----------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_accepts_a_resident_id() -> None:
    result = runner.invoke(app, ["id", "check", "11010519491231002X"])
    assert result.exit_code == 0
    assert result.stdout == (
        "valid resident id: area 110105, born 1949-12-31, female, sequence 002\n")


def test_cli_accepts_a_credit_code() -> None:
    result = runner.invoke(app, ["id", "check", VALID_USCC])
    assert result.exit_code == 0
    assert result.stdout == (
        "valid unified social credit code: market regulator, entity type enterprise, "
        "area 110000, organisation code 60003734-1\n")


def test_cli_refuses_an_invalid_id_on_stderr() -> None:
    result = runner.invoke(app, ["id", "check", "110105194912310023"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "invalid id '110105194912310023': check character is '3', expected 'X'\n")


def test_cli_legacy_flag() -> None:
    refused = runner.invoke(app, ["id", "check", LEGACY_USCC])
    assert refused.exit_code == 1
    assert "check character is 'M', expected '1'" in refused.stderr
    accepted = runner.invoke(app, ["id", "check", "--legacy", LEGACY_USCC])
    assert accepted.exit_code == 0
    assert "legacy pilot code" in accepted.stdout


def test_check_id_returns_the_right_types() -> None:
    assert isinstance(check_id("513200199909060190"), ResidentId)
    assert isinstance(check_id(VALID_USCC), USCC)
