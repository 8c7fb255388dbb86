"""The policy document as validated data: the shape every YAML policy must have.

Durations are written ``90d``, ``2y`` (365 days), ``12h`` or ``30min`` and held in seconds.
Points are on the policy's scale; categories, rules, bands, lists and measures are named so that
reasons, snapshots and decisions can refer to them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(s|min|h|d|w|y)\s*$")
_HOW = "a duration is a number and a unit (s, min, h, d, w, y) like '90d', '2y', '12h'"


def parse_duration(value: object) -> float:
    """``'730d'`` -> seconds; a bare number is refused so that units are never guessed.

    >>> parse_duration("2y") == 730 * 86400
    True
    >>> parse_duration(90)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: a duration is a number and a unit (s, min, h, d, w, y) like '90d', ...; got 90
    """
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{_HOW}; got {value!r}")
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"{_HOW}; got {value!r}")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive; got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds back in the largest unit that divides them: ``63072000.0`` -> ``'2y'``."""
    for unit, size in sorted(_UNITS.items(), key=lambda u: -u[1]):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _version_text(value: object) -> object:
    """``version: 2`` is as good as ``version: "2"``; YAML reads the former as a number."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    min: float
    max: float
    start: float | None = None

    @model_validator(mode="after")
    def _order(self) -> Scale:
        if self.min >= self.max:
            raise ValueError(f"scale min {self.min} must be below max {self.max}")
        if self.start is not None and not self.min <= self.start <= self.max:
            raise ValueError(f"scale start {self.start} is outside {self.min}..{self.max}")
        return self

    @property
    def origin(self) -> float:
        """Where an additive score starts: ``start``, else the bottom of the scale."""
        return self.min if self.start is None else self.start


class Curve(_Strict):
    """Maps a category's raw points to 0..1: linear clip between lo and hi, or logistic."""

    type: Literal["linear", "logistic"] = "linear"
    lo: float | None = None
    hi: float | None = None
    mid: float | None = None
    scale: float | None = None

    @model_validator(mode="after")
    def _params(self) -> Curve:
        if self.type == "linear":
            if self.lo is None or self.hi is None:
                raise ValueError("a linear curve needs lo and hi")
            if self.lo >= self.hi:
                raise ValueError(f"curve lo {self.lo} must be below hi {self.hi}")
        else:
            if self.mid is None or self.scale is None:
                raise ValueError("a logistic curve needs mid and scale")
            if self.scale <= 0:
                raise ValueError("a logistic curve needs a positive scale")
        return self


class Network(_Strict):
    """Aggregate the related subjects' non-network scores, one hop."""

    relations: list[Name] = Field(min_length=1)
    aggregate: Literal["mean", "min", "max"] = "mean"
    empty: float | None = None
    factor: float = 1.0


class Category(_Strict):
    name: Name
    weight: float | None = Field(default=None, ge=0, le=1)
    curve: Curve | None = None
    network: Network | None = None
    description: str = ""


class Cap(_Strict):
    points: float = Field(gt=0)
    per: Duration


class Corroboration(_Strict):
    """A negative record from a source below ``below`` counts only once ``sources`` agree."""

    below: float = Field(gt=0, le=1)
    sources: int = Field(default=2, ge=2)


class Rule(_Strict):
    id: Name
    kind: str
    when: str | None = None
    points: float | None = None
    points_per_unit: float | None = None
    clip: tuple[float, float] | None = None
    category: Name
    half_life: Duration | None = None
    valid_for: Duration | None = None
    cap: Cap | None = None
    severity: Literal["minor", "general", "serious"] | None = None
    corroboration: Corroboration | None = None
    reason: str = Field(min_length=3)

    @field_validator("points_per_unit")
    @classmethod
    def _not_both(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is not None and info.data.get("points") is not None:
            raise ValueError("give points or points_per_unit, not both")
        return v

    @field_validator("clip")
    @classmethod
    def _clip_order(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError(f"clip [{v[0]:g}, {v[1]:g}]: low is above high")
        return v

    @model_validator(mode="after")
    def _points(self) -> Rule:
        if self.points is None and self.points_per_unit is None:
            raise ValueError("a rule needs points or points_per_unit")
        return self


class Band(_Strict):
    name: str = Field(min_length=1)
    min: float
    max: float

    @model_validator(mode="after")
    def _order(self) -> Band:
        if self.min >= self.max:
            raise ValueError(f"band {self.name!r}: min {self.min} must be below max {self.max}")
        return self


class ListSpec(_Strict):
    name: Name
    type: Literal["blacklist", "redlist"]
    context: str
    enter: str
    exit: str | None = None
    min_duration: Duration | None = None
    max_duration: Duration | None = None
    repair: str = ""
    public: bool = False
    description: str = ""

    @field_validator("max_duration")
    @classmethod
    def _max_after_min(cls, v: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_duration")
        if v is not None and low is not None and low > v:
            raise ValueError(f"max_duration {format_duration(v)} is shorter than "
                             f"min_duration {format_duration(low)}")
        return v


class Notice(_Strict):
    days: int = Field(default=30, ge=0, le=365)


class Appeal(_Strict):
    route: str = Field(min_length=3)
    days: int = Field(default=30, ge=1)


class Hysteresis(_Strict):
    """Keep a measure while ``keep_while`` holds (or the score stays above ``low_water`` × its
    threshold), then for ``grace`` more, like Discourse trust levels."""

    low_water: float | None = Field(default=None, gt=0, le=1)
    keep_while: str | None = None
    grace: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> Hysteresis:
        if self.low_water is not None and self.keep_while is not None:
            raise ValueError("give low_water or keep_while, not both")
        return self


class LinkedContext(_Strict):
    context: str
    justification: str = Field(min_length=10)


class Measure(_Strict):
    name: Name
    type: Literal["privilege", "sanction"]
    context: str
    when: str
    via_relation: list[Name] | None = None
    hysteresis: Hysteresis | None = None
    notice: Notice | None = None
    appeal: Appeal | None = None
    reasons: bool = True
    linked_contexts: list[LinkedContext] = Field(default_factory=list)
    description: str = ""


class Policy(_Strict):
    policy: Name
    version: Annotated[str, BeforeValidator(_version_text)] = "1"
    mode: Literal["live", "simulation"]
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    subject_kind: Literal["person", "organisation", "any"] = "any"
    aggregation: Literal["additive", "weighted"]
    scale: Scale
    categories: list[Category] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    bands: list[Band] = Field(default_factory=list)
    lists: list[ListSpec] = Field(default_factory=list)
    measures: list[Measure] = Field(default_factory=list)

    def category(self, name: str) -> Category:
        """The category called ``name`` (the loader has checked that it exists)."""
        return next(c for c in self.categories if c.name == name)
