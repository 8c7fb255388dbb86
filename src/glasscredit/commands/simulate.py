"""``glasscredit simulate city``: a synthetic Suzhou, streamed to Parquet and optionally a ledger.

    glasscredit simulate city --people 100000 --orgs 5000 --months 12 --seed 7 --out city/ \\
        --false-records 0.02 --ledger city.duckdb

The directory holds the engine's input tables (``subjects``, ``sources``, ``events``,
``voids``, ``relations``), the audit tables (``people``, ``orgs``) and ground truth the engine
never reads (``truth_*``). ``--ledger`` then loads it into a research ledger (created, with its
key file next to it, when missing) through the ledger's own ingest.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

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

from glasscredit.commands.ledger import KEY_ENV, default_key_file
from glasscredit.errors import GlassCreditError
from glasscredit.ledger.pseudonym import create_key_file, key_from_text, read_key_file
from glasscredit.simulate import DEFAULT_START
from glasscredit.simulate.population import make_city
from glasscredit.simulate.write import CitySummary, into_ledger, write_city

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Synthetic populations for what-if runs and fairness audits.")


@app.callback()
def simulate() -> None:
    """Synthetic populations for what-if runs and fairness audits."""


def _start(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM, got {text!r}") from None


def _key(ledger: str, key_file: Path | None) -> bytes:
    """The ledger's key: given file, environment, or the default file (made for a new ledger)."""
    if key_file is None and os.environ.get(KEY_ENV):
        return key_from_text(os.environ[KEY_ENV])
    path = key_file or default_key_file(ledger)
    return read_key_file(path) if path.exists() else create_key_file(path)


class _Bars:
    """Progress callback → one Rich bar per stage, on stderr, only on a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _print_summary(summary: CitySummary, seconds: float, where: Path) -> None:
    kinds = Table(title="Events per kind", title_justify="left")
    for col in ("kind", "people", "organisations"):
        kinds.add_column(col, justify="left" if col == "kind" else "right")
    for kind, (people, orgs) in sorted(summary.kinds.items(), key=lambda kv: -sum(kv[1])):
        kinds.add_row(kind, f"{people:,}", f"{orgs:,}")
    groups = Table(title="People per group", title_justify="left")
    for col in ("dimension", "group", "people", "events / person-month",
                "negative records / 1,000 person-months"):
        groups.add_column(col, justify="left" if col in ("dimension", "group") else "right")
    for dim, name, size, events, negative in summary.groups:
        groups.add_row(dim, name, f"{size:,}", f"{events:.2f}", f"{negative:.1f}")
    out.print(kinds, groups)
    out.print(f"{summary.people:,} people, {summary.orgs:,} organisations, {summary.months} "
              f"months: {summary.events:,} events ({summary.false_records:,} false records) "
              f"written to {where} in {seconds:.1f} s", highlight=False)


@app.command("city")
def city_command(
    people: Annotated[int, typer.Option("--people", min=0, help="Residents.")] = 10_000,
    orgs: Annotated[int, typer.Option("--orgs", min=0, help="Organisations.")] = 500,
    months: Annotated[int, typer.Option("--months", min=1, help="Months of events.")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same city.")] = 1,
    directory: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("city"),
    false_records: Annotated[float, typer.Option(
        "--false-records", min=0.0, max=1.0,
        help="False negative records per genuine one, from an unreliable source.")] = 0.0,
    start: Annotated[str, typer.Option("--start", help="First month, YYYY-MM.")] = (
        DEFAULT_START.strftime("%Y-%m")),
    ledger: Annotated[str | None, typer.Option(
        "--ledger", help="Also load into this research ledger (DuckDB file or URL).")] = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", envvar="GLASSCREDIT_KEY_FILE", help="Pseudonym key file.")] = None,
) -> None:
    """Generate a synthetic city and write it as Parquet (and optionally into a ledger)."""
    first = _start(start)
    last = date(first.year + (first.month + months - 1) // 12, (first.month + months - 1) % 12
                + 1, 1)
    if ledger is not None and last > datetime.now(UTC).date():
        raise typer.BadParameter(f"the city runs until {last}; a ledger refuses future events, "
                                 "so choose an earlier --start")
    began = time.perf_counter()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        bars = _Bars(bar)
        try:
            bars("people and organisations", 0, 1)
            city = make_city(people, orgs, seed, first)
            bars("people and organisations", 1, 1)
            summary = write_city(city, directory, months, false_records, bars)
        except GlassCreditError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    _print_summary(summary, time.perf_counter() - began, directory)
    if ledger is None:
        return
    began = time.perf_counter()
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        try:
            load = into_ledger(directory, ledger, _key(ledger, key_file), _Bars(bar))
        except GlassCreditError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    out.print(f"Ledger {ledger}: {load.subjects:,} new subjects, {load.relations:,} relations, "
              f"{load.stored:,} events stored, {load.rejected:,} rejected in "
              f"{time.perf_counter() - began:.1f} s", highlight=False)
    if load.rejected:
        raise typer.Exit(2)


@app.command("prepare")
def prepare_command(
    policies: Annotated[list[str] | None, typer.Option(
        "--policy", help="Preset, example:NAME or YAML file (repeatable).")] = None,
) -> None:
    """Build and store the plans that city runs replay (default: the demo's presets), so the
    first run does not spend seconds building them; `make install` runs it."""
    from glasscredit.engine.plancache import cache_dir
    from glasscredit.engine.sessions import duckdb_backend
    from glasscredit.policy.load import load_policy
    from glasscredit.simulate.demo import POLICIES
    from glasscredit.simulate.run import prepare

    where = cache_dir()
    if where is None:  # not an error: `make install` runs this whatever the setting
        out.print("plans are not kept on disk (GLASSCREDIT_PLAN_CACHE=off): nothing to do")
        return
    for name in policies or list(POLICIES):
        began = time.perf_counter()
        try:
            cp = load_policy(name)
            prepare(duckdb_backend(), cp)
        except GlassCreditError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        out.print(f"{cp.version_id}: plan ready in {time.perf_counter() - began:.1f} s",
                  highlight=False)
    out.print(f"plans kept in {where}", highlight=False)
