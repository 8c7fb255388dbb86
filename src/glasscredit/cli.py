"""The ``glasscredit`` command line: the only place (with the server) that touches the terminal."""

from __future__ import annotations

import typer

from glasscredit.commands import engine as engine_cmd
from glasscredit.commands import ids as ids_cmd
from glasscredit.commands import ledger as ledger_cmd
from glasscredit.commands import policy as policy_cmd
from glasscredit.commands import serve as serve_cmd
from glasscredit.commands import simulate as simulate_cmd
from glasscredit.commands import study as study_cmd

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(ids_cmd.app, name="id")
app.add_typer(policy_cmd.app, name="policy")
engine_cmd.register(app)
ledger_cmd.register(app)
serve_cmd.register(app)
app.add_typer(simulate_cmd.app, name="simulate")
study_cmd.register(app, simulate_cmd.app)


def main() -> None:  # pragma: no cover - console entry point
    app()
