"""The same policy on the same data gives the same numbers on DuckDB and on Apache Spark."""

from __future__ import annotations

import math
import shutil

import pytest

from glasscredit.engine.run import score
from glasscredit.engine.sessions import duckdb_backend
from glasscredit.examples import AS_OF, path, tables
from glasscredit.policy.load import compile_policy, load_policy

pytestmark = pytest.mark.spark

LISTS_AND_HYSTERESIS = """
lists:
  - {name: defaulters, type: blacklist, context: finance, enter: "hits.default >= 1",
     exit: "hits.default == 0", min_duration: 30d, max_duration: 2y}
measures:
  - {name: just_spend_loan, type: privilege, context: finance, when: "score >= 600",
     hysteresis: {low_water: 0.9, grace: 14d}}
  - {name: no_flights, type: sanction, context: transport, when: "listed.defaulters",
     notice: {days: 30}, appeal: {route: "court of first instance"}}
  - {name: child_school, type: sanction, context: education, when: "listed.defaulters",
     via_relation: [friend], notice: {days: 30}, appeal: {route: "education bureau"}}
"""


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: Apache Spark cannot start")
    pytest.importorskip("pyspark", reason="the 'spark' extra is not installed")
    from glasscredit.engine.sessions import spark_backend

    b = spark_backend()
    yield b
    b.session.stop()


def policies():
    sesame = path("sesame_like.yaml").read_text()
    head = sesame[: sesame.index("measures:")]
    return [load_policy(str(path("volunteer_rewards.yaml"))),
            compile_policy(head + LISTS_AND_HYSTERESIS, source="sesame+lists")]


def same(a: list[dict], b: list[dict], keys: tuple[str, ...]) -> None:
    assert len(a) == len(b)
    for x, y in zip(sorted(a, key=lambda r: tuple(r[k] for k in keys)),
                    sorted(b, key=lambda r: tuple(r[k] for k in keys)), strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float) and x[k] is not None and y[k] is not None:
                assert math.isclose(x[k], y[k], rel_tol=0, abs_tol=1e-9), (k, x, y)
            else:
                assert x[k] == y[k], (k, x, y)


def _shifted(t: dict, seconds: float) -> dict:
    """The example with every event moved by a fraction of a second: whole seconds round on
    DuckDB and truncate on Spark, so only times kept to the microsecond agree."""
    import datetime as dt

    import pyarrow as pa

    ev = t["events"]
    moved = [x + dt.timedelta(seconds=seconds) for x in ev.column("occurred_at").to_pylist()]
    i = ev.schema.get_field_index("occurred_at")
    field = ev.schema.field(i)
    return {**t, "events": ev.set_column(i, field, pa.array(moved, field.type))}


@pytest.mark.parametrize(("which", "shift"), [(0, 0.0), (1, 0.0), (1, 0.7)],
                         ids=["volunteer_rewards", "sesame_with_lists", "fractional_seconds"])
def test_duckdb_spark_parity(spark, which, shift):
    cp = policies()[which]
    t = _shifted(tables(), shift) if shift else tables()
    d = duckdb_backend()
    results = []
    for b in (d, spark):
        inputs = {name: b.from_arrow(table) for name, table in t.items()}
        from glasscredit.engine.run import Inputs

        r = score(b, Inputs(**inputs), cp, AS_OF)
        results.append({name: r.arrow(name).to_pylist()
                        for name in ("scores", "lists", "measures", "reasons")})
    duck, sp = results
    assert len(duck["scores"]) == 36
    same(duck["scores"], sp["scores"], ("subject_id",))
    same(duck["lists"], sp["lists"], ("subject_id", "list"))
    same(duck["measures"], sp["measures"], ("subject_id", "measure"))
    same(duck["reasons"], sp["reasons"], ("subject_id", "rank"))
    if which == 1:
        assert any(r["listed"] for r in duck["lists"])
        assert any(m["active"] for m in duck["measures"] if m["measure"] == "child_school")


def test_spark_scores_a_ledger_export_like_duckdb_scores_the_ledger(spark, tmp_path):
    """The cluster path: export the ledger to Parquet, score on Spark, import the scores back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from glasscredit.engine.run import parquet_inputs
    from glasscredit.ledger.export import export_tables, import_scores
    from glasscredit.ledger.ingest import ingest_table
    from glasscredit.ledger.ledger import Ledger
    from glasscredit.runs import score_ledger

    book = Ledger.init(str(tmp_path / "city.duckdb"), bytes(range(32)), research=True)
    book.add_source("bank", 0.9)
    rows = [{"source_event_id": f"e{i}", "subject": s, "kind": k,
             "occurred_at": f"2026-0{1 + i % 5}-1{i % 9}T08:00:00Z", "value": v, "attrs": a}
            for i, (s, k, v, a) in enumerate([
                ("11010519491231002X", "bill_payment", "1", '{"days_late": 45}'),
                ("11010519491231002X", "savings_balance", "30000", "{}"),
                ("34052419800101001X", "bill_payment", "1", '{"days_late": 0}'),
                ("34052419800101001X", "gaming_session", "9", "{}"),
                ("513200199909060190", "loan_default", "8000", "{}"),
                ("513200199909060190", "identity_verification", "1", "{}")])]
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    assert not ingest_table(book, table, "bank").rejected
    cp = policies()[1]
    as_of = AS_OF
    duck = score_ledger(book, cp, as_of, keep=False).result.arrow("scores").to_pylist()
    export_tables(book, tmp_path / "export")
    r = score(spark, parquet_inputs(spark, tmp_path / "export"), cp, as_of)
    sp = r.arrow("scores").to_pylist()
    same(duck, sp, ("subject_id",))
    out = tmp_path / "spark_scores.parquet"
    pq.write_table(r.arrow("scores").select(["subject_id", "subject_kind", "score"]), out)
    book.store_policy(cp.text, cp.name, cp.policy.mode)
    import_scores(book, out, cp.content_hash, as_of)
    back = book.read_scores(cp.content_hash, as_of).to_pylist()
    assert sorted(x["score"] for x in back) == pytest.approx(sorted(x["score"] for x in duck),
                                                             abs=1e-9)
    book.close()
