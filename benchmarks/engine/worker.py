"""One measurement in its own process, so that its peak RSS is its own.

    python -m benchmarks.engine.worker {engine|sql|pandas|rescore|prime} --db FILE --out RESULT.json

Prints nothing; writes a JSON result. Each implementation delivers the scores table of every
subject to the caller (Arrow, or a pandas DataFrame); ``--export FILE.parquet`` writes it out
after the clock and the peak-RSS reading stop, for the equality checks.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "benchmarks" / "policy40.yaml"
HAND_SQL = Path(__file__).with_name("handwritten.sql")
AS_OF = datetime(2025, 1, 1)
TABLES = ("subjects", "sources", "events", "voids", "relations")


def engine_digest() -> str:
    """A digest of the engine, compiler and catalogue this process imports (the one that keys
    stored plans): others edit them while a long benchmark runs, and every figure must come
    from the same code."""
    from glasscredit.engine.plancache import engine_digest as digest

    return digest()[:12]


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads (DuckDB's included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def current_rss_mb() -> float:
    """Resident set size of this process now (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timed:
    """A DuckDB connection (or relation) whose every call into DuckDB is timed.

    Handed to the engine in place of the connection, it splits a run into time spent inside
    DuckDB (parsing, planning, executing, fetching) and time spent in Python (the engine's
    plan, SQLFrame and sqlglot building and optimising the SQL text).
    """

    def __init__(self, target: Any, log: list[tuple[str, float, str]] | None = None) -> None:
        self._target = target
        self.log: list[tuple[str, float, str]] = [] if log is None else log

    def _call(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sql = args[0] if args and isinstance(args[0], str) else ""
            self.log.append((name, time.perf_counter() - t, sql))

    def execute(self, *args: Any, **kwargs: Any) -> Timed:
        self._call("execute", self._target.execute, *args, **kwargs)
        return self

    def sql(self, *args: Any, **kwargs: Any) -> Timed:
        return Timed(self._call("sql", self._target.sql, *args, **kwargs), self.log)

    def cursor(self) -> Timed:
        return self

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, attr, *args, **kwargs)
        return timed

    @property
    def seconds(self) -> float:
        return sum(d for _, d, _ in self.log)

    def reset(self) -> None:
        self.log.clear()


def _engine_setup(db: str, *, plan_cache: bool = True) -> tuple[Any, Any, Any, Timed]:
    from glasscredit.engine.run import Inputs
    from glasscredit.engine.sessions import duckdb_backend
    from glasscredit.policy.load import load_policy

    con = Timed(duckdb.connect(db, read_only=True))
    b = duckdb_backend(con, plan_cache=plan_cache)
    cp = load_policy(POLICY)
    inp = Inputs(**{name: b.table(name) for name in TABLES})
    return b, cp, inp, con


def run_engine(args: argparse.Namespace) -> dict[str, Any]:
    from glasscredit.engine.run import score

    b, cp, inp, con = _engine_setup(args.db, plan_cache=not args.cold)
    con.reset()
    c0, t0 = cpu_seconds(), time.perf_counter()
    r = score(b, inp, cp, AS_OF)
    t1 = time.perf_counter()
    scores = r.arrow("scores")  # computed, materialised and delivered (sorted by subject)
    t2, c2 = time.perf_counter(), cpu_seconds()
    rss = peak_rss_mb()
    statements = [{"call": n, "seconds": round(d, 4), "sql_chars": len(s), "sql": s}
                  for n, d, s in con.log if d > 0.005 or len(s) > 200]
    out = {"seconds": t2 - t0, "cpu_seconds": c2 - c0, "score_call": t1 - t0,
           "collect_scores": t2 - t1,
           "rows": scores.num_rows, "duckdb_seconds": con.seconds,
           "python_seconds": (t2 - t0) - con.seconds, "peak_rss_mb": rss,
           "statements": statements}
    if args.export:
        _write_parquet(scores, args.export)
    return out


def run_prime(args: argparse.Namespace) -> dict[str, Any]:
    """Build and store the batch plan (the plan cache folder comes from the environment), as
    a deployment does once per policy version; nothing is scored."""
    from glasscredit.engine.prepared import prepare

    b, cp, inp, _ = _engine_setup(args.db)
    t0 = time.perf_counter()
    built = prepare(b, inp, cp)
    return {"seconds": time.perf_counter() - t0, "built": built}


def _write_parquet(table: Any, path: str) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


def run_sql(args: argparse.Namespace) -> dict[str, Any]:
    con = duckdb.connect(args.db, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    query = HAND_SQL.read_text().replace("{AS_OF}", f"TIMESTAMP '{AS_OF:%Y-%m-%d %H:%M:%S}'")
    c0, t0 = cpu_seconds(), time.perf_counter()
    scores = con.sql(f"SELECT * FROM ({query}) ORDER BY subject_id").to_arrow_table()
    t1, c1 = time.perf_counter(), cpu_seconds()
    out = {"seconds": t1 - t0, "cpu_seconds": c1 - c0, "rows": scores.num_rows,
           "peak_rss_mb": peak_rss_mb()}
    if args.export:
        _write_parquet(scores, args.export)
    return out


def run_pandas(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa
    from benchmarks.engine import pandas_impl

    con = duckdb.connect(args.db, read_only=True)
    c0, t0 = cpu_seconds(), time.perf_counter()
    df = pandas_impl.score(con, AS_OF)
    t1, c1 = time.perf_counter(), cpu_seconds()
    out = {"seconds": t1 - t0, "cpu_seconds": c1 - c0, "rows": len(df),
           "peak_rss_mb": peak_rss_mb()}
    if args.export:
        _write_parquet(pa.Table.from_pandas(df, preserve_index=False), args.export)
    return out


def run_rescore(args: argparse.Namespace) -> dict[str, Any]:
    """One-subject rescores against a snapshot of everyone's scores (the full run's):
    ``--mode direct`` the real-time path (engine/direct.py) reading the tables, ``cache`` the
    same path reading an in-memory copy of them (engine/cache.py, loaded before the clock
    starts; its load time and memory are reported), ``replay`` the SQL subset replay
    (engine/serving.py)."""
    import numpy as np
    import pyarrow.parquet as pq

    from glasscredit.engine.run import Snapshot, score

    b, cp, inp, con = _engine_setup(args.db)
    full = pq.read_table(args.snapshot)
    snap = Snapshot(scores=b.from_arrow(full.select(["subject_id", "subject_kind", "score"]),
                                        "scores_snapshot"))
    b._temps.remove("scores_snapshot")  # kept across calls: release() drops only per-call tables
    expected = dict(zip(full.column("subject_id").to_pylist(),
                        full.column("score").to_pylist(), strict=True))
    ids = sorted(expected)
    cache, loaded = None, {}
    if args.mode == "cache":
        from glasscredit.engine.cache import InputCache

        rss0, t0 = peak_rss_mb(), time.perf_counter()
        cache = InputCache(b, inp)
        loaded = {"cache_load_seconds": time.perf_counter() - t0,
                  "rss_before_cache_mb": rss0, "rss_after_cache_mb": current_rss_mb()}
    rng = np.random.default_rng(args.seed)
    picks = [ids[i] for i in rng.choice(len(ids), args.n + 1, replace=False)]

    def one(subject: str) -> tuple[float, float, float, float]:
        con.reset()
        t0 = time.perf_counter()
        r = score(b, inp, cp, AS_OF, subjects=[subject], snapshot=snap,
                  direct=args.mode != "replay", cache=cache)
        row = r.arrow("scores")
        t1 = time.perf_counter()
        del r  # the result's temp tables go with it (not timed); release() would also drop
        # the prepared plan, which a server keeps across calls
        got = row.column("score")[0].as_py() if row.num_rows == 1 else None
        diff = abs(got - expected[subject]) if got is not None else float("inf")
        return t1 - t0, con.seconds, diff, float(row.num_rows)

    cold = one(picks[0])
    lat, duck, bad = [], [], []
    started = time.perf_counter()
    for s in picks[1:]:
        total, in_db, diff, _ = one(s)
        lat.append(total)
        duck.append(in_db)
        if diff > 1e-9:
            bad.append([s, diff])
        if time.perf_counter() - started > args.budget:
            break
    # where the Python time of one call goes
    prof = cProfile.Profile()
    prof.enable()
    one(picks[1])
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
    statements = [{"call": n, "seconds": round(d, 5), "sql_chars": len(s), "sql": s}
                  for n, d, s in con.log]
    return {"latencies": lat, "duckdb_seconds": duck, "cold_first_call": cold[0],
            "requested": args.n, "measured": len(lat), "mismatches": bad,
            "peak_rss_mb": peak_rss_mb(), "profile": buf.getvalue(),
            "statements_one_call": statements, **loaded}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("impl", choices=["engine", "sql", "pandas", "rescore", "prime"])
    ap.add_argument("--cold", action="store_true",
                    help="engine: no stored plan (build it inside the timed call)")
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--export")
    ap.add_argument("--snapshot")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--budget", type=float, default=1e9)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mode", choices=["direct", "cache", "replay"], default="direct",
                    help="rescore: the real-time path over the tables or over an in-memory "
                         "cache, or the SQL subset replay")
    args = ap.parse_args()
    fn = {"engine": run_engine, "sql": run_sql, "pandas": run_pandas,
          "rescore": run_rescore, "prime": run_prime}[args.impl]
    digest = engine_digest()
    result = fn(args)
    result["engine_digest"] = digest
    Path(args.out).write_text(json.dumps(result))
    sys.exit(0)


if __name__ == "__main__":
    main()
