"""One-subject scoring runs on a PostgreSQL ledger: the time per call, median of 20.

    .venv/bin/python benchmarks/pg_rescore.py --events 1000000

Ingests N synthetic bill payments (``benchmarks/ingest.py``'s generator, N/10 subjects) into a
fresh research ledger in a throw-away schema, then scores 20 single subjects under the
``sesame`` preset with ``score_ledger`` (the path the HTTP service's rescores take), after one
warm-up call. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import generate

from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger
from glasscredit.policy.load import load_policy
from glasscredit.runs import score_ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    url = f"{args.postgres}?schema=bench_{uuid.uuid4().hex[:10]}"
    book = Ledger.init(url, bytes(range(32)), research=True)
    try:
        book.add_source("bank", 0.9)
        stored = ingest_table(book, generate(args.events), "bank").stored
        cp = load_policy("sesame")
        ids = [str(r[0]) for r in book.store.fetch(
            "SELECT subject_id FROM ledger_subjects ORDER BY subject_id LIMIT 21")]
        at = datetime(2024, 1, 1)
        score_ledger(book, cp, at, ids[:1], keep=False).result.arrow("scores")
        lat = []
        for s in ids[1:]:
            t0 = time.perf_counter()
            score_ledger(book, cp, at, [s], keep=False).result.arrow("scores")
            lat.append(time.perf_counter() - t0)
        print(f"{stored:,} events: one-subject score_ledger median "
              f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
    finally:
        book.store.drop()  # type: ignore[attr-defined]
        book.close()


if __name__ == "__main__":
    main()
