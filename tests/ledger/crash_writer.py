"""Child process for the crash test: ingest numbered batches, acknowledging each after commit.

Usage: crash_writer.py LOCATION ACK_FILE BATCHES ROWS. Resumes after the last acknowledged
batch; a batch committed but not yet acknowledged is simply replayed (ingest is idempotent).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ledgerkit import KEY, PERSON, PERSON_2, events_table

from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger


def main() -> None:
    location, ack, batches, rows = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:5])
    done = [int(x) for x in ack.read_text().split()] if ack.exists() else []
    start = max(done) + 1 if done else 0
    with Ledger.open(location, KEY) as book, ack.open("a") as out:
        ack.with_suffix(".ready").touch()
        for b in range(start, batches):
            table = events_table([{"source_event_id": f"{b}-{i}",
                                   "subject": PERSON if i % 2 else PERSON_2,
                                   "attrs": f'{{"days_late": {i % 90}}}'} for i in range(rows)])
            report = ingest_table(book, table, "bank", strict=True)
            assert report.stored + report.duplicates == rows
            out.write(f"{b}\n")
            out.flush()
            os.fsync(out.fileno())


if __name__ == "__main__":
    main()
