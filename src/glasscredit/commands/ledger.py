"""``glasscredit init``, ``ingest``, ``source add``, ``export`` and ``import-scores``.

The ledger location comes from ``--ledger``, else ``GLASSCREDIT_LEDGER``, else
``./glasscredit.duckdb``; a ``postgresql://…?schema=name`` URL selects PostgreSQL. The pseudonym
key comes from ``--key-file``, else ``GLASSCREDIT_PSEUDONYM_KEY`` (hex), else the key file next to
a DuckDB ledger (``<ledger>.key``) or ``./glasscredit.key`` for PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from glasscredit.errors import GlassCreditError
from glasscredit.ledger.export import export_tables, import_scores
from glasscredit.ledger.ingest import FORMATS, count_rows, ingest_file, write_rejects
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.pseudonym import create_key_file, key_from_text, read_key_file

KEY_ENV = "GLASSCREDIT_PSEUDONYM_KEY"
EXIT_REJECTED = 2
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
source_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Data providers and their reliability.")

LedgerOpt = Annotated[str, typer.Option(
    "--ledger", envvar="GLASSCREDIT_LEDGER", help="DuckDB file or postgresql:// URL.")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key-file", envvar="GLASSCREDIT_KEY_FILE", help="Pseudonym key file (mode 0600).")]
DEFAULT_LEDGER = "glasscredit.duckdb"


def default_key_file(ledger: str) -> Path:
    """Next to a DuckDB file; in the working directory for a server ledger."""
    if ledger.startswith("postgres"):
        return Path("glasscredit.key")
    return Path(f"{ledger}.key")


def _fail(exc: GlassCreditError) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    raise typer.Exit(1)


def _key(ledger: str, key_file: Path | None) -> bytes:
    """Explicit key file, then the environment, then the default key file."""
    if key_file is None and os.environ.get(KEY_ENV):
        return key_from_text(os.environ[KEY_ENV])
    return read_key_file(key_file or default_key_file(ledger))


def open_ledger(ledger: str, key_file: Path | None) -> Ledger:
    """Open the ledger the options name, or exit with the reason."""
    try:
        return Ledger.open(ledger, _key(ledger, key_file))
    except GlassCreditError as exc:
        _fail(exc)
        raise  # unreachable


def init_command(
    path: Annotated[str | None, typer.Argument(help="DuckDB file or postgresql:// URL.")] = None,
    research: Annotated[bool, typer.Option(
        "--research", help="Synthetic research data: simulation policies allowed.")] = False,
    key_file: KeyOpt = None,
) -> None:
    """Create an empty ledger and its pseudonym key (kept outside the database)."""
    ledger = path or os.environ.get("GLASSCREDIT_LEDGER") or DEFAULT_LEDGER
    try:
        if key_file is None and os.environ.get(KEY_ENV):
            key, where = key_from_text(os.environ[KEY_ENV]), f"${KEY_ENV}"
        else:
            target = key_file or default_key_file(ledger)
            key, where = create_key_file(target), str(target)
        Ledger.init(ledger, key, research=research).close()
    except GlassCreditError as exc:
        _fail(exc)
    kind = "research (synthetic subjects)" if research else "live (real subjects)"
    out.print(f"Created {kind} ledger at {ledger}; pseudonym key: {where}", highlight=False)


def source_add_command(
    name: Annotated[str, typer.Argument(help="Source name, e.g. court or bank_of_x.")],
    reliability: Annotated[float, typer.Option("--reliability", "-r", help="0..1")],
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
) -> None:
    """Register a data provider; prints its API key once (only a hash is stored)."""
    api_key = secrets.token_urlsafe(24)
    with open_ledger(ledger, key_file) as book:
        try:
            book.add_source(name, reliability, api_key)
        except GlassCreditError as exc:
            _fail(exc)
    out.print(f"Source {name!r} (reliability {reliability}) added. API key, shown once: "
              f"{api_key}", highlight=False)


def ingest_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet file.")],
    *,
    source: Annotated[str, typer.Option("--source", "-s", help="Registered source name.")],
    strict: Annotated[bool, typer.Option(
        "--strict", help="Reject the whole file at the first bad row.")] = False,
    reject_file: Annotated[Path | None, typer.Option(
        "--reject-file", help="Where bad rows go (default: FILE.rejects.csv).")] = None,
    allow_legacy_ids: Annotated[bool, typer.Option(
        "--allow-legacy-ids", help="Accept early pilot credit codes failing MOD 31.")] = False,
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
) -> None:
    """Validate and append a file of events as one batch; exit 2 if some rows were rejected."""
    fmt = FORMATS.get(file.suffix.lower())
    total = count_rows(file, fmt) if fmt and file.is_file() else None
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with open_ledger(ledger, key_file) as book, Progress(
        *columns, console=err, transient=True, disable=not err.is_terminal
    ) as bar:
        task = bar.add_task(f"ingesting {file.name}", total=total)
        try:
            report = ingest_file(book, file, source, strict=strict,
                                 allow_legacy=allow_legacy_ids,
                                 progress=lambda n: bar.advance(task, n))
        except GlassCreditError as exc:
            _fail(exc)
            raise  # unreachable
    out.print(f"{file.name}: {report.rows} read, {report.stored} stored, "
              f"{report.duplicates} already present, {report.conflicts} conflicting, "
              f"{len(report.rejected)} rejected", highlight=False)
    if report.rejected:
        target = reject_file or file.with_name(file.name + ".rejects.csv")
        write_rejects(target, report.rejected)
        out.print(f"rejected rows written to {target}", highlight=False)
        raise typer.Exit(EXIT_REJECTED)


def export_command(
    directory: Annotated[Path, typer.Argument(help="Directory for the Parquet files.")],
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
) -> None:
    """Write the engine's input tables as Parquet (one file each) for a Spark cluster."""
    with open_ledger(ledger, key_file) as book:
        report = export_tables(book, directory)
    for name, rows in report.rows.items():
        out.print(f"{directory / (name + '.parquet')}: {rows} rows", highlight=False)


def import_scores_command(
    file: Annotated[Path, typer.Argument(help="Parquet: subject_id, subject_kind, score[, band]")],
    policy_hash: Annotated[str | None, typer.Option(
        "--policy-hash", help="Policy the scores came from (else a policy_hash column).")] = None,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", help="Scoring time, UTC (else an as_of column).")] = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
) -> None:
    """Import scores computed elsewhere into the ledger's score snapshots, validated."""
    with open_ledger(ledger, key_file) as book:
        try:
            result = import_scores(book, file, policy_hash, as_of)
        except GlassCreditError as exc:
            _fail(exc)
            raise  # unreachable
    rows = sum(result.rows.values())
    out.print(f"{rows} scores imported (batch {result.batch_id})", highlight=False)


def register(cli: typer.Typer) -> None:
    """Wire the ledger commands into a top-level app (the owner of cli.py calls this)."""
    cli.command("init")(init_command)
    cli.command("ingest")(ingest_command)
    cli.command("export")(export_command)
    cli.command("import-scores")(import_scores_command)
    cli.add_typer(source_app, name="source")


source_app.command("add")(source_add_command)
register(app)
