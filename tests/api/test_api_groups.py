"""Group commit of consent-gated reads: one append per group, nothing answered before it commits."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from apikit import PERSON, World

from glasscredit.api.grouping import Grouper
from glasscredit.api.service import Service


def test_grouper_serves_waiting_items_together_and_fails_a_group_whole() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def run(items: list[int]) -> list[int | Exception]:
        gate.wait(5)
        sizes.append(len(items))
        if -1 in items:
            raise RuntimeError("group failed")
        return [i * 10 for i in items]

    grouper: Grouper[int, int] = Grouper(run, "test-grouper")

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(grouper.submit(0))]
        await asyncio.sleep(0.2)  # the first group holds item 0 ...
        tasks += [asyncio.ensure_future(grouper.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0.2)  # ... and 1..5 wait behind it
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50]
    assert sizes == [1, 5]

    async def failing() -> list[Any]:
        return await asyncio.gather(grouper.submit(-1), return_exceptions=True)

    (failed,) = asyncio.run(failing())
    assert isinstance(failed, RuntimeError)


def test_after_a_group_the_grouper_waits_for_the_clients_it_just_answered() -> None:
    """Closed-loop clients come back once answered: the next group waits (bounded) for as
    many items as the last group answered plus those already waiting, so two cohorts of
    clients merge into one group instead of alternating."""
    sizes: list[int] = []
    gate = threading.Event()

    def run(items: list[int]) -> list[int | Exception]:
        gate.wait(5)
        sizes.append(len(items))
        return items

    grouper: Grouper[int, int] = Grouper(run, "test-linger", linger_seconds=60)

    async def main() -> list[int]:
        first = asyncio.ensure_future(grouper.submit(0))
        await asyncio.sleep(0.2)  # the first group holds item 0 ...
        waiting = [asyncio.ensure_future(grouper.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0.2)  # ... 1 and 2 wait behind it
        gate.set()
        answers = [await first]
        answers.append(await grouper.submit(3))  # item 0's client comes back: 3 expected,
        return answers + list(await asyncio.gather(*waiting))  # and 3 are there: no wait

    assert asyncio.run(main()) == [0, 3, 1, 2]
    assert sizes == [1, 3]


def test_a_lone_client_never_waits_and_the_wait_is_bounded() -> None:
    sizes: list[int] = []

    def run(items: list[int]) -> list[int | Exception]:
        sizes.append(len(items))
        return items

    lone: Grouper[int, int] = Grouper(run, "test-lone", linger_seconds=60)

    async def one_by_one() -> list[int]:
        return [await lone.submit(i) for i in range(5)]  # 60 s each if it waited

    assert asyncio.run(one_by_one()) == [0, 1, 2, 3, 4]
    assert sizes == [1] * 5

    sizes.clear()
    gate = threading.Event()
    held: Grouper[int, int] = Grouper(lambda items: (gate.wait(5), run(items))[1],
                                      "test-bounded", linger_seconds=0.05)

    async def two_never_come_back() -> list[Any]:
        tasks = [asyncio.ensure_future(held.submit(0))]
        await asyncio.sleep(0.2)
        tasks += [asyncio.ensure_future(held.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0.2)
        gate.set()  # 3 expected after the first group, 2 ever come: served after the wait
        return await asyncio.gather(*tasks)

    assert asyncio.run(two_never_come_back()) == [0, 1, 2]
    assert sizes == [1, 2]


def service(w: World) -> Service:
    svc: Service = w.client.app.state.service  # type: ignore[attr-defined]
    return svc


def _consent(w: World, purpose: str) -> None:
    until = (w.clock.now + timedelta(days=30)).isoformat()
    r = w.post("/v1/me/consents", "me", {"client": "reader", "purpose": purpose,
                                         "valid_until": until})
    assert r.status_code == 201, r.text


def _held(w: World, grouper: Any, calls: list[Any]) -> list[Any]:
    """Run ``calls`` while the service lock is held, each queued before the next starts, then
    let them go: the worker takes the first into a group (and waits for the lock), the rest
    in order into the next group — so the calls are served in exactly two groups."""
    svc = service(w)
    svc.refresh_clients()  # no key-cache refresh (which takes the lock) during the test
    pool = ThreadPoolExecutor(len(calls))
    groups = grouper.groups
    with svc.lock:
        futures = []
        for n, call in enumerate(calls, 1):
            futures.append(pool.submit(call))
            deadline = time.monotonic() + 20
            while grouper.waiting() < n and time.monotonic() < deadline:
                time.sleep(0.005)
        waiting = grouper.waiting()
    answers = [f.result(60) for f in futures]
    pool.shutdown()
    assert waiting == len(calls)
    assert grouper.groups - groups == 2
    return answers


def _held_reads(w: World, n: int, body: dict[str, Any]) -> list[Any]:
    return _held(w, service(w).gated, [lambda: w.post("/v1/decisions", "reader", body)] * n)


def test_concurrent_decisions_are_recorded_in_one_append_per_group(world: World) -> None:
    w = world
    w.ingest("hospital", w.event())
    _consent(w, "p-group")
    body = {"subject": PERSON, "purpose": "p-group", "measure": "donor_badge"}
    batches, decisions = w.rows("ledger_batches"), w.rows("ledger_decisions")
    inquiries = w.rows("ledger_inquiries")
    answers = _held_reads(w, 8, body)
    assert [r.status_code for r in answers] == [200] * 8
    assert len({r.json()["decision_id"] for r in answers}) == 8
    assert w.rows("ledger_decisions") == decisions + 8
    assert w.rows("ledger_inquiries") == inquiries + 8
    assert w.rows("ledger_batches") - batches <= 2  # 8 reads, two groups, at most two appends


def test_a_failed_append_answers_no_read_of_its_group(world: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    w.ingest("hospital", w.event())
    _consent(w, "p-fail")
    svc = service(w)

    def broken(rows: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(svc.ledger, "append_rows", broken)
    inquiries = w.rows("ledger_inquiries")
    r = w.post("/v1/scores", "reader", {"subject": PERSON, "purpose": "p-fail"})
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "score" not in r.text
    own = w.get("/v1/me/score", "me")  # the subject's own read records nothing: still served
    assert own.status_code == 200
    monkeypatch.undo()
    assert w.rows("ledger_inquiries") == inquiries


def test_subject_ids_are_cached_but_unknown_subjects_are_not(world: World) -> None:
    w = world
    svc = service(w)
    from apikit import person

    fresh = person(4321)
    assert svc.subject_id(fresh) is None
    assert w.ingest("hospital", w.event(subject=fresh)).status_code == 200
    sid = svc.subject_id(fresh)
    assert sid is not None and sid == w.ledger.subject_id(fresh)
    assert svc.ledger.pseudonyms.digest(fresh) in svc._subjects


def test_concurrent_ingests_are_stored_together_and_rescored_once(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """One group: two clean requests (one append, one engine run for both), a bad one (422),
    a reused key with another payload (409) and a replay — each answered as if alone."""
    from apikit import person

    from glasscredit.api import service as service_module

    w = world
    runs: list[list[str]] = []
    real = service_module.rescore

    def counted(ledger: Any, cp: Any, subjects: list[str], now: Any) -> Any:
        runs.append(sorted(subjects))
        return real(ledger, cp, subjects, now)

    monkeypatch.setattr(service_module, "rescore", counted)
    x, y = person(5001), person(5002)
    a = [w.event(subject=x, key="grp-a1"), w.event(subject=x, key="grp-a2")]
    b = [w.event(subject=y, key="grp-b1")]
    bad = [w.event(subject=y, key="grp-c1", kind="no_such_kind")]
    clash = [{**w.event(subject=x, key="grp-a1"), "value": 0.9}]
    replay = [dict(b[0])]
    batches = w.rows("ledger_batches")
    first = [w.event(subject=y, key="grp-first")]  # the group ahead, holding the lock
    answers = _held(w, service(w).ingest, [
        lambda events=events: w.ingest("hospital", *events)  # type: ignore[misc]
        for events in (first, a, b, bad, clash, replay)])
    rfirst, ra, rb, rbad, rclash, rreplay = answers
    assert rfirst.status_code == 200
    runs.pop(0)  # the first group's own run
    assert (ra.status_code, ra.json()["stored"], ra.json()["rescored"]) == (200, 2, 1)
    assert (rb.status_code, rb.json()["stored"]) == (200, 1)
    assert rbad.status_code == 422 and rbad.json()["error"]["details"][0]["index"] == 0
    assert rclash.status_code == 409
    assert rreplay.status_code == 200 and rreplay.json()["replayed"] == [0]
    assert rreplay.json()["results"][0]["event_id"] == rb.json()["results"][0]["event_id"]
    ids = {w.ledger.subject_id(x), w.ledger.subject_id(y)}
    assert runs == [sorted(ids)]  # one engine run for both requests' subjects
    # first: events + states; then one append for a+b, one for the replay's round, one for
    # the states of the group's one engine run
    assert w.rows("ledger_batches") - batches <= 5
    assert w.get("/v1/me/score", "me").status_code == 200


def test_requests_run_duckdb_on_one_thread_and_engine_runs_on_every_core(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On an embedded ledger (a PostgreSQL one keeps its engine's DuckDB apart)."""
    from apikit import make_world

    import glasscredit.api.service as service_module

    w = make_world(tmp_path)
    cores = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()
    assert cores is not None and int(cores[0]) > 1  # else this test could not tell

    def threads() -> int:
        return int(w.ledger.store.fetch("SELECT current_setting('threads')")[0][0])

    seen: list[int] = []
    real = service_module.rescore

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(threads())
        return real(*args, **kwargs)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    try:
        assert threads() == 1
        monkeypatch.setattr(service_module, "rescore", watched)
        assert w.ingest("hospital", w.event()).status_code == 200
        assert seen == [int(cores[0])]  # the engine run had every core
        assert threads() == 1  # and the requests have one again
        monkeypatch.setattr(service_module, "rescore", broken)
        assert w.ingest("hospital", w.event()).status_code == 500
        assert threads() == 1  # restored after a failed run too
    finally:
        w.client.close()
        w.ledger.close()
