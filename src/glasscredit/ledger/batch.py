"""What one ``Ledger.append`` writes and what it reports back: Arrow tables in, counts out.

A batch is columnar so that a million ingested events and one HTTP-posted void travel the same
path. Subjects are named by pseudonym (``subject_hmac``), never by internal id, so a batch can be
built before its subjects exist; the store resolves them inside the append transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.errors import InputError, RowProblem
from glasscredit.ledger.schema import TABLES

#: Columns of ``Batch.events`` (prepared and validated by ``ledger.ingest``).
EVENT_COLUMNS: Final = pa.schema([
    ("row_no", pa.int64()),
    ("source_id", pa.string()),
    ("source_event_id", pa.string()),
    ("subject_hmac", pa.string()),
    ("subject_kind", pa.string()),
    ("kind", pa.string()),
    ("occurred_at", pa.timestamp("us")),
    ("value", pa.float64()),
    ("attrs", pa.string()),
    ("digest", pa.string()),
])

#: Rows per Arrow batch of validated events: one DuckDB row group, so the store inserts ingest's
#: batches as they come, in parallel, and fills whole row groups.
EVENT_BATCH_ROWS: Final = 122_880

#: ``subject_hmac`` may travel dictionary-encoded (ingest does): one entry per distinct subject.
HMAC_CODES: Final = pa.dictionary(pa.int32(), pa.string())


def event_schema(events: pa.Table) -> pa.Schema:
    """``EVENT_COLUMNS``, keeping ``subject_hmac`` dictionary-encoded where it already is."""
    if pa.types.is_dictionary(events.schema.field("subject_hmac").type):
        at = EVENT_COLUMNS.get_field_index("subject_hmac")
        return EVENT_COLUMNS.set(at, pa.field("subject_hmac", HMAC_CODES))
    return EVENT_COLUMNS


_ARROW: Final = {"id": pa.int64(), "int": pa.int64(), "text": pa.string(), "json": pa.string(),
                  "double": pa.float64(), "ts": pa.timestamp("us"), "bool": pa.bool_()}

SUBJECT_COLUMNS: Final = pa.schema([("subject_hmac", pa.string()), ("subject_kind", pa.string())])

#: Columns that name a subject by pseudonym in a batch and by internal id once stored.
SUBJECT_REFS: Final[dict[str, str]] = {"subject_hmac": "subject_id", "related_hmac": "related_id"}

#: Stored tables a batch may append plain rows to (everything but subjects and events).
ROW_TABLES: Final = (
    "ledger_sources", "ledger_voids", "ledger_relations", "ledger_consents", "ledger_inquiries",
    "ledger_disputes", "ledger_policies", "ledger_policy_activations", "ledger_scores",
    "ledger_list_state", "ledger_measure_state",
)


@dataclass
class Batch:
    """Rows to append atomically: events, the subjects they and other rows name, plain rows."""

    events: pa.Table | None = None
    subjects: pa.Table | None = None
    rows: dict[str, pa.Table] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse malformed batches before any transaction opens."""
        if self.events is not None:
            missing = set(EVENT_COLUMNS.names) - set(self.events.column_names)
            if missing:
                raise InputError(f"batch events lack columns: {sorted(missing)}")
            self.events = self.events.select(EVENT_COLUMNS.names).cast(
                event_schema(self.events))
            rows = self.events["row_no"].to_numpy()
            ascending = len(rows) < 2 or bool((rows[1:] > rows[:-1]).all())  # ingest's order
            if not ascending and pc.count_distinct(rows).as_py() != len(rows):
                raise InputError("batch events need distinct row_no values")
        if self.subjects is not None:
            self.subjects = self.subjects.select(SUBJECT_COLUMNS.names).cast(SUBJECT_COLUMNS)
        unknown = set(self.rows) - set(ROW_TABLES)
        if unknown:
            raise InputError(f"a batch cannot append to {sorted(unknown)}")
        self.rows = {name: _conform(name, table) for name, table in self.rows.items()}

    def is_empty(self) -> bool:
        """True when appending would write nothing."""
        events = 0 if self.events is None else self.events.num_rows
        return events == 0 and all(t.num_rows == 0 for t in self.rows.values()) and (
            self.subjects is None or self.subjects.num_rows == 0
        )


def _conform(name: str, table: pa.Table) -> pa.Table:
    """Cast plain rows to the stored column types, refusing unknown or missing columns."""
    declared = {col: (typ, nullable) for col, typ, nullable in TABLES[name].columns}
    wanted = {SUBJECT_REFS.get(c, c) for c in table.column_names}
    unknown = sorted(wanted - set(declared))
    missing = sorted(c for c, (_, nullable) in declared.items()
                     if not nullable and c not in wanted and c != "batch_id")
    if unknown or missing:
        raise InputError(f"rows for {name}: unknown columns {unknown}, missing {missing}")
    fields = [(c, pa.string() if c in SUBJECT_REFS else _ARROW[declared[c][0]])
              for c in table.column_names]
    return table.cast(pa.schema(fields))


@dataclass
class AppendResult:
    """What one append did: the batch id, and per event whether it was new, a replay or a clash."""

    batch_id: int | None
    stored: int = 0
    duplicates: int = 0
    conflicts: list[RowProblem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    new_subjects: int = 0


def conflict_problem(row: int, source_event_id: str) -> RowProblem:
    """The one wording of an idempotency-key clash, shared by strict and lenient ingest."""
    return RowProblem(
        row=row,
        reason=f"source_event_id {source_event_id!r} was already recorded with a different payload",
        field="source_event_id",
    )
