"""``glasscredit policy``: compile policy files and report every problem before the engine runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from glasscredit.errors import Finding, GuardError, PolicyError, Problem
from glasscredit.policy.load import CompiledPolicy, load_policy

#: Exit codes of ``policy check``, worst first wins: a file with problems beats a refusal.
EXIT_OK, EXIT_INVALID, EXIT_REFUSED = 0, 1, 2

app = typer.Typer(no_args_is_help=True, help="Check policy files: structure, catalogue, guards.")
out = Console(highlight=False, soft_wrap=True, emoji=False)


@app.callback()
def _group() -> None:
    """Keep ``check`` a named subcommand even while it is the only one."""


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line is not None else source


def problem_line(source: str, p: Problem) -> str:
    """``FILE:LINE: path: message``, the shape editors and CI logs understand."""
    at = f"{p.path}: " if p.path else ""
    return f"{_where(source, p.line)}: {at}{p.message}"


def finding_line(source: str, f: Finding) -> str:
    """``FILE:LINE: [guard] subject: message``."""
    return f"{_where(source, f.line)}: [{f.guard}] {f.subject}: {f.message}"


def summary(source: str, cp: CompiledPolicy) -> str:
    """One line saying what compiled: name, mode, hash prefix and how much is in it."""
    p = cp.policy

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    counts = ", ".join([n(len(p.rules), "rule"), n(len(p.categories), "category")
                        .replace("categorys", "categories"), n(len(p.lists), "list"),
                        n(len(p.measures), "measure")])
    return (f"{source}: ok — policy {p.policy} version {p.version}, mode {p.mode}, "
            f"hash {cp.content_hash[:12]}; {counts}")


def _check_one(file: Path) -> int:
    source = str(file)
    try:
        cp = load_policy(file)
    except PolicyError as exc:
        for p in exc.problems:
            typer.echo(problem_line(source, p), err=True)
        typer.echo(f"{source}: {len(exc.problems)} problem(s)", err=True)
        return EXIT_INVALID
    except GuardError as exc:
        for f in exc.findings:
            typer.echo(finding_line(source, f), err=True)
        typer.echo(f"{source}: live policy refused: {len(exc.findings)} guard violation(s)",
                   err=True)
        return EXIT_REFUSED
    out.print(summary(source, cp), markup=False)
    if cp.findings:
        out.print(f"[yellow]warning:[/yellow] {len(cp.findings)} guard finding(s); this "
                  "simulation policy could not run in live mode:")
        for f in cp.findings:
            out.print(f"  {finding_line(source, f)}", markup=False)
    return EXIT_OK


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="Policy YAML files.")],
) -> None:
    """Compile each FILE; print what it holds, or every problem as FILE:LINE: message.

    Exit codes:

    0 = every file compiles; a simulation policy's guard findings are printed as warnings

    1 = a file has problems (YAML, fields, event kinds, attributes, conditions), on stderr

    2 = no file has problems, but a live policy breaks a guard; the findings are on stderr
    """
    codes = [_check_one(f) for f in files]
    worst = EXIT_INVALID if EXIT_INVALID in codes else max(codes)
    if worst:
        raise typer.Exit(worst)
