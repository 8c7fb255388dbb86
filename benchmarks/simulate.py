"""The simulator at scale (issue 4): a city generated, ingested and scored, timed stage by stage.

    .venv/bin/python benchmarks/simulate.py --people 1000000 --orgs 50000 --months 12 \
        --policy sesame [--monthly] [--keep DIR]

Stages, in one process: **generate** (``make_city`` + ``write_city``: people, organisations,
relations and ``--months`` months of events, 2% false records, written as Parquet; meanwhile
a second thread records each policy's plan on empty inputs, ``simulate.run.prepare``);
**ingest** (the city's engine tables read by DuckDB and loaded into the scoring database,
``simulate.run.city_inputs``); **score** (each ``--policy`` over every subject at the end of
the last month: scores, bands, ranks, lists, measures and reasons, collected as Arrow). With
``--monthly`` each policy is instead scored month by month, chaining lists and measures, as
``glasscredit simulate run`` does. Prints a Markdown table: wall and CPU seconds (user +
system, all threads) per stage, the process's peak resident memory, and the load average
before and after each stage (the machine is shared: wall time also measures the neighbours).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from glasscredit.engine.run import score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.policy.load import load_policy
from glasscredit.simulate.population import make_city
from glasscredit.simulate.run import (
    city_inputs,
    city_start,
    empty_snapshot,
    month_ends,
    prepare,
    score_months,
)
from glasscredit.simulate.write import write_city

FALSE_RECORDS = 0.02


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB on Linux


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _stage(rows: list[dict[str, Any]], name: str, fn: Callable[[], Any]) -> Any:
    before, wall, cpu = _load(), time.perf_counter(), _cpu()
    out = fn()
    rows.append({"stage": name, "wall": time.perf_counter() - wall, "cpu": _cpu() - cpu,
                 "peak": _peak_gb(), "load": f"{before} → {_load()}"})
    print(f"  {name}: {rows[-1]['wall']:.1f} s wall, {rows[-1]['cpu']:.1f} s CPU, "
          f"peak {rows[-1]['peak']:.2f} GB, load {rows[-1]['load']}", flush=True)
    return out


def run(people: int, orgs: int, months: int, policies: list[str], monthly: bool,
        folder: Path, seed: int = 2024) -> list[dict[str, Any]]:
    """Generate, ingest and score; one row per stage plus a total."""
    rows: list[dict[str, Any]] = []
    b = duckdb_backend()
    compiled = {name: load_policy(name) for name in policies}

    def generate() -> Any:
        with ThreadPoolExecutor(1) as pool:  # the plans are recorded while the city is made
            plans = pool.submit(lambda: [prepare(b, cp) for cp in compiled.values()])
            written = write_city(make_city(people, orgs, seed), folder, months, FALSE_RECORDS)
            plans.result()
        return written

    summary = _stage(rows, "generate (+ plans recorded)", generate)
    inputs = _stage(rows, "ingest", lambda: city_inputs(b, folder))
    ends = month_ends(city_start(folder), months)
    for name, cp in compiled.items():
        if monthly:
            _stage(rows, f"score {name}, {months} months chained",
                   lambda cp=cp: score_months(b, inputs, cp, ends))
        else:
            def once(cp: Any = cp) -> None:
                r = score(b, inputs, cp, ends[-1], snapshot=empty_snapshot(b))
                for table in ("scores", "lists", "measures", "reasons"):
                    r.arrow(table)
            _stage(rows, f"score {name}", once)
    rows.append({"stage": "total", "wall": sum(r["wall"] for r in rows),
                 "cpu": sum(r["cpu"] for r in rows), "peak": _peak_gb(), "load": ""})
    print(f"{people:,} people, {orgs:,} organisations, {months} months: "
          f"{summary.events:,} events, {summary.false_records:,} false records")
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The result as a Markdown table."""
    lines = ["| stage | wall | CPU (user + system) | peak RSS | load average (1/5/15 min) |",
             "|---|---:|---:|---:|---|"]
    lines += [f"| {r['stage']} | {r['wall']:.1f} s | {r['cpu']:.1f} s | {r['peak']:.2f} GB "
              f"| {r['load']} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--orgs", type=int, default=50_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--policy", action="append", help="preset(s) to score (default: sesame)")
    ap.add_argument("--monthly", action="store_true", help="score month by month, chained")
    ap.add_argument("--keep", type=Path, help="write the city here and keep it")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="gc-sim-bench-"))
    try:
        rows = run(args.people, args.orgs, args.months, args.policy or ["sesame"],
                   args.monthly, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(markdown(rows))


if __name__ == "__main__":
    main()
