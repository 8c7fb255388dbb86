"""Score a synthetic city month by month, chaining list and measure state from month to month.

Every input table is streamed once from its Parquet file into the backend's DuckDB (read by
DuckDB, handed over as an Arrow stream through ``Backend.from_arrow``) and each month's snapshot
is registered the same way, so the table shapes stay stable and the engine records its plan
once per policy, then replays it for every month and for the counterfactual re-scores of the
audit (every call asks for reasons, so months, the last month and the audit share one plan;
reasons are only read on the last month). The snapshot carries only the rows that hold state
(a measure in force or in its grace period, a listing or an ended listing): an absent row and
an all-empty one read the same to the engine, and the snapshot stays small.
Each month's outputs are materialised once inside DuckDB, which counts them, hands over the
snapshot's rows and writes ``out/<policy>/month=YYYY-MM/{scores,lists,measures}.parquet``
itself; only the last month's tables come out whole, as Arrow. The library reports progress
through a callback and never touches the terminal.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from glasscredit.engine.run import Inputs, Result, Snapshot, score
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


def _path(city_dir: Path, name: str) -> Path:
    path = city_dir / f"{name}.parquet"
    if not path.is_file():
        raise InputError(f"{city_dir}: missing {name}.parquet")
    return path


def _relation_sql(column: str) -> str:
    """The city's finer relation types read as the ledger's (cities written before the city
    wrote ``family`` itself say ``spouse`` and ``parent``)."""
    cases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in RELATION_ALIASES.items())
    return f"CASE {column} {cases} ELSE {column} END"


def empty(name: str) -> pa.Table:
    """An empty input or snapshot table, typed."""
    return arrow_schema({**INPUT_SCHEMAS, **SNAPSHOT_SCHEMAS}[name]).empty_table()


def _stream(b: Backend, city_dir: Path, name: str) -> Any:
    """One input table, read by DuckDB and streamed into the backend as Arrow batches: no
    whole-table copy in Python, and the same ``from_arrow`` shape as any other input."""
    path = str(_path(city_dir, name)).replace("'", "''")
    schema = arrow_schema(INPUT_SCHEMAS[name])
    cols = [f'"{c}"' for c in schema.names]
    if name == "relations":
        cols[schema.names.index("relation")] = _relation_sql('"relation"') + ' AS "relation"'
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        reader = con.sql(f"SELECT {', '.join(cols)} FROM read_parquet('{path}')"
                         ).to_arrow_reader(1 << 17)
        typed = pa.RecordBatchReader.from_batches(schema, (batch.cast(schema)
                                                           for batch in reader))
        return b.from_arrow(cast(pa.Table, typed))  # DuckDB scans an Arrow stream like a table
    finally:
        con.close()


def city_inputs(b: Backend, city_dir: Path) -> Inputs:
    """The city's engine inputs, registered in the backend's session."""
    return Inputs(**{name: _stream(b, city_dir, name) for name in INPUT_SCHEMAS})


def prepare(b: Backend, cp: CompiledPolicy) -> None:
    """Record ``cp``'s plan on empty inputs of the city's shapes, before the city exists.

    The engine keys a prepared plan by policy and input *shapes*, so a later run on the real
    tables (and the audit's variants) replays this one; the recording, which costs seconds
    whatever the data size, can then overlap with generating the city.
    """
    inputs = Inputs(**{name: b.from_arrow(empty(name)) for name in INPUT_SCHEMAS})
    score(b, inputs, cp, datetime(2000, 1, 1), snapshot=empty_snapshot(b), reasons=True)


def variant(b: Backend, inputs: Inputs, *, relations: pa.Table | None = None,
            voids: pa.Table | None = None) -> Inputs:
    """The same inputs with relations or voids replaced (same shapes, so the plan replays)."""
    return dataclasses.replace(
        inputs, relations=inputs.relations if relations is None else b.from_arrow(relations),
        voids=inputs.voids if voids is None else b.from_arrow(voids))


def empty_snapshot(b: Backend) -> Snapshot:
    """A first month's snapshot: empty but typed, so month one uses the same plan as the rest."""
    return Snapshot(b.from_arrow(empty("list_state")), b.from_arrow(empty("measure_state")))


def _holding(measures: pa.Table) -> pa.Table:
    """The measure rows that carry state into the next month: in force, or with a date set.

    The engine reads the snapshot per subject and measure with absent values as none, so a row
    that is inactive with neither ``since`` nor ``failing_since`` reads exactly like no row.
    """
    keep = pc.or_kleene(pc.fill_null(measures["active"], False), pc.or_kleene(
        pc.is_valid(measures["since"]), pc.is_valid(measures["failing_since"])))
    return measures.filter(keep)


def _snapshot(b: Backend, lists: pa.Table, measures: pa.Table) -> Snapshot:
    """The next month's snapshot from this month's lists and state-carrying measure rows."""
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
                "as_of": [t.isoformat() for t in self.as_of], "seconds": self.seconds,
                "months": [dataclasses.asdict(m) for m in self.months],
                "out_dir": None if self.out_dir is None else str(self.out_dir)}


#: Sort keys of the output tables (as the engine's ``Result.arrow`` sorts them).
KEYS = {"scores": ["subject_id"], "lists": ["subject_id", "list"],
        "measures": ["subject_id", "measure"]}
#: What a month's summary counts per table: the key, and the flag a row must have.
COUNTED = {"scores": ("band", None), "lists": ("list", "listed"),
           "measures": ("measure", "active")}
_months = itertools.count()


@dataclass
class _Month:
    """One scored month: its counts, the next snapshot's rows and (last month) its tables."""

    counts: dict[str, dict[str, int]]
    lists: pa.Table
    measures: pa.Table
    tables: dict[str, pa.Table]


def _order(name: str) -> str:
    return ", ".join(f'"{k}"' for k in KEYS[name])


def _via_arrow(result: Result, folder: Path | None) -> _Month:
    """A backend without bound SQL (Spark): every table through Arrow."""
    tables = {name: result.arrow(name) for name in TABLES}
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            pq.write_table(table, folder / f"{name}.parquet")
    counts = {name: _counts(tables[name], *COUNTED[name]) for name in TABLES}
    return _Month(counts, tables["lists"], _holding(tables["measures"]), tables)


def _month(b: Backend, result: Result, folder: Path | None, last: bool) -> _Month:
    """Materialise the month's outputs once inside DuckDB, then take from them only what is
    needed: counts, the snapshot's rows, the Parquet files (written by DuckDB) and, for the
    last month, the tables as Arrow. The engine's outputs are the same rows either way."""
    if not all(name in result.sql for name in TABLES):
        return _via_arrow(result, folder)
    con = b.connection
    made = {name: f"gc_month_{next(_months)}_{name}" for name in TABLES}
    try:
        for name, table in made.items():
            con.execute(f"CREATE TEMP TABLE {table} AS {result.sql[name]}")
        counts = {}
        for name, (key, flag) in COUNTED.items():
            where = f'WHERE coalesce("{flag}", false)' if flag else ""
            rows = con.execute(f'SELECT "{key}", count(*) FROM {made[name]} {where} '
                               f'GROUP BY ALL ORDER BY "{key}" NULLS LAST').fetchall()
            counts[name] = {str(k): int(n) for k, n in rows}
        lists = con.sql(f"SELECT * FROM {made['lists']}").to_arrow_table()
        measures = con.sql(
            f"SELECT * FROM {made['measures']} WHERE coalesce(active, false) "
            "OR since IS NOT NULL OR failing_since IS NOT NULL").to_arrow_table()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for name, table in made.items():
                target = str(folder / f"{name}.parquet").replace("'", "''")
                con.execute(f"COPY (SELECT * FROM {table} ORDER BY {_order(name)}) "
                            f"TO '{target}' (FORMAT parquet)")
        tables = {name: con.sql(f"SELECT * FROM {table} ORDER BY {_order(name)}")
                  .to_arrow_table() for name, table in made.items()} if last else {}
    finally:
        for table in made.values():
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return _Month(counts, lists, measures, tables)


def score_months(b: Backend, inputs: Inputs, cp: CompiledPolicy, ends: list[datetime],
                 progress: Progress | None = None, out_dir: Path | None = None,
                 stage: str = "") -> CityRun:
    """Score at each of ``ends`` in turn, each month reading the previous month's snapshot.

    Every month is scored with reasons so that all months share one prepared plan (reasons
    are a query on the month's state, read only for the last month).
    """
    if not ends:
        raise InputError("no month to score")
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
        result = score(b, inputs, cp, as_of, snapshot=snap, reasons=True)
        folder = None if out_dir is None else out_dir / f"month={as_of:%Y-%m}"
        month = _month(b, result, folder, last)
        if last:
            tables = month.tables
            reasons = result.arrow("reasons")
        del result  # its temporary tables go now, not at the next collection
        snap = _snapshot(b, month.lists, month.measures)
        months.append(MonthSummary(as_of.date().isoformat(), month.counts["scores"],
                                   month.counts["lists"], month.counts["measures"]))
    if progress is not None:
        progress(stage, len(ends), len(ends))
    run = CityRun(cp.name, cp.version_id, list(ends), tables["scores"], tables["lists"],
                  tables["measures"], reasons, months, out_dir, time.perf_counter() - began)
    if out_dir is not None:
        pq.write_table(reasons, out_dir / "reasons.parquet")
        (out_dir / "run.json").write_text(json.dumps(run.to_json(), indent=2) + "\n")
    return run


def load_run(folder: Path) -> CityRun:
    """A run written by ``score_months(out_dir=folder)``: its last month's tables and counts."""
    manifest = folder / "run.json"
    if not manifest.is_file():
        raise InputError(f"{folder}: no run.json (not a `glasscredit simulate run` output)")
    data = json.loads(manifest.read_text())
    ends = [datetime.fromisoformat(t) for t in data["as_of"]]
    last = folder / f"month={ends[-1]:%Y-%m}"
    tables = {name: pq.read_table(last / f"{name}.parquet") for name in TABLES}
    return CityRun(data["policy"], data["version"], ends, tables["scores"], tables["lists"],
                   tables["measures"], pq.read_table(folder / "reasons.parquet"),
                   [MonthSummary(**m) for m in data["months"]], folder,
                   float(data.get("seconds", 0.0)))


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
