"""Regenerate the shipped example (``python -m glasscredit.examples.generate``): 36 people."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

from glasscredit.ids import resident_id

HERE = Path(__file__).parent
AREAS = ["320505", "320506", "320507", "320508", "320509"]  # Suzhou districts


def main() -> None:
    """Write subjects.csv, sources.csv, relations.csv and events.jsonl beside this file."""
    rnd = random.Random(2016)
    people = []
    for i in range(1, 37):
        born = date(1950, 1, 1) + timedelta(days=rnd.randrange(0, 365 * 50))
        ext = resident_id(rnd.choice(AREAS), born, rnd.randrange(1, 999))
        people.append((f"p{i:02d}", ext))
    with open(HERE / "subjects.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject_id", "external_id", "subject_kind"])
        w.writerows([(sid, ext, "person") for sid, ext in people])
    with open(HERE / "sources.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source_id", "reliability"])
        w.writerows([("city_bureau", 1.0), ("bank", 0.95), ("platform", 0.8),
                     ("blood_centre", 1.0), ("rumour_mill", 0.4)])
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < 50:
        a, b = rnd.sample(range(36), 2)
        pairs.add((min(a, b), max(a, b)))
    with open(HERE / "relations.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject_id", "related_id", "relation", "valid_from", "valid_to"])
        w.writerows([(people[a][0], people[b][0], "friend", "2020-01-01T00:00:00", "")
                     for a, b in sorted(pairs)])
    start = datetime(2024, 1, 1)
    events: list[dict[str, object]] = []

    def add(sid: str, kind: str, source: str, value: float, **attrs: object) -> None:
        when = start + timedelta(days=rnd.randrange(0, 1000), hours=rnd.randrange(8, 20))
        events.append({"event_id": f"ex{len(events) + 1:04d}", "subject_id": sid, "kind": kind,
                       "occurred_at": when.isoformat(), "source_id": source, "value": value,
                       "attrs": attrs})

    for n, (sid, _) in enumerate(people):
        lateness = [0, 0, 0, 5, 40, 90] if n % 5 == 0 else [0, 0, 0, 0, 3]
        for _ in range(rnd.randrange(4, 12)):
            add(sid, "bill_payment", "bank", 1, days_late=rnd.choice(lateness),
                amount=round(rnd.uniform(50, 800), 2))
        if n % 3 == 0:
            for _ in range(rnd.randrange(1, 4)):
                add(sid, "blood_donation", "blood_centre", 0.4)
        if n % 2 == 0:
            for _ in range(rnd.randrange(2, 10)):
                add(sid, "volunteering", "city_bureau", float(rnd.choice([4, 8, 40, 120])))
        if n % 4 == 1:
            for _ in range(rnd.randrange(3, 15)):
                add(sid, "gaming_session", "platform", float(rnd.choice([2, 5, 8, 11])))
        if n % 7 == 2:
            add(sid, "loan_default", "bank", float(rnd.randrange(2000, 20000)))
        if n % 6 == 3:
            add(sid, "purchase", "platform", 89.0, category="diapers")
        add(sid, "identity_verification", "city_bureau", 1)
        add(sid, "savings_balance", "bank", float(rnd.randrange(0, 80000)))
        if n % 5 == 4:
            add(sid, "elder_care", "city_bureau", 6.0)
        if n == 11:
            add(sid, "loan_default", "rumour_mill", 5000.0)
    events.sort(key=lambda e: (e["subject_id"], e["occurred_at"]))
    with open(HERE / "events.jsonl", "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")


if __name__ == "__main__":
    main()
