"""The event catalogue: which kinds of event exist, what they measure, and which are protected.

Policies name kinds and attributes from here, the ledger checks ingested events against it and
the guards read its contexts and protected tags. The shipped catalogue is package data
(``catalogue.yaml``); a document is validated as a whole and every problem reported at once.

>>> cat = load_catalogue()
>>> cat.attribute("bill_payment", "days_late").type
'int'
>>> cat.check_value("bill_payment", {"days_late": "3"})
["attribute 'days_late': expected int, got str '3'"]
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from glasscredit.errors import CatalogueError


def _is_date(value: object) -> bool:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return bool(date.fromisoformat(value))
        except ValueError:
            return False
    return isinstance(value, date) and not isinstance(value, datetime)


#: Attribute type -> test of a JSON-like value. bool is not an int; dates are ISO strings or dates.
_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "enum": lambda v: isinstance(v, str),
    "date": _is_date,
}
ATTRIBUTE_TYPES = tuple(_TYPE_CHECKS)
SUBJECT_KINDS = ("person", "organisation")
#: The relation types between subjects: the one vocabulary of the ledger and of policies
#: (``network.relations``, ``via_relation``), so a typo is caught, not silently unmatched.
RELATION_TYPES = ("family", "friend", "employer", "legal_representative", "shareholder",
                  "same_responsible_person")
_SECTIONS = ("version", "contexts", "protected_tags", "units", "sources", "kinds")
_REQUIRED = ("context", "subjects", "unit", "description")
#: Event columns and expression keywords that an attribute name may not shadow.
RESERVED_NAMES = frozenset({
    "event_id", "subject_id", "subject", "kind", "occurred_at", "recorded_at", "source",
    "source_id", "value", "attrs", "and", "or", "not", "in", "is", "null", "true", "false",
})
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def did_you_mean(name: object, candidates: Iterable[str]) -> str:
    """A `` (did you mean 'x'?)`` suffix naming the closest candidate, or ``""``."""
    close = difflib.get_close_matches(str(name), list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Attribute:
    """One declared attribute of an event kind."""

    name: str
    type: str
    values: tuple[str, ...] = ()
    description: str = ""

    def problem(self, value: object) -> str | None:
        """Why ``value`` does not fit, or None; a None value means "not reported" and fits."""
        if value is None:
            return None
        if not _TYPE_CHECKS[self.type](value):
            want = "ISO date" if self.type == "date" else self.type
            got = f"{type(value).__name__} {value!r}"
            return f"attribute {self.name!r}: expected {want}, got {got}"
        if self.type == "enum" and value not in self.values:
            allowed = ", ".join(self.values)
            hint = did_you_mean(value, self.values)
            return f"attribute {self.name!r}: {value!r} is not one of {allowed}{hint}"
        return None


@dataclass(frozen=True)
class EventKind:
    """A kind of event: its context, who it applies to, what its value measures, its attributes."""

    name: str
    context: str
    subjects: tuple[str, ...]
    unit: str
    description: str
    attributes: Mapping[str, Attribute] = field(default_factory=lambda: _EMPTY)
    protected: str | None = None
    source: str | None = None

    def check(self, attrs: Mapping[str, object]) -> list[str]:
        """Every problem with an attribute dict for this kind (empty when it fits)."""
        problems = []
        for name, value in attrs.items():
            if (attribute := self.attributes.get(name)) is None:
                hint = did_you_mean(name, self.attributes)
                problems.append(f"unknown attribute {name!r} for {self.name!r}{hint}")
            elif (problem := attribute.problem(value)) is not None:
                problems.append(problem)
        return problems


@dataclass(frozen=True)
class Catalogue:
    """The event kinds, with the contexts, protected tags, units and sources they refer to."""

    kinds: Mapping[str, EventKind]
    contexts: Mapping[str, str]
    protected_tags: Mapping[str, str]
    units: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    sources: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def __contains__(self, name: object) -> bool:
        return name in self.kinds

    def kind(self, name: str) -> EventKind:
        """The kind called ``name``; an unknown name raises, suggesting the closest match."""
        if name not in self.kinds:
            raise CatalogueError(f"unknown event kind {name!r}{did_you_mean(name, self.kinds)}")
        return self.kinds[name]

    def kinds_in_context(self, context: str) -> tuple[EventKind, ...]:
        """The kinds of one context, in catalogue order."""
        if context not in self.contexts:
            hint = did_you_mean(context, self.contexts)
            raise CatalogueError(f"unknown context {context!r}{hint}")
        return tuple(k for k in self.kinds.values() if k.context == context)

    def protected_kinds(self) -> dict[str, str]:
        """Kind name -> protected tag, for every kind a live policy may not score."""
        return {k.name: k.protected for k in self.kinds.values() if k.protected is not None}

    def attribute(self, kind: str, attr: str) -> Attribute:
        """A declared attribute of a kind; an unknown one raises, suggesting the closest match."""
        attributes = self.kind(kind).attributes
        if attr not in attributes:
            hint = did_you_mean(attr, attributes)
            declared = ", ".join(attributes) or "none"
            raise CatalogueError(
                f"event kind {kind!r} has no attribute {attr!r}{hint}; declared: {declared}"
            )
        return attributes[attr]

    def check_value(self, kind: str, attrs: Mapping[str, object]) -> list[str]:
        """Every problem with an event's attributes; an unknown kind is reported, not raised."""
        if kind not in self.kinds:
            return [f"unknown event kind {kind!r}{did_you_mean(kind, self.kinds)}"]
        if not isinstance(attrs, Mapping):
            return [f"attributes must be a mapping, got {type(attrs).__name__}"]
        return self.kinds[kind].check(attrs)

    @classmethod
    def from_dict(cls, data: object) -> Catalogue:
        """Validate a catalogue document and build it; CatalogueError lists every problem."""
        return _build(data, [], "<catalogue>")


class _Checker:
    """Collects every problem in a catalogue document, so that they are reported at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, where: str, spec: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for key in spec:
            if key not in allowed:
                self.add(where, f"unknown key {key!r}{did_you_mean(key, allowed)}")

    def ref(self, where: str, what: str, value: object, known: Mapping[str, str]) -> None:
        if value is not None and known and (not isinstance(value, str) or value not in known):
            self.add(where, f"unknown {what} {value!r}{did_you_mean(value, known)}")

    def named(self, data: Mapping[str, Any], key: str, required: bool) -> Mapping[str, str]:
        """A ``name: one-line description`` section."""
        section = data.get(key, None if required else {})
        if not isinstance(section, Mapping):
            self.add(key, "expected a mapping of name to one-line description")
            return _EMPTY
        for name, text in section.items():
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                self.add(f"{key}.{name}", "name must be snake_case")
            if not isinstance(text, str) or not text.strip():
                self.add(f"{key}.{name}", "needs a one-line description")
        return MappingProxyType({str(n): str(t) for n, t in section.items()})

    def attribute(self, where: str, name: str, spec: Any) -> Attribute | None:
        if not _NAME.fullmatch(name) or name in RESERVED_NAMES:
            self.add(where, "attribute name must be snake_case and not reserved")
        if not isinstance(spec, Mapping):
            self.add(where, "expected a mapping with type and description")
            return None
        self.keys(where, spec, ("type", "values", "description"))
        type_, values, text = spec.get("type"), spec.get("values") or [], spec.get("description")
        if type_ not in _TYPE_CHECKS:
            hint = did_you_mean(type_, ATTRIBUTE_TYPES)
            self.add(where, f"unknown type {type_!r}{hint}; use {', '.join(ATTRIBUTE_TYPES)}")
        if type_ != "enum" and "values" in spec:
            self.add(where, "only enum attributes take values")
        elif type_ == "enum" and (not isinstance(values, list) or not values):
            self.add(where, "enum needs a non-empty list of values")
        elif type_ == "enum" and not all(isinstance(v, str) for v in values):
            self.add(where, "enum values must be strings (quote yes, no, on, off)")
        elif type_ == "enum" and len(set(values)) != len(values):
            self.add(where, "enum values must be distinct")
        if not isinstance(text, str) or not text.strip():
            self.add(where, "needs a description")
        values_t = tuple(map(str, values)) if type_ == "enum" and isinstance(values, list) else ()
        return Attribute(name, str(type_), values_t, str(text or ""))

    def kind(self, name: str, spec: Any, cat: Catalogue) -> EventKind | None:
        where = f"kinds.{name}"
        if not _NAME.fullmatch(name):
            self.add(where, "kind name must be snake_case")
        if not isinstance(spec, Mapping):
            self.add(where, "expected a mapping")
            return None
        self.keys(where, spec, (*_REQUIRED, "attributes", "protected", "source"))
        for key in _REQUIRED:
            if spec.get(key) in (None, "", []):
                self.add(where, f"missing {key}")
        self.ref(f"{where}.context", "context", spec.get("context"), cat.contexts)
        subjects = spec.get("subjects") or []
        if not isinstance(subjects, list) or not all(s in SUBJECT_KINDS for s in subjects):
            allowed = ", ".join(SUBJECT_KINDS)
            self.add(f"{where}.subjects", f"expected a list drawn from {allowed}, got {subjects!r}")
            subjects = []
        self.ref(f"{where}.unit", "unit", spec.get("unit"), cat.units)
        self.ref(f"{where}.protected", "protected tag", spec.get("protected"), cat.protected_tags)
        self.ref(f"{where}.source", "source", spec.get("source"), cat.sources)
        raw = spec.get("attributes") or {}
        if not isinstance(raw, Mapping):
            self.add(f"{where}.attributes", "expected a mapping of name to attribute")
            raw = {}
        attrs = [self.attribute(f"{where}.attributes.{a}", str(a), s) for a, s in raw.items()]
        context, unit, text = (str(spec.get(k) or "") for k in ("context", "unit", "description"))
        return EventKind(
            name, context, tuple(subjects), unit, text,
            MappingProxyType({a.name: a for a in attrs if a is not None}),
            spec.get("protected"), spec.get("source"),
        )


def _build(data: object, problems: list[str], origin: str) -> Catalogue:
    """Check the whole document, collecting every problem, then raise once or build."""
    if not isinstance(data, Mapping):
        raise CatalogueError(f"{origin}: a catalogue must be a mapping, got {type(data).__name__}")
    check = _Checker(problems)
    check.keys("top level", data, _SECTIONS)
    cat = Catalogue(
        _EMPTY, check.named(data, "contexts", True), check.named(data, "protected_tags", True),
        check.named(data, "units", False), check.named(data, "sources", False),
    )
    raw = data.get("kinds")
    if not isinstance(raw, Mapping) or not raw:
        check.add("kinds", "expected a non-empty mapping of kind name to definition")
        raw = {}
    kinds = [check.kind(str(name), spec, cat) for name, spec in raw.items()]
    if problems:
        listed = "\n".join(f"  {origin}: {p}" for p in problems)
        raise CatalogueError(f"{len(problems)} problem(s) in {origin}:\n{listed}")
    built = MappingProxyType({k.name: k for k in kinds if k is not None})
    return Catalogue(built, cat.contexts, cat.protected_tags, cat.units, cat.sources)


def _duplicate_keys(node: yaml.Node) -> list[str]:
    """Duplicate mapping keys anywhere under ``node``: YAML loaders silently keep the last one."""
    if isinstance(node, yaml.SequenceNode):
        return [dup for child in node.value for dup in _duplicate_keys(child)]
    if not isinstance(node, yaml.MappingNode):
        return []
    found: list[str] = []
    seen: dict[str, int] = {}
    for key, child in node.value:
        line = key.start_mark.line + 1
        if isinstance(key, yaml.ScalarNode) and key.value in seen:
            first = seen[key.value]
            found.append(f"line {line}: duplicate key {key.value!r} (first at line {first})")
        elif isinstance(key, yaml.ScalarNode):
            seen[key.value] = line
        found += _duplicate_keys(child)
    return found


def parse_catalogue(text: str, origin: str = "<catalogue>") -> Catalogue:
    """Parse and validate catalogue YAML; duplicate keys are reported with the other problems."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{origin}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return _build(data, _duplicate_keys(node) if node is not None else [], origin)


@cache
def _shipped() -> Catalogue:
    text = resources.files("glasscredit").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return parse_catalogue(text, "glasscredit/catalogue.yaml")


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue at ``path``, or the shipped one (parsed once) when ``path`` is None."""
    if path is None:
        return _shipped()
    return parse_catalogue(Path(path).read_text(encoding="utf-8"), str(path))
