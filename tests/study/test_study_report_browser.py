"""The report opens in a real browser with the network cut off, and every chart draws."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glasscredit.engine.sessions import Backend
from glasscredit.policy.load import CompiledPolicy
from glasscredit.simulate.fairness import audit
from glasscredit.simulate.report import write_report
from glasscredit.simulate.run import city_inputs, run_city
from glasscredit.simulate.whatif import whatif

CHROMIUM = "/usr/bin/chromium"  # Debian's package; .ci/run installs it when it is missing


@pytest.fixture(scope="module")
def report(backend: Backend, fixture_city: Path, fixture_policy: CompiledPolicy,
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = run_city(fixture_city, fixture_policy, 2, backend=backend)
    found = audit(backend, city_inputs(backend, fixture_city), fixture_policy, run,
                  fixture_city)
    return write_report(tmp_path_factory.mktemp("browser") / "report.html", "Browser check",
                        [run], [found], [whatif(run, run)],
                        [{"policy": run.policy, "subjects": run.scores.num_rows}])


def test_every_chart_draws_offline_without_errors(report: Path) -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra is not installed")
    errors: list[str] = []
    fetched: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
                    else None)

            def refuse(route: object) -> None:
                fetched.append(route.request.url)  # type: ignore[attr-defined]
                route.abort()  # type: ignore[attr-defined]

            page.route("http://*/**", refuse)
            page.route("https://*/**", refuse)
            page.goto(report.as_uri())
            charts = page.locator("[id^='chart-']")
            assert charts.count() == 4
            for i in range(4):
                drawn = page.locator(f"#chart-{i} svg, #chart-{i} canvas")
                drawn.first.wait_for(state="attached", timeout=15_000)
            # the score chart has marks, not only axes: vega draws a path or rect per datum
            marks = page.locator("#chart-0 .mark-rect path, #chart-0 .mark-rect rect, "
                                 "#chart-0 canvas")
            assert marks.count() > 0
            assert "Browser check" in page.title() or "Browser check" in page.content()
        finally:
            browser.close()
    assert fetched == [], f"the report fetched {fetched}"
    assert errors == [], errors
