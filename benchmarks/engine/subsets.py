"""Subset runs of growing size: the real-time path (reading the tables, or an input cache)
against the SQL subset replay.

    .venv/bin/python -m benchmarks.engine.subsets      # after benchmarks.engine.run

Times ``score(..., subjects=N random subjects, snapshot=everyone's scores)`` with every output
collected, for each N, on each path, alternated (two of each), on the reference workload and
against the full batch's scores that ``benchmarks.engine.run`` left in its results folder. The
crossover it shows is where ``engine.run.DIRECT_LIMIT`` comes from. Writes its section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import numpy as np
import pyarrow.parquet as pq
from benchmarks.engine.generate import Params, dataset
from benchmarks.engine.run import write_doc
from benchmarks.engine.worker import AS_OF, ROOT, _engine_setup

HEADING = "## Engine: subset runs of growing size (issue 2)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,4,16,64,256")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    from glasscredit.engine.cache import InputCache
    from glasscredit.engine.run import Snapshot, score

    db = dataset(Params(), progress=False)
    full = pq.read_table(ROOT / "bench-data" / "results" / db.stem / "engine.parquet")
    b, cp, inp, _ = _engine_setup(str(db))
    snap = Snapshot(scores=b.from_arrow(full.select(["subject_id", "subject_kind", "score"])))
    ids = full.column("subject_id").to_pylist()
    rng = np.random.default_rng(args.seed)
    cache = InputCache(b, inp)
    paths = {"cache": {"direct": True, "cache": cache}, "tables": {"direct": True},
             "replay": {"direct": False}}
    for how in paths.values():  # warm: plans, the snapshot's rank index
        score(b, inp, cp, AS_OF, [ids[0]], snap, **how).arrow("scores")
    started = datetime.now(UTC)
    table = ["| subjects | real-time path, input cache (ms) | real-time path, tables (ms) | "
             "SQL replay (ms) |", "|---:|---|---|---|"]
    print("\n".join(table))
    for n in (int(x) for x in args.sizes.split(",")):
        times: dict[str, list[float]] = {k: [] for k in paths}
        for path in [*paths, *paths]:
            picks = [ids[i] for i in rng.choice(len(ids), n, replace=False)]
            t = time.perf_counter()
            r = score(b, inp, cp, AS_OF, picks, snap, **paths[path])
            for name in ("scores", "lists", "measures", "reasons"):
                r.arrow(name)
            times[path].append((time.perf_counter() - t) * 1000)
        table.append(f"| {n} | " + " | ".join(", ".join(f"{x:,.0f}" for x in times[k])
                                              for k in paths) + " |")
        print(table[-1], flush=True)
    from glasscredit.engine.run import CACHED_DIRECT_LIMIT, DIRECT_LIMIT

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    write_doc("\n".join([
        HEADING, "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC with "
        "`.venv/bin/python -m benchmarks.engine.subsets` "
        f"(in `make bench`, after the engine's run), load average {load} at the end. On the "
        "reference workload, `score(..., subjects=N random subjects, snapshot=everyone's "
        "scores)` with every output collected (scores, lists, measures, reasons), two calls of "
        "each path alternated, each on new subjects:", "", *table, "",
        "A subject in scope brings about 20 relation rows and 28 events. The real-time path "
        "reads them by index, row by row, or from an input cache (`engine/cache.py`, read "
        "once before these runs), and evaluates them in Python; the SQL replay copies them "
        "out and runs the plan's statements, whose fixed cost is DuckDB binding and "
        "optimising them. The real-time path is faster for a few subjects, the replay once "
        f"tens of thousands of events are evaluated: subsets of up to {DIRECT_LIMIT} subjects "
        f"take the real-time path by default, and up to {CACHED_DIRECT_LIMIT} when a cache "
        "serves the rows (`engine.run.DIRECT_LIMIT`, `CACHED_DIRECT_LIMIT`). Every path gives "
        "the full run's rows (`tests/test_direct.py`, `tests/test_input_cache.py`).", ""]),
        HEADING)
    print(f"written to {(ROOT / 'docs' / 'benchmarks.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
