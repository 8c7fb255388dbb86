"""Consents and client keys as the service reads them for a group: latest row counts, on both
stores, read at the time of the call (a revocation is seen by the very next read)."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from glasscredit.ledger.batch import Batch
from glasscredit.ledger.ledger import Ledger
from glasscredit.rights import consent
from glasscredit.rights.clients import active_client_ids, add_client, revoke_client
from storekit import Clock

PEOPLE = ("11010519491231002X", "34052419800101001X", "513200199909060190")


def _subjects(ledger: Ledger) -> list[str]:
    macs = [ledger.pseudonyms.subject(p) for p in PEOPLE]
    ledger.append(Batch(subjects=pa.table({"subject_hmac": [m for m, _ in macs],
                                           "subject_kind": [k for _, k in macs]})))
    ids = [ledger.subject_id(p) for p in PEOPLE]
    assert all(i is not None for i in ids)
    return [str(i) for i in ids]


def test_valid_many_reads_the_latest_consent_of_each_triple(ledger: Ledger,
                                                            clock: Clock) -> None:
    a, b, c = _subjects(ledger)
    until = clock.now + timedelta(days=30)
    consent.grant(ledger, a, "reader", "tenancy", until)
    consent.grant(ledger, a, "reader", "lending", until)
    consent.grant(ledger, b, "reader", "tenancy", until)
    consent.grant(ledger, c, "reader", "tenancy", clock.now + timedelta(hours=1))
    asked = [(a, "reader", "tenancy"), (a, "reader", "lending"), (b, "reader", "tenancy"),
             (c, "reader", "tenancy"), (a, "other", "tenancy"), (b, "reader", "lending")]
    assert consent.valid_many(ledger, asked, clock.now) == set(asked[:4])

    clock.now += timedelta(minutes=1)
    assert consent.revoke(ledger, a, "reader", "tenancy")
    consent.grant(ledger, b, "reader", "tenancy", clock.now + timedelta(days=1))  # renewed
    clock.now += timedelta(hours=2)  # c's consent has run out
    assert consent.valid_many(ledger, asked, clock.now) == {asked[1], asked[2]}

    clock.now += timedelta(minutes=1)
    consent.grant(ledger, a, "reader", "tenancy", clock.now + timedelta(days=1))  # again
    assert consent.valid_many(ledger, asked[:1], clock.now) == {asked[0]}
    assert consent.valid_many(ledger, [], clock.now) == set()


def test_active_client_ids_sees_a_revocation_at_once(ledger: Ledger) -> None:
    keys = {name: add_client(ledger, name, ["reader"]) for name in ("r1", "r2")}
    ids = {name: key.split("_")[1] for name, key in keys.items()}
    everyone = sorted([*ids.values(), "000000000000"])
    assert active_client_ids(ledger, everyone) == set(ids.values())
    assert revoke_client(ledger, "r1")
    assert active_client_ids(ledger, everyone) == {ids["r2"]}
    assert active_client_ids(ledger, []) == set()
