"""``Service``: the ledger, the live policy, the clock and the signing key behind one lock.

DuckDB connections and the engine's SQLFrame session are not thread-safe, so every ledger and
engine call runs under ``Service.lock``: run one worker process per ledger file (PostgreSQL
ledgers can take several replicas, each with its own lock). Consent-gated reads and decisions
are served in groups (``gated``, ``grouping``): one set of queries and one append per group.

What is cached, and why it is safe: subject pseudonym -> internal id (append-only, never
reassigned) and client key hashes (a client's key never changes). Whether a client is still
active and whether a consent is valid are read from the ledger for every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from glasscredit.api.errors import ApiError
from glasscredit.api.grouping import Grouper
from glasscredit.api.limits import Limits, RateLimiter
from glasscredit.api.models import EventsOut
from glasscredit.catalogue import Catalogue, load_catalogue
from glasscredit.ledger.ledger import Ledger
from glasscredit.ledger.validate import EventValidator
from glasscredit.policy.load import CompiledPolicy
from glasscredit.rights import disputes
from glasscredit.rights.clients import Client, active_client_ids, load_clients
from glasscredit.rights.records import fetch
from glasscredit.rights.state import latest_states, rescore
from glasscredit.runs import check_mode

#: A kept state older than this is recomputed on read (decay and validity windows move on).
MAX_STATE_AGE: Final = timedelta(hours=24)
CLIENTS_TTL_SECONDS: Final = 5.0
SWEEP_EVERY: Final = timedelta(minutes=1)
#: Subject pseudonym -> internal id entries kept (about 200 bytes each); cleared when full.
SUBJECT_CACHE_MAX: Final = 500_000
#: DuckDB threads for the service's own small reads and appends. A few-row query pays more
#: for handing work to a second thread than it gains, and that core is better spent on HTTP;
#: engine runs get every core back (``engine_threads``). Measured in docs/benchmarks.md.
REQUEST_THREADS: Final = 1


class Service:
    """What the routes share; ``lock`` serialises every ledger and engine call."""

    def __init__(self, ledger: Ledger, cp: CompiledPolicy, clock: Callable[[], datetime],
                 signing_key: Ed25519PrivateKey, limits: Limits) -> None:
        check_mode(ledger, cp)
        self.ledger, self.cp, self.clock = ledger, cp, clock
        self.signing_key, self.limits = signing_key, limits
        self.lock = threading.RLock()
        self.rate = RateLimiter(limits.rate_per_second, limits.burst)
        self.catalogue: Catalogue = load_catalogue()
        self._clients: dict[str, Client] = {}
        self._clients_at = -1e9
        self._swept: datetime | None = None
        self._subjects: dict[str, str] = {}
        from glasscredit.api.gated import Gated, Served, serve_group

        self.gated: Grouper[Gated, Served] = Grouper(
            lambda items: serve_group(self, items), "glasscredit-gated-reads")
        from glasscredit.api.ingest import IngestJob, ingest_group

        self.ingest: Grouper[IngestJob, EventsOut] = Grouper(
            lambda jobs: ingest_group(self, jobs), "glasscredit-ingest", max_group=16)
        self._validator: EventValidator | None = None
        with self.lock:
            ledger.ensure_tables()
            ledger.store_policy(cp.text, cp.name, cp.policy.mode)
            self._threads(REQUEST_THREADS)

    def validator(self) -> EventValidator:
        """The event validator, kept between requests (its compiled checks and id cache);
        its clock set to now. Call under the lock."""
        if self._validator is None:
            self._validator = EventValidator(self.catalogue, self.ledger.pseudonyms, self.clock())
        self._validator.now = self.clock().replace(tzinfo=None)
        return self._validator

    def warm(self, cache: bool = True) -> None:
        """Build the engine's prepared plan now, not on the first request (several seconds);
        with ``cache``, an embedded ledger's engine inputs are kept in memory from now on
        (``runs.cache_inputs``), so that a rescore reads no table rows."""
        with self.lock:
            self.ledger.ensure_tables()
            from glasscredit.runs import cache_inputs, embedded, score_ledger

            with self.engine_threads():
                if cache and embedded(self.ledger):
                    cache_inputs(self.ledger)
                score_ledger(self.ledger, self.cp, self.clock(), ["0"], keep=False)

    def _threads(self, n: int | None) -> None:
        """Set DuckDB's worker threads for an embedded ledger (None: DuckDB's default, one per
        core); a PostgreSQL ledger's engine runs on a DuckDB of its own, left as it is."""
        connection = getattr(self.ledger.store, "connection", None)
        if self.ledger.store.dialect.name == "duckdb" and connection is not None:
            connection.execute("RESET threads" if n is None else f"SET threads = {int(n)}")

    @contextmanager
    def engine_threads(self) -> Iterator[None]:
        """Every core for an engine run, then back to ``REQUEST_THREADS``. Call under the lock."""
        self._threads(None)
        try:
            yield
        finally:
            self._threads(REQUEST_THREADS)

    def clients_stale(self) -> bool:
        return time.monotonic() - self._clients_at > CLIENTS_TTL_SECONDS

    def refresh_clients(self) -> None:
        with self.lock:
            self._clients = load_clients(self.ledger)
        self._clients_at = time.monotonic()

    def client(self, client_id: str) -> Client | None:
        """A client by id, from a cache of keys refreshed every few seconds (keys added
        elsewhere); whether it is still active is checked per request (``active_clients``)."""
        if self.clients_stale():
            self.refresh_clients()
        return self._clients.get(client_id)

    def forget_clients(self) -> None:
        self._clients_at = -1e9

    def active_clients(self, client_ids: set[str]) -> set[str]:
        """Which of these clients are active now, read from the ledger (revocation is at once)."""
        with self.lock:
            return active_client_ids(self.ledger, sorted(client_ids))

    def subject_ids(self, external_ids: list[str]) -> dict[str, str]:
        """Internal ids by external id, for the known subjects (one query for the uncached)."""
        out: dict[str, str] = {}
        missing: dict[str, list[str]] = {}
        for ext in external_ids:
            mac = self.ledger.pseudonyms.digest(ext)
            sid = self._subjects.get(mac)
            if sid is None:
                missing.setdefault(mac, []).append(ext)
            else:
                out[ext] = sid
        if missing:
            marks = ", ".join("?" for _ in missing)
            with self.lock:
                found = fetch(self.ledger, "SELECT subject_hmac, subject_id FROM ledger_subjects "
                                           f"WHERE subject_hmac IN ({marks})", *missing)
            if len(self._subjects) + len(found) > SUBJECT_CACHE_MAX:
                self._subjects.clear()
            for mac, sid in found:
                self._subjects[mac] = str(sid)
                out.update(dict.fromkeys(missing[mac], str(sid)))
        return out

    def subject_id(self, external_id: str) -> str | None:
        return self.subject_ids([external_id]).get(external_id)

    def standing(self, subject_id: str) -> dict[str, Any]:
        """The subject's kept state, rescored first when missing or stale; 404 if unscorable."""
        with self.lock:
            state = latest_states(self.ledger, self.cp, [subject_id]).get(subject_id)
            if state is None or state["scored_at"] < self.clock() - MAX_STATE_AGE:
                self.rescore([subject_id])
                state = latest_states(self.ledger, self.cp, [subject_id]).get(subject_id)
        if state is None:
            raise ApiError(404, f"the subject is not scored under {self.cp.version_id}")
        return state

    def rescore(self, subject_ids: list[str], now: datetime | None = None) -> None:
        """Rescore these subjects at ``now`` (the clock's time when None) and keep their state."""
        with self.lock, self.engine_threads():
            rescore(self.ledger, self.cp, subject_ids, now or self.clock())

    def sweep(self, force: bool = False) -> list[disputes.Dispute]:
        """Void events of disputes past their deadline (at most once a minute unless forced)."""
        now = self.clock()
        if not force and self._swept is not None and now - self._swept < SWEEP_EVERY:
            return []
        with self.lock:
            closed = disputes.sweep(self.ledger)
            if closed:
                self.rescore(sorted({d.subject_id for d in closed}), now)
            self._swept = now
        return closed
