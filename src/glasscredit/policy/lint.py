"""The guards: the line a ``live`` policy may not cross (DESIGN.md, "Two modes").

1. ``protected-data``   no rule scores a protected kind (GDPR Art. 9, political expression,
                        petitioning, private communications, location).
2. ``cross-context``    a measure or list uses records only from its own context, or from a
                        context it declares in ``linked_contexts`` with a justification
                        (EU AI Act Art. 5(1)(c)(i)).
3. ``others-conduct``   no measure or list depends on another subject's conduct (a network
                        category that counts, ``via_relation``).
4. ``due-process``      every sanction has notice, reasons and an appeal route; every list has a
                        maximum duration.

Guards 2 and 3 cover privileges and redlists as well as sanctions and blacklists: a privilege
withheld is the "unfavourable treatment" Art. 5(1)(c) names. Dependence is traced through what
a condition reads: ``score`` and ``band`` read every rule that can move the score (not those
with zero points or in a zero-weight category), ``category.X`` the rules of X, ``hits.r`` and
``points.r`` rule r, ``listed.L`` whatever list L's entry and exit read.

Everything here is data-driven: contexts and protected tags come from the catalogue. In
``simulation`` mode the findings are reported; in ``live`` mode they are an error.
"""

from __future__ import annotations

import dataclasses

from glasscredit.errors import Finding, GuardError
from glasscredit.policy import expr
from glasscredit.policy.load import CompiledPolicy
from glasscredit.policy.model import Category

GUARDS = ("protected-data", "cross-context", "others-conduct", "due-process")


@dataclasses.dataclass(frozen=True)
class Dependence:
    """What a condition ultimately reads: event contexts, and whether other subjects' conduct."""

    contexts: frozenset[str]
    others: bool
    via: tuple[str, ...] = ()

    def __or__(self, other: Dependence) -> Dependence:
        return Dependence(self.contexts | other.contexts, self.others or other.others,
                          tuple(dict.fromkeys(self.via + other.via)))


NOTHING = Dependence(frozenset(), False)


def _counts(cp: CompiledPolicy, category: Category) -> bool:
    """Whether a category can move the score at all."""
    if category.network is not None and category.network.factor == 0:
        return False
    return cp.policy.aggregation == "additive" or (category.weight or 0) > 0


def _score_dependence(cp: CompiledPolicy, name: str) -> Dependence:
    p = cp.policy
    live = {c.name for c in p.categories if _counts(cp, c)}
    contexts = frozenset(cp.rule_contexts[r.id] for r in p.rules
                         if r.category in live and r.points != 0)
    net = [c.name for c in p.categories if c.network is not None and c.name in live]
    via = tuple(f"{name} includes the network category {n!r}" for n in net)
    return Dependence(contexts, bool(net), via)


def dependence(cp: CompiledPolicy, node: expr.Node | None, _seen: frozenset[str] = frozenset()
               ) -> Dependence:
    """Trace a list or measure condition back to the event contexts it reads."""
    if node is None:
        return NOTHING
    p = cp.policy
    out = NOTHING
    for name in sorted(expr.names(node)):
        head, _, tail = name.partition(".")
        if name in ("score", "band"):
            out |= _score_dependence(cp, name)
        elif head == "category":
            cat = p.category(tail)
            if cat.network is not None:
                out |= Dependence(frozenset(), True, (f"{name} is a network category",))
            out |= Dependence(frozenset(cp.rule_contexts[r.id] for r in p.rules
                                        if r.category == tail), False)
        elif head in ("hits", "points"):
            out |= Dependence(frozenset({cp.rule_contexts[tail]}), False)
        elif head == "listed" and tail not in _seen:
            for sub in (cp.list_enter.get(tail), cp.list_exit.get(tail)):
                d = dependence(cp, sub, _seen | {tail})
                out |= Dependence(d.contexts, d.others, tuple(f"{name}: {v}" for v in d.via))
    return out


def findings(cp: CompiledPolicy) -> list[Finding]:
    """Every guard the policy breaks, sorted by line."""
    p = cp.policy
    out: list[Finding] = []

    def line(*paths: str) -> int | None:
        return next((cp.lines[x] for x in paths if x in cp.lines), None)

    for i, r in enumerate(p.rules):
        if r.id in cp.protected:
            out.append(Finding("protected-data", f"rule {r.id}",
                               f"scores event kind {r.kind!r}, protected as "
                               f"{cp.protected[r.id]}", line(f"rules[{i}].kind", f"rules[{i}]")))
    for i, lst in enumerate(p.lists):
        at = f"lists[{i}]"
        out += _conduct(cp, f"{lst.type} {lst.name}", lst.context, set(),
                        [(cp.list_enter[lst.name], line(f"{at}.enter", at)),
                         (cp.list_exit[lst.name], line(f"{at}.exit", at))])
        if lst.max_duration is None:
            out.append(Finding("due-process", f"{lst.type} {lst.name}",
                               "has no max_duration: a listing must end", line(at)))
    for i, m in enumerate(p.measures):
        at = f"measures[{i}]"
        who = f"{m.type} {m.name}"
        out += _conduct(cp, who, m.context, {c.context for c in m.linked_contexts},
                        [(cp.measure_when[m.name], line(f"{at}.when", at)),
                         (cp.measure_keep[m.name], line(f"{at}.hysteresis", at))])
        if m.via_relation:
            out.append(Finding("others-conduct", who,
                               f"applies through relations {', '.join(m.via_relation)}: "
                               "a subject is treated by another's record",
                               line(f"{at}.via_relation", at)))
        if m.type == "sanction":
            missing = [what for what, ok in (("notice", m.notice is not None),
                                             ("reasons", m.reasons),
                                             ("an appeal route", m.appeal is not None)) if not ok]
            if missing:
                out.append(Finding("due-process", who,
                                   f"sanction without {', '.join(missing)}", line(at)))
    return sorted(out, key=lambda f: (f.line or 0, GUARDS.index(f.guard)))


def _conduct(cp: CompiledPolicy, who: str, context: str, linked: set[str],
             conditions: list[tuple[expr.Node | None, int | None]]) -> list[Finding]:
    """Cross-context and others-conduct findings for one list or measure."""
    out = []
    deps = [(dependence(cp, node), at) for node, at in conditions if node is not None]
    unrelated = sorted(set().union(*(d.contexts for d, _ in deps)) - {context} - linked)
    if unrelated:
        at = next(at for d, at in deps if d.contexts - {context} - linked)
        out.append(Finding("cross-context", who,
                           f"acts in context {context!r} on records from "
                           f"{', '.join(repr(c) for c in unrelated)}; declare each in "
                           "linked_contexts with a justification, or drop it", at))
    others = [(d, at) for d, at in deps if d.others]
    if others:
        why = "; ".join(dict.fromkeys(v for d, _ in others for v in d.via))
        out.append(Finding("others-conduct", who,
                           f"depends on other subjects' conduct ({why})", others[0][1]))
    return out


def enforce(cp: CompiledPolicy, source: str = "<policy>") -> CompiledPolicy:
    """Attach the findings; a live policy with any finding is refused."""
    found = findings(cp)
    if found and cp.policy.mode == "live":
        raise GuardError(found, source)
    return dataclasses.replace(cp, findings=tuple(found))
