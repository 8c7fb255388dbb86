"""A self-contained HTML report of city runs, audits and what-ifs: one file, no server, no network.

Charts are Vega-Lite specs rendered in the browser by vega, vega-lite and vega-embed, whose
minified builds ship as package data (``simulate/static``, with their licences) and are inlined
into the page. The page is filled through ``string.Template`` (jinja2 is not a dependency).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from glasscredit.simulate.run import CityRun

LIBRARIES = {"vega": "vega.min.js", "vega_lite": "vega-lite.min.js",
             "vega_embed": "vega-embed.min.js"}
BINS = 40


def _asset(folder: str, name: str) -> str:
    return (resources.files("glasscredit.simulate") / folder / name).read_text("utf-8")


def score_spec(runs: list[CityRun]) -> dict[str, Any]:
    """Score distribution, stacked by band, one row of charts per policy (binned here)."""
    values = []
    for run in runs:
        s = np.asarray(run.scores["score"].to_numpy(zero_copy_only=False), dtype=float)
        bands = np.asarray([str(b) for b in run.scores["band"].to_pylist()])
        if s.size == 0:
            continue
        edges = np.linspace(s.min(), max(s.max(), s.min() + 1), BINS + 1)
        for band in np.unique(bands):
            counts, _ = np.histogram(s[bands == band], edges)
            values += [{"policy": run.policy, "band": band, "from": float(edges[i]),
                        "to": float(edges[i + 1]), "subjects": int(c)}
                       for i, c in enumerate(counts) if c]
    return {"data": {"values": values}, "mark": "bar",
            "encoding": {"x": {"field": "from", "type": "quantitative", "bin": {"binned": True},
                               "title": "score"},
                         "x2": {"field": "to"},
                         "y": {"field": "subjects", "type": "quantitative", "stack": True},
                         "color": {"field": "band", "type": "nominal"},
                         "row": {"field": "policy", "type": "nominal"}},
            "resolve": {"scale": {"x": "independent", "y": "independent"}},
            "width": 640, "height": 160}


def list_spec(runs: list[CityRun]) -> dict[str, Any]:
    """Subjects listed per list, month by month."""
    values = [{"policy": r.policy, "list": f"{r.policy}: {name}", "month": m.as_of,
               "listed": n} for r in runs for m in r.months for name, n in m.lists.items()]
    return {"data": {"values": values}, "mark": {"type": "line", "point": True},
            "encoding": {"x": {"field": "month", "type": "temporal"},
                         "y": {"field": "listed", "type": "quantitative"},
                         "color": {"field": "list", "type": "nominal"}},
            "width": 640, "height": 240}


def group_spec(audits: list[dict[str, Any]]) -> dict[str, Any]:
    """Each measure's rate by group, one panel per audit dimension; pick a measure."""
    values = [{"measure": f"{a['policy']}: {r['measure']} ({r['type']})",
               "dimension": r["dimension"], "group": g["group"], "rate": g["rate"],
               "people": g["people"]}
              for a in audits for r in a["rates"] for g in r["groups"]]
    names = sorted({v["measure"] for v in values})
    return {"data": {"values": values},
            "params": [{"name": "pick", "value": names[0] if names else "",
                        "bind": {"input": "select", "options": names, "name": "measure "}}],
            "transform": [{"filter": "datum.measure == pick"}],
            "facet": {"field": "dimension", "type": "nominal", "columns": 3},
            "spec": {"mark": "bar", "width": 220, "height": 140,
                     "encoding": {"x": {"field": "group", "type": "nominal", "sort": None},
                                  "y": {"field": "rate", "type": "quantitative",
                                        "axis": {"format": "%"}},
                                  "tooltip": [{"field": "group"}, {"field": "people"},
                                              {"field": "rate", "format": ".2%"}]}},
            "resolve": {"scale": {"x": "independent"}}}


def flow_spec(diff: dict[str, Any]) -> dict[str, Any]:
    """What-if flows: band transitions as a heat map, measures gained and lost as bars."""
    cells = [{"from": t["from"], "to": t["to"], "subjects": t["subjects"]}
             for t in diff["transitions"]]
    bars = [{"measure": m["measure"], "change": change, "subjects": sign * m[change]}
            for m in diff["measures"] for change, sign in (("gained", 1), ("lost", -1))
            if m[change]]
    a, b = diff["a"]["policy"], diff["b"]["policy"]
    return {"hconcat": [
        {"data": {"values": cells}, "mark": "rect", "width": 260, "height": 220,
         "encoding": {"x": {"field": "to", "type": "nominal", "title": f"band under {b}"},
                      "y": {"field": "from", "type": "nominal", "title": f"band under {a}"},
                      "color": {"field": "subjects", "type": "quantitative",
                                "scale": {"type": "log"}},
                      "tooltip": [{"field": "from"}, {"field": "to"}, {"field": "subjects"}]}},
        {"data": {"values": bars}, "mark": "bar", "width": 320,
         "encoding": {"y": {"field": "measure", "type": "nominal"},
                      "x": {"field": "subjects", "type": "quantitative",
                            "title": f"gained (+) or lost (-) going from {a} to {b}"},
                      "color": {"field": "change", "type": "nominal"}}}]}


def _table(head: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f'<td class="n">{v:,.3f}</td>'
        if isinstance(v, int):
            return f'<td class="n">{v:,}</td>'
        return f"<td>{html.escape(str(v))}</td>"

    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _script_safe(spec: dict[str, Any]) -> str:
    return json.dumps(spec).replace("</", "<\\/")


def _audit_html(a: dict[str, Any]) -> str:
    parts = [f"<h3>{html.escape(a['policy'])} ({html.escape(a['mode'])} mode)</h3>",
             f"<p class='note'>{html.escape(a['definition'])}</p>"]
    bad = [r for r in a["rates"] if r["flagged"]]
    parts.append(f"<p><span class='flag'>{len(bad)}</span> measure × dimension pairs break the "
                 "four-fifths rule.</p>")
    if bad:
        parts.append(_table(["measure", "type", "dimension", "lowest", "highest", "ratio"],
                            [[r["measure"], r["type"], r["dimension"], r["lowest"],
                              r["highest"], r["ratio"]] for r in bad]))
    o, f = a["others_conduct"], a["false_records"]
    parts.append(_table(["what", "sanctions", "privileges withheld"], [
        ["only through others' conduct (relations removed)", o["sanctions"], o["privileges"]],
        [f"caused by false records ({f['planted']:,} planted, voided)", f["sanctions"],
         f["privileges"]]]))
    if a["guards"]:
        parts.append(_table(["guard", "where", "why"], [[g["guard"], g["subject"], g["message"]]
                                                        for g in a["guards"]]))
    return "\n".join(parts)


def render_report(title: str, runs: list[CityRun], audits: list[dict[str, Any]],
                  whatifs: list[dict[str, Any]], summary: list[dict[str, Any]] | None = None,
                  subtitle: str = "") -> str:
    """The report as one HTML string with the specs and the chart libraries inlined."""
    specs: list[tuple[str, str, dict[str, Any]]] = []
    if runs:
        specs += [("Score distribution by band", "", score_spec(runs)),
                  ("List sizes over time", "", list_spec(runs))]
    if audits:
        specs.append(("Measures by group", "choose a measure below the chart",
                      group_spec(audits)))
    specs += [(f"What-if: {d['a']['policy']} → {d['b']['policy']}",
               f"{d['changed_band']:,} of {d['subjects']:,} subjects change band",
               flow_spec(d)) for d in whatifs]
    body = []
    if summary:
        head = list(summary[0])
        body.append("<h2>Summary</h2>" + _table(head, [[r[h] for h in head] for r in summary]))
    for i, (heading, note, _) in enumerate(specs):
        body.append(f"<h2>{html.escape(heading)}</h2><p class='note'>{html.escape(note)}</p>"
                    f"<div class='chart' id='chart-{i}'></div>")
    if audits:
        body.append("<h2>Fairness and error audit</h2>")
        body += [_audit_html(a) for a in audits]
    scripts = "\n".join(
        f'<script type="application/json" data-chart="chart-{i}">'
        f"{_script_safe(spec)}</script>"
        for i, (_, _, spec) in enumerate(specs))
    page = Template(_asset("templates", "report.html"))
    return page.substitute(title=html.escape(title), subtitle=html.escape(subtitle),
                           body="\n".join(body), specs=scripts,
                           **{k: _asset("static", v) for k, v in LIBRARIES.items()})


def write_report(path: str | Path, title: str, runs: list[CityRun],
                 audits: list[dict[str, Any]], whatifs: list[dict[str, Any]],
                 summary: list[dict[str, Any]] | None = None, subtitle: str = "") -> Path:
    """Write the report to ``path`` and return it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(title, runs, audits, whatifs, summary, subtitle), "utf-8")
    return target
