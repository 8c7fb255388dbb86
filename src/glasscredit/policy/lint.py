"""The guards: the line a ``live`` policy may not cross (DESIGN.md, "Two modes").

1. ``protected-data``   no rule scores a protected kind (GDPR Art. 9, political expression,
                        petitioning, private communications, location).
2. ``cross-context``    a measure or blacklist uses records only from its own context, or from a
                        context it declares in ``linked_contexts`` with a justification
                        (EU AI Act Art. 5(1)(c)(i)).
3. ``others-conduct``   no measure or blacklist depends on another subject's conduct (network
                        categories, ``via_relation``).
4. ``due-process``      every sanction has notice, reasons and an appeal route; every list has a
                        maximum duration.

Everything here is data-driven: contexts and protected tags come from the catalogue. In
``simulation`` mode the findings are reported; in ``live`` mode they are an error.
"""

from __future__ import annotations

import dataclasses

from glasscredit.errors import Finding, GuardError
from glasscredit.policy import expr
from glasscredit.policy.load import CompiledPolicy

GUARDS = ("protected-data", "cross-context", "others-conduct", "due-process")


@dataclasses.dataclass(frozen=True)
class Dependence:
    """What a condition ultimately reads: event contexts, and whether other subjects' conduct."""

    contexts: frozenset[str]
    others: bool
    via: tuple[str, ...] = ()


def _network_weight(cp: CompiledPolicy) -> bool:
    p = cp.policy
    return any(c.network is not None and (p.aggregation == "additive" or (c.weight or 0) > 0)
               for c in p.categories)


def dependence(cp: CompiledPolicy, node: expr.Node | None, _seen: frozenset[str] = frozenset()
               ) -> Dependence:
    """Trace a list or measure condition back to the event contexts it reads."""
    if node is None:
        return Dependence(frozenset(), False)
    p = cp.policy
    contexts: set[str] = set()
    others = False
    via: list[str] = []
    for name in expr.names(node):
        head, _, tail = name.partition(".")
        if name in ("score", "band"):
            contexts |= set(cp.rule_contexts.values())
            if _network_weight(cp):
                others = True
                via.append(f"{name} includes a network category")
        elif head == "category":
            cat = p.category(tail)
            if cat.network is not None:
                others = True
                via.append(f"category.{tail} is a network category")
            contexts |= {cp.rule_contexts[r.id] for r in p.rules if r.category == tail}
        elif head in ("hits", "points"):
            contexts.add(cp.rule_contexts[tail])
        elif head == "listed" and tail not in _seen:
            for sub in (cp.list_enter.get(tail), cp.list_exit.get(tail)):
                d = dependence(cp, sub, _seen | {tail})
                contexts |= d.contexts
                others = others or d.others
                via += [f"listed.{tail}: {v}" for v in d.via]
    return Dependence(frozenset(contexts), others, tuple(via))


def findings(cp: CompiledPolicy) -> list[Finding]:
    """Every guard the policy breaks, in document order."""
    p = cp.policy
    out: list[Finding] = []

    def line(path: str) -> int | None:
        return cp.lines.get(path)

    for i, r in enumerate(p.rules):
        if r.id in cp.protected:
            out.append(Finding("protected-data", f"rule {r.id}",
                               f"scores event kind {r.kind!r}, protected as "
                               f"{cp.protected[r.id]}", line(f"rules[{i}]")))
    targets = [(f"lists[{i}]", f"list {lst.name}", lst.context, cp.list_enter[lst.name],
                cp.list_exit[lst.name], set(), None)
               for i, lst in enumerate(p.lists) if lst.type == "blacklist"]
    targets += [(f"measures[{i}]", f"measure {m.name}", m.context, cp.measure_when[m.name],
                 cp.measure_keep[m.name], {c.context for c in m.linked_contexts}, m)
                for i, m in enumerate(p.measures)]
    for path, who, context, cond, other, linked, m in targets:
        dep = dependence(cp, cond)
        dep2 = dependence(cp, other)
        unrelated = sorted((dep.contexts | dep2.contexts) - {context} - linked)
        if unrelated:
            out.append(Finding("cross-context", who,
                               f"acts in context {context!r} on records from "
                               f"{', '.join(repr(c) for c in unrelated)}; declare each in "
                               "linked_contexts with a justification, or drop it", line(path)))
        if dep.others or dep2.others:
            why = "; ".join(sorted(set(dep.via + dep2.via)))
            out.append(Finding("others-conduct", who,
                               f"depends on other subjects' conduct ({why})", line(path)))
        if m is not None and m.via_relation:
            out.append(Finding("others-conduct", who,
                               f"applies through relations {', '.join(m.via_relation)}: "
                               "a subject is treated by another's record", line(path)))
        if m is not None and m.type == "sanction":
            missing = [what for what, ok in (("notice", m.notice is not None),
                                             ("reasons", m.reasons),
                                             ("an appeal route", m.appeal is not None)) if not ok]
            if missing:
                out.append(Finding("due-process", who,
                                   f"sanction without {', '.join(missing)}", line(path)))
    for i, lst in enumerate(p.lists):
        if lst.max_duration is None:
            out.append(Finding("due-process", f"list {lst.name}",
                               "has no max_duration: a listing must end", line(f"lists[{i}]")))
    return out


def enforce(cp: CompiledPolicy, source: str = "<policy>") -> CompiledPolicy:
    """Attach the findings; a live policy with any finding is refused."""
    found = findings(cp)
    if found and cp.policy.mode == "live":
        raise GuardError(found, source)
    return dataclasses.replace(cp, findings=tuple(found))
