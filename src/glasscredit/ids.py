"""Chinese external identifiers: validate them on input, generate valid ones for synthetic data.

Resident ids follow GB 11643 (ISO 7064 MOD 11-2). Unified social credit codes follow GB 32100-2015
(MOD 31) and embed a GB 11714 organisation code at positions 9-17 whose own check is enforced too:
the published example ``91110000600037341L`` passes it, and so does the legacy pilot example.
Pure: no I/O and no clock, so rejecting a future birth date is the caller's business.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt

from glasscredit.errors import IdError

LENGTH = 18
DIGITS = "0123456789"
RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
AUTHORITIES = {"1": "establishment", "5": "civil affairs", "9": "market regulator", "Y": "other"}
MARKET_ENTITY_TYPES = {"1": "enterprise", "2": "individual business", "3": "farmers' co-op"}
BIRTH_YEARS = (1800, 2099)

_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_ORG_VALUE = np.array([int(c, 36) for c in USCC_ALPHABET], np.uint8)  # GB 11714 char values
_KINDS = np.array([[USCC_ALPHABET.index(c) for c in k] for k in ("91", "92", "93", "51", "Y1")],
                  np.uint8)
_KIND_P = (0.7, 0.2, 0.03, 0.05, 0.02)  # synthetic mix of authority + entity type
_RESIDENT_ASCII = np.frombuffer(RESIDENT_CHECK.encode(), np.uint8)
_USCC_ASCII = np.frombuffer(USCC_ALPHABET.encode(), np.uint8)
# each digit pair as the two bytes of one uint16, so one gather fetches two digits
_PAIRS = {b: np.array([divmod(i, b) for i in range(b * b)], np.uint8).view(np.uint16).ravel()
          for b in (10, 31)}

Sex = Literal["M", "F"]
StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
U8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ResidentId:
    """A valid GB 11643 resident id and what it encodes."""

    value: str
    area: str
    birth_date: date
    sequence: int
    sex: Sex


@dataclass(frozen=True)
class USCC:
    """A valid GB 32100 credit code; ``legacy`` marks a pilot code that fails the MOD 31 check."""

    value: str
    registration_authority: str
    entity_type: str
    area: str
    org_code: str
    legacy: bool = False


def _resident_check(body: str) -> str:
    return RESIDENT_CHECK[sum(int(c) * w for c, w in zip(body, RESIDENT_WEIGHTS, strict=True)) % 11]


def _uscc_check(body: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[-total % 31]


def _org_check(body: str) -> str:
    check = 11 - sum(int(c, 36) * w for c, w in zip(body, ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _birth_date(text: str) -> date | None:
    """The YYYYMMDD date if it is a real calendar day within BIRTH_YEARS, else None."""
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return born if BIRTH_YEARS[0] <= born.year <= BIRTH_YEARS[1] else None


def _require(value: str, ok: bool, reason: str) -> None:
    if not ok:
        raise IdError(value, reason)


def _require_area(value: str, area: str, first: int) -> None:
    """Demand six digits, not all zero, starting at 1-based position ``first``."""
    for pos, ch in enumerate(area, first):
        _require(value, ch in DIGITS, f"character {ch!r} at position {pos} is not a digit "
                 f"(positions {first}-{first + 5} hold the area code)")
    _require(value, area != "000000", f"area code {area!r} must be 6 digits, not 000000")


def validate_resident_id(value: str) -> ResidentId:
    """Parse a GB 11643 id so bad ids stop at the edge; a lower-case check 'x' becomes 'X'."""
    v = value.translate(_UPPER)
    _require(value, len(v) == LENGTH, f"length is {len(v)}, expected {LENGTH}")
    for pos, ch in enumerate(v[:17], 1):
        _require(value, ch in DIGITS, f"character {ch!r} at position {pos} is not a digit")
    last = v[17]
    _require(value, last in DIGITS + "X",
             f"character {last!r} at position 18 is not a digit or 'X'")
    _require_area(value, v[:6], 1)
    born = _birth_date(v[6:14])
    if born is None:
        raise IdError(value, f"birth date {v[6:14]!r} is not a calendar date in "
                      f"{BIRTH_YEARS[0]}-{BIRTH_YEARS[1]}")
    expected = _resident_check(v[:17])
    _require(value, last == expected, f"check character is {last!r}, expected {expected!r}")
    sequence = int(v[14:17])
    return ResidentId(v, v[:6], born, sequence, "M" if sequence % 2 else "F")


def validate_uscc(value: str, *, allow_legacy: bool = False) -> USCC:
    """Parse a GB 32100 code (letters upper-cased); pilot codes pass only if the caller opts in."""
    v = value.translate(_UPPER)
    _require(value, len(v) == LENGTH, f"length is {len(v)}, expected {LENGTH}")
    for pos, ch in enumerate(v, 1):
        _require(value, ch in USCC_ALPHABET, f"character {ch!r} at position {pos} is not allowed "
                 "(GB 32100 uses 0-9 and A-Z without I, O, Z, S, V)")
    _require_area(value, v[2:8], 3)
    last, expected = v[17], _uscc_check(v[:17])
    _require(value, allow_legacy or last == expected, f"check character is {last!r}, "
             f"expected {expected!r}")
    org_expected = _org_check(v[8:16])
    _require(value, v[16] == org_expected, "organisation code check character (position 17) is "
             f"{v[16]!r}, expected {org_expected!r}")
    return USCC(v, v[0], v[1], v[2:8], v[8:17], legacy=last != expected)


def check_id(value: str, *, allow_legacy: bool = False) -> ResidentId | USCC:
    """Validate either kind of 18-character id so callers need not know which one a person typed.

    The shape decides: 17 digits, a digit or X, and a real birth date at positions 7-14 make a
    resident id; anything else is a credit code. A digit string is never accepted as a legacy
    code, so ``allow_legacy`` cannot wave a mistyped resident id through.
    """
    v = value.translate(_UPPER)
    digits = len(v) == LENGTH and set(v[:17]) <= set(DIGITS) and v[17] in DIGITS + "X"
    born = len(v) == LENGTH and set(v[:14]) <= set(DIGITS) and _birth_date(v[6:14]) is not None
    if digits and born:
        return validate_resident_id(value)
    try:
        return validate_uscc(value, allow_legacy=allow_legacy and not digits)
    except IdError as uscc_error:
        # a mistyped resident id (a letter among the last four): say what is wrong as both
        if not (digits or born):
            raise
        try:
            validate_resident_id(value)
        except IdError as resident_error:
            raise IdError(value, f"neither a resident id ({resident_error.reason}) "
                          f"nor a credit code ({uscc_error.reason})") from None
        raise


def resident_id(area: str, birth: date, sequence: int) -> str:
    """Build a valid resident id for synthetic data: the check character is computed, not typed."""
    _require(str(sequence), 0 <= sequence <= 999, "sequence must be between 0 and 999")
    _require(area, re.fullmatch("[0-9]{6}", area) is not None and area != "000000",
             f"area code {area!r} must be 6 digits, not 000000")
    body = f"{area}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return validate_resident_id(body + _resident_check(body)).value


def uscc(authority: str, entity: str, area: str, org_body: str) -> str:
    """Build a valid credit code for synthetic data, computing the GB 11714 and GB 32100 checks."""
    body = authority + entity + area + org_body
    sizes = [len(authority), len(entity), len(area), len(org_body)]
    _require(body, sizes == [1, 1, 6, 8] and set(body) <= set(USCC_ALPHABET),
             "parts must be 1+1+6+8 characters of the GB 32100 alphabet")
    body += _org_check(org_body)
    return validate_uscc(body + _uscc_check(body)).value


def _digits(values: IntArray, width: int, base: int = 10) -> U8Array:
    """An (n, width) matrix of base-``base`` digits, two per table lookup to spare divisions."""
    even = width + width % 2
    pairs = [_PAIRS[base][values // base ** (even - 2 - i) % base**2] for i in range(0, even, 2)]
    return np.stack(pairs, axis=1).view(np.uint8)[:, even - width:]


def _weighted(matrix: U8Array, weights: tuple[int, ...]) -> npt.NDArray[np.int32]:
    """Weighted row sums in small integers: the hot loop of every vectorised checksum."""
    return (matrix * np.array(weights, np.uint16)).sum(axis=1, dtype=np.int32)


def _text(codes: U8Array) -> StrArray:
    """View an (n, 18) matrix of ASCII codes as 18-character strings without a per-row loop."""
    return np.ascontiguousarray(codes, dtype=np.uint32).view("U18").reshape(-1)


def _area_digits(areas: npt.ArrayLike) -> U8Array:
    """Areas as an (n, 6) digit matrix, read from their code points; over-long strings fail."""
    text = np.ascontiguousarray(areas).reshape(-1)
    text = text if text.dtype.kind == "U" and text.dtype.itemsize >= 24 else text.astype("U7")
    codes = text.view(np.uint32).reshape(text.size, text.dtype.itemsize // 4)
    digits = codes[:, :6] - np.uint32(ord("0"))  # wraps below '0', so one comparison suffices
    ok = (codes[:, 6:] == 0).all(axis=1) & (digits <= 9).all(axis=1) & digits.any(axis=1)
    if not ok.all():
        bad = str(np.asarray(areas).reshape(-1)[np.argmin(ok)])
        raise IdError(bad, f"area code {bad!r} must be 6 digits, not 000000")
    return digits.astype(np.uint8)


def _sequences(rng: np.random.Generator, key: IntArray, male: npt.NDArray[np.bool_]) -> IntArray:
    """Number rows within each (area, birth date, sex) group from a random start: no collisions."""
    bits = max(key.size - 1, 1).bit_length()
    if bits < 26:  # key < 2**38, so row numbers fit in the low bits and a plain sort is enough
        order = np.sort(key << bits | np.arange(key.size)) & (1 << bits) - 1
    else:
        order = key.argsort()
    start = np.diff(key[order], prepend=-1) != 0
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    rank = np.arange(key.size) - first[group]
    capacity = np.where(male[order], 500, 499)  # odd 001-999 for men, even 002-998 for women
    if (rank >= capacity).any():
        row = int(order[np.argmax(rank >= capacity)])
        raise IdError(f"row {row}", "too many ids share an area, birth date and sex to be unique")
    slot = (rng.integers(0, capacity[first])[group] + rank) % capacity
    sequences = np.empty_like(slot)
    sequences[order] = np.where(male[order], 2 * slot + 1, 2 * slot + 2)
    return sequences


def generate_resident_ids(rng: np.random.Generator, areas: npt.ArrayLike, births: npt.ArrayLike,
                          sexes: npt.ArrayLike) -> StrArray:
    """Vectorised resident ids for millions of synthetic subjects, all distinct within one call.

    ``sexes`` holds 'M'/'F' or booleans (True = male). Rows sharing area, birth date and sex get
    consecutive sequence numbers from a random start; more than 500 men or 499 women in one such
    group cannot all differ, so that raises IdError rather than repeat an id.
    """
    area = _area_digits(areas)
    born = np.asarray(births, dtype="datetime64[D]").reshape(-1)
    sex = np.asarray(sexes).reshape(-1)
    male = sex if sex.dtype == np.bool_ else sex == "M"
    _require("sexes", sex.dtype == np.bool_ or bool(np.isin(sex, ["M", "F"]).all()),
             "each sex must be 'M', 'F' or a boolean")
    _require(f"{len(area)}/{born.size}/{male.size}", len(area) == born.size == male.size,
             "areas, births and sexes differ in length")
    year = born.astype("datetime64[Y]").astype(np.int64) + 1970  # NaT lands far outside
    _require("births", bool(((year >= BIRTH_YEARS[0]) & (year <= BIRTH_YEARS[1])).all()),
             f"every birth year must be in {BIRTH_YEARS[0]}-{BIRTH_YEARS[1]}")
    month_start = born.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (born - month_start).astype(np.int64) + 1
    area_number = area.astype(np.int64) @ 10 ** np.arange(5, -1, -1)
    key = (area_number * 2 + male) << 17 | (born - np.datetime64("1800-01-01")).astype(np.int64)
    digits = np.concatenate([area, _digits(year, 4), _digits(month, 2), _digits(day, 2),
                             _digits(_sequences(rng, key, male), 3)], axis=1)
    check = _RESIDENT_ASCII[_weighted(digits, RESIDENT_WEIGHTS) % 11]
    return _text(np.concatenate([digits + np.uint8(ord("0")), check[:, None]], axis=1))


def generate_usccs(rng: np.random.Generator, areas: npt.ArrayLike, n: int) -> StrArray:
    """Vectorised credit codes over ``areas``; organisation codes are distinct, so codes are too."""
    area = _area_digits(areas)
    high = 31**8
    _require(str(n), 0 <= n <= high and (len(area) > 0 or n == 0),
             "cannot draw that many distinct organisation codes over these areas")
    drawn = np.empty(0, np.int64)
    while drawn.size < n:
        drawn = np.sort(np.concatenate([drawn, rng.integers(0, high, n - drawn.size)]))
        drawn = drawn[np.r_[True, drawn[1:] != drawn[:-1]]]
    drawn = rng.permutation(drawn)
    org = _digits(drawn, 8, 31)
    org_check = 11 - _weighted(_ORG_VALUE[org], ORG_WEIGHTS) % 11
    org_check = np.where(org_check == 10, USCC_ALPHABET.index("X"), org_check % 11)
    body = np.concatenate([_KINDS[rng.choice(len(_KINDS), n, p=_KIND_P)],
                           area[rng.integers(0, max(len(area), 1), n)], org,
                           org_check[:, None].astype(np.uint8)], axis=1)
    check = -_weighted(body, USCC_WEIGHTS) % 31
    return _text(_USCC_ASCII[np.concatenate([body, check[:, None].astype(np.uint8)], axis=1)])
