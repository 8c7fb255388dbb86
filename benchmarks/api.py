"""HTTP service under load: consent-gated reads and decisions vs a bare endpoint, ingest, freshness.

    .venv/bin/python benchmarks/api.py --subjects 2000 --seconds 10

Builds a ledger (volunteer_rewards, N persons with events and a consent each), starts
``uvicorn`` on 127.0.0.1 with ONE worker in a child process, and drives it with 16 connections,
each phase bounded in seconds:

* bare: ``GET /v1/health`` (no auth, no ledger) — the ceiling of this app on this machine;
* scores: ``POST /v1/scores`` as a reader under consent (auth, consent check, kept state,
  inquiry appended);
* decisions: ``POST /v1/decisions`` (the same, plus a decision row);
* ingest: ``POST /v1/events`` with 500 events a batch, each touching new subjects, rescored
  before the response;
* freshness: time from sending one event to a reader seeing the new score (p99).

The bare, scores and decisions phases are driven by ``wrk`` (``--generator wrk``, the
default; installed with ``apt-get install wrk`` when missing, the Python generator used when that
fails): a C load generator with one thread costs the server's cores far less than httpx does.
Its Lua script (``WRK_SCRIPT``) picks a random subject per request, sends the JSON body and the
key, counts non-200 answers and prints the latency percentiles as JSON. What wrk measures: each
connection sends its next request when the previous answer arrived (a closed loop, like the
Python generator), latency from the request's first byte written to its answer complete; wrk
does not correct for coordinated omission (wrk2 would), so a stall delays at most the 16
requests in flight and p99 is the service time seen by 16 busy clients, not by an open stream
of arrivals. Answers slower than ``--timeout`` (60 s here) would be dropped from wrk's
percentiles: the report shows their count. ``--generator python`` keeps the asyncio httpx
generator. Ingest (500-event bodies built per request) and freshness always use httpx.

Prints a Markdown table to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

CONNECTIONS = 16
POLICY = "src/glasscredit/examples/volunteer_rewards.yaml"
KEY = bytes(range(32))
RECENT = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def person(n: int) -> str:
    from glasscredit.ids import resident_id

    return resident_id("110105", date(1950, 1, 1) + timedelta(days=n % 20000), 1 + n // 20000)


def build(folder: Path, subjects: int) -> dict[str, str]:
    """A ledger with events, consents and clients; returns the API keys."""
    import pyarrow as pa

    from glasscredit.ledger.ingest import ingest_table
    from glasscredit.ledger.ledger import Ledger
    from glasscredit.rights import consent
    from glasscredit.rights.clients import add_client

    ledger = Ledger.init(folder / "bench.duckdb", KEY)
    ledger.add_source("hospital", 1.0)
    ids = [person(i) for i in range(subjects)]
    events = pa.table({
        "source_event_id": [f"seed-{i}" for i in range(subjects)], "subject": ids,
        "kind": ["blood_donation"] * subjects, "occurred_at": ["2025-06-01T00:00:00Z"] * subjects,
        "value": ["0.45"] * subjects, "attrs": ['{"donation_type": "whole_blood"}'] * subjects})
    ingest_table(ledger, events, "hospital", strict=True)
    ledger.ensure_tables()
    until = ledger.clock() + timedelta(days=365)
    for ext in ids:
        sid = ledger.subject_id(ext)
        assert sid is not None
        consent.grant(ledger, sid, "reader", "tenancy", until)
    from glasscredit.policy.load import load_policy
    from glasscredit.rights.state import rescore

    sids = [str(ledger.subject_id(ext)) for ext in ids]
    rescore(ledger, load_policy(POLICY), sids, ledger.clock())  # the kept state reads serve
    keys = {"reader": add_client(ledger, "reader", ["reader"]),
            "hospital": add_client(ledger, "hospital", ["source"])}
    ledger.close()
    return keys


#: The wrk script: args are method, path, key, a file of subjects, the measure ('-' = none).
WRK_SCRIPT = r"""
local subjects, n, body_format = {}, 0, nil
non200 = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(7 + id)
  wrk.method, wrk.path = args[1], args[2]
  if args[3] ~= "-" then wrk.headers["Authorization"] = "Bearer " .. args[3] end
  if args[4] ~= "-" then
    for line in io.lines(args[4]) do n = n + 1; subjects[n] = line end
    wrk.headers["Content-Type"] = "application/json"
    if args[5] ~= "-" then
      body_format = '{"subject":"%s","measure":"' .. args[5] .. '","purpose":"tenancy"}'
    else
      body_format = '{"subject":"%s","purpose":"tenancy"}'
    end
  end
end

function request()
  if body_format == nil then return wrk.format() end
  return wrk.format(nil, nil, nil, string.format(body_format, subjects[math.random(n)]))
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'GLASSCREDIT-WRK {"requests":%d,"duration_us":%d,"non200":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%f}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


def ensure_wrk() -> str | None:
    """The wrk binary; installed with apt-get when missing (root on Debian), else None."""
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(cmd, env=env, capture_output=True, check=False)
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


def wrk_phase(wrk: str, folder: Path, base: str, method: str, path: str, key: str | None,
              measure: str | None, seconds: float,
              connections: int = CONNECTIONS) -> dict[str, float]:
    """One phase driven by wrk (one thread); the same figures as ``phase``, plus wrk's own
    CPU per request."""
    script = folder / "glasscredit.lua"
    script.write_text(WRK_SCRIPT)
    subjects = folder / "subjects.txt"
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "60s",
           "-s", str(script), base + path, "--", method, path, key or "-",
           str(subjects) if key else "-", measure or "-"]
    cpu0, own0 = server_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    cpu, own1 = server_cpu() - cpu0, resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in done.stdout.splitlines() if x.startswith("GLASSCREDIT-WRK "))
    w = json.loads(line.split(" ", 1)[1])
    n = max(1, w["requests"])
    wall = w["duration_us"] / 1e6
    return {"n": w["requests"], "rps": w["requests"] / wall, "p50": w["p50_us"] / 1000,
            "p99": w["p99_us"] / 1000, "max": w["max_us"] / 1000, "wall": wall,
            "errors": w["non200"] + w["connect"] + w["read"] + w["write"],
            "timeouts": w["timeout"], "cpu_ms": 1000 * cpu / n,
            "gen_cpu_ms": 1000 * (own1.ru_utime + own1.ru_stime - own0.ru_utime
                                  - own0.ru_stime) / n}


def serve(path: str, port: int, cache_inputs: bool = True) -> None:
    """The child process: the real app under uvicorn, one worker, rate limit out of the way;
    the ledger's engine inputs kept in memory unless ``cache_inputs`` is False."""
    import logging

    import uvicorn

    from glasscredit.api import create_app
    from glasscredit.api.limits import Limits
    from glasscredit.ledger.ledger import Ledger

    logging.disable(logging.INFO)
    ledger = Ledger.open(path, KEY)
    app = create_app(ledger, POLICY, warm=True, cache_inputs=cache_inputs,
                     limits=Limits(rate_per_second=1e9, burst=10**9))
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning",
                access_log=False)


def server_cpu() -> float:
    """CPU seconds the server process has used so far (user + system)."""
    import psutil

    t = psutil.Process(SERVER['pid']).cpu_times()
    return float(t.user + t.system)


SERVER: dict[str, int] = {}  # the child's pid, once started


async def phase(base: str, make: Any, requests: int, seconds: float,
                connections: int = CONNECTIONS) -> dict[str, float]:
    """Run ``make(i) -> (method, path, json, headers)`` on N connections; latencies in ms,
    and the server's CPU milliseconds per request (less sensitive to other jobs than req/s)."""
    cpu0, own0 = server_cpu(), time.process_time()
    lat: list[float] = []
    errors = 0
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                method, path, body, headers = make(i)
                t0 = time.perf_counter()
                r = await client.request(method, path, json=body, headers=headers)
                lat.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - t0
    arr = np.array(lat)
    return {"n": len(lat), "rps": len(lat) / wall, "p50": float(np.percentile(arr, 50)),
            "p99": float(np.percentile(arr, 99)), "errors": errors, "wall": wall,
            "cpu_ms": 1000 * (server_cpu() - cpu0) / max(1, len(lat)),
            "gen_cpu_ms": 1000 * (time.process_time() - own0) / max(1, len(lat)), "timeouts": 0}


async def freshness(base: str, keys: dict[str, str], samples: int, subjects: int) -> list[float]:
    """Seconds from sending an event to the first reader read that shows its effect."""
    out = []
    reader = {"Authorization": f"Bearer {keys['reader']}"}
    source = {"Authorization": f"Bearer {keys['hospital']}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for i in range(samples):
            ext = person(i % subjects)
            body = {"subject": ext, "purpose": "tenancy"}
            before = (await client.post("/v1/scores", json=body, headers=reader)).json()["score"]
            event = {"source_event_id": f"fresh-{i}", "subject": ext, "kind": "elder_care",
                     "occurred_at": RECENT, "value": 1,
                     "attrs": {"relationship": "parent"}}
            t0 = time.perf_counter()
            await client.post("/v1/events", json={"events": [event]}, headers=source)
            while True:
                now = (await client.post("/v1/scores", json=body, headers=reader)).json()
                if now["score"] != before:
                    break
            out.append(time.perf_counter() - t0)
    return out


async def python_reads(base: str, keys: dict[str, str], ids: list[str],
                       args: argparse.Namespace) -> dict[str, Any]:
    """Bare, scores and decisions driven by the asyncio httpx generator."""
    reader = {"Authorization": f"Bearer {keys['reader']}"}
    rng = random.Random(7)
    big, seconds = 10**9, args.seconds
    results: dict[str, Any] = {}
    await phase(base, lambda i: ("GET", "/v1/health", None, {}), 2000, 5)  # warm up
    results["bare"] = await phase(base, lambda i: ("GET", "/v1/health", None, {}), big, seconds)
    if "reads" in args.phases:
        results["scores"] = await phase(base, lambda i: (
            "POST", "/v1/scores", {"subject": rng.choice(ids), "purpose": "tenancy"}, reader),
            big, seconds)
        results["decisions"] = await phase(base, lambda i: (
            "POST", "/v1/decisions", {"subject": rng.choice(ids), "measure": "transit_discount",
                                      "purpose": "tenancy"}, reader), big, seconds)
    return results


def wrk_reads(wrk: str, folder: Path, base: str, keys: dict[str, str], ids: list[str],
              args: argparse.Namespace) -> dict[str, Any]:
    """Bare, scores and decisions driven by wrk (see the module docstring)."""
    (folder / "subjects.txt").write_text("\n".join(ids) + "\n")
    reader = keys["reader"]
    results: dict[str, Any] = {}
    wrk_phase(wrk, folder, base, "GET", "/v1/health", None, None, 3)  # warm up
    results["bare"] = wrk_phase(wrk, folder, base, "GET", "/v1/health", None, None,
                                args.seconds)
    if "reads" in args.phases:
        wrk_phase(wrk, folder, base, "POST", "/v1/scores", reader, None, 2)  # warm up
        results["scores"] = wrk_phase(wrk, folder, base, "POST", "/v1/scores", reader, None,
                                      args.seconds)
        results["decisions"] = wrk_phase(wrk, folder, base, "POST", "/v1/decisions", reader,
                                         "transit_discount", args.seconds)
    return results


async def run(base: str, keys: dict[str, str], args: argparse.Namespace,
              folder: Path) -> dict[str, Any]:
    source = {"Authorization": f"Bearer {keys['hospital']}"}
    subjects = args.subjects
    ids = [person(i) for i in range(subjects)]
    if args.wrk:
        results = wrk_reads(args.wrk, folder, base, keys, ids, args)
    else:
        results = await python_reads(base, keys, ids, args)

    def batch(i: int) -> tuple[str, str, Any, dict[str, str]]:
        events = [{"source_event_id": f"load-{i}-{j}", "subject": ids[(i * 500 + j) % subjects],
                   "kind": "volunteering", "occurred_at": RECENT,
                   "value": 2.0, "attrs": {"activity": "community"}} for j in range(500)]
        return "POST", "/v1/events", {"events": events}, source

    if "ingest" in args.phases:
        ingest = await phase(base, batch, args.batches, 120, connections=4)
        ingest["events_per_s"] = ingest["n"] * 500 / ingest["wall"]
        results["ingest"] = ingest
    if "fresh" in args.phases:
        results["freshness"] = await freshness(base, keys, 50, subjects)
    return results


def prepare(folder: Path, args: argparse.Namespace) -> dict[str, str]:
    """Build the ledger, or copy a cached one (``--cache DIR``, for repeated runs)."""
    cache = Path(args.cache) / f"s{args.subjects}" if args.cache else None
    if cache is not None and (cache / "keys.json").exists():
        shutil.copy(cache / "bench.duckdb", folder / "bench.duckdb")
        keys: dict[str, str] = json.loads((cache / "keys.json").read_text())
        return keys
    t0 = time.perf_counter()
    keys = build(folder, args.subjects)
    print(f"ledger built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / "bench.duckdb", cache / "bench.duckdb")
        (cache / "keys.json").write_text(json.dumps(keys))
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--phases", default="reads,ingest,fresh",
                        help="comma list of reads, ingest, fresh (bare always runs)")
    parser.add_argument("--cache", default=None,
                        help="keep the built ledger here and copy it on later runs")
    parser.add_argument("--generator", choices=("wrk", "python"), default="wrk",
                        help="what drives bare, scores and decisions (wrk falls back to python "
                             "when it cannot be installed)")
    parser.add_argument("--no-cache-inputs", dest="cache_inputs", action="store_false",
                        help="the service reads rescores' rows from the ledger, not memory")
    args = parser.parse_args()
    args.phases = set(args.phases.split(","))
    args.wrk = ensure_wrk() if args.generator == "wrk" else None
    if args.generator == "wrk" and args.wrk is None:
        print("wrk is not installed and could not be: using the Python generator",
              file=sys.stderr)
    folder = Path(tempfile.mkdtemp(prefix="gc-api-bench-"))
    keys = prepare(folder, args)
    child = mp.get_context("spawn").Process(
        target=serve, args=(str(folder / "bench.duckdb"), args.port, args.cache_inputs),
        daemon=True)
    child.start()
    SERVER["pid"] = child.pid or 0
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        load0 = os.getloadavg()[0]
        results = asyncio.run(run(base, keys, args, folder))
        results["load"] = (load0, os.getloadavg()[0])
    finally:
        child.terminate()
        child.join(10)
    report(results, args)


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    bare = r["bare"]["rps"]
    generator = "wrk -t1" if args.wrk else "python httpx"
    print(f"\n{args.subjects} subjects, {CONNECTIONS} connections ({generator}), input cache "
          f"{'on' if args.cache_inputs else 'off'}, one uvicorn "
          f"worker, {os.cpu_count()} CPUs, load average {r['load'][0]:.1f} at the start, "
          f"{r['load'][1]:.1f} at the end\n")
    print("| phase | requests | req/s | % of bare | p50 ms | p99 ms | server CPU ms/req "
          "| generator CPU ms/req | non-200 / timeouts |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("bare", "scores", "decisions"):
        if name not in r:
            continue
        x = r[name]
        print(f"| {name} | {x['n']} | {x['rps']:.0f} | {100 * x['rps'] / bare:.0f}% | "
              f"{x['p50']:.1f} | {x['p99']:.1f} | {x['cpu_ms']:.2f} | {x['gen_cpu_ms']:.2f} "
              f"| {x['errors']} / {x['timeouts']} |")
    if "ingest" in r:
        i = r["ingest"]
        print(f"| ingest (500/batch, 4 conns, httpx) | {i['n']} batches | "
              f"{i['events_per_s']:.0f} events/s | | {i['p50']:.0f} | {i['p99']:.0f} | "
              f"{i['cpu_ms']:.0f} | {i['gen_cpu_ms']:.0f} | {i['errors']} / 0 |")
    if "freshness" in r:
        f = sorted(r["freshness"])
        print(f"\nevent → visible to a reader: p50 {1000 * statistics.median(f):.0f} ms, "
              f"p99 {1000 * f[min(len(f) - 1, int(0.99 * len(f)))]:.0f} ms over {len(f)} "
              "events")


if __name__ == "__main__":
    main()
