"""Load a policy: YAML -> validated model -> checked against the catalogue -> CompiledPolicy.

Every problem is collected with its line in the YAML and raised once as PolicyError, so an
author fixes them all in one round. A policy that fails here never reaches the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from glasscredit.catalogue import Catalogue, load_catalogue
from glasscredit.errors import CatalogueError, ExpressionError, Finding, PolicyError, Problem
from glasscredit.policy import expr
from glasscredit.policy.model import Policy
from glasscredit.policy.yamlsrc import Located, dotted, load_located

_ATTR_TYPES = {"int": "number", "float": "number", "bool": "bool", "string": "string",
               "enum": "string", "date": "string"}


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


def feature_namespace(policy: Policy, *, with_lists: bool) -> dict[str, str]:
    """Names a list or measure condition may read, with their types."""
    ns = {"score": "number", "band": "string", "subject_kind": "string"}
    for c in policy.categories:
        ns[f"category.{c.name}"] = "number"
    for r in policy.rules:
        ns[f"hits.{r.id}"] = "number"
        ns[f"points.{r.id}"] = "number"
    if with_lists:
        for lst in policy.lists:
            ns[f"listed.{lst.name}"] = "bool"
    return ns


def _pydantic_problems(exc: ValidationError, located: Located) -> list[Problem]:
    out = []
    for err in exc.errors():
        path = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        out.append(Problem(msg, dotted(path), located.line(path)))
    return out


def _duplicates(items: Iterable[tuple[int, str]], section: str, key: str,
                located: Located) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for i, name in items:
        if name in seen:
            path = (section, i, key)
            out.append(Problem(f"duplicate {key} {name!r}", dotted(path), located.line(path)))
        seen.add(name)
    return out


class _Checker:
    """Semantic checks that need the whole document and the catalogue."""

    def __init__(self, policy: Policy, located: Located, catalogue: Catalogue) -> None:
        self.p = policy
        self.loc = located
        self.cat = catalogue
        self.problems: list[Problem] = []

    def add(self, msg: str, *path: str | int) -> None:
        self.problems.append(Problem(msg, dotted(path), self.loc.line(path)))

    def condition(self, text: str, ns: dict[str, str], *path: str | int) -> expr.Node | None:
        try:
            node = expr.parse(text)
            if expr.check(node, ns, text=text) != "bool":
                self.add(f"condition {text!r} is not true/false", *path)
                return None
            return node
        except ExpressionError as exc:
            self.add(f"condition {text!r}: {exc}", *path)
            return None

    def run(self) -> dict[str, Any]:
        p = self.p
        for section, key in (("categories", "name"), ("rules", "id"), ("bands", "name"),
                             ("lists", "name"), ("measures", "name")):
            items = [(i, getattr(x, key)) for i, x in enumerate(getattr(p, section))]
            self.problems += _duplicates(items, section, key, self.loc)
        self.categories()
        out = self.rules()
        self.bands()
        ns_list = feature_namespace(p, with_lists=False)
        ns_measure = feature_namespace(p, with_lists=True)
        out["list_enter"], out["list_exit"] = {}, {}
        contexts = set(self.cat.contexts)
        for i, lst in enumerate(p.lists):
            if lst.context not in contexts:
                self.add(f"unknown context {lst.context!r}", "lists", i, "context")
            out["list_enter"][lst.name] = self.condition(lst.enter, ns_list, "lists", i, "enter")
            out["list_exit"][lst.name] = (self.condition(lst.exit, ns_list, "lists", i, "exit")
                                          if lst.exit else None)
            if (lst.min_duration and lst.max_duration
                    and lst.min_duration > lst.max_duration):
                self.add("min_duration is longer than max_duration", "lists", i)
        out["measure_when"], out["measure_keep"] = {}, {}
        for i, m in enumerate(p.measures):
            if m.context not in contexts:
                self.add(f"unknown context {m.context!r}", "measures", i, "context")
            for j, link in enumerate(m.linked_contexts):
                if link.context not in contexts:
                    self.add(f"unknown context {link.context!r}",
                             "measures", i, "linked_contexts", j, "context")
            when = self.condition(m.when, ns_measure, "measures", i, "when")
            out["measure_when"][m.name] = when
            keep: expr.Node | None = None
            h = m.hysteresis
            if h is not None and h.keep_while:
                keep = self.condition(h.keep_while, ns_measure, "measures", i, "hysteresis")
            elif h is not None and h.low_water is not None and when is not None:
                th = expr.threshold(when)
                if th is None or th[0] not in (">", ">="):
                    self.add("low_water needs a condition of the form 'score >= N'; "
                             "use keep_while otherwise", "measures", i, "hysteresis")
                else:
                    keep = expr.parse(f"score >= {th[1] * h.low_water!r}")
            out["measure_keep"][m.name] = keep
        return out

    def categories(self) -> None:
        p = self.p
        networks = [c for c in p.categories if c.network is not None]
        if len(networks) > 1:
            self.add("at most one network category", "categories")
        if p.aggregation == "weighted":
            total = 0.0
            for i, c in enumerate(p.categories):
                if c.weight is None:
                    self.add(f"category {c.name!r} needs a weight (aggregation: weighted)",
                             "categories", i)
                else:
                    total += c.weight
                if c.curve is None:
                    self.add(f"category {c.name!r} needs a curve (aggregation: weighted)",
                             "categories", i)
            if abs(total - 1.0) > 1e-9 and all(c.weight is not None for c in p.categories):
                self.add(f"category weights sum to {total:g}, not 1", "categories")
        rule_cats = {r.category for r in p.rules}
        for i, c in enumerate(p.categories):
            if c.network is not None and c.name in rule_cats:
                self.add(f"network category {c.name!r} cannot also have rules", "categories", i)

    def rules(self) -> dict[str, Any]:
        p = self.p
        cats = {c.name for c in p.categories}
        conditions: dict[str, expr.Node | None] = {}
        attributes: dict[str, dict[str, str]] = {}
        contexts: dict[str, str] = {}
        protected: dict[str, str] = {}
        for i, r in enumerate(p.rules):
            if r.category not in cats:
                self.add(f"unknown category {r.category!r}; declared: {', '.join(sorted(cats))}",
                         "rules", i, "category")
            try:
                kind = self.cat.kind(r.kind)
            except CatalogueError as exc:
                self.add(str(exc), "rules", i, "kind")
                continue
            contexts[r.id] = kind.context
            if kind.protected:
                protected[r.id] = kind.protected
            if p.subject_kind != "any" and p.subject_kind not in kind.subjects:
                self.add(f"kind {r.kind!r} is not recorded about a {p.subject_kind}",
                         "rules", i, "kind")
            ns = {"value": "number"}
            ns.update({a.name: _ATTR_TYPES[a.type] for a in kind.attributes.values()})
            attributes[r.id] = {a.name: a.type for a in kind.attributes.values()}
            conditions[r.id] = (self.condition(r.when, ns, "rules", i, "when")
                                if r.when else None)
        return {"rule_conditions": conditions, "rule_attributes": attributes,
                "rule_contexts": contexts, "protected": protected}

    def bands(self) -> None:
        p = self.p
        ordered = sorted(enumerate(p.bands), key=lambda ib: ib[1].min)
        for (_, a), (j, b) in zip(ordered, ordered[1:], strict=False):
            if b.min < a.max:
                self.add(f"band {b.name!r} [{b.min:g}, {b.max:g}) overlaps band {a.name!r} "
                         f"[{a.min:g}, {a.max:g})", "bands", j)
        for i, b in enumerate(p.bands):
            if b.min < p.scale.min or b.max > p.scale.max:
                self.add(f"band {b.name!r} reaches outside the scale "
                         f"{p.scale.min:g}..{p.scale.max:g}", "bands", i)


def compile_policy(text: str, *, source: str = "<policy>",
                   catalogue: Catalogue | None = None, lint: bool = True) -> CompiledPolicy:
    """Load, validate, check and lint a policy text; raise PolicyError or GuardError."""
    located = load_located(text, source)
    if not isinstance(located.data, dict):
        raise PolicyError([Problem("a policy is a mapping of fields", "", 1)], source)
    try:
        policy = Policy.model_validate(located.data)
    except ValidationError as exc:
        raise PolicyError(_pydantic_problems(exc, located), source) from None
    checker = _Checker(policy, located, catalogue or load_catalogue())
    parts = checker.run()
    if checker.problems:
        raise PolicyError(checker.problems, source)
    lines = {dotted(k): v for k, v in located.lines.items() if len(k) <= 3}
    compiled = CompiledPolicy(
        policy=policy, text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
        lines=lines, **parts)
    if lint:
        from glasscredit.policy.lint import enforce

        compiled = enforce(compiled, source)
    return compiled


def load_policy(path: str | Path, *, catalogue: Catalogue | None = None) -> CompiledPolicy:
    """Read and compile a policy file (a preset name like ``sesame`` also works)."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        from importlib.resources import files

        preset = files("glasscredit.policy") / "presets" / f"{path}.yaml"
        if preset.is_file():
            return compile_policy(preset.read_text(encoding="utf-8"), source=f"preset:{path}",
                                  catalogue=catalogue)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([Problem(f"cannot read policy: {exc.strerror}")], str(path)) from None
    return compile_policy(text, source=str(path), catalogue=catalogue)
