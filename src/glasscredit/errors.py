"""One exception tree for GlassCredit.

    GlassCreditError
    ├── InputError (also ValueError)    bad input from a user, a file or a client
    │   ├── IdError                         an external id fails GB 11643 / GB 32100
    │   ├── CatalogueError                  the event catalogue is malformed
    │   ├── PolicyError                     a policy failed to load or validate (every Problem)
    │   ├── GuardError                      a live policy breaks a guard; carries every Finding
    │   ├── ExpressionError                 a condition does not parse or names an unknown attribute
    │   └── IngestError                     a record was rejected on ingest
    ├── BackendError                    a backend cannot run what the plan needs (at plan time)
    └── LedgerError                     the ledger refused an operation (mode, integrity, conflict)
        └── ConflictError                   an idempotency key was replayed with a different payload
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field


class GlassCreditError(Exception):
    """Root of every error GlassCredit raises on purpose."""


class InputError(GlassCreditError, ValueError):
    """Bad input: a user, a file or a client gave something we refuse."""


class IdError(InputError):
    """An external identifier is not valid; ``reason`` says exactly why."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"{value!r}: {reason}")
        self.value = value
        self.reason = reason


class CatalogueError(InputError):
    """The event catalogue is malformed."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a document: where (line, path) and what."""

    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        loc = f" at {self.path}" if self.path else ""
        return f"{where}{loc}: {self.message}"


class PolicyError(InputError):
    """A policy failed to load, validate or compile; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem], source: str = "<policy>") -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path, p.message))
        self.source = source
        lines = "\n".join(f"  {source}: {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{lines}")


@dataclass(frozen=True)
class Finding:
    """A guard the policy breaks: which guard, where, and why."""

    guard: str
    subject: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}[{self.guard}] {self.subject}: {self.message}"


class GuardError(InputError):
    """A live-mode policy breaks one or more guards; ``findings`` lists every one."""

    def __init__(self, findings: list[Finding], source: str = "<policy>") -> None:
        self.findings = findings
        self.source = source
        lines = "\n".join(f"  {source}: {f}" for f in findings)
        super().__init__(f"live policy refused: {len(findings)} guard violation(s):\n{lines}")


class ExpressionError(InputError):
    """A condition expression does not parse or does not type-check."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


@dataclass
class RowProblem:
    """A rejected input row: its number in the file and why."""

    row: int
    reason: str
    field: str | None = None
    extra: dict[str, object] = _field(default_factory=dict)


class IngestError(InputError):
    """Records were rejected on ingest; ``rows`` says which and why."""

    def __init__(self, message: str, rows: list[RowProblem] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


class BackendError(GlassCreditError):
    """A backend cannot execute what the plan needs; raised before any work is done."""


class LedgerError(GlassCreditError):
    """The ledger refused an operation (mode mismatch, integrity, unknown subject)."""


class ConflictError(LedgerError):
    """An idempotency key was replayed with a different payload."""
