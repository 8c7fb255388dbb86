"""Study commands: ``simulate run``, ``whatif``, ``audit`` and ``report`` on a synthetic city.

    glasscredit simulate run --city city/ --policy sesame --months 12 --out runs/
    glasscredit whatif --policy sesame --policy national --city city/ [--json]
    glasscredit audit --policy national --city city/ [--json] [--chained]
    glasscredit report --policy sesame --policy national --city city/ --out report.html

Wire with ``study.register(app, simulate_app)`` in ``cli.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from glasscredit.engine.run import Inputs
from glasscredit.engine.sessions import Backend, duckdb_backend
from glasscredit.errors import GlassCreditError
from glasscredit.policy.load import load_policy
from glasscredit.simulate.fairness import audit
from glasscredit.simulate.report import write_report
from glasscredit.simulate.run import CityRun, city_inputs, run_city
from glasscredit.simulate.whatif import whatif

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
CityOpt = Annotated[Path, typer.Option("--city", help="A `simulate city` output directory.")]
MonthsOpt = Annotated[int | None, typer.Option("--months", min=1,
                                               help="Months to score (default: the city's).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


class _Bars:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _bars() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True,
                    disable=not err.is_terminal)


def _runs(city: Path, policies: list[str], months: int | None,
          out_dir: Path | None = None) -> tuple[Backend, Inputs, list[CityRun]]:
    b = duckdb_backend()
    b.connection.execute("SET enable_progress_bar = false")  # DuckDB would print
    with _bars() as bar:
        bars = _Bars(bar)
        try:
            bars("reading the city", 0, 1)
            inputs = city_inputs(b, city)
            bars("reading the city", 1, 1)
            runs = [run_city(city, load_policy(p), months, backend=b, progress=bars,
                             out_dir=out_dir, inputs=inputs) for p in policies]
        except GlassCreditError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    return b, inputs, runs


def _table(title: str, head: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for h in head:
        t.add_column(h)
    for r in rows:
        t.add_row(*[f"{v:,.3f}" if isinstance(v, float) else
                    f"{v:,}" if isinstance(v, int) else str(v) for v in r])
    return t


def run_command(city: CityOpt, policy: Annotated[str, typer.Option("--policy")],
                months: MonthsOpt = None,
                directory: Annotated[Path, typer.Option("--out")] = Path("runs")) -> None:
    """Score the city month by month under a policy; write Parquet per month."""
    _, _, (run,) = _runs(city, [policy], months, directory)
    names = sorted({k for m in run.months for k in (*m.lists, *m.measures)})
    out.print(_table(f"{run.version}: listed and measures in force per month",
                     ["month", *names],
                     [[m.as_of, *[m.lists.get(n, m.measures.get(n, 0)) for n in names]]
                      for m in run.months]))
    out.print(f"written to {run.out_dir} in {run.seconds:.1f} s", highlight=False)


def whatif_command(city: CityOpt, policy: Annotated[list[str], typer.Option(
        "--policy", help="Twice: policy A, then policy B.")], months: MonthsOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Who changes band and who gains or loses each measure going from policy A to B, and why."""
    if len(policy) != 2:
        raise typer.BadParameter("give --policy exactly twice (A, then B)")
    _, _, (a, b) = _runs(city, policy, months)
    diff = whatif(a, b)
    if as_json:
        out.print_json(json.dumps(diff))
        return
    out.print(_table(f"Bands: {diff['changed_band']:,} of {diff['subjects']:,} change",
                     ["from", "to", "subjects"],
                     [[t["from"], t["to"], t["subjects"]] for t in diff["transitions"]]))
    out.print(_table("Measures", ["measure", "type", "in", "A", "B", "gained", "lost", "why"],
                     [[m["measure"], m["type"], "+".join(m["in"]), m["holders_a"],
                       m["holders_b"], m["gained"], m["lost"],
                       "; ".join(r["reason"] for r in (m["why_lost"] or m["why_gained"])[:2])]
                      for m in diff["measures"]]))


def audit_command(city: CityOpt, policy: Annotated[str, typer.Option("--policy")],
                  months: MonthsOpt = None, as_json: JsonOpt = False,
                  chained: Annotated[bool, typer.Option(
                      "--chained", help="Run counterfactuals month by month.")] = False) -> None:
    """Fairness and error audit: four-fifths ratios, others' conduct, false records, guards."""
    b, inputs, (run,) = _runs(city, [policy], months)
    report = audit(b, inputs, load_policy(policy), run, city, chained=chained)
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(report["definition"], highlight=False)
    out.print(_table("Disparate impact", ["measure", "type", "dimension", "lowest", "highest",
                                          "ratio", "flag"],
                     [[r["measure"], r["type"], r["dimension"], r["lowest"] or "",
                       r["highest"] or "", "" if r["ratio"] is None else r["ratio"],
                       "BREACH" if r["flagged"] else ""] for r in report["rates"]]))
    o, f = report["others_conduct"], report["false_records"]
    out.print(_table("Errors and others' conduct", ["what", "sanctions", "privileges withheld"],
                     [["only through others' conduct", o["sanctions"], o["privileges"]],
                      [f"from false records ({f['planted']:,} planted)", f["sanctions"],
                       f["privileges"]]]))
    out.print(_table("Guards broken", ["guard", "where", "why"],
                     [[g["guard"], g["subject"], g["message"]] for g in report["guards"]]))


def report_command(city: CityOpt, policy: Annotated[list[str], typer.Option("--policy")],
                   months: MonthsOpt = None,
                   target: Annotated[Path, typer.Option("--out")] = Path("report.html")) -> None:
    """Write a self-contained HTML report of one or two policies on the city."""
    began = time.perf_counter()
    b, inputs, runs = _runs(city, policy, months)
    audits = [audit(b, inputs, load_policy(p), r, city) for p, r in zip(policy, runs,
                                                                          strict=True)]
    diffs = [whatif(runs[0], runs[1])] if len(runs) == 2 else []
    path = write_report(target, f"GlassCredit: {', '.join(policy)} on {city}", runs, audits,
                        diffs)
    out.print(f"report written to {path} in {time.perf_counter() - began:.1f} s",
              highlight=False)


def register(app: typer.Typer, simulate_app: typer.Typer) -> None:
    """Add ``simulate run`` to the simulate group and ``whatif``, ``audit``, ``report`` on top."""
    simulate_app.command("run")(run_command)
    app.command("whatif")(whatif_command)
    app.command("audit")(audit_command)
    app.command("report")(report_command)
