"""Signed score statements: what a subject may show a landlord, verifiable offline (Ed25519).

A statement carries the band (and the score only if the subject asks), the policy version, an
expiry, and ``subject_digest = sha256(nonce ":" external_id)``: whoever the subject shows it to
and who knows the subject's id can check it is theirs; nobody else can link it to a person.
The signature covers the canonical JSON of the statement (sorted keys, no spaces).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from glasscredit.errors import InputError
from glasscredit.rights.records import dumps

KIND: Final = "glasscredit.score_statement/1"


class StatementError(InputError):
    """A statement failed verification: bad signature, wrong key, expired, or malformed."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key, named in every statement it signs."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def published_key(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key document the service publishes (and ``statement verify`` reads)."""
    return {"algorithm": "Ed25519", "key_id": key_id(key), "public_key": b64(public_bytes(key))}


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The service's signing key (PKCS#8 PEM, mode 0600), created on first use."""
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise InputError(f"{path}: not an Ed25519 private key")
        return loaded
    key = Ed25519PrivateKey.generate()
    path.touch(mode=0o600)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key


def subject_digest(nonce: str, external_id: str) -> str:
    return hashlib.sha256(f"{nonce}:{external_id.strip().upper()}".encode()).hexdigest()


def sign(key: Ed25519PrivateKey, claims: dict[str, Any], external_id: str) -> dict[str, Any]:
    """A signed statement document over ``claims`` (issued_at and expires_at included)."""
    nonce = secrets.token_hex(16)
    statement = {**claims, "kind": KIND, "nonce": nonce,
                 "subject_digest": subject_digest(nonce, external_id)}
    statement = json.loads(dumps(statement))
    signature = key.sign(dumps(statement).encode())
    return {"statement": statement, "key_id": key_id(key.public_key()),
            "signature": b64(signature)}


def verify(doc: Any, public_key: dict[str, Any], now: datetime,
           external_id: str | None = None) -> dict[str, Any]:
    """The statement's claims if the signature holds, it has not expired and (if given) it
    names ``external_id``; else ``StatementError`` saying which check failed."""
    try:
        statement, signature = doc["statement"], unb64(doc["signature"])
        raw = unb64(public_key["public_key"])
        expires = datetime.fromisoformat(statement["expires_at"])
        if statement.get("kind") != KIND:
            raise StatementError(f"not a {KIND} document")
    except (KeyError, TypeError, ValueError) as exc:
        raise StatementError(f"malformed statement: {exc}") from exc
    if doc.get("key_id") != public_key.get("key_id"):
        raise StatementError("signed by another key than the one given")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, dumps(statement).encode())
    except (InvalidSignature, ValueError) as exc:
        raise StatementError("the signature does not match: the statement was altered or "
                             "forged") from exc
    if now.replace(tzinfo=None) >= expires.replace(tzinfo=None):
        raise StatementError(f"expired at {statement['expires_at']}")
    if external_id is not None and subject_digest(statement["nonce"],
                                                  external_id) != statement["subject_digest"]:
        raise StatementError("the statement is about another subject")
    return dict(statement)
