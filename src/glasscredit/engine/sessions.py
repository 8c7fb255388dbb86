"""Backends: what differs between DuckDB (SQLFrame), Apache Spark and PostgreSQL, as declared data.

The engine is written once against the PySpark DataFrame API. A Backend hands it the session,
the matching ``functions`` module and ``Window``, and knows how to bring Arrow data in, take
results out and materialise an intermediate once so later outputs do not recompute it.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pyarrow as pa

from glasscredit.errors import BackendError

_counter = itertools.count()
V = TypeVar("V")


@dataclass
class Backend:
    """A DataFrame session plus the few things the engine needs from it."""

    name: str
    session: Any
    F: Any
    Window: Any
    connection: Any = None
    #: the SQL function that reads a JSON member as text (unquoted), per backend
    json_text_fn: str = "get_json_object"
    #: whether plans can be built once and replayed as SQL text (see engine/prepared.py)
    prepares: bool = False
    #: (temp table, SELECT) pairs materialise ran, in order: what a prepared plan replays
    log: list[tuple[str, str]] = field(default_factory=list)
    cache: dict[Any, Any] = field(default_factory=dict)
    #: materialised steps declared constant (see ``materialise``)
    constants: set[str] = field(default_factory=set)
    #: where prepared plans are kept between processes (engine/plancache.py); None: memory only
    plan_dir: Path | None = None
    #: while a plan is recorded, materialised steps are created empty (their columns suffice)
    recording: bool = False
    #: subset plans ready to serve on this connection (engine/serving.py)
    serving: dict[Any, Any] = field(default_factory=dict)
    #: values derived from a frame object, kept while it lives (``of_frame``)
    per_frame: dict[tuple[str, int], Any] = field(default_factory=dict)
    #: what callers keep with this backend (the ledger's snapshot frames, runs.py)
    memo: dict[Any, Any] = field(default_factory=dict)
    _temps: list[str] = field(default_factory=list)

    def of_frame(self, kind: str, frame: Any, make: Callable[[], V]) -> V:
        """A value of kind ``kind`` derived from ``frame`` (its SQL text, a snapshot's rank
        index): made once per frame object and kept while the frame lives. A frame is a fixed
        query, and the engine's own input tables are never written to."""
        key = (kind, id(frame))
        hit = self.per_frame.get(key)
        if hit is not None and hit[0]() is frame:
            return cast(V, hit[1])
        value = make()
        try:
            self.per_frame[key] = (weakref.ref(frame), value)
            weakref.finalize(frame, self.per_frame.pop, key, None)
        except TypeError:  # a frame that cannot be referenced weakly: made at every call
            pass
        return value

    def json_text(self, column: Any, member: str) -> Any:
        """A JSON object's member as unquoted text (Spark's get_json_object semantics)."""
        return self.F.call_function(self.json_text_fn, column, self.F.lit(f"$.{member}"))

    def table(self, name: str) -> Any:
        """A DataFrame over a table or view the session can see."""
        return self.session.table(name)

    def from_arrow(self, data: pa.Table, name: str | None = None, *,
                   replace: bool = False) -> Any:
        """Register an Arrow table and return it as a DataFrame; ``replace``: a table of that
        name made before is replaced (an input reloaded for each run)."""
        name = name or f"gc_in_{next(_counter)}"
        if self.name == "spark":
            return self.session.createDataFrame(data)
        if self.name == "duckdb":
            create = "CREATE OR REPLACE TEMP TABLE" if replace else "CREATE TEMP TABLE"
            self.connection.register(f"{name}_arrow", data)
            self.connection.execute(f"{create} {name} AS SELECT * FROM {name}_arrow")
            self.connection.unregister(f"{name}_arrow")
            if name not in self._temps:
                self._temps.append(name)
            return self._known(name)
        raise BackendError(f"backend {self.name!r} takes input tables by name, not Arrow")

    def rows(self, rows: list[tuple[Any, ...]], schema: dict[str, str]) -> Any:
        """A small literal DataFrame (rule parameters, a subset of subject ids)."""
        ddl = ", ".join(f"{k} {v}" for k, v in schema.items())
        if not rows:
            return self.empty(schema)
        return self.session.createDataFrame(rows, ddl)

    def empty(self, schema: dict[str, str]) -> Any:
        """An empty DataFrame with the given columns, typed."""
        F = self.F
        cols = [F.lit(None).cast(t).alias(k) for k, t in schema.items()]
        one = self.session.createDataFrame([(1,)], "gc_one int")
        return one.select(*cols).filter(F.lit(False))

    def to_arrow(self, df: Any) -> pa.Table:
        """Collect a DataFrame as Arrow."""
        return df.toArrow()

    def materialise(self, df: Any, *, constant: bool = False) -> Any:
        """Compute once and keep: a temp table on DuckDB, a cached DataFrame on Spark.

        ``constant``: the frame reads no input, time or subject (the policy's rules), so a
        prepared plan makes it once and shares it between replays."""
        if self.name == "spark":
            return df.cache()
        name = f"gc_tmp_{next(_counter)}"
        if constant:
            self.constants.add(name)
        sql = df.sql(dialect="duckdb", optimize=False, pretty=False)
        body = f"SELECT * FROM ({sql}) LIMIT 0" if self.recording else sql
        self.connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")
        self._temps.append(name)
        self.log.append((name, sql))
        return self._known(name)

    def _known(self, name: str) -> Any:
        """Tell SQLFrame the columns of a temp table (its catalog does not list them)."""
        cols = {r[0]: r[1] for r in self.connection.execute(f"DESCRIBE {name}").fetchall()}
        self.session.catalog.add_table(name, cols)
        return self.session.table(name)

    def release(self) -> None:
        """Drop what materialise made, and the prepared plans that read it."""
        self.cache.clear()
        self.memo.clear()
        if self.serving:
            from glasscredit.engine.serving import drop

            for srv in self.serving.values():
                drop(self.connection, srv)
            self.serving.clear()
        for name in self._temps:
            self.connection.execute(f"DROP TABLE IF EXISTS {name}")
        self._temps.clear()


def duckdb_backend(connection: Any = None, *, plan_cache: bool = True) -> Backend:
    """The embedded default: SQLFrame over a DuckDB connection (in memory if none is given).

    ``plan_cache``: keep prepared plans on disk for the next process (engine/plancache.py)."""
    import duckdb
    from sqlframe.base.session import _BaseSession
    from sqlframe.duckdb import DuckDBSession, Window
    from sqlframe.duckdb import functions as F

    from glasscredit.engine.plancache import cache_dir

    con = connection if connection is not None else duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # timestamps are UTC instants throughout
    con.execute("SET enable_progress_bar = false")  # a library does not draw on the terminal
    # SQLFrame keeps one session per process and would silently reuse the first connection;
    # a backend is one connection, so start a fresh session for it.
    _BaseSession._instance = None
    session = DuckDBSession(conn=con)
    # SQLFrame registers a SOUNDEX function on the database; a second session on another
    # connection to the same file would fail on it, and the engine never uses it.
    session._udf_conn.remove_function("SOUNDEX")
    return Backend("duckdb", session, F, Window, con,
                   json_text_fn="json_extract_string", prepares=True,
                   plan_dir=cache_dir() if plan_cache else None)


def spark_backend(session: Any = None) -> Backend:
    """Apache Spark (local mode unless a session is handed in); needs the ``spark`` extra."""
    try:
        from pyspark.sql import SparkSession, Window
        from pyspark.sql import functions as F
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendError(
            "Apache Spark needs the extra: pip install 'glasscredit[spark]'") from exc
    spark = session or (
        SparkSession.builder.master("local[2]").appName("glasscredit")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate())
    return Backend("spark", spark, F, Window)

