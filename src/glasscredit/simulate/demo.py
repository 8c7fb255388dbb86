"""The demo: a synthetic city, the Sesame and national presets month by month, audits, a report.

``run_demo`` is what ``glasscredit demo`` (and ``make demo``) calls; it returns the summary
table's rows and where the report is, and reports progress through a callback.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glasscredit.simulate.population import make_city
from glasscredit.simulate.report import write_report
from glasscredit.simulate.run import CityRun, Progress, load_run
from glasscredit.simulate.whatif import whatif
from glasscredit.simulate.workers import PolicyWorkers
from glasscredit.simulate.write import write_city

POLICIES = ("sesame", "national")
FALSE_RECORDS = 0.02


@dataclass
class DemoSummary:
    """One row per policy, the report's path, and seconds per stage."""

    rows: list[dict[str, Any]]
    report: Path
    out_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)


def summary_row(run: CityRun, report: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader wants first about one policy run."""
    last = run.months[-1]
    kinds = {r["measure"]: r["type"] for r in report["others_conduct"]["by_measure"]}
    held = {t: sum(n for m, n in last.measures.items() if kinds.get(m) == t)
            for t in ("privilege", "sanction")}
    return {"policy": run.policy, "subjects": run.scores.num_rows,
            "listed": sum(last.lists.values()), "privileges held": held["privilege"],
            "sanctions in force": held["sanction"],
            "four-fifths breaches": sum(r["flagged"] for r in report["rates"]),
            "sanctions via others": report["others_conduct"]["sanctions"],
            "sanctions from false records": report["false_records"]["sanctions"],
            "guard findings": len(report["guards"])}


def run_demo(out_dir: str | Path, people: int = 100_000, orgs: int = 5_000, months: int = 12,
             seed: int = 2016, progress: Progress | None = None) -> DemoSummary:
    """Generate the city, run and audit the presets, write ``report.html`` under ``out_dir``.

    Each preset is scored and audited in its own worker process (``simulate.workers``), which
    records its plan while the city is being generated; the what-if and the report are made
    here from what the workers wrote.
    """
    out = Path(out_dir)
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    city_dir = out / "city"
    with PolicyWorkers(POLICIES, months, out / "runs") as workers:
        if progress is not None:
            progress("city", 0, 1)
        write_city(make_city(people, orgs, seed), city_dir, months, FALSE_RECORDS, progress)
        seconds["city"] = time.perf_counter() - began
        t = time.perf_counter()
        done = workers.run(city_dir, progress)
        seconds["runs and audits"] = time.perf_counter() - t
    for name in POLICIES:
        seconds.update({f"{k} (worker)": v for k, v in done[name].seconds.items()})
    t = time.perf_counter()
    runs = [load_run(done[name].folder) for name in POLICIES]
    audits = [done[name].audit for name in POLICIES]
    diff = whatif(runs[0], runs[1])
    rows = [summary_row(r, a) for r, a in zip(runs, audits, strict=True)]
    for name, data in (("audit", audits), ("whatif", diff)):
        (out / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    report = write_report(out / "report.html", "GlassCredit demo: Sesame and national presets",
                          runs, audits, [diff], rows,
                          f"{people:,} people and {orgs:,} organisations, {months} months, "
                          f"seed {seed}, {FALSE_RECORDS:.0%} false records planted")
    seconds["report"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - began
    return DemoSummary(rows, report, out, seconds)
