"""Behaviour models: every kind, schema-valid events, planted correlations, false records."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from simkit import FALSE, Written

from glasscredit.catalogue import load_catalogue
from glasscredit.errors import CatalogueError
from glasscredit.ledger.ingest import ingest_table
from glasscredit.ledger.ledger import Ledger
from glasscredit.simulate import SPECS, UNRELIABLE_SOURCE, Spec
from glasscredit.simulate.behaviour import Behaviour
from glasscredit.simulate.population import City, make_city

CATALOGUE = load_catalogue()


def _check(city: City, events: pa.Table) -> None:
    """Each event fits its kind's attribute schema and subject kind; measured kinds have values."""
    kinds = events["kind"].to_pylist()
    for subject, kind, value, attrs in zip(events["subject"].to_numpy(), kinds,
                                           events["value"].to_numpy(),
                                           events["attrs"].to_pylist(), strict=True):
        entry = CATALOGUE.kind(kind)
        assert CATALOGUE.check_value(kind, json.loads(attrs)) == [], (kind, attrs)
        assert set(json.loads(attrs)) == set(entry.attributes), (kind, attrs)
        who = "person" if subject < city.n_people else "organisation"
        assert who in entry.subjects, (kind, who)
        assert np.isfinite(value)


def test_specs_cover_every_kind_and_subject_of_the_catalogue() -> None:
    covered = {(s.kind, s.subject) for s in SPECS}
    assert {k for k, _ in covered} == set(CATALOGUE.kinds)
    assert {(k.name, "organisation") for k in CATALOGUE.kinds.values()
            if k.subjects == ("organisation",)} <= covered
    assert {(k.name, "person") for k in CATALOGUE.kinds.values()
            if k.subjects == ("person",)} <= covered


@pytest.fixture(scope="module")
def boosted() -> tuple[City, pa.Table]:
    """Three months of a small city with every model's rate raised so that each one fires."""
    city = make_city(1000, 300, 4)
    behaviour = Behaviour(city, specs=tuple(replace(s, rate=max(s.rate, 0.3)) for s in SPECS))
    return city, pa.concat_tables([behaviour.month(m, false_records=0.5) for m in (0, 3, 5)])


def test_every_spec_generates_schema_valid_events(boosted: tuple[City, pa.Table]) -> None:
    city, months = boosted
    seen = {(k, s >= city.n_people) for k, s in zip(
        months["kind"].to_pylist(), months["subject"].to_numpy(), strict=True)}
    assert seen == {(s.kind, s.subject == "organisation") for s in SPECS}
    _check(city, months)


def test_the_ledger_accepts_every_generated_event(boosted: tuple[City, pa.Table],
                                                  tmp_path: Path) -> None:
    """The ledger's own ingest validation (SQL over the catalogue) rejects nothing."""
    city, months = boosted
    external = np.concatenate([city.people.external_id, city.orgs.external_id])
    table = pa.table({
        "source_event_id": pa.array(np.arange(months.num_rows)).cast(pa.string()),
        "subject": pa.array(external[months["subject"].to_numpy()]),
        "kind": months["kind"].cast(pa.string()), "occurred_at": months["occurred_at"],
        "value": months["value"], "attrs": months["attrs"]})
    with Ledger.init(tmp_path / "ledger.duckdb", bytes(range(32)), research=True) as ledger:
        ledger.add_source("simulated", 1.0)
        report = ingest_table(ledger, table, "simulated")
    assert report.rejected == [] and report.stored == table.num_rows


def test_the_session_city_is_schema_valid_and_covers_every_kind(written: Written) -> None:
    events = written.table("events")
    assert set(events["kind"].to_pylist()) == set(CATALOGUE.kinds)
    sample = events.take(pa.array(np.arange(0, events.num_rows, 13)))
    index = pa.array(np.arange(written.city.n_people + written.city.n_orgs))
    ids = written.table("subjects")["subject_id"]
    subject = pc.index_in(sample["subject_id"], value_set=ids)
    _check(written.city, sample.append_column("subject", pc.take(index, subject)))


def test_a_bad_spec_is_refused_with_its_kind() -> None:
    city = make_city(50, 5, 1)
    for spec in (Spec("no_such_kind", "person", 0.1), Spec("vat_return", "person", 0.1),
                 Spec("bill_payment", "person", 0.1, drivers="stres+1"),
                 Spec("bill_payment", "person", 0.1, attrs=(("bill_type", "rent:1 lunch:2"),))):
        with pytest.raises(CatalogueError):
            Behaviour(city, specs=(spec,))


def _people_events(written: Written, kind: str) -> tuple[pa.Table, np.ndarray]:
    events = written.table("events").filter(pc.equal(written.table("events")["kind"], kind))
    events = events.filter(pc.not_equal(events["source_id"], UNRELIABLE_SOURCE))
    people = written.table("people")
    row = pc.index_in(events["subject_id"], value_set=people["subject_id"])
    events = events.filter(pc.is_valid(row))
    return events, row.drop_null().to_numpy()


def test_late_payments_fall_with_income(written: Written) -> None:
    """The planted correlation: poorer deciles pay bills late more often (through stress)."""
    events, row = _people_events(written, "bill_payment")
    late = np.array([json.loads(a)["days_late"] > 0 for a in events["attrs"].to_pylist()])
    decile = written.table("people")["income_decile"].to_numpy()[row]
    rates = np.array([late[decile == d].mean() for d in range(1, 11)])
    assert rates[0] > 4 * rates[9]
    assert np.corrcoef(np.arange(10), np.argsort(np.argsort(rates)))[0, 1] < -0.9  # Spearman


def test_migrants_have_fewer_local_civic_records_and_visit_parents_less(written: Written) -> None:
    people = written.table("people")
    migrant = (people["hukou"].to_numpy(zero_copy_only=False) == "migrant")
    adult = people["age"].to_numpy() >= 18
    rates = {}
    for kind in ("volunteering", "parent_visit", "civic_honour"):
        _, row = _people_events(written, kind)
        count = np.bincount(row, minlength=len(migrant))
        rates[kind] = (count[adult & migrant].mean(), count[adult & ~migrant].mean())
    assert rates["volunteering"][0] < 0.6 * rates["volunteering"][1]
    assert rates["parent_visit"][0] < 0.6 * rates["parent_visit"][1]
    assert rates["civic_honour"][0] < rates["civic_honour"][1]


def test_false_records_come_from_the_unreliable_source_and_are_flagged(
        written: Written) -> None:
    events, truth = written.table("events"), written.table("truth_false_records")
    broker = events.filter(pc.equal(events["source_id"], UNRELIABLE_SOURCE))
    assert broker.num_rows == truth.num_rows == written.summary.false_records > 0
    assert set(broker["event_id"].to_pylist()) == set(truth["event_id"].to_pylist())
    negative = {s.kind for s in SPECS if s.negative}
    assert set(truth["kind"].to_pylist()) <= negative
    genuine = pc.sum(pc.is_in(events["kind"], pa.array(sorted(negative)))).as_py() - truth.num_rows
    assert truth.num_rows == pytest.approx(FALSE * genuine, rel=0.25)
    sources = written.table("sources").to_pylist()
    assert {"source_id": UNRELIABLE_SOURCE, "reliability": 0.3} in sources


def test_false_records_leave_the_genuine_events_unchanged() -> None:
    city = make_city(2000, 100, 9)
    plain, noisy = Behaviour(city).month(2), Behaviour(city).month(2, false_records=0.1)
    noisy = noisy.filter(pc.invert(noisy["false_record"]))
    assert plain.drop_columns(["false_record"]).equals(noisy.drop_columns(["false_record"]))


def test_docs_tabulate_every_behaviour_model_with_its_rate() -> None:
    """docs/simulate.md's rate table is the spec table, row for row."""
    text = (Path(__file__).parents[2] / "docs" / "simulate.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and line.count("|") == 8 and line.split("|")[2].strip()
            in ("P", "O")]
    documented = [(r[0], "person" if r[1] == "P" else "organisation", float(r[2]),
                   r[4] if r[4] != "—" else "", r[5] == "yes") for r in rows]
    assert documented == [(s.kind, s.subject, float(f"{s.rate * 1000:g}"), s.drivers,
                           s.negative) for s in SPECS]
