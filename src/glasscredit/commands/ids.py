"""``glasscredit id``: check a resident id or a unified social credit code from the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from glasscredit.errors import IdError
from glasscredit.ids import AUTHORITIES, MARKET_ENTITY_TYPES, USCC, ResidentId, check_id

app = typer.Typer(
    no_args_is_help=True,
    help="Validate Chinese resident ids (GB 11643) and unified social credit codes (GB 32100).",
)


@app.callback()
def _group() -> None:
    """Keep ``check`` a named subcommand even while it is the only one."""


def describe(parsed: ResidentId | USCC) -> str:
    """One line saying what a valid id encodes, so a person can check it against the paper."""
    if isinstance(parsed, ResidentId):
        sex = "male" if parsed.sex == "M" else "female"
        return (f"valid resident id: area {parsed.area}, born {parsed.birth_date.isoformat()}, "
                f"{sex}, sequence {parsed.sequence:03d}")
    authority = AUTHORITIES.get(parsed.registration_authority, parsed.registration_authority)
    entity = parsed.entity_type
    if parsed.registration_authority == "9":
        entity = MARKET_ENTITY_TYPES.get(entity, entity)
    legacy = " (legacy pilot code: its GB 32100 check character does not verify)"
    return (f"valid unified social credit code: {authority}, entity type {entity}, "
            f"area {parsed.area}, organisation code {parsed.org_code[:8]}-{parsed.org_code[8]}"
            + (legacy if parsed.legacy else ""))


@app.command()
def check(
    value: Annotated[str, typer.Argument(metavar="ID", help="18-character resident id or code.")],
    legacy: Annotated[bool, typer.Option(
        "--legacy", help="Accept pre-2015 pilot credit codes that fail the check.")] = False,
) -> None:
    """Validate ID; exit 1 with the one-line reason on stderr if it is not valid."""
    try:
        parsed = check_id(value, allow_legacy=legacy)
    except IdError as error:
        typer.echo(f"invalid id {error.value!r}: {error.reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(describe(parsed))
