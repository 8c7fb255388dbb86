"""Load a policy: YAML -> validated model -> checked against the catalogue -> CompiledPolicy.

Every problem is collected with its line in the YAML and raised once as PolicyError, so an
author fixes them all in one round: each top-level field and each item of a section is validated
on its own, and the semantic checks run on whatever validated, so a bad duration in one rule does
not hide an unknown event kind in another. A policy that fails here never reaches the engine.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import types
import typing
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from glasscredit.catalogue import RELATION_TYPES, Catalogue, did_you_mean, load_catalogue
from glasscredit.errors import CatalogueError, ExpressionError, Finding, PolicyError, Problem
from glasscredit.policy import expr
from glasscredit.policy.model import Band, Category, ListSpec, Measure, Policy, Rule, Scale
from glasscredit.policy.yamlsrc import Located, dotted, load_located

_ATTR_TYPES = {"int": "number", "float": "number", "bool": "bool", "string": "string",
               "enum": "string", "date": "string"}
#: Sections whose items are validated one by one, and the key that names an item.
SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "categories": (Category, "name"), "rules": (Rule, "id"), "bands": (Band, "name"),
    "lists": (ListSpec, "name"), "measures": (Measure, "name")}
_NAME_PATTERN = "^[a-z][a-z0-9_]*$"


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy that passed every check: the model, its parsed conditions and its identity."""

    policy: Policy
    text: str
    content_hash: str
    rule_conditions: dict[str, expr.Node | None]
    rule_attributes: dict[str, dict[str, str]]
    list_enter: dict[str, expr.Node]
    list_exit: dict[str, expr.Node | None]
    measure_when: dict[str, expr.Node]
    measure_keep: dict[str, expr.Node | None]
    rule_contexts: dict[str, str]
    protected: dict[str, str]
    lines: dict[str, int] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def name(self) -> str:
        return self.policy.policy

    @property
    def version_id(self) -> str:
        """What a decision records: name, declared version and the first 12 hex of the hash."""
        return f"{self.policy.policy}@{self.policy.version}#{self.content_hash[:12]}"


def feature_namespace(categories: Iterable[str], rules: Iterable[str],
                      lists: Iterable[str] = ()) -> dict[str, str]:
    """Names a list or measure condition may read, with their types.

    >>> sorted(feature_namespace(["civic"], ["late"], ["debtors"]))[:4]
    ['band', 'category.civic', 'hits.late', 'listed.debtors']
    """
    ns = {"score": "number", "band": "string", "subject_kind": "string"}
    ns.update({f"category.{c}": "number" for c in categories})
    for r in rules:
        ns[f"hits.{r}"] = "number"
        ns[f"points.{r}"] = "number"
    ns.update({f"listed.{name}": "bool" for name in lists})
    return ns


# ------------------------------------------------------------------ structure (pydantic)

def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for did-you-mean on fields)."""
    model: type[BaseModel] = Policy
    for part in path:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        ann: Any = info.annotation
        while typing.get_origin(ann) in (list, typing.Union, types.UnionType):
            ann = next(a for a in typing.get_args(ann) if a is not type(None))
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def _message(err: Any, path: tuple[str | int, ...]) -> str:
    kind, last = err["type"], path[-1] if path else ""
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        hint = did_you_mean(last, model.model_fields) if model else ""
        return f"unknown field {last!r}{hint}"
    if kind == "missing":
        return f"missing required field {last!r}"
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == _NAME_PATTERN:
        return (f"{err['input']!r} is not a valid name: use lowercase letters, digits and '_', "
                "starting with a letter")
    return str(err["msg"]).removeprefix("Value error, ")


def _problems(exc: ValidationError, located: Located,
              prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        inner = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        path = (*prefix, *inner)
        out.append(Problem(_message(err, path), dotted(path), located.line(path)))
    return out


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    """A validator for one top-level field of Policy, with its constraints."""
    info = Policy.model_fields[name]
    ann: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(ann)


@dataclass
class Draft:
    """What validated, field by field and item by item; ``None`` where a field is broken."""

    head: dict[str, Any]
    categories: list[tuple[int, Category]] = field(default_factory=list)
    rules: list[tuple[int, Rule]] = field(default_factory=list)
    bands: list[tuple[int, Band]] = field(default_factory=list)
    lists: list[tuple[int, ListSpec]] = field(default_factory=list)
    measures: list[tuple[int, Measure]] = field(default_factory=list)
    #: every item's name as written (valid or not), by section, with its index
    names: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    #: (section, index, field) of the broken fields left out of a salvaged item
    dropped: set[tuple[str, int, str]] = field(default_factory=set)
    #: sections whose names are not all known (not a list, or an item without a name)
    unsure: set[str] = field(default_factory=set)


def _salvage(model: type[BaseModel], item: Any, exc: ValidationError
             ) -> tuple[BaseModel, set[str]] | None:
    """The item without its broken optional fields, when that validates: the semantic checks
    still run on the rest, so its other problems are reported in the same round."""
    if not isinstance(item, dict):
        return None
    rest, dropped = dict(item), set()
    for _ in range(3):
        errors = exc.errors()
        if any(not e["loc"] or e["type"] == "missing" for e in errors):
            return None
        keys = {str(e["loc"][0]) for e in errors}
        dropped |= keys
        for k in keys:
            rest.pop(k, None)
        try:
            return model.model_validate(rest), dropped
        except ValidationError as again:
            exc = again
    return None


def validate(located: Located) -> tuple[Draft, list[Problem]]:
    """Validate each top-level field and each section item separately, collecting problems."""
    data: dict[str, Any] = located.data
    problems: list[Problem] = []
    draft = Draft(head={})
    fields = Policy.model_fields
    for key in data:
        if key not in fields:
            problems.append(Problem(f"unknown field {key!r}{did_you_mean(key, fields)}", key,
                                    located.line((key,))))
    for name, info in fields.items():
        if name not in data:
            if info.is_required():
                problems.append(Problem(f"missing required field {name!r}", name,
                                        located.line(())))
            draft.head[name] = None if info.is_required() else info.get_default(
                call_default_factory=True)
            continue
        raw = data[name]
        if name in SECTIONS and (isinstance(raw, list) or (raw is None and name != "categories")):
            model, key = SECTIONS[name]
            items = raw or []
            draft.names[name] = [(i, item[key]) for i, item in enumerate(items)
                                 if isinstance(item, dict) and isinstance(item.get(key), str)]
            if len(draft.names[name]) < len(items):
                draft.unsure.add(name)
            for i, item in enumerate(items):
                try:
                    getattr(draft, name).append((i, model.model_validate(item)))
                except ValidationError as exc:
                    problems += _problems(exc, located, (name, i))
                    if (saved := _salvage(model, item, exc)) is not None:
                        getattr(draft, name).append((i, saved[0]))
                        draft.dropped |= {(name, i, k) for k in saved[1]}
            if name == "categories" and not items:
                problems.append(Problem("a policy needs at least one category", name,
                                        located.line((name,))))
            continue
        try:
            draft.head[name] = _adapter(name).validate_python(raw)
        except ValidationError as exc:
            problems += _problems(exc, located, (name,))
            draft.head[name] = None
            if name in SECTIONS:
                draft.unsure.add(name)
    return draft, problems


# ------------------------------------------------------------------ meaning (catalogue)

def _duplicates(items: Iterable[tuple[int, str]], section: str, key: str,
                located: Located) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, name in items:
        if name in seen:
            path = (section, i, key)
            first = located.line((section, seen[name]))
            out.append(Problem(f"duplicate {key} {name!r} (first at line {first})",
                               dotted(path), located.line(path)))
        seen.setdefault(name, i)
    return out


class _Checker:
    """Semantic checks that need the whole document and the catalogue."""

    def __init__(self, draft: Draft, located: Located, catalogue: Catalogue) -> None:
        self.d = draft
        self.loc = located
        self.cat = catalogue
        self.problems: list[Problem] = []

    def named(self, section: str) -> list[str]:
        """Every name declared in a section, valid items or not (so errors do not cascade)."""
        return [n for _, n in self.d.names.get(section, [])]

    def unsure_names(self, node: expr.Node) -> dict[str, str]:
        """Names the condition reads from a section we could not read whole: assumed to exist,
        so one broken section does not make every condition that names it an error too."""
        prefixes = {"categories": ("category.",), "rules": ("hits.", "points."),
                    "lists": ("listed.",)}
        unsure = tuple(p for s in self.d.unsure for p in prefixes.get(s, ()))
        return {n: "bool" if n.startswith("listed.") else "number"
                for n in expr.names(node) if unsure and n.startswith(unsure)}

    def add(self, msg: str, *path: str | int) -> None:
        self.problems.append(Problem(msg, dotted(path), self.loc.line(path)))

    def condition(self, text: str, ns: dict[str, str], values: dict[str, Collection[str]],
                  *path: str | int) -> expr.Node | None:
        try:
            node = expr.parse(text)
            ns = {**ns, **self.unsure_names(node)}
            if expr.check(node, ns, text=text, values=values) != "bool":
                self.add(f"condition {text!r} is not true/false", *path)
                return None
            return node
        except ExpressionError as exc:
            line, col = self.loc.position(path, exc.position or 0)
            if exc.position is None:
                col = None
            self.problems.append(Problem(f"condition {text!r}: {exc}", dotted(path), line, col))
            return None

    def run(self) -> dict[str, Any]:
        d = self.d
        for section, (_, key) in SECTIONS.items():
            self.problems += _duplicates(d.names.get(section, []), section, key, self.loc)
        self.categories()
        out = self.rules()
        self.bands()
        cats, rules, lists = self.named("categories"), self.named("rules"), self.named("lists")
        values: dict[str, Collection[str]] = {"band": self.named("bands"),
                                              "subject_kind": ("person", "organisation")}
        ns_list = feature_namespace(cats, rules)
        ns_measure = feature_namespace(cats, rules, lists)
        out["list_enter"], out["list_exit"] = {}, {}
        for i, lst in d.lists:
            self.context(lst.context, "lists", i, "context")
            out["list_enter"][lst.name] = self.condition(lst.enter, ns_list, values,
                                                         "lists", i, "enter")
            out["list_exit"][lst.name] = (self.condition(lst.exit, ns_list, values,
                                                         "lists", i, "exit")
                                          if lst.exit else None)
        out["measure_when"], out["measure_keep"] = {}, {}
        for i, m in d.measures:
            self.context(m.context, "measures", i, "context")
            for j, rel in enumerate(m.via_relation or []):
                self.relation(rel, "measures", i, "via_relation", j)
            for j, link in enumerate(m.linked_contexts):
                self.context(link.context, "measures", i, "linked_contexts", j, "context")
            when = self.condition(m.when, ns_measure, values, "measures", i, "when")
            out["measure_when"][m.name] = when
            keep: expr.Node | None = None
            h = m.hysteresis
            if h is not None and h.keep_while:
                keep = self.condition(h.keep_while, ns_measure, values,
                                      "measures", i, "hysteresis", "keep_while")
            elif h is not None and h.low_water is not None and when is not None:
                th = expr.threshold(when)
                if th is None or th[0] not in (">", ">="):
                    self.add(f"low_water needs a condition of the form 'score >= N', not "
                             f"{m.when!r}; use keep_while otherwise",
                             "measures", i, "hysteresis", "low_water")
                else:
                    keep = expr.Binary(">=", expr.Name("score"), expr.Lit(th[1] * h.low_water))
            out["measure_keep"][m.name] = keep
        return out

    def context(self, name: str, *path: str | int) -> None:
        if name not in self.cat.contexts:
            self.add(f"unknown context {name!r}{did_you_mean(name, self.cat.contexts)}", *path)

    def relation(self, name: str, *path: str | int) -> None:
        if name not in RELATION_TYPES:
            self.add(f"unknown relation type {name!r}{did_you_mean(name, RELATION_TYPES)}; "
                     f"known: {', '.join(RELATION_TYPES)}", *path)

    def categories(self) -> None:
        d = self.d
        networks = [(i, c) for i, c in d.categories if c.network is not None]
        for i, c in networks[1:]:
            self.add(f"category {c.name!r}: a policy has at most one network category "
                     f"(the first is {networks[0][1].name!r})", "categories", i, "network")
        if d.head.get("aggregation") == "weighted":
            for i, c in d.categories:
                if c.weight is None and ("categories", i, "weight") not in d.dropped:
                    self.add(f"category {c.name!r} needs a weight (aggregation: weighted)",
                             "categories", i)
                if c.curve is None and ("categories", i, "curve") not in d.dropped:
                    self.add(f"category {c.name!r} needs a curve (aggregation: weighted)",
                             "categories", i)
            complete = len(d.categories) == len(d.names.get("categories", [None]))
            weights = [c.weight for _, c in d.categories]
            if complete and None not in weights:
                total = sum(w for w in weights if w is not None)
                if abs(total - 1.0) > 1e-9:
                    shown = " + ".join(f"{w:g}" for w in weights if w is not None)
                    self.add(f"category weights sum to {total:g} ({shown}), not 1", "categories")
        ruled = {r.category for _, r in d.rules}
        for i, c in networks:
            for j, rel in enumerate(c.network.relations if c.network else []):
                self.relation(rel, "categories", i, "network", "relations", j)
            if c.name in ruled:
                self.add(f"network category {c.name!r} cannot also have rules: it is computed "
                         "from related subjects' scores", "categories", i, "network")

    def rules(self) -> dict[str, Any]:
        d = self.d
        cats = self.named("categories")
        kind_of = d.head.get("subject_kind")
        conditions: dict[str, expr.Node | None] = {}
        attributes: dict[str, dict[str, str]] = {}
        contexts: dict[str, str] = {}
        protected: dict[str, str] = {}
        for i, r in d.rules:
            if r.category not in cats and "categories" not in d.unsure:
                self.add(f"unknown category {r.category!r}{did_you_mean(r.category, cats)}; "
                         f"declared: {', '.join(sorted(cats)) or 'none'}", "rules", i, "category")
            try:
                kind = self.cat.kind(r.kind)
            except CatalogueError as exc:
                self.add(str(exc), "rules", i, "kind")
                continue
            contexts[r.id] = kind.context
            if kind.protected:
                protected[r.id] = kind.protected
            if kind_of not in (None, "any") and kind_of not in kind.subjects:
                self.add(f"kind {r.kind!r} is not recorded about a {kind_of}",
                         "rules", i, "kind")
            ns = {"value": "number"}
            ns.update({a.name: _ATTR_TYPES[a.type] for a in kind.attributes.values()})
            values: dict[str, Collection[str]] = {
                a.name: a.values for a in kind.attributes.values() if a.type == "enum"}
            attributes[r.id] = {a.name: a.type for a in kind.attributes.values()}
            conditions[r.id] = (self.condition(r.when, ns, values, "rules", i, "when")
                                if r.when else None)
        return {"rule_conditions": conditions, "rule_attributes": attributes,
                "rule_contexts": contexts, "protected": protected}

    def bands(self) -> None:
        d = self.d
        ordered = sorted(d.bands, key=lambda ib: (ib[1].min, ib[0]))
        for (_, a), (j, b) in itertools.pairwise(ordered):
            if b.min < a.max:
                self.add(f"band {b.name!r} [{b.min:g}, {b.max:g}) overlaps band {a.name!r} "
                         f"[{a.min:g}, {a.max:g})", "bands", j)
        scale: Scale | None = d.head.get("scale")
        if scale is None:
            return
        for i, b in d.bands:
            if b.min < scale.min or b.max > scale.max:
                self.add(f"band {b.name!r} [{b.min:g}, {b.max:g}) reaches outside the scale "
                         f"{scale.min:g}..{scale.max:g}", "bands", i)


def compile_policy(text: str, *, source: str = "<policy>",
                   catalogue: Catalogue | None = None, lint: bool = True) -> CompiledPolicy:
    """Load, validate, check and lint a policy text; raise PolicyError or GuardError."""
    located = load_located(text, source)
    if not isinstance(located.data, dict):
        raise PolicyError([Problem("a policy is a mapping of fields", "", 1)], source)
    draft, problems = validate(located)
    checker = _Checker(draft, located, catalogue or load_catalogue())
    parts = checker.run()
    problems += checker.problems
    if problems:
        raise PolicyError(problems, source)
    data = {k: ([] if v is None and k in SECTIONS else v) for k, v in located.data.items()}
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:  # pragma: no cover - validate() checks the same things
        raise PolicyError(_problems(exc, located), source) from None
    lines = {dotted(k): v for k, v in located.lines.items() if len(k) <= 3}
    compiled = CompiledPolicy(
        policy=policy, text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
        lines=lines, **parts)
    if lint:
        from glasscredit.policy.lint import enforce

        compiled = enforce(compiled, source)
    return compiled


def load_policy(path: str | Path, *, catalogue: Catalogue | None = None) -> CompiledPolicy:
    """Read and compile a policy file; ``sesame`` names a preset, ``example:NAME`` a shipped
    example (src/glasscredit/examples)."""
    from importlib.resources import files

    text_path = str(path)
    shipped = None
    if text_path.startswith("example:"):
        shipped = files("glasscredit.examples") / f"{text_path.removeprefix('example:')}.yaml"
    elif not Path(path).exists() and not Path(path).suffix:
        shipped = files("glasscredit.policy") / "presets" / f"{path}.yaml"
    if shipped is not None and shipped.is_file():
        return compile_policy(shipped.read_text(encoding="utf-8"), source=text_path,
                              catalogue=catalogue)
    if shipped is not None:
        folder = shipped.parent if hasattr(shipped, "parent") else None
        known = sorted(f.name.removesuffix(".yaml") for f in folder.iterdir()
                       if f.name.endswith(".yaml")) if folder is not None else []
        what = "example" if text_path.startswith("example:") else "file or preset"
        raise PolicyError([Problem(f"no {what} called {text_path!r}; shipped: "
                                   f"{', '.join(known)}")], text_path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([Problem(f"cannot read policy: {exc.strerror}")], text_path) from None
    return compile_policy(text, source=text_path, catalogue=catalogue)
