"""API clients: named, scoped, keyed. Keys are shown once and stored only as SHA-256 hashes.

A key reads ``gck_<client_id>_<secret>``; the id finds the client row, and the secret's hash is
compared in constant time. Secrets are 256 random bits, so a fast hash is enough (no KDF needed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from glasscredit.errors import InputError
from glasscredit.ledger.batch import Batch
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.schema import any_of
from glasscredit.rights.records import fetch, latest_rows, query, rows

SCOPES: Final = ("source", "reader", "subject", "reviewer", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_KEY = re.compile(r"^gck_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,100})$")


@dataclass(frozen=True)
class Client:
    """Who is calling: its name, scopes and, for a subject client, its internal subject id."""

    client_id: str
    name: str
    scopes: frozenset[str]
    key_hash: str
    subject_id: str | None


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(client id, secret) of a well-formed key, else None."""
    match = _KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def key_matches(client: Client, secret: str) -> bool:
    """Constant-time comparison of the presented secret with the stored hash."""
    return hmac.compare_digest(client.key_hash.encode(), hash_secret(secret).encode())


def add_client(ledger: Ledger, name: str, scopes: list[str], subject: str | None = None) -> str:
    """Register a client and return its key (the only time it exists in clear)."""
    if not _NAME.match(name):
        raise InputError(f"client name {name!r}: letters, digits, '_', '-', '.'; at most 64")
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise InputError(f"scopes {bad or scopes}: choose from {', '.join(SCOPES)}")
    if ("subject" in scopes) != (subject is not None):
        raise InputError("a subject client needs --subject (its own external id), and only it")
    if "source" in scopes and not ledger.has_source(name):
        raise InputError(f"no source {name!r}: a source client is named after a registered "
                         "source (`glasscredit source add`)")
    if any(c.name == name for c in load_clients(ledger).values()):
        raise InputError(f"a client named {name!r} already exists")
    subject_id: int | None = None
    if subject is not None:
        mac, kind = ledger.pseudonyms.subject(subject)
        ledger.append(Batch(subjects=pa.table({"subject_hmac": [mac], "subject_kind": [kind]})))
        found = ledger.subject_id(subject)
        subject_id = int(found) if found is not None else None
    client_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    ledger.append_rows({"ledger_clients": rows(
        client_id=[client_id], name=[name], scopes=[",".join(sorted(set(scopes)))],
        key_hash=[hash_secret(secret)], subject_id=pa.array([subject_id], pa.int64()),
        active=[True], created_at=[ledger.clock()])})
    return f"gck_{client_id}_{secret}"


def revoke_client(ledger: Ledger, name: str) -> bool:
    """Revoke a client's key now (a row with ``active`` false); False when no active client
    has that name. The service checks every request against the ledger: the next is 401."""
    found = [c for c in load_clients(ledger).values() if c.name == name]
    for c in found:
        ledger.append_rows({"ledger_clients": rows(
            client_id=[c.client_id], name=[c.name], scopes=[",".join(sorted(c.scopes))],
            key_hash=[c.key_hash],
            subject_id=pa.array([None if c.subject_id is None else int(c.subject_id)],
                                pa.int64()),
            active=[False], created_at=[ledger.clock()])})
    return bool(found)


def load_clients(ledger: Ledger) -> dict[str, Client]:
    """Every active client by id (the latest row of each id counts)."""
    found = query(ledger, "SELECT client_id, name, scopes, key_hash, subject_id, active FROM "
                          "ledger_clients ORDER BY batch_id")
    latest = {r["client_id"]: r for r in found}
    return {cid: Client(cid, r["name"], frozenset(r["scopes"].split(",")), r["key_hash"],
                        None if r["subject_id"] is None else str(r["subject_id"]))
            for cid, r in latest.items() if r["active"]}


def active_client_ids(ledger: Ledger, client_ids: list[str]) -> set[str]:
    """Which of ``client_ids`` are active now (the latest row of each id counts)."""
    if not client_ids:
        return set()
    found = fetch(ledger, "SELECT client_id, active, batch_id FROM ledger_clients WHERE "
                          + any_of("client_id", "TEXT"), client_ids)
    return {cid for cid, (active,) in latest_rows(found, key=1).items() if active}
