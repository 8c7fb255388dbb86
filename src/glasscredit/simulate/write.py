"""Stream a synthetic city to Parquet in the engine's input shapes, and load it into a ledger.

``write_city`` writes ``subjects``, ``sources``, ``relations``, ``voids`` and ``events``
(month by month through one Parquet writer; at most two months are in memory), the audit tables
``people`` and ``orgs``, and ground truth the engine never sees: ``truth_false_records``,
``truth_people`` and ``truth_orgs`` (latent traits). ``into_ledger`` loads such a directory
into a research ledger through the ledger's own ingest, one batch per source. The library
reports progress through a callback and never touches the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import glasscredit.simulate as sim
from glasscredit.engine.tables import INPUT_SCHEMAS
from glasscredit.errors import LedgerError
from glasscredit.ledger.batch import Batch
from glasscredit.ledger.ingest import ingest_chunks
from glasscredit.ledger.ledger import Ledger, arrow_schema
from glasscredit.simulate.behaviour import Behaviour
from glasscredit.simulate.population import City

#: Called as ``progress(stage, done, total)``; the CLI turns it into a Rich progress bar.
Progress = Callable[[str, int, int], None]
MANIFEST = "city.json"
#: Who reports each relation, for the ledger's ``source_id`` column.
RELATION_SOURCES = {"family": "civil_affairs", "friend": "platform", "employer": "employer",
                    "legal_representative": "market_regulator"}
RELATION_BATCH = 500_000
_TS = pa.timestamp("us")
EVENTS = arrow_schema(INPUT_SCHEMAS["events"])
TRUTH = pa.schema([("event_id", pa.string()), ("subject_id", pa.string()), ("kind", pa.string()),
                   ("source_id", pa.string()), ("occurred_at", _TS)])


@dataclass
class CitySummary:
    """What was generated: counts per kind and, per audit group, activity and negatives."""

    people: int
    orgs: int
    months: int
    events: int = 0
    false_records: int = 0
    kinds: dict[str, list[int]] = field(default_factory=dict)  # kind -> [people's, orgs']
    groups: list[tuple[str, str, int, float, float]] = field(default_factory=list)


def _names(prefix: str, n: int, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def subject_ids(city: City) -> pa.Array:
    """Internal ids in the global index order: ``p0000001``…, then ``o000001``…."""
    people = _names("p", city.n_people, max(7, len(str(city.n_people))))
    orgs = _names("o", city.n_orgs, max(6, len(str(city.n_orgs))))
    return pa.concat_arrays([people, orgs])


def _dates(days: np.ndarray) -> pa.Array:
    """Dates without pandas (``pa.array`` on datetime64 imports it, a second per process)."""
    return pa.array(days.astype("datetime64[D]").astype(np.int32), pa.int32()).cast(pa.date32())


def _take(vocab: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    return pc.take(pa.array(list(vocab)), pa.array(np.asarray(codes, np.int64)))


def _band(bands: tuple[tuple[int, str], ...], values: np.ndarray) -> pa.Array:
    return _take([b for _, b in bands], np.searchsorted([lo for lo, _ in bands], values,
                                                        side="right") - 1)


def audit_tables(city: City, ids: pa.Array) -> dict[str, pa.Table]:
    """``people`` and ``orgs`` (demographics for audits) and the latent-trait truth tables."""
    p, o, n = city.people, city.orgs, city.n_people
    pid, oid = ids.slice(0, n), ids.slice(n)
    codes = [d.code for d in sim.DISTRICTS]
    employer = pc.if_else(pa.array(p.employer >= 0), ids.take(pa.array(n + np.maximum(
        p.employer, 0))), pa.scalar(None, pa.string()))
    people = pa.table({
        "subject_id": pid, "external_id": pa.array(p.external_id),
        "district": _take(codes, p.district), "district_name": _take(
            [d.name for d in sim.DISTRICTS], p.district),
        "sex": _take(sim.SEXES, p.male), "birth_date": _dates(p.birth),
        "age": pa.array(p.age), "age_band": _band(sim.AGE_BANDS, p.age),
        "hukou": _take(sim.HUKOU, p.migrant), "education": _take(sim.EDUCATION, p.education),
        "employment": _take(sim.EMPLOYMENT, p.employment),
        "income": pa.array(np.round(p.income, 2)), "income_decile": pa.array(p.decile),
        "marital_status": _take(sim.MARITAL, p.marital), "household_id": pa.array(p.household),
        "employer_id": employer, "ethnic_group": _take(sim.ETHNIC_GROUPS, p.ethnic)})
    orgs = pa.table({
        "subject_id": oid, "external_id": pa.array(o.external_id),
        "district": _take(codes, o.district), "entity_type": _take(list(sim.ENTITIES.values()),
                                                                   o.entity),
        "sector": _take(sim.SECTORS, o.sector), "employees": pa.array(o.employees),
        "size_band": _band(sim.SIZE_BANDS, o.employees), "founded": _dates(o.founded),
        "legal_rep_id": pid.take(pa.array(o.legal_rep))})
    truth_people = pa.table({"subject_id": pid, **{k: pa.array(np.round(v, 4))
                                                   for k, v in p.traits.items()}})
    truth_orgs = pa.table({"subject_id": oid, **{k: pa.array(np.round(v, 4))
                                                 for k, v in o.traits.items()}})
    return {"people": people, "orgs": orgs, "truth_people": truth_people,
            "truth_orgs": truth_orgs}


def engine_tables(city: City, ids: pa.Array) -> dict[str, pa.Table]:
    """The static engine inputs: subjects, sources, relations and (empty) voids."""
    r = city.relations
    written = [sim.RELATION_TYPES[name] for name in sim.RELATIONS]
    kinds = np.r_[np.zeros(city.n_people, np.int64), np.ones(city.n_orgs, np.int64)]
    sources = {**sim.RELIABILITY, sim.UNRELIABLE_SOURCE: sim.UNRELIABLE_RELIABILITY}
    tables = {
        "subjects": pa.table({"subject_id": ids,
                              "subject_kind": _take(["person", "organisation"], kinds)}),
        "sources": pa.table({"source_id": list(sources), "reliability": list(sources.values())}),
        "relations": pa.table({
            "subject_id": ids.take(pa.array(r.subject)), "related_id": ids.take(
                pa.array(r.related)), "relation": _take(written, r.relation),
            "valid_from": _dates(r.valid_from).cast(_TS),
            "valid_to": pa.nulls(len(r.subject), _TS)}),
        "voids": pa.table({"event_id": pa.array([], pa.string()), "voided_at": pa.array([], _TS)}),
    }
    return {k: t.cast(arrow_schema(INPUT_SCHEMAS[k])) for k, t in tables.items()}


def _group_rows(city: City, events: np.ndarray, negatives: np.ndarray,
                months: int) -> list[tuple[str, str, int, float, float]]:
    """Per audit group: people, events per person-month, negatives per 1,000 person-months."""
    p = city.people
    dims = {"hukou": (sim.HUKOU, p.migrant.astype(np.int64)),
            "sex": (sim.SEXES, p.male.astype(np.int64)),
            "age band": ([b for _, b in sim.AGE_BANDS], np.searchsorted(
                [lo for lo, _ in sim.AGE_BANDS], p.age, side="right") - 1),
            "income decile": ([str(d) for d in range(11)], p.decile),
            "district": ([d.name for d in sim.DISTRICTS], p.district)}
    rows = []
    for dim, (names, codes) in dims.items():
        size = np.bincount(codes, minlength=len(names))
        ev = np.bincount(codes, weights=events, minlength=len(names))
        neg = np.bincount(codes, weights=negatives, minlength=len(names))
        rows += [(dim, names[g], int(size[g]), ev[g] / size[g] / months,
                  1000 * neg[g] / size[g] / months) for g in range(len(names)) if size[g]]
    return rows


def _event_tables(month: pa.Table, ids: pa.Array, first: int) -> tuple[pa.Table, pa.Table]:
    """A month in the engine's ``events`` shape (ids from ``first``), and its false records."""
    numbers = pa.array(np.arange(first, first + month.num_rows)).cast(pa.string())
    table = pa.table({
        "event_id": pc.binary_join_element_wise("e", pc.utf8_lpad(numbers, 10, padding="0"), ""),
        "subject_id": ids.take(month["subject"]),
        **{c: month[c] for c in EVENTS.names[2:]}}).cast(EVENTS)
    return table, table.filter(month["false_record"]).select(TRUTH.names).cast(TRUTH)


def _write_both(events: pq.ParquetWriter, table: pa.Table, truth: pq.ParquetWriter,
                fake: pa.Table) -> None:
    events.write_table(table)
    truth.write_table(fake)


def write_city(city: City, out: Path, months: int, false_records: float = 0.0,
               progress: Progress | None = None) -> CitySummary:
    """Write the city and ``months`` months of events under ``out``; returns what was written.

    Month ``m + 1`` is generated while month ``m`` is written by a second thread, so the two
    cores of a small machine share the work and at most two months sit in memory.
    """
    out.mkdir(parents=True, exist_ok=True)
    ids = subject_ids(city)
    for name, table in {**engine_tables(city, ids), **audit_tables(city, ids)}.items():
        pq.write_table(table, out / f"{name}.parquet")
    behaviour = Behaviour(city)
    summary = CitySummary(city.n_people, city.n_orgs, months)
    counts = np.zeros(2 * len(behaviour.kinds), np.int64)
    per_person, negative = np.zeros(city.n_people), np.zeros(city.n_people)
    negative_codes = [behaviour.kinds.index(k) for k in behaviour.negative]
    options = {"use_dictionary": ["kind", "source_id"], "write_statistics": [
        "subject_id", "kind", "occurred_at", "source_id"]}
    with pq.ParquetWriter(out / "events.parquet", EVENTS, **options) as events, \
            pq.ParquetWriter(out / "truth_false_records.parquet", TRUTH) as truth, \
            ThreadPoolExecutor(1) as pool:
        pending: Future[None] | None = None
        for m in range(months):
            if progress is not None:
                progress("events", m, months)
            month = behaviour.month(m, false_records)
            table, fake = _event_tables(month, ids, summary.events + 1)
            if pending is not None:
                pending.result()
            pending = pool.submit(_write_both, events, table, truth, fake)
            subject = month["subject"].to_numpy()
            kind = month["kind"].combine_chunks().indices.to_numpy()
            flagged = month["false_record"].to_numpy(zero_copy_only=False)
            org = subject >= city.n_people
            counts += np.bincount(kind * 2 + org, minlength=len(counts))
            person = subject[~org]
            per_person += np.bincount(person, minlength=city.n_people)
            bad = np.isin(kind, negative_codes) & ~flagged & ~org
            negative += np.bincount(subject[bad], minlength=city.n_people)
            summary.events += month.num_rows
            summary.false_records += int(flagged.sum())
        if pending is not None:
            pending.result()
    summary.kinds = {k: [int(counts[2 * i]), int(counts[2 * i + 1])]
                     for i, k in enumerate(behaviour.kinds) if counts[2 * i:2 * i + 2].any()}
    summary.groups = _group_rows(city, per_person, negative, max(months, 1))
    end = np.datetime64(city.start, "M") + months
    manifest = {"generator": "glasscredit.simulate", "seed": city.seed, "people": city.n_people,
                "orgs": city.n_orgs, "months": months, "start": str(city.start),
                "end": str(end.astype("datetime64[D]")), "false_records": false_records,
                "events": summary.events, "false_events": summary.false_records}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if progress is not None:
        progress("events", months, months)
    return summary


@dataclass
class LedgerLoad:
    """What ``into_ledger`` stored: subjects, relations, and events per source."""

    subjects: int = 0
    relations: int = 0
    stored: int = 0
    rejected: int = 0
    sources: dict[str, int] = field(default_factory=dict)


def _index(ids: pa.Array | pa.ChunkedArray, n_people: int) -> np.ndarray:
    """Global indices of internal ids (``p…`` people first, then ``o…`` organisations)."""
    number = pc.utf8_slice_codeunits(ids, 1).cast(pa.int64()).to_numpy() - 1
    return number + pc.starts_with(ids, "o").to_numpy(zero_copy_only=False) * n_people


def _source_chunks(con: duckdb.DuckDBPyConnection, path: Path, source: str,
                   external: pa.Array, n_people: int, chunk_rows: int) -> Iterator[pa.Table]:
    """One source's events in ingest shape (external ids), in file order, with ``row_no``."""
    lit = "'" + str(path).replace("'", "''") + "'"
    rel = con.sql(f"SELECT event_id, subject_id, kind, occurred_at, value, attrs FROM "
                  f"read_parquet({lit}) WHERE source_id = $source", params={"source": source})
    start = 1
    for batch in rel.to_arrow_reader(chunk_rows):
        rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
        start += batch.num_rows
        yield pa.table({"source_event_id": batch.column("event_id"),
                        "subject": external.take(pa.array(_index(batch.column("subject_id"),
                                                                 n_people))),
                        "kind": batch.column("kind"), "occurred_at": batch.column("occurred_at"),
                        "value": batch.column("value"), "attrs": batch.column("attrs"),
                        "row_no": pa.array(rows)})


def into_ledger(city_dir: Path, ledger_path: str | Path, key: bytes,
                progress: Progress | None = None, chunk_rows: int = 262_144) -> LedgerLoad:
    """Load a written city into the research ledger at ``ledger_path`` (created if missing).

    Subjects and relations go in one batch (pseudonymised by the ledger's key); events go
    through ``ledger.ingest`` per source, so they are validated exactly like any other file.
    """
    try:
        ledger = Ledger.open(ledger_path, key)
    except LedgerError:
        if not str(ledger_path).startswith("postgres") and Path(ledger_path).exists():
            raise
        ledger = Ledger.init(ledger_path, key, research=True)
    load = LedgerLoad()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        if not ledger.is_research():
            raise LedgerError("a synthetic city goes only into a research ledger "
                              "(`glasscredit init --research`)")
        people = pq.read_table(city_dir / "people.parquet", columns=["external_id"])
        orgs = pq.read_table(city_dir / "orgs.parquet", columns=["external_id"])
        external = pa.concat_arrays([people["external_id"].combine_chunks(),
                                     orgs["external_id"].combine_chunks()])
        macs, kinds, errors = ledger.pseudonyms.many(external.to_pylist())
        if any(errors):
            raise LedgerError(f"invalid external id in {city_dir}: {next(e for e in errors if e)}")
        mac = pa.array(macs, pa.string())
        sources = pq.read_table(city_dir / "sources.parquet").to_pylist()
        for row in sources:
            if not ledger.has_source(row["source_id"]):
                ledger.add_source(row["source_id"], row["reliability"])
        load.subjects = ledger.append(Batch(subjects=pa.table(
            {"subject_hmac": mac, "subject_kind": pa.array(kinds)}))).new_subjects
        rel = pq.read_table(city_dir / "relations.parquet")
        for start in range(0, rel.num_rows, RELATION_BATCH):  # bounds the batch digest's memory
            part = rel.slice(start, RELATION_BATCH)
            where = [pa.array(_index(part[c], len(people))) for c in ("subject_id", "related_id")]
            rows = pa.table({
                "subject_hmac": mac.take(where[0]), "related_hmac": mac.take(where[1]),
                "relation": part["relation"], "valid_from": part["valid_from"],
                "valid_to": part["valid_to"], "source_id": pc.take(
                    pa.array(list(RELATION_SOURCES.values())),
                    pc.index_in(part["relation"], pa.array(list(RELATION_SOURCES))))})
            load.relations += ledger.append(Batch(rows={"ledger_relations": rows})).rows[
                "ledger_relations"]
            if progress is not None:
                progress("ledger: relations", start + part.num_rows, rel.num_rows)
        total = int(pq.ParquetFile(city_dir / "events.parquet").metadata.num_rows)
        done = 0
        for row in sources:
            source = row["source_id"]
            chunks = _source_chunks(con, city_dir / "events.parquet", source, external,
                                    len(people), chunk_rows)

            def step(n: int, stage: str = f"ledger: {source}") -> None:
                nonlocal done
                done += n
                if progress is not None:
                    progress(stage, done, total)

            report = ingest_chunks(ledger, ["source_event_id", "subject", "kind", "occurred_at",
                                            "value", "attrs"], chunks, source, progress=step)
            load.sources[source] = report.stored
            load.stored += report.stored
            load.rejected += len(report.rejected)
    finally:
        con.close()
        ledger.close()
    return load
