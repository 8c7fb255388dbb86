"""Score a synthetic city month by month, chaining list and measure state from month to month.

Every input table is registered once through ``Backend.from_arrow`` and each month's snapshot
the same way, so the table shapes stay stable and the engine builds its plan once per policy,
then replays it for every month (and for the counterfactual re-scores of the audit).
Each month's scores, lists and measures are written as Parquet under ``out/<policy>/``;
the library reports progress through a callback and never touches the terminal.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from glasscredit.engine.run import Inputs, Snapshot, score
from glasscredit.engine.sessions import Backend, duckdb_backend
from glasscredit.engine.tables import INPUT_SCHEMAS, SNAPSHOT_SCHEMAS
from glasscredit.errors import InputError
from glasscredit.ledger.ledger import arrow_schema
from glasscredit.policy.load import CompiledPolicy

#: Called as ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]
#: The city's finer relation types, read as the ledger's vocabulary (policies speak the latter).
RELATION_ALIASES = {"spouse": "family", "parent": "family"}
TABLES = ("scores", "lists", "measures")


def month_ends(start: date, months: int) -> list[datetime]:
    """The last second of each month from ``start``: the as_of of each monthly run."""
    out = []
    for k in range(1, months + 1):
        y, m = divmod(start.month - 1 + k, 12)
        out.append(datetime(start.year + y, m + 1, 1) - timedelta(seconds=1))
    return out


def city_start(city_dir: Path) -> date:
    """The first month of a city directory, from its manifest."""
    manifest = city_dir / "city.json"
    if not manifest.is_file():
        raise InputError(f"{city_dir}: no city.json (not a `glasscredit simulate city` output)")
    return date.fromisoformat(json.loads(manifest.read_text())["start"])


def _read(city_dir: Path, name: str) -> pa.Table:
    path = city_dir / f"{name}.parquet"
    if not path.is_file():
        raise InputError(f"{city_dir}: missing {name}.parquet")
    return pq.read_table(path).cast(arrow_schema(INPUT_SCHEMAS[name]))


def relations_table(city_dir: Path) -> pa.Table:
    """The city's relations with spouse and parent read as ``family``."""
    rel = _read(city_dir, "relations")
    kind = rel["relation"]
    for old, new in RELATION_ALIASES.items():
        kind = pc.if_else(pc.equal(kind, old), new, kind)
    return rel.set_column(rel.schema.get_field_index("relation"), "relation", kind)


def empty(name: str) -> pa.Table:
    """An empty input or snapshot table, typed."""
    return arrow_schema({**INPUT_SCHEMAS, **SNAPSHOT_SCHEMAS}[name]).empty_table()


def city_inputs(b: Backend, city_dir: Path) -> Inputs:
    """The city's engine inputs, registered in the backend's session."""
    return Inputs(subjects=b.from_arrow(_read(city_dir, "subjects")),
                  sources=b.from_arrow(_read(city_dir, "sources")),
                  events=b.from_arrow(_read(city_dir, "events")),
                  voids=b.from_arrow(_read(city_dir, "voids")),
                  relations=b.from_arrow(relations_table(city_dir)))


def variant(b: Backend, inputs: Inputs, *, relations: pa.Table | None = None,
            voids: pa.Table | None = None) -> Inputs:
    """The same inputs with relations or voids replaced (same shapes, so the plan replays)."""
    return dataclasses.replace(
        inputs, relations=inputs.relations if relations is None else b.from_arrow(relations),
        voids=inputs.voids if voids is None else b.from_arrow(voids))


def empty_snapshot(b: Backend) -> Snapshot:
    """A first month's snapshot: empty but typed, so month one uses the same plan as the rest."""
    return Snapshot(b.from_arrow(empty("list_state")), b.from_arrow(empty("measure_state")))


def _snapshot(b: Backend, lists: pa.Table, measures: pa.Table) -> Snapshot:
    cols = [(n, lists, list(SNAPSHOT_SCHEMAS["list_state"])) for n in ("list_state",)]
    cols += [("measure_state", measures, list(SNAPSHOT_SCHEMAS["measure_state"]))]
    tables = {n: t.select(c).cast(arrow_schema(SNAPSHOT_SCHEMAS[n])) for n, t, c in cols}
    return Snapshot(b.from_arrow(tables["list_state"]), b.from_arrow(tables["measure_state"]))


@dataclass
class MonthSummary:
    """Counts of one month: subjects per band, listed per list, active per measure."""

    as_of: str
    bands: dict[str, int] = field(default_factory=dict)
    lists: dict[str, int] = field(default_factory=dict)
    measures: dict[str, int] = field(default_factory=dict)


def _counts(table: pa.Table, key: str, flag: str | None = None) -> dict[str, int]:
    if flag is not None:
        table = table.filter(pc.fill_null(table[flag], False))
    return {str(r["values"]): int(r["counts"]) for r in pc.value_counts(table[key]).to_pylist()}


@dataclass
class CityRun:
    """A policy run over a city: the last month's tables, every month's counts, where all is."""

    policy: str
    version: str
    as_of: list[datetime]
    scores: pa.Table
    lists: pa.Table
    measures: pa.Table
    reasons: pa.Table
    months: list[MonthSummary]
    out_dir: Path | None = None
    seconds: float = 0.0

    def active(self, measure: str) -> set[str]:
        """The subjects holding ``measure`` in the last month."""
        m = self.measures.filter(pc.and_(pc.equal(self.measures["measure"], measure),
                                         pc.fill_null(self.measures["active"], False)))
        return set(m["subject_id"].to_pylist())

    def to_json(self) -> dict[str, Any]:
        """Counts per month, JSON-serialisable."""
        return {"policy": self.policy, "version": self.version,
                "as_of": [t.isoformat() for t in self.as_of],
                "months": [dataclasses.asdict(m) for m in self.months],
                "out_dir": None if self.out_dir is None else str(self.out_dir)}


def score_months(b: Backend, inputs: Inputs, cp: CompiledPolicy, ends: list[datetime],
                 progress: Progress | None = None, out_dir: Path | None = None,
                 stage: str = "") -> CityRun:
    """Score at each of ``ends`` in turn, each month reading the previous month's snapshot."""
    import time

    began = time.perf_counter()
    stage = stage or f"scoring {cp.name}"
    snap = empty_snapshot(b)
    months: list[MonthSummary] = []
    tables: dict[str, pa.Table] = {}
    reasons = empty("subjects")
    for i, as_of in enumerate(ends):
        if progress is not None:
            progress(stage, i, len(ends))
        last = i == len(ends) - 1
        result = score(b, inputs, cp, as_of, snapshot=snap, reasons=last)
        tables = {name: result.arrow(name) for name in TABLES}
        if last:
            reasons = result.arrow("reasons")
        snap = _snapshot(b, tables["lists"], tables["measures"])
        months.append(MonthSummary(
            as_of.date().isoformat(), _counts(tables["scores"], "band"),
            _counts(tables["lists"], "list", "listed"),
            _counts(tables["measures"], "measure", "active")))
        if out_dir is not None:
            folder = out_dir / f"month={as_of:%Y-%m}"
            folder.mkdir(parents=True, exist_ok=True)
            for name, table in tables.items():
                pq.write_table(table, folder / f"{name}.parquet")
    if progress is not None:
        progress(stage, len(ends), len(ends))
    run = CityRun(cp.name, cp.version_id, list(ends), tables["scores"], tables["lists"],
                  tables["measures"], reasons, months, out_dir, time.perf_counter() - began)
    if out_dir is not None:
        pq.write_table(reasons, out_dir / "reasons.parquet")
        (out_dir / "run.json").write_text(json.dumps(run.to_json(), indent=2) + "\n")
    return run


def run_city(city_dir: str | Path, cp: CompiledPolicy, months: int | None = None,
             start: date | None = None, backend: Backend | None = None,
             progress: Progress | None = None, out_dir: str | Path | None = None,
             inputs: Inputs | None = None) -> CityRun:
    """Score the city under ``cp`` for ``months`` months from ``start`` (default: the city's).

    Writes ``<out_dir>/<policy>/month=YYYY-MM/{scores,lists,measures}.parquet``, the last
    month's ``reasons.parquet`` and ``run.json`` when ``out_dir`` is given.
    """
    folder = Path(city_dir)
    if start is None:
        start = city_start(folder)
    if months is None:
        months = int(json.loads((folder / "city.json").read_text())["months"])
    if months < 1:
        raise InputError(f"months must be at least 1, got {months}")
    b = backend or duckdb_backend()
    if inputs is None:
        if progress is not None:
            progress("reading the city", 0, 1)
        inputs = city_inputs(b, folder)
        if progress is not None:
            progress("reading the city", 1, 1)
    target = None if out_dir is None else Path(out_dir) / cp.name
    return score_months(b, inputs, cp, month_ends(start, months), progress, target)
