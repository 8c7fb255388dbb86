"""The HTML report is one self-contained file: specs and chart libraries inlined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from glasscredit.engine.sessions import Backend
from glasscredit.policy.load import CompiledPolicy
from glasscredit.simulate.fairness import audit
from glasscredit.simulate.report import LIBRARIES, _asset, write_report
from glasscredit.simulate.run import city_inputs, run_city
from glasscredit.simulate.whatif import whatif


@pytest.fixture(scope="module")
def page(backend: Backend, fixture_city: Path, fixture_policy: CompiledPolicy,
         tmp_path_factory: pytest.TempPathFactory) -> str:
    run = run_city(fixture_city, fixture_policy, 2, backend=backend)
    report = audit(backend, city_inputs(backend, fixture_city), fixture_policy, run,
                   fixture_city)
    path = write_report(tmp_path_factory.mktemp("report") / "report.html", "Fixture </script>",
                        [run], [report], [whatif(run, run)],
                        [{"policy": run.policy, "subjects": run.scores.num_rows}])
    return path.read_text("utf-8")


def test_specs_are_embedded(page: str) -> None:
    specs = re.findall(r'<script type="application/json" data-chart="(chart-\d+)">(.*?)</script>',
                       page, re.S)
    assert [c for c, _ in specs] == ["chart-0", "chart-1", "chart-2", "chart-3"]
    for chart, text in specs:
        assert f"id='{chart}'" in page
        spec = json.loads(text)
        assert "data" in spec or "hconcat" in spec
    group = json.loads(specs[2][1])
    assert {v["dimension"] for v in group["data"]["values"]} >= {"hukou", "income decile"}


def test_libraries_are_inlined_and_nothing_is_fetched(page: str) -> None:
    for name in LIBRARIES.values():
        assert _asset("static", name)[:2000] in page
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link[^>]*\bhref=[\"']?https?:", page)
    assert "Fixture &lt;/script&gt;" in page


def test_licences_ship_with_the_libraries() -> None:
    for name in LIBRARIES.values():
        assert "BSD" in _asset("static", name.replace(".min.js", ".LICENSE")) or \
            "Redistribution" in _asset("static", name.replace(".min.js", ".LICENSE"))
