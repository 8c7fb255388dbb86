"""Pseudonyms: key files, keyed hashing, and the vectorised id fast path agreeing with ids.py."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledgerkit import KEY, ORG, PERSON, PERSON_2, PERSON_3

from glasscredit import ids
from glasscredit.errors import IdError, LedgerError
from glasscredit.ledger.idcheck import fast_kinds
from glasscredit.ledger.pseudonym import (
    Pseudonymiser,
    create_key_file,
    key_from_text,
    read_key_file,
)


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.key"
    key = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key and len(key) == 32
    with pytest.raises(LedgerError, match="already exists"):
        create_key_file(path)


def test_readable_or_malformed_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(KEY.hex())
    path.chmod(0o644)
    with pytest.raises(LedgerError, match="must be 0600"):
        read_key_file(path)
    with pytest.raises(LedgerError, match="not hexadecimal"):
        key_from_text("zz")
    with pytest.raises(LedgerError, match="at least 16"):
        key_from_text("abcd")
    with pytest.raises(LedgerError, match="not found"):
        read_key_file(tmp_path / "missing")


def test_hmac_is_keyed_deterministic_and_case_blind() -> None:
    one, other = Pseudonymiser(KEY), Pseudonymiser(bytes(32))
    assert one.digest(PERSON) == one.digest(PERSON.lower()) == one.digest(f" {PERSON} ")
    assert one.digest(PERSON) != other.digest(PERSON)
    assert one.digest(PERSON) != one.digest(PERSON_2)
    assert len(one.digest(PERSON)) == 64 and PERSON not in one.digest(PERSON)
    assert one.key_check() != other.key_check()


def test_subject_validates_before_hashing() -> None:
    mac, kind = Pseudonymiser(KEY).subject(ORG)
    assert kind == "organisation" and mac == Pseudonymiser(KEY).digest(ORG)
    with pytest.raises(IdError):
        Pseudonymiser(KEY).subject("110105194912310021")


def test_many_reports_reasons_and_accepts_legacy_only_when_asked() -> None:
    legacy = "91350100M0001TGQXM"
    macs, kinds, errors = Pseudonymiser(KEY).many([PERSON, "nope", legacy])
    assert kinds[:2] == ["person", None] and macs[1] is None
    assert errors[0] is None and errors[1] and errors[2]
    _, kinds, errors = Pseudonymiser(KEY).many([legacy], allow_legacy=True)
    assert (kinds, errors) == (["organisation"], [None])


def _verdict(value: str) -> str | None:
    try:
        parsed = ids.check_id(value)
    except IdError:
        return None
    return "person" if isinstance(parsed, ids.ResidentId) else "organisation"


def _valid_ids(seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    births = np.datetime64("1930-01-01") + rng.integers(0, 365 * 90, 200)
    people = ids.generate_resident_ids(rng, rng.choice(["110105", "310101"], 200), births,
                                       rng.random(200) < 0.5)
    return [*people.tolist(), *ids.generate_usccs(rng, ["110000", "320500"], 200).tolist(),
            PERSON, PERSON_2, PERSON_3, ORG]


ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXYZIOSVx "


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), edits=st.lists(
    st.tuples(st.integers(0, 17), st.sampled_from(ALPHABET)), max_size=3))
def test_fast_path_accepts_only_what_check_id_accepts_with_the_same_kind(seed, edits):
    values = _valid_ids(seed)
    mutated = []
    for value in values[::7]:
        chars = list(value)
        for pos, ch in edits:
            chars[pos] = ch
        mutated.append("".join(chars))
    for value, fast in zip(values + mutated, fast_kinds(values + mutated), strict=True):
        if fast is not None:
            assert fast == _verdict(value), value
    letters = [v for v in values if not v[:17].isdigit()]  # unambiguous credit codes
    people = values[:200]
    assert all(k is not None for k in fast_kinds(people + letters))  # the fast path is taken
