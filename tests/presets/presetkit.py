"""Run a shipped preset on hand-built subjects and read its outputs by subject (tests only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from enginekit import D, arrow, inputs, rows
from glasscredit.engine.run import Result, Snapshot, score
from glasscredit.engine.sessions import Backend
from glasscredit.policy.load import CompiledPolicy, load_policy

#: every preset shipped in ``glasscredit/policy/presets``
PRESETS = ("sesame", "suzhou", "shanghai", "suining", "national", "tax_grades", "supplier_rating")
LIVE = ("supplier_rating",)


def linear(x: float, lo: float, hi: float) -> float:
    """A weighted category's linear curve: raw points -> 0..1."""
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


@dataclass
class Outcome:
    """One run's outputs keyed by subject: scores rows, listed lists, active measures, reasons."""

    result: Result

    def __post_init__(self) -> None:
        self.scores = {r["subject_id"]: r for r in rows(self.result.arrow("scores"))}
        self._lists = rows(self.result.arrow("lists"))
        self._measures = rows(self.result.arrow("measures"))
        self._reasons = rows(self.result.arrow("reasons"))

    def score(self, subject: str) -> float:
        return float(self.scores[subject]["score"])

    def band(self, subject: str) -> str | None:
        return self.scores[subject]["band"]

    def listed(self, subject: str) -> set[str]:
        return {x["list"] for x in self._lists if x["subject_id"] == subject and x["listed"]}

    def list_row(self, subject: str, name: str) -> dict[str, Any]:
        return next(x for x in self._lists if x["subject_id"] == subject and x["list"] == name)

    def measures(self, subject: str) -> set[str]:
        return {m["measure"] for m in self._measures if m["subject_id"] == subject and m["active"]}

    def reasons(self, subject: str) -> list[tuple[str, float]]:
        return [(x["rule_id"], x["points_lost"]) for x in self._reasons
                if x["subject_id"] == subject]


def run(b: Backend, cp: CompiledPolicy, subjects: list[tuple[str, str]],
        events: list[dict[str, Any]], as_of: str | datetime,
        relations: list[tuple[str, str, str]] | None = None,
        snapshot: Snapshot | None = None, sources: dict[str, float] | None = None) -> Outcome:
    """Score ``subjects`` under ``cp`` at ``as_of`` and collect the outputs."""
    when = D(as_of) if isinstance(as_of, str) else as_of
    inp = inputs(b, subjects, events, sources=sources, relations=relations)
    return Outcome(score(b, inp, cp, when, snapshot=snapshot))


def preset(name: str) -> CompiledPolicy:
    """A shipped preset, compiled as ``load_policy`` resolves a bare name."""
    return load_policy(name)


def first_snapshot(b: Backend) -> Snapshot:
    """An empty previous state: a first run, in the same table shapes as a chained run, so
    both replay one prepared plan (building a plan with lists and measures takes ~20 s)."""
    return Snapshot(b.from_arrow(arrow("list_state", [])),
                    b.from_arrow(arrow("measure_state", [])))
