"""Pseudonyms: external ids are stored only as HMAC-SHA256 under a key kept outside the database.

The key lives in a file made by ``init`` (mode 0600) or in ``GLASSCREDIT_PSEUDONYM_KEY`` (read by
the CLI, never here). The ledger keeps only ``key_check``, an HMAC of a fixed label, so a wrong
key is refused instead of silently creating a second set of subjects.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from glasscredit.errors import IdError, LedgerError

KEY_BYTES: Final = 32
_KEY_CHECK_LABEL: Final = b"glasscredit/pseudonym-key-check/v1"


def new_key() -> bytes:
    """A fresh random key; 256 bits, as HMAC-SHA256 wants."""
    return secrets.token_bytes(KEY_BYTES)


def key_from_text(text: str) -> bytes:
    """Decode a hex key (from a file or the environment), refusing short or malformed keys."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise LedgerError("pseudonym key is not hexadecimal") from exc
    if len(key) < 16:
        raise LedgerError(f"pseudonym key is {len(key)} bytes; at least 16 are needed")
    return key


def create_key_file(path: Path) -> bytes:
    """Write a new owner-only key; never overwrite one (that would orphan every subject)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise LedgerError(f"key file {path} already exists; refusing to replace it") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def read_key_file(path: Path) -> bytes:
    """Read a key file, refusing one that others can read."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError as exc:
        raise LedgerError(f"pseudonym key file {path} not found") from exc
    if mode & 0o077:
        raise LedgerError(f"pseudonym key file {path} has mode {mode:o}; it must be 0600")
    return key_from_text(path.read_text())


def normalise(external_id: str) -> str:
    """The canonical spelling that is hashed: trimmed, upper case (a resident id may end in x)."""
    return external_id.strip().upper()


def subject_kind_of(external_id: str, allow_legacy: bool = False) -> str:
    """Validate an external id with ``glasscredit.ids`` and say whose it is."""
    from glasscredit import ids

    parsed = ids.check_id(external_id, allow_legacy=allow_legacy)
    return "person" if isinstance(parsed, ids.ResidentId) else "organisation"


class Pseudonymiser:
    """Keyed hashing of external ids; the one way an external id reaches the ledger."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, external_id: str) -> str:
        """The stored pseudonym (hex) of an already validated external id."""
        return hmac.digest(self._key, normalise(external_id).encode(), "sha256").hex()

    def key_check(self) -> str:
        """A fingerprint of the key that reveals nothing about it, stored in ``ledger_meta``."""
        return hmac.digest(self._key, _KEY_CHECK_LABEL, hashlib.sha256).hex()

    def subject(self, external_id: str, allow_legacy: bool = False) -> tuple[str, str]:
        """Validate then pseudonymise: ``(hmac, subject_kind)``; raises ``IdError``."""
        kind = subject_kind_of(normalise(external_id), allow_legacy)
        return self.digest(external_id), kind

    def many(
        self, external_ids: Iterable[str], allow_legacy: bool = False
    ) -> tuple[list[str | None], list[str | None], list[str | None]]:
        """Pseudonymise distinct ids at once: parallel lists of hmac, kind, and error reason."""
        from glasscredit.ledger.idcheck import fast_kinds

        values = [normalise(v) for v in external_ids]
        kinds = fast_kinds(values)
        errors: list[str | None] = [None] * len(values)
        for i in (i for i, k in enumerate(kinds) if k is None):
            try:
                kinds[i] = subject_kind_of(values[i], allow_legacy)
            except IdError as exc:
                errors[i] = exc.reason
        base = hmac.new(self._key, digestmod=hashlib.sha256)  # keyed once, copied per id
        macs: list[str | None] = [None] * len(values)
        for i, (v, err) in enumerate(zip(values, errors, strict=True)):
            if err is None:
                mac = base.copy()
                mac.update(v.encode())
                macs[i] = mac.hexdigest()
        return macs, kinds, errors
