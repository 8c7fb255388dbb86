"""Consent and inquiries (FCRA §604/§609): a reader reads only under the subject's recorded grant.

Consents are append-only: the latest row for (subject, client, purpose) counts, and a revocation
is a row whose validity ends when it is written, so it takes effect for the very next read.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from glasscredit.errors import InputError
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.schema import any_of
from glasscredit.rights.records import fetch, latest_rows, page, query, rows

INQUIRY_WINDOW_DAYS: Final = 365
_PURPOSE = re.compile(r"^[a-z][a-z0-9_\-]{1,63}$")


def check_purpose(purpose: str) -> str:
    """A purpose is a short lowercase word the subject can read (``tenancy``, ``lending``)."""
    if not _PURPOSE.match(purpose):
        raise InputError("purpose: 2–64 lowercase letters, digits, '_' or '-', starting with a "
                         "letter")
    return purpose


def grant(ledger: Ledger, subject_id: str, client: str, purpose: str, until: datetime) -> None:
    """Record the subject's consent for ``client`` to read its score for ``purpose``."""
    now = ledger.clock()
    if until <= now:
        raise InputError("valid_until: a consent must end in the future")
    _append(ledger, subject_id, client, check_purpose(purpose), now, until)


def revoke(ledger: Ledger, subject_id: str, client: str, purpose: str) -> bool:
    """End a consent now; False when there was no valid one to end."""
    if current(ledger, subject_id, client, purpose) is None:
        return False
    now = ledger.clock()
    _append(ledger, subject_id, client, purpose, now, now)
    return True


def _append(ledger: Ledger, subject_id: str, client: str, purpose: str, granted: datetime,
            until: datetime) -> None:
    ledger.append_rows({"ledger_consents": rows(
        subject_id=[int(subject_id)], client=[client], purpose=[purpose], granted_at=[granted],
        valid_until=[until.replace(tzinfo=None)])})


def current(ledger: Ledger, subject_id: str, client: str, purpose: str) -> dict[str, Any] | None:
    """The valid consent for this reader and purpose now, or None (none, expired, revoked)."""
    found = query(ledger, "SELECT granted_at, valid_until FROM ledger_consents WHERE "
                          "subject_id = ? AND client = ? AND purpose = ? "
                          "ORDER BY batch_id DESC LIMIT 1",
                  int(subject_id), client, purpose)
    now = ledger.clock()
    if found and found[0]["granted_at"] <= now < found[0]["valid_until"]:
        return found[0]
    return None


def valid_many(ledger: Ledger, wanted: list[tuple[str, str, str]],
               now: datetime) -> set[tuple[str, str, str]]:
    """Which of the (subject id, client, purpose) triples hold a valid consent at ``now``.

    One query for a whole group of reads: every consent row of the subjects asked about, read
    at the time of the call (no cache: a revocation written before it is seen); the latest row
    of each (subject, client, purpose) counts.
    """
    if not wanted:
        return set()
    subjects = sorted({int(s) for s, _, _ in wanted})
    found = fetch(ledger, "SELECT subject_id, client, purpose, granted_at, valid_until, batch_id "
                          "FROM ledger_consents WHERE " + any_of("subject_id"), subjects)
    valid = {(str(sid), client, purpose)
             for (sid, client, purpose), (granted, until) in latest_rows(found, key=3).items()
             if granted <= now < until}
    return valid & set(wanted)


def consents(ledger: Ledger, subject_id: str, cursor: str | None,
             limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The subject's consents, latest state per (client, purpose), with whether each is valid."""
    items, nxt = page(ledger, (
        "SELECT client, purpose, granted_at, valid_until FROM (SELECT *, row_number() OVER "
        "(PARTITION BY client, purpose ORDER BY batch_id DESC) AS rn FROM ledger_consents "
        "WHERE subject_id = ?) c WHERE rn = 1 ORDER BY client, purpose"), [int(subject_id)],
        cursor, limit)
    now = ledger.clock()
    for item in items:
        item["valid"] = item["granted_at"] <= now < item["valid_until"]
    return items, nxt


def inquiry_rows(subject_id: str, client: str, purpose: str, at: datetime) -> dict[str, Any]:
    """The rows that record one read by a third party (appended with what it read)."""
    return {"ledger_inquiries": rows(subject_id=[int(subject_id)], client=[client],
                                     purpose=[purpose], inquired_at=[at])}


def inquiries(ledger: Ledger, subject_id: str, since: datetime | None, cursor: str | None,
              limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Who read the subject's file, when and why, newest first."""
    low = since or datetime(1970, 1, 1)
    return page(ledger, "SELECT client, purpose, inquired_at FROM ledger_inquiries WHERE "
                        "subject_id = ? AND inquired_at >= ? ORDER BY batch_id DESC, inquired_at "
                        "DESC", [int(subject_id), low], cursor, limit)
