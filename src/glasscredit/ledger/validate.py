"""Row validation for ingest, vectorised: SQL generated from the catalogue runs on Arrow chunks.

DuckDB finds the bad rows of a chunk in one pass (no Python loop per row); Python then words the
few problems, reusing the catalogue's own messages for attribute errors so that ingest and policy
checks say the same thing. Subject ids are checked and pseudonymised once per distinct value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.catalogue import Attribute, Catalogue, EventKind
from glasscredit.errors import RowProblem
from glasscredit.ledger.batch import EVENT_BATCH_ROWS, event_schema
from glasscredit.ledger.pseudonym import Pseudonymiser

REQUIRED = ("source_event_id", "subject", "kind", "occurred_at")
OPTIONAL = ("subject_kind", "value", "attrs")
ATTR_PREFIX = "attr."
_CACHE_LIMIT = 1_000_000


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attr_value_bad(attr: Attribute, value: str) -> str:
    """True when ``value`` (an attribute's JSON text, NULL when null or absent) fails its type.

    The text comes from normalised JSON, so it is canonical: a number starts with ``-`` or a
    digit, a string with a quote and written the one way ``to_json`` writes it, booleans are
    ``true``/``false``. Only integers need a parser, to tell them from out-of-range numbers.
    """
    if attr.type == "int":
        test = f"json_type({value}) NOT IN ('UBIGINT', 'BIGINT')"
    elif attr.type == "float":
        test = f"NOT (ascii({value}) BETWEEN 48 AND 57 OR ascii({value}) = 45)"
    elif attr.type == "bool":
        test = f"{value} NOT IN ('true', 'false')"
    elif attr.type == "string":
        test = f"NOT starts_with({value}, '\"')"
    elif attr.type == "enum":
        test = (f"{value} NOT IN ("
                f"{', '.join(f'CAST(to_json({_lit(v)}) AS VARCHAR)' for v in attr.values)})")
    else:  # date: an ISO calendar day inside the quotes (absent is fine, as for every type)
        test = (f"{value} IS NOT NULL AND NOT (regexp_full_match({value}, "
                f"'\"\\d{{4}}-\\d{{2}}-\\d{{2}}\"') "
                f"AND TRY_CAST(substr({value}, 2, 10) AS DATE) IS NOT NULL)")
    return f"coalesce({test}, false)"


def _attr_checks(kind: EventKind) -> str:
    """SQL for one kind's 'attributes do not fit' test over ``attr_values``, one JSON parse.

    ``attr_values`` holds every attribute named by a kind of the chunk as JSON text, extracted
    by a single ``from_json`` per row; the keys are listed once more to find unknown ones.
    """
    names = ", ".join(_lit(a) for a in kind.attributes) or "NULL"
    conds = [f"NOT list_has_all([{names}], json_keys(attrs))"]
    conds += [_attr_value_bad(a, f"CAST(attr_values.{a.name} AS VARCHAR)")
              for a in kind.attributes.values()]
    return " OR ".join(conds)


def _attrs_from_columns(columns: list[str], catalogue: Catalogue) -> str:
    """Build the attrs JSON from ``attr.<name>`` columns, typing text by the catalogue."""
    types: dict[str, set[str]] = {}
    for kind in catalogue.kinds.values():
        for attr in kind.attributes.values():
            types.setdefault(attr.name, set()).add(attr.type)
    parts = []
    for col in columns:
        name = col[len(ATTR_PREFIX):]
        ident = '"' + col.replace('"', '""') + '"'
        raw = f"trim(CAST({ident} AS VARCHAR))"
        declared = types.get(name, {"string"})
        if declared & {"int", "float"}:
            value = (f"CASE WHEN regexp_full_match({raw}, '-?[0-9]+') THEN {raw} "
                     f"WHEN TRY_CAST({raw} AS DOUBLE) IS NOT NULL AND isfinite(TRY_CAST({raw} AS "
                     f"DOUBLE)) THEN CAST(to_json(TRY_CAST({raw} AS DOUBLE)) AS VARCHAR) "
                     f"ELSE CAST(to_json({raw}) AS VARCHAR) END")
        elif "bool" in declared:
            value = (f"CASE WHEN lower({raw}) IN ('true', 'false') THEN lower({raw}) "
                     f"ELSE CAST(to_json({raw}) AS VARCHAR) END")
        else:
            value = f"CAST(to_json({raw}) AS VARCHAR)"
        parts.append(f"CASE WHEN {raw} <> '' THEN {_lit(json.dumps(name))} || ':' || {value} END")
    return f"'{{' || concat_ws(',', {', '.join(parts)}) || '}}'"


def _typed(schema: pa.Schema) -> dict[str, str]:
    """Expressions for the time and value columns, cheaper when the file already typed them.

    A zoned value becomes its UTC instant through its epoch (``make_timestamp(epoch_us(..))``),
    which costs a fraction of ``AT TIME ZONE``; naive values are UTC as they stand.
    """
    has = {f.name: f.type for f in schema}
    ts_type, value_type = has.get("occurred_at"), has.get("value")
    if ts_type is not None and pa.types.is_timestamp(ts_type):
        ts = ("make_timestamp(epoch_us(occurred_at))" if ts_type.tz
              else "CAST(occurred_at AS TIMESTAMP)")
        empty_ts, bad_ts = "occurred_at IS NULL", "false"
    else:
        text = "trim(CAST(occurred_at AS VARCHAR))"
        ts = f"make_timestamp(epoch_us(TRY_CAST({text} AS TIMESTAMPTZ)))"
        empty_ts = f"occurred_at IS NULL OR {text} = ''"
        bad_ts = "ts IS NULL"
    if value_type is None:
        val, bad_val = "CAST(NULL AS DOUBLE)", "false"
    elif pa.types.is_floating(value_type) or pa.types.is_integer(value_type):
        val = "CAST(value AS DOUBLE)"
        bad_val = f"{val} IS NOT NULL AND NOT isfinite({val})"
    else:
        raw = "trim(CAST(value AS VARCHAR))"
        val = f"TRY_CAST({raw} AS DOUBLE)"
        bad_val = f"{raw} <> '' AND ({val} IS NULL OR NOT isfinite({val}))"
    return {"ts": ts, "empty_ts": empty_ts, "bad_ts": bad_ts, "val": val, "bad_val": bad_val}


def build_sql(schema: pa.Schema, catalogue: Catalogue, kinds: frozenset[str]) -> str:
    """The checking query for a chunk; the first failing check names the row's problem.

    Lookups (subject pseudonym, catalogue entry) arrive as ``_``-columns joined in Arrow; the
    attribute checks are generated only for ``kinds``, the kinds present in the chunk.
    """
    columns = schema.names
    has = set(columns)
    typed = _typed(schema)
    attr_cols = [c for c in columns if c.startswith(ATTR_PREFIX)]
    attrs = ("CAST(attrs AS VARCHAR)" if "attrs" in has
             else _attrs_from_columns(attr_cols, catalogue) if attr_cols else "'{}'")
    opt = {c: f"trim(CAST({c} AS VARCHAR))" if c in has else "NULL" for c in OPTIONAL}
    present = [k for k in catalogue.kinds.values() if k.name in kinds]
    # no catalogue kind in the chunk: every row's kind is unknown (NOT IN (NULL) is never true)
    unknown = f"kind NOT IN ({', '.join(_lit(k.name) for k in present)})" if present else "TRUE"
    wrong_subject = " ".join(
        f"WHEN {_lit(k.name)} THEN derived_kind NOT IN ({', '.join(map(_lit, k.subjects))})"
        for k in present if set(k.subjects) != {"person", "organisation"})
    measured = ", ".join(_lit(k.name) for k in present if k.unit != "count") or "NULL"
    branches = " ".join(f"WHEN {_lit(k.name)} THEN {_attr_checks(k)}" for k in present)
    names = sorted({a for k in present for a in k.attributes})
    struct = _lit(json.dumps(dict.fromkeys(names, "JSON")))
    values = (f", CASE WHEN starts_with(attrs, '{{') THEN from_json(attrs, {struct}) END "
              "AS attr_values" if names else "")
    subject_case = (f"WHEN CASE kind {wrong_subject} ELSE false END THEN 'kind_subject'"
                    if wrong_subject else "")
    attr_case = f"WHEN CASE kind {branches} ELSE false END THEN 'attrs'" if branches else ""
    return f"""
    WITH src AS (
      SELECT row_no, trim(CAST(source_event_id AS VARCHAR)) AS seid, _subject AS subject,
        lower({opt['subject_kind']}) AS given_kind, _kind AS kind, _hmac AS subject_hmac,
        _dkind AS derived_kind, _err AS id_error, ({typed['empty_ts']}) AS empty_ts,
        {typed['ts']} AS ts, {typed['val']} AS val, coalesce({typed['bad_val']}, false) AS bad_val,
        {attrs} AS raw_attrs
      FROM chunk),
    parsed AS (SELECT *, CAST(try(json(raw_attrs)) AS VARCHAR) AS attrs FROM src),
    typed AS (SELECT *{values} FROM parsed),
    checked AS (SELECT *, CASE
      WHEN seid IS NULL OR seid = '' THEN 'empty:source_event_id'
      WHEN subject IS NULL OR subject = '' THEN 'empty:subject'
      WHEN id_error IS NOT NULL THEN 'subject'
      WHEN given_kind IS NOT NULL AND given_kind <> ''
        AND given_kind NOT IN ('person', 'organisation') THEN 'subject_kind_value'
      WHEN given_kind IS NOT NULL AND given_kind <> '' AND given_kind <> derived_kind
        THEN 'subject_kind_mismatch'
      WHEN kind IS NULL OR kind = '' THEN 'empty:kind'
      WHEN {unknown} THEN 'unknown_kind'
      {subject_case}
      WHEN empty_ts THEN 'empty:occurred_at'
      WHEN {typed['bad_ts']} THEN 'occurred_at'
      WHEN ts > $now THEN 'future'
      WHEN bad_val THEN 'value'
      WHEN val IS NULL AND kind IN ({measured}) THEN 'value_missing'
      WHEN attrs IS NULL OR NOT starts_with(attrs, '{{') THEN 'attrs_json'
      {attr_case}
    END AS problem FROM typed)
    SELECT row_no, problem, $source AS source_id, seid AS source_event_id,
      derived_kind AS subject_kind, kind, ts AS occurred_at, coalesce(val, 1.0) AS value, attrs,
      CASE WHEN problem IS NULL THEN sha256(concat_ws(chr(31), subject_hmac, kind,
        strftime(ts, '%Y-%m-%dT%H:%M:%S.%f'), CAST(coalesce(val, 1.0) AS VARCHAR), attrs))
      END AS digest
    FROM checked"""


@dataclass(frozen=True)
class _Job:
    """A chunk with its looked-up columns, its checking query and its rows' pseudonyms."""

    chunk: pa.Table
    sql: str
    macs: pa.Array


class EventValidator:
    """Checks chunks of one file against the catalogue; holds the per-file DuckDB and id cache."""

    def __init__(self, catalogue: Catalogue, pseudonyms: Pseudonymiser, now: datetime,
                 allow_legacy: bool = False) -> None:
        self.catalogue = catalogue
        self.pseudonyms = pseudonyms
        self.now = now.replace(tzinfo=None)
        self.allow_legacy = allow_legacy
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET TimeZone = 'UTC'")
        self._sql: dict[tuple[frozenset[str], str], str] = {}
        self._known = self._empty = pa.table({
            name: pa.array([], pa.string()) for name in ("subject", "_hmac", "_dkind", "_err")})

    def _lookup(self, subject: pa.Array) -> tuple[dict[str, pa.Array], pa.Array]:
        """Trimmed text, pseudonym, kind and id error per row, as dictionary arrays; and the
        pseudonyms again, indexing the file's answers.

        Each distinct spelling is trimmed once per chunk, and each distinct id checked and hashed
        once per file (the cache is bounded); rows only carry indices into the answers, so
        nothing per row is copied, trimmed or hashed here. The query reads dictionaries of the
        chunk's own ids; the store gets one dictionary for every chunk (the answers only grow,
        so earlier chunks' dictionaries are prefixes of later ones) and need not unify them.
        """
        encoded = pc.dictionary_encode(subject)
        distinct = pc.utf8_trim_whitespace(encoded.dictionary)
        found = pc.index_in(distinct, value_set=self._known["subject"])
        if found.null_count:
            fresh = pc.unique(distinct.filter(pc.is_null(found)))
            if self._known.num_rows + len(fresh) > _CACHE_LIMIT:
                self._known, fresh = self._empty, pc.unique(distinct)
            macs, kinds, errors = self.pseudonyms.many(fresh.to_pylist(), self.allow_legacy)
            added = pa.table({"subject": fresh, "_hmac": pa.array(macs, pa.string()),
                              "_dkind": pa.array(kinds, pa.string()),
                              "_err": pa.array(errors, pa.string())})
            self._known = pa.concat_tables([self._known, added]).combine_chunks()
            found = pc.index_in(distinct, value_set=self._known["subject"])
        answers = self._known.take(found)
        columns = {name if name.startswith("_") else f"_{name}": pa.DictionaryArray.from_arrays(
            encoded.indices, answers[name].combine_chunks()) for name in answers.column_names}
        macs = pa.DictionaryArray.from_arrays(found.take(encoded.indices),
                                              self._known["_hmac"].combine_chunks())
        return columns, macs

    def check(self, chunk: pa.Table, source: str) -> tuple[pa.Table, list[RowProblem]]:
        """Split one chunk (with a ``row_no`` column) into stored-shape rows and problems."""
        job = self._prepare(chunk)
        return self._finish(job, self._query(job, source))

    def check_all(self, chunks: Iterable[pa.Table], source: str
                  ) -> Generator[tuple[int, pa.Table, list[RowProblem]], None, None]:
        """``check`` every chunk in order: (rows read, good rows, problems) for each.

        One chunk's query runs on DuckDB's threads while this one looks up the next chunk's
        ids in Python (DuckDB releases the GIL), so the two kinds of work overlap.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="ingest-check") as pool:
            waiting: tuple[_Job, Future[pa.Table]] | None = None
            for chunk in chunks:
                job = self._prepare(chunk)
                running = pool.submit(self._query, job, source)
                if waiting is not None:
                    yield waiting[0].chunk.num_rows, *self._finish(waiting[0],
                                                                   waiting[1].result())
                waiting = job, running
            if waiting is not None:
                yield waiting[0].chunk.num_rows, *self._finish(waiting[0], waiting[1].result())

    def _prepare(self, chunk: pa.Table) -> _Job:
        """The Python half of a check: kinds and ids looked up, the query chosen."""
        kinds = pc.dictionary_encode(chunk.column("kind").cast(pa.string()).combine_chunks())
        trimmed = pc.utf8_trim_whitespace(kinds.dictionary)
        kind = pa.DictionaryArray.from_arrays(kinds.indices, trimmed)
        present = frozenset(trimmed.drop_null().to_pylist()) & set(self.catalogue.kinds)
        key = (present, str(chunk.schema))
        sql = self._sql.get(key) or self._sql.setdefault(
            key, build_sql(chunk.schema, self.catalogue, present))
        subject = chunk.column("subject").cast(pa.string()).combine_chunks()
        looked_up, macs = self._lookup(subject)
        for name, column in {"_kind": kind, **looked_up}.items():
            chunk = chunk.append_column(name, column)
        return _Job(chunk, sql, macs)

    def _query(self, job: _Job, source: str) -> pa.Table:
        """The DuckDB half: every check and the digests, in one statement over the chunk."""
        self.con.register("chunk", job.chunk)
        try:
            return self.con.sql(job.sql, params={"now": self.now, "source": source}
                                ).to_arrow_table(EVENT_BATCH_ROWS)
        finally:
            self.con.unregister("chunk")

    def _finish(self, job: _Job, out: pa.Table) -> tuple[pa.Table, list[RowProblem]]:
        """Stored-shape good rows, and the problems worded."""
        chunk, macs = job.chunk, job.macs
        if not np.array_equal(out["row_no"].to_numpy(), chunk["row_no"].to_numpy()):
            macs = macs.take(pc.index_in(out["row_no"], value_set=chunk["row_no"]))
        out = out.append_column("subject_hmac", macs)
        schema = event_schema(out)
        if out["problem"].null_count == out.num_rows:  # the usual case: no copy
            return out.select(schema.names).cast(schema), []
        ok = pc.is_null(out["problem"])
        good = out.filter(ok).select(schema.names).cast(schema)
        bad = out.filter(pc.invert(ok))
        if not bad.num_rows:
            return good, []
        first = chunk["row_no"][0].as_py()
        at = pa.array([r - first for r in bad["row_no"].to_pylist()], pa.int64())
        raw = chunk.take(at)
        rows = bad.to_pylist()
        problems = []
        for i, row in enumerate(rows):
            row.update({"subject": raw["_subject"][i].as_py(), "id_error": raw["_err"][i].as_py(),
                        "derived_kind": raw["_dkind"][i].as_py(), "kind": raw["_kind"][i].as_py()})
            if row["kind"] in self.catalogue:
                entry = self.catalogue.kind(row["kind"])
                row.update(allowed=list(entry.subjects), unit=entry.unit)
            for col in ("subject_kind", "occurred_at", "value", "attrs"):
                value = raw[col][i].as_py() if col in raw.column_names else None
                row[f"raw_{col}"] = value if value is None or isinstance(value, str) else str(value)
            problems.append(self.word(row))
        return good, problems

    def word(self, row: dict[str, Any]) -> RowProblem:
        """The message for one bad row; attribute problems use the catalogue's wording."""
        code: str = row["problem"]
        field, reason = _WORDING.get(code, _fallback)(row, self.catalogue)
        return RowProblem(row=int(row["row_no"]), reason=reason, field=field)

    def close(self) -> None:
        """Free the per-file database."""
        self.con.close()


Wording = Callable[[dict[str, Any], Catalogue], tuple[str, str]]


def _attrs(row: dict[str, Any], cat: Catalogue) -> tuple[str, str]:
    problems = cat.check_value(row["kind"], json.loads(row["attrs"]))
    return "attrs", "; ".join(problems) or f"attributes do not fit kind {row['kind']!r}"


def _fallback(row: dict[str, Any], cat: Catalogue) -> tuple[str, str]:
    return "", f"rejected ({row['problem']})"


_WORDING: dict[str, Wording] = {
    "empty:source_event_id": lambda r, c: ("source_event_id", "source_event_id is empty"),
    "empty:subject": lambda r, c: ("subject", "subject is empty"),
    "empty:kind": lambda r, c: ("kind", "kind is empty"),
    "empty:occurred_at": lambda r, c: ("occurred_at", "occurred_at is empty"),
    "subject": lambda r, c: ("subject", f"subject {r['subject']!r}: {r['id_error']}"),
    "subject_kind_value": lambda r, c: (
        "subject_kind",
        f"subject_kind {r['raw_subject_kind']!r} is not one of person, organisation"),
    "subject_kind_mismatch": lambda r, c: (
        "subject_kind", f"subject_kind {r['raw_subject_kind']!r} does not match subject "
        f"{r['subject']!r} (its id identifies: {r['derived_kind']})"),
    "unknown_kind": lambda r, c: ("kind", c.check_value(r["kind"], {})[0]),
    "kind_subject": lambda r, c: (
        "kind", f"event kind {r['kind']!r} is for {' and '.join(r['allowed'])} subjects, "
        f"not {r['derived_kind']}s"),
    "occurred_at": lambda r, c: (
        "occurred_at", f"occurred_at {r['raw_occurred_at']!r} is not an ISO 8601 timestamp"),
    "future": lambda r, c: (
        "occurred_at", f"occurred_at {r['raw_occurred_at']!r} is in the future"),
    "value": lambda r, c: ("value", f"value {r['raw_value']!r} is not a finite number"),
    "value_missing": lambda r, c: (
        "value", f"value is required for kind {r['kind']!r} (measured in {r['unit']})"),
    "attrs_json": lambda r, c: ("attrs", f"attrs {r['raw_attrs']!r} is not a JSON object"),
    "attrs": _attrs,
}
