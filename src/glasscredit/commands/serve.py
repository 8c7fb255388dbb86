"""``glasscredit serve``, ``client add|revoke`` and ``statement verify``: the service's commands.

``serve`` runs uvicorn with ONE worker: the ledger and the engine are serialised behind one lock
inside the process (DuckDB connections and SQLFrame sessions are not thread-safe, and a DuckDB
file admits one writing process). ``client add`` prints the new key once; only its hash is kept.
``client revoke`` ends a key: the service's next request with it gets 401.
``statement verify`` checks a score statement offline against the published public key.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from glasscredit.commands.ledger import DEFAULT_LEDGER, KeyOpt, LedgerOpt, open_ledger
from glasscredit.errors import GlassCreditError
from glasscredit.rights.clients import SCOPES, add_client, revoke_client
from glasscredit.rights.statements import (
    StatementError,
    load_or_create_signing_key,
    published_key,
    verify,
)

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
client_app = typer.Typer(no_args_is_help=True, add_completion=False, help="API clients.")
statement_app = typer.Typer(no_args_is_help=True, add_completion=False,
                            help="Signed score statements.")


def _fail(message: object) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def client_add_command(
    name: Annotated[str, typer.Argument(help="Client name; a source client is named after its "
                                             "source.")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; "
                                                              "repeat for several.")],
    subject: Annotated[str | None, typer.Option(
        "--subject", help="For a subject client: its own external id.")] = None,
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
) -> None:
    """Add an API client and print its key — the only time it is shown."""
    try:
        with open_ledger(ledger, key_file) as led:
            led.ensure_tables()
            key = add_client(led, name, scope, subject)
    except GlassCreditError as exc:
        _fail(exc)
    out.print(f"client {name} ({', '.join(sorted(set(scope)))})")
    out.print(key)
    err.print("Keep this key now: only its hash is stored, it cannot be shown again.")


def client_revoke_command(
    name: Annotated[str, typer.Argument(help="The client to revoke.")],
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
) -> None:
    """Revoke a client's key: from the next request on it gets 401 (the service checks every
    request against the ledger). With a DuckDB ledger the service holds the file: revoke
    through it instead (POST /v1/admin/clients/revoke)."""
    try:
        with open_ledger(ledger, key_file) as led:
            led.ensure_tables()
            done = revoke_client(led, name)
    except GlassCreditError as exc:
        _fail(exc)
    if not done:
        _fail(f"no active client named {name!r}")
    out.print(f"client {name} revoked")


def serve_command(
    policy: Annotated[str, typer.Option("--policy", help="Policy file or preset (live).")],
    ledger: LedgerOpt = DEFAULT_LEDGER,
    key_file: KeyOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    signing_key: Annotated[Path | None, typer.Option(
        "--signing-key", help="Ed25519 key for statements (PEM; made if missing). Default: "
                              "<ledger>.signing.pem")] = None,
    publish_key: Annotated[Path | None, typer.Option(
        "--publish-key", help="Also write the public key document here.")] = None,
    cache_inputs: Annotated[bool, typer.Option(
        "--cache-inputs/--no-cache-inputs",
        help="Keep an embedded ledger's engine inputs in memory, so that a rescore reads no "
             "table rows (memory grows with the ledger: ~3.4 GB at 20 M events).")] = True,
) -> None:
    """Serve the HTTP API (one worker process; see the module docstring for why)."""
    import uvicorn

    from glasscredit.api import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        led = open_ledger(ledger, key_file)
        key = load_or_create_signing_key(signing_key or Path(f"{ledger}.signing.pem"))
        if publish_key is not None:
            publish_key.write_text(json.dumps(published_key(key.public_key()), indent=2))
        app = create_app(led, policy, signing_key=key, warm=True, cache_inputs=cache_inputs)
    except GlassCreditError as exc:
        _fail(exc)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info")


def statement_verify_command(
    file: Annotated[Path, typer.Argument(help="The statement (JSON) to check.")],
    public_key: Annotated[Path, typer.Option(
        "--public-key", help="The service's public key document (GET "
                             "/v1/public/statement-key).")],
    subject: Annotated[str | None, typer.Option(
        "--subject", help="Also check that it is about this external id.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="Check as of this UTC time (ISO 8601); default now.")] = None,
) -> None:
    """Verify a score statement offline: signature, key, expiry (and subject)."""
    from glasscredit.ledger.ledger import utc_now

    try:
        doc = json.loads(file.read_text())
        key = json.loads(public_key.read_text())
        when = datetime.fromisoformat(at) if at else utc_now()
        claims = verify(doc, key, when, subject)
    except (OSError, ValueError) as exc:
        _fail(f"cannot read: {exc}")
    except StatementError as exc:
        _fail(f"invalid statement: {exc}")
    shown = f"band {claims['band']}" + (f", score {claims['score']:g}" if "score" in claims
                                        else "")
    out.print(f"valid: {shown} under {claims['policy_version']}, issued {claims['issued_at']}, "
              f"expires {claims['expires_at']}")


def register(cli: typer.Typer) -> None:
    """Wire ``serve``, ``client add`` and ``statement verify`` into the top-level app."""
    cli.command("serve")(serve_command)
    cli.add_typer(client_app, name="client")
    cli.add_typer(statement_app, name="statement")


client_app.command("add")(client_add_command)
client_app.command("revoke")(client_revoke_command)
statement_app.command("verify")(statement_verify_command)
