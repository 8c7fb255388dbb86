"""The ledger's tables and the engine views over them, declared once as data for both dialects.

Every stored table is append-only and carries the ``batch_id`` of the ``Ledger.append`` that wrote
it, so the tamper-evident log can hash exactly what one batch added. The engine reads the views
named in ``engine.tables.INPUT_SCHEMAS`` (``subjects``, ``sources``, ``events``, ``voids``,
``relations``) with exactly those columns; internal ids are BIGINT in storage, text in the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

SCHEMA_VERSION: Final = 1


def any_of(column: str, sql_type: str = "BIGINT") -> str:
    """A condition "``column`` is in the list bound to its one ``?``" (``sql_type`` names the
    element type: BIGINT or TEXT). ``= ANY`` is the cheapest spelling both dialects share:
    DuckDB plans it faster than ``IN (SELECT unnest(?))`` on small tables and runs it as fast
    on large ones (``list_contains``, cheaper still to plan, scans the list per row: 3.5 times
    slower over 3 M rows), and PostgreSQL serves it from an index."""
    return f"{column} = ANY(CAST(? AS {sql_type}[]))"


@dataclass(frozen=True)
class Dialect:
    """What differs between DuckDB and PostgreSQL, as data rather than ``if`` chains."""

    name: str
    types: dict[str, str]
    placeholder: str
    sha256_hex: str  # format string over one text expression
    indexes: tuple[str, ...] = ()
    #: Columns to sort appended rows by, per table: btree indexes fill far faster from sorted keys.
    insert_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Extra column clauses in CREATE TABLE, keyed ``table.column``.
    column_options: dict[str, str] = field(default_factory=dict)
    #: Tables whose UNIQUE keys the single writer enforces instead of an index (see DIALECTS).
    writer_enforced: frozenset[str] = frozenset()

    def sql(self, text: str) -> str:
        """Rewrite the ``?`` placeholders of shared SQL into this dialect's marker."""
        return text.replace("?", self.placeholder)


DIALECTS: Final[dict[str, Dialect]] = {
    "duckdb": Dialect(
        name="duckdb",
        types={"id": "BIGINT", "text": "VARCHAR", "double": "DOUBLE", "ts": "TIMESTAMP",
               "bool": "BOOLEAN", "int": "BIGINT", "json": "VARCHAR"},
        placeholder="?",
        sha256_hex="sha256({})",
        # One writer per file (file lock, plus a lock per database inside the process), and
        # the append path never inserts a key it has not checked: an ART index on the event
        # key would cost ~3 s of CPU per million events and guard nothing more.
        writer_enforced=frozenset({"ledger_events"}),
        # Event digests are random hex: DuckDB's string compression cannot shrink them much and
        # trying costs ~0.6 s of CPU per million events; stored plainly they cost ~30 MB more.
        # Source event ids are unique per source, so the dictionary half of DICT_FSST finds no
        # repeats: compressing them costs ~0.35 s of CPU per million events to save ~8 MB.
        column_options={"ledger_events.digest": "USING COMPRESSION uncompressed",
                        "ledger_events.source_event_id": "USING COMPRESSION uncompressed"},
    ),
    "postgres": Dialect(
        name="postgres",
        types={"id": "BIGINT", "text": "TEXT", "double": "DOUBLE PRECISION", "ts": "TIMESTAMP",
               "bool": "BOOLEAN", "int": "BIGINT", "json": "TEXT"},
        placeholder="%s",
        sha256_hex="encode(sha256(convert_to({}, 'UTF8')), 'hex')",
        insert_order={"ledger_events": ("source_id", "source_event_id")},
        indexes=(
            "CREATE UNIQUE INDEX IF NOT EXISTS ledger_events_id ON ledger_events (event_id)",
            "CREATE UNIQUE INDEX IF NOT EXISTS ledger_subjects_id ON ledger_subjects (subject_id)",
            "CREATE INDEX IF NOT EXISTS ledger_events_subject ON ledger_events (subject_id)",
            "CREATE INDEX IF NOT EXISTS ledger_voids_event ON ledger_voids (event_id)",
            # A subset run reads the relations touching its subjects from either end.
            "CREATE INDEX IF NOT EXISTS ledger_relations_subject ON ledger_relations "
            "(subject_id)",
            "CREATE INDEX IF NOT EXISTS ledger_relations_related ON ledger_relations "
            "(related_id)",
            # The HTTP service reads these by subject (or client) for every request group and
            # listing; ``Ledger.ensure_tables`` adds them to ledgers made before.
            "CREATE INDEX IF NOT EXISTS ledger_consents_subject ON ledger_consents "
            "(subject_id, batch_id)",
            "CREATE INDEX IF NOT EXISTS ledger_subject_state_subject ON ledger_subject_state "
            "(subject_id, policy_hash, batch_id)",
            "CREATE INDEX IF NOT EXISTS ledger_inquiries_subject ON ledger_inquiries "
            "(subject_id, batch_id)",
            "CREATE INDEX IF NOT EXISTS ledger_decisions_subject ON ledger_decisions "
            "(subject_id, batch_id)",
            "CREATE INDEX IF NOT EXISTS ledger_clients_id ON ledger_clients (client_id, batch_id)",
        ),
    ),
}


@dataclass(frozen=True)
class Table:
    """One stored table: columns as (name, logical type, nullable) and its keys."""

    name: str
    columns: tuple[tuple[str, str, bool], ...]
    unique: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> list[str]:
        """Column names in declared order, for INSERT lists and staging."""
        return [c[0] for c in self.columns]

    def ddl(self, dialect: Dialect) -> str:
        """CREATE TABLE text in ``dialect``; the one place column types are spelled."""
        cols = [f"{n} {dialect.types[t]}{'' if null else ' NOT NULL'}"
                + (f" {dialect.column_options[f'{self.name}.{n}']}"
                   if f"{self.name}.{n}" in dialect.column_options else "")
                for n, t, null in self.columns]
        if self.name not in dialect.writer_enforced:
            cols += [f"UNIQUE ({', '.join(u)})" for u in self.unique]
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(cols)})"


def _t(name: str, cols: str, *unique: tuple[str, ...]) -> Table:
    """Parse a compact ``name:type[?]`` column list; ``?`` marks a nullable column."""
    parsed = []
    for spec in cols.split():
        col, typ = spec.split(":")
        parsed.append((col, typ.rstrip("?"), typ.endswith("?")))
    return Table(name, tuple(parsed), tuple(unique))


TABLES: Final[dict[str, Table]] = {t.name: t for t in (
    _t("ledger_meta", "research:bool created_at:ts schema_version:int key_check:text"),
    _t("ledger_batches", "batch_id:id rows:int digest:text committed_at:ts", ("batch_id",)),
    _t("ledger_subjects", "subject_id:id subject_kind:text subject_hmac:text created_at:ts "
       "batch_id:id", ("subject_hmac",)),
    _t("ledger_sources", "source_id:text reliability:double api_key_hash:text? created_at:ts "
       "batch_id:id"),
    _t("ledger_events", "event_id:id source_id:text source_event_id:text subject_id:id kind:text "
       "occurred_at:ts recorded_at:ts value:double? attrs:json? digest:text batch_id:id",
       ("source_id", "source_event_id")),
    _t("ledger_voids", "event_id:id voided_at:ts kind:text reason:text "
       "replacement_event_id:id? batch_id:id"),
    _t("ledger_erasures", "event_id:id erased_at:ts reason:text"),
    _t("ledger_relations", "subject_id:id related_id:id relation:text valid_from:ts valid_to:ts? "
       "source_id:text? batch_id:id"),
    _t("ledger_consents", "subject_id:id client:text purpose:text granted_at:ts valid_until:ts "
       "batch_id:id"),
    _t("ledger_inquiries", "subject_id:id client:text purpose:text inquired_at:ts batch_id:id"),
    _t("ledger_disputes", "dispute_id:text subject_id:id event_id:id status:text changed_at:ts "
       "note:text? batch_id:id"),
    _t("ledger_policies", "policy_hash:text name:text mode:text yaml_text:text stored_at:ts "
       "batch_id:id", ("policy_hash",)),
    _t("ledger_policy_activations", "policy_hash:text activated_at:ts actor:text note:text? "
       "batch_id:id"),
    _t("ledger_scores", "policy_hash:text as_of:ts subject_id:id subject_kind:text score:double "
       "band:text? batch_id:id"),
    _t("ledger_list_state", "policy_hash:text as_of:ts subject_id:id list:text listed:bool "
       "since:ts? ended_at:ts? batch_id:id"),
    _t("ledger_measure_state", "policy_hash:text as_of:ts subject_id:id measure:text active:bool "
       "since:ts? failing_since:ts? batch_id:id"),
    # The HTTP service (issue 5): clients, real-time state, decisions, notices, outbox, statements.
    _t("ledger_clients", "client_id:text name:text scopes:text key_hash:text subject_id:id? "
       "active:bool created_at:ts batch_id:id"),
    _t("ledger_subject_state", "subject_id:id policy_hash:text scored_at:ts score:double "
       "band:text? state:json batch_id:id"),
    _t("ledger_list_members", "subject_id:id policy_hash:text list:text listed:bool since:ts? "
       "as_of:ts batch_id:id"),
    _t("ledger_decisions", "decision_id:text subject_id:id client:text measure:text outcome:text "
       "score:double band:text? reasons:json policy_version:text decided_at:ts batch_id:id"),
    _t("ledger_notices", "notice_id:text subject_id:id measure:text action:text body:json "
       "issued_at:ts batch_id:id"),
    _t("ledger_outbox", "message_id:text source_id:text topic:text body:json created_at:ts "
       "batch_id:id"),
    _t("ledger_statements", "statement_id:text subject_id:id issued_at:ts expires_at:ts "
       "body:json batch_id:id"),
)}

SEQUENCES: Final = ("ledger_batch_seq", "ledger_subject_seq", "ledger_event_seq")

#: Snapshot name (engine.tables.SNAPSHOT_SCHEMAS) -> the stored table holding its runs.
SNAPSHOT_TABLES: Final[dict[str, str]] = {
    "scores": "ledger_scores",
    "list_state": "ledger_list_state",
    "measure_state": "ledger_measure_state",
}

#: Engine input name -> view over the stored tables, with exactly the contract's columns.
ENGINE_VIEWS: Final[dict[str, str]] = {
    "subjects": (
        "SELECT CAST(subject_id AS VARCHAR) AS subject_id, subject_kind FROM ledger_subjects"
    ),
    "sources": (
        "SELECT source_id, reliability FROM (SELECT source_id, reliability, row_number() OVER "
        "(PARTITION BY source_id ORDER BY batch_id DESC) AS rn FROM ledger_sources) s WHERE rn = 1"
    ),
    "events": (
        "SELECT CAST(event_id AS VARCHAR) AS event_id, CAST(subject_id AS VARCHAR) AS subject_id, "
        "kind, occurred_at, recorded_at, source_id, CAST(value AS DOUBLE PRECISION) AS value, "
        "attrs FROM ledger_events"
    ),
    "voids": "SELECT CAST(event_id AS VARCHAR) AS event_id, voided_at FROM ledger_voids",
    "relations": (
        "SELECT CAST(subject_id AS VARCHAR) AS subject_id, CAST(related_id AS VARCHAR) AS "
        "related_id, relation, valid_from, valid_to FROM ledger_relations"
    ),
}


def ddl_statements(dialect: Dialect) -> list[str]:
    """Every statement that creates an empty ledger, in order; each is idempotent."""
    stmts = [f"CREATE SEQUENCE IF NOT EXISTS {s} START 1" for s in SEQUENCES]
    stmts += [t.ddl(dialect) for t in TABLES.values()]
    stmts += [f"CREATE OR REPLACE VIEW {name} AS {body}" for name, body in ENGINE_VIEWS.items()]
    return stmts + list(dialect.indexes)
