"""Child process for the crash test: append numbered batches, acknowledging each after commit.

Usage: crash_writer.py LOCATION ACK_FILE BATCHES ROWS. Resumes after the last acknowledged
batch; a batch committed but not yet acknowledged is simply replayed (appends are idempotent).
Batches go straight to ``Ledger.append``, the one write path whose atomicity is under test.
"""

from __future__ import annotations

import hashlib
import os
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/, for the kits ledgerkit imports
from ledgerkit import KEY, PERSON, PERSON_2

from glasscredit.ledger.batch import Batch
from glasscredit.ledger.ledger import Ledger


def batch(book: Ledger, number: int, rows: int) -> Batch:
    """``rows`` events keyed ``<number>-<i>`` over two subjects, with honest digests."""
    macs = [book.pseudonyms.digest(PERSON), book.pseudonyms.digest(PERSON_2)]
    keys = [f"{number}-{i}" for i in range(rows)]
    return Batch(events=pa.table({
        "row_no": pa.array(range(1, rows + 1), pa.int64()),
        "source_id": ["bank"] * rows,
        "source_event_id": keys,
        "subject_hmac": [macs[i % 2] for i in range(rows)],
        "subject_kind": ["person"] * rows,
        "kind": ["bill_payment"] * rows,
        "occurred_at": [datetime(2025, 1, 1)] * rows,
        "value": [1.0] * rows,
        "attrs": [f'{{"days_late":{i % 90}}}' for i in range(rows)],
        "digest": [hashlib.sha256(k.encode()).hexdigest() for k in keys],
    }))


def main() -> None:
    location, ack, batches, rows = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:5])
    done = [int(x) for x in ack.read_text().split()] if ack.exists() else []
    start = max(done) + 1 if done else 0
    with Ledger.open(location, KEY) as book, ack.open("a") as out:
        ack.with_suffix(".ready").touch()
        for number in range(start, batches):
            result = book.append(batch(book, number, rows), strict=True)
            assert result.stored + result.duplicates == rows
            out.write(f"{number}\n")
            out.flush()
            os.fsync(out.fileno())


if __name__ == "__main__":
    main()
