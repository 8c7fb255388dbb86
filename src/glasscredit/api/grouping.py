"""Group commit: requests that arrive while one group runs are served together by the next.

A ``Grouper`` owns one worker thread (started on demand, gone after a short idle spell). A
request hands its item to ``submit`` and awaits its own answer; the worker takes everything
waiting, runs it as one group — typically one set of reads and ONE ledger append under the
service lock — and answers each request only after that group returned, so nothing is
acknowledged before it is committed. Under load the group grows by itself (whatever arrived
during the previous group), at low load a group is one request with no added wait.

Clients that send their next request when the answer arrives would otherwise settle into two
cohorts served by alternate groups, each waiting two groups' time for its answer. So after a
group the worker expects as many items as it just answered plus those already waiting, and
waits for them at most ``linger_seconds`` before starting the next group: the cohorts merge
into one group (the group's fixed cost shared by twice the requests), and a lone client, whose
next request is all that is expected, never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Final, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The longest a group waits for the items its predecessor leads it to expect.
LINGER_SECONDS: Final = 0.01


class Grouper(Generic[T, R]):
    """Serve submitted items in groups on one worker thread; see the module docstring."""

    def __init__(self, run: Callable[[list[T]], list[R | Exception]], name: str,
                 max_group: int = 256, idle_seconds: float = 2.0,
                 linger_seconds: float = LINGER_SECONDS) -> None:
        self.run, self.name = run, name
        self.max_group, self.idle_seconds = max_group, idle_seconds
        self.linger_seconds = linger_seconds
        self._cond = threading.Condition()
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: threading.Thread | None = None
        self.groups = 0  # how many groups ran, and how many items the running one holds
        self.running = 0

    async def submit(self, item: T) -> R:
        """The answer for ``item`` once its group has run (its exception re-raised)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        with self._cond:
            self._pending.append((item, future))
            if self._worker is None:
                self._start()
            self._cond.notify()
        return await future

    def waiting(self) -> int:
        """Items submitted and not yet answered (queued or in the running group)."""
        with self._cond:
            return len(self._pending) + self.running

    def _start(self) -> None:
        """Start a worker (call with ``_cond`` held and no worker running)."""
        self._worker = threading.Thread(target=self._work, name=self.name, daemon=True)
        self._worker.start()

    def _work(self) -> None:
        try:
            self._serve()
        finally:  # should the worker ever die, the requests still waiting get a new one
            with self._cond:
                if self._worker is threading.current_thread():
                    self._worker = None
                    if self._pending:
                        self._start()

    def _serve(self) -> None:
        expected = 1
        while True:
            with self._cond:
                if not self._pending:
                    self._cond.wait(self.idle_seconds)
                if not self._pending:
                    self._worker = None
                    return
                self._linger(expected)
                group = self._pending[:self.max_group]
                del self._pending[:self.max_group]
                self.running = len(group)
            results: list[R | Exception]
            try:
                results = self.run([item for item, _ in group])
                if len(results) != len(group):
                    raise RuntimeError(f"{self.name}: {len(results)} answers for {len(group)}")
            except Exception as exc:  # the whole group failed: every request learns it
                results = [exc] * len(group)
            with self._cond:  # those about to be answered may come back; those waiting are here
                expected = min(self.max_group, len(group) + len(self._pending))
            self.groups += 1
            self.running = 0
            for (_, future), result in zip(group, results, strict=True):
                _settle(future, result)

    def _linger(self, expected: int) -> None:
        """Wait (``_cond`` held) until ``expected`` items wait or ``linger_seconds`` passed."""
        deadline = time.monotonic() + self.linger_seconds
        while len(self._pending) < expected:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)


def _settle(future: asyncio.Future[R], result: R | Exception) -> None:
    """Answer a waiting request on its own event loop (it may have gone away meanwhile)."""

    def apply() -> None:
        if future.done():
            return
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # its loop closed: nobody is waiting any more
        future.get_loop().call_soon_threadsafe(apply)
