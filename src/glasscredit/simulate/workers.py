"""Policies scored and audited in worker processes, one per policy, beside the city's generation.

A worker starts before the city exists and records its policy's plan on empty inputs of the
city's shapes (``run.prepare``: seconds of Python whatever the data size), while the parent
generates the city. Told where the city is, it loads it, scores it month by month into
``<out>/<policy name>/`` and audits the run; the parent reads the run back with ``run.load_run``.
Each worker is one DuckDB session in its own process with its share of the cores (DuckDB
threads beyond the cores only contend), so two policies use both cores of a small machine, and
nothing is shared but files. Progress is relayed to the parent's callback.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import TracebackType
from typing import Any

from glasscredit.errors import GlassCreditError, InputError
from glasscredit.simulate.run import Progress


@dataclass
class Finished:
    """What a worker sends back: where the run is, its audit report, seconds per stage."""

    policy: str
    folder: Path
    audit: dict[str, Any]
    seconds: dict[str, float]


def _work(policy: str, months: int, out: str, threads: int,
          conn: Connection) -> None:  # pragma: no cover
    """The worker's whole life (runs in a spawned process; covered through ``PolicyWorkers``)."""
    import time

    from glasscredit.engine.sessions import duckdb_backend
    from glasscredit.policy.load import load_policy
    from glasscredit.simulate.fairness import audit
    from glasscredit.simulate.run import city_inputs, prepare, run_city

    try:
        began = time.perf_counter()
        b = duckdb_backend()
        b.connection.execute(f"SET threads = {threads}")
        cp = load_policy(policy)
        prepare(b, cp)
        seconds = {f"prepare {policy}": time.perf_counter() - began}
        conn.send(("prepared", policy))
        city = conn.recv()
        if city is None:
            return
        city_dir = Path(city)

        def progress(stage: str, done: int, total: int) -> None:
            conn.send(("progress", stage, done, total))

        began = time.perf_counter()
        inputs = city_inputs(b, city_dir)
        run = run_city(city_dir, cp, months, backend=b, progress=progress,
                       out_dir=Path(out), inputs=inputs)
        seconds[f"run {policy}"] = time.perf_counter() - began
        began = time.perf_counter()
        progress(f"auditing {policy}", 0, 1)
        report = audit(b, inputs, cp, run, city_dir)
        progress(f"auditing {policy}", 1, 1)
        seconds[f"audit {policy}"] = time.perf_counter() - began
        assert run.out_dir is not None
        conn.send(("done", Finished(policy, run.out_dir, report, seconds)))
    except GlassCreditError as exc:
        conn.send(("error", f"{policy}: {exc}"))
    except BaseException:
        conn.send(("error", f"{policy}: worker failed\n{traceback.format_exc()}"))
    finally:
        conn.close()


class PolicyWorkers:
    """One worker process per policy; use as a context manager around the city's generation."""

    def __init__(self, policies: list[str] | tuple[str, ...], months: int, out_dir: Path) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB threads
        # the cores are shared out: threads that outnumber them only contend
        threads = max(1, (os.cpu_count() or 1) // max(1, len(policies)))
        self.conns: dict[str, Connection] = {}
        self.procs: list[Any] = []
        for policy in policies:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_work, args=(policy, months, str(out_dir), threads,
                                                   theirs), daemon=True)
            proc.start()
            theirs.close()
            self.conns[policy] = mine
            self.procs.append(proc)

    def __enter__(self) -> PolicyWorkers:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def run(self, city_dir: Path, progress: Progress | None = None) -> dict[str, Finished]:
        """Hand every worker the city and wait for all of them, relaying their progress."""
        for conn in self.conns.values():
            conn.send(str(city_dir))
        finished: dict[str, Finished] = {}
        open_ = dict(self.conns)
        while open_:
            for ready in wait(list(open_.values())):
                policy = next(p for p, c in open_.items() if c is ready)
                try:
                    message = open_[policy].recv()
                except EOFError:
                    raise GlassCreditError(f"{policy}: the worker stopped without a result") \
                        from None
                if message[0] == "progress" and progress is not None:
                    progress(*message[1:])
                elif message[0] == "done":
                    finished[policy] = message[1]
                    del open_[policy]
                elif message[0] == "error":
                    raise InputError(message[1])
        return finished

    def close(self) -> None:
        """Tell idle workers to stop, then wait for every worker to end."""
        for conn in self.conns.values():
            with contextlib.suppress(OSError, ValueError):  # a worker that already ended
                conn.send(None)
            conn.close()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join()
