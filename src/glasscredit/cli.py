"""The ``glasscredit`` command line: the only place (with the server) that touches the terminal."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def main() -> None:  # pragma: no cover - console entry point
    app()
