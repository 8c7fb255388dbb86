"""Bulk ingest rate: N synthetic events from Parquet and CSV into DuckDB and PostgreSQL.

    .venv/bin/python benchmarks/ingest.py --events 1000000 --runs 3 \
        --postgres postgresql://postgres@127.0.0.1:5432/test

Prints a Markdown table (median of ``--runs`` timed ingests, each into a fresh ledger). Client CPU
seconds (every thread of this process, DuckDB's included) are reported beside wall time: on a
shared machine wall time mostly measures the neighbours. For PostgreSQL the server backend's CPU
is reported too when the server runs on this machine (read from /proc through psutil).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from glasscredit import ids
from glasscredit.ledger.ingest import ingest_file
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.pseudonym import new_key

BILL_TYPES = ("utility", "phone", "rent", "credit_card", "loan_instalment", "other")


def generate(n: int, seed: int = 7) -> pa.Table:
    """N valid bill_payment events over n/10 subjects (nine people to one organisation)."""
    rng = np.random.default_rng(seed)
    n_subjects = max(n // 10, 10)
    n_orgs = n_subjects // 10
    births = np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, n_subjects - n_orgs)
    people = ids.generate_resident_ids(rng, rng.choice(["110105", "310101", "320505"],
                                                       n_subjects - n_orgs),
                                       births, rng.random(n_subjects - n_orgs) < 0.5)
    orgs = ids.generate_usccs(rng, ["110000", "320500"], n_orgs)
    subjects = np.concatenate([people, orgs])
    late = rng.integers(0, 90, n)
    bill = np.asarray(BILL_TYPES)[rng.integers(0, len(BILL_TYPES), n)]
    attrs = np.char.add(np.char.add(np.char.add('{"days_late": ', late.astype(str)),
                                    ', "bill_type": "'), np.char.add(bill, '"}'))
    occurred = np.datetime64("2020-01-01T00:00:00", "us") + rng.integers(
        0, 4 * 365 * 86_400, n).astype("timedelta64[s]")
    return pa.table({
        "source_event_id": pa.array(np.char.add("ev-", np.arange(n).astype(str))),
        "subject": pa.array(subjects[rng.integers(0, n_subjects, n)]),
        "kind": pa.array(np.full(n, "bill_payment")),
        "occurred_at": pa.array(occurred),
        "value": pa.array(np.ones(n)),
        "attrs": pa.array(attrs),
    })


def _server_cpu(ledger: Ledger) -> Callable[[], float] | None:
    """CPU seconds used so far by the PostgreSQL backend serving ``ledger``, if it is local."""
    if not ledger.store.url.startswith("postgres"):
        return None
    try:
        import psutil

        pid = ledger.store.query("SELECT pg_backend_pid() AS pid").column(0)[0].as_py()
        backend = psutil.Process(int(pid))
        backend.cpu_times()
    except Exception:  # not local, or not readable: report n/a rather than guess
        return None

    def used() -> float:
        times = backend.cpu_times()
        return float(times.user + times.system)

    return used


def timed_ingest(location: str, path: Path, key: bytes) -> tuple[float, float, float | None, int]:
    """Wall, client CPU and server CPU seconds for one ingest into a fresh ledger; rows stored."""
    ledger = Ledger.init(location, key)
    ledger.add_source("bank", 0.9)
    server = _server_cpu(ledger)
    served = server() if server else 0.0
    start, cpu = time.perf_counter(), time.process_time()
    report = ingest_file(ledger, path, "bank")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    server_cpu = server() - served if server else None
    if location.startswith("postgres"):
        ledger.store.drop()  # type: ignore[attr-defined]
    ledger.close()
    return elapsed, cpu, server_cpu, report.stored


def main() -> None:
    """Generate, write, ingest, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gc-bench-"))
    try:
        table = generate(args.events)
        files = {"Parquet": work / "events.parquet", "CSV": work / "events.csv"}
        pq.write_table(table, files["Parquet"])
        stamps = table.column("occurred_at").cast(pa.string())
        csv_table = table.set_column(3, "occurred_at", stamps)
        pacsv.write_csv(csv_table, files["CSV"])
        key = new_key()
        stores = {"DuckDB": lambda: str(work / f"{uuid.uuid4().hex}.duckdb")}
        if not args.skip_postgres:
            stores["PostgreSQL"] = lambda: f"{args.postgres}?schema=bench_{uuid.uuid4().hex[:12]}"
        target = {("Parquet", "DuckDB"): 200_000, ("CSV", "DuckDB"): 50_000}
        print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.1f}\n")
        print("| source | store | events | median wall s | events/s | target | ratio | "
              "client CPU s | server CPU s | events per client CPU s | load 1 min | runs |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for store, location in stores.items():
            for fmt, path in files.items():
                runs, load = [], os.getloadavg()[0]
                for _ in range(args.runs):
                    seconds, cpu, server, stored = timed_ingest(location(), path, key)
                    assert stored == args.events, (stored, args.events)
                    runs.append((seconds, cpu, server))
                median = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                served = [r[2] for r in runs if r[2] is not None]
                server = f"{statistics.median(served):.2f}" if served else "n/a"
                goal = target.get((fmt, store), 20_000)
                rate = args.events / median
                print(f"| {fmt} | {store} | {args.events:,} | {median:.2f} | {rate:,.0f} | "
                      f"{goal // 1000}k | {rate / goal:.2f} | {cpu:.2f} | {server} | "
                      f"{args.events / cpu:,.0f} | {load:.1f}-{os.getloadavg()[0]:.1f} | "
                      f"{len(runs)} |", flush=True)
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
