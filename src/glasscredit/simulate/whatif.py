"""What changes for whom between two runs of the same city: bands, measures, and why.

Both runs are compared on their last month. Bands are keyed by name (a policy without bands
reads as ``(none)``); a measure present in one policy only is gained or lost by everybody
holding it. "Why" is the most frequent reasons (rule ids with their text) among the people who
changed, on each side.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from glasscredit.simulate.run import CityRun

#: How many subject ids each list of changed subjects carries (counts are always complete).
SAMPLE = 20
NO_BAND = "(none)"
TOP_REASONS = 5


def _bands(run: CityRun) -> dict[str, str]:
    ids = run.scores["subject_id"].to_pylist()
    bands = run.scores["band"].to_pylist()
    return {s: NO_BAND if b is None else str(b) for s, b in zip(ids, bands, strict=True)}


def _top_reasons(run: CityRun, who: set[str]) -> list[dict[str, Any]]:
    if not who or run.reasons.num_rows == 0:
        return []
    r = run.reasons.filter(pc.is_in(run.reasons["subject_id"], pa.array(sorted(who))))
    text = dict(zip(r["rule_id"].to_pylist(), r["reason"].to_pylist(), strict=True))
    counts = Counter(r["rule_id"].to_pylist())
    return [{"rule_id": k, "reason": text[k], "subjects": n}
            for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]]


def _measure_types(run: CityRun) -> dict[str, str]:
    pairs = run.measures.group_by(["measure", "type"]).aggregate([])
    return dict(zip(pairs["measure"].to_pylist(), pairs["type"].to_pylist(), strict=True))


def whatif(run_a: CityRun, run_b: CityRun) -> dict[str, Any]:
    """Band transitions, measures gained and lost, and the reasons behind them (JSON-ready)."""
    a, b = _bands(run_a), _bands(run_b)
    common = a.keys() & b.keys()
    matrix: Counter[tuple[str, str]] = Counter((a[s], b[s]) for s in common)
    changed = {s for s in common if a[s] != b[s]}
    in_a, in_b = _measure_types(run_a), _measure_types(run_b)
    types = {**in_a, **in_b}
    measures = []
    for name in sorted(types):
        before, after = run_a.active(name), run_b.active(name)
        gained, lost = sorted(after - before), sorted(before - after)
        measures.append({
            "measure": name, "type": types[name],
            "in": [p for p, held in (("a", in_a), ("b", in_b)) if name in held],
            "holders_a": len(before), "holders_b": len(after),
            "gained": len(gained), "lost": len(lost),
            "gained_sample": gained[:SAMPLE], "lost_sample": lost[:SAMPLE],
            # points lost explain lacking a privilege or holding a sanction
            "why_gained": _top_reasons(run_a if types[name] == "privilege" else run_b,
                                       set(gained)),
            "why_lost": _top_reasons(run_b if types[name] == "privilege" else run_a,
                                     set(lost))})
    return {
        "a": {"policy": run_a.policy, "version": run_a.version,
              "as_of": run_a.as_of[-1].isoformat()},
        "b": {"policy": run_b.policy, "version": run_b.version,
              "as_of": run_b.as_of[-1].isoformat()},
        "subjects": len(common), "changed_band": len(changed),
        "transitions": [{"from": f, "to": t, "subjects": n}
                        for (f, t), n in sorted(matrix.items())],
        "why_changed": {"a": _top_reasons(run_a, changed), "b": _top_reasons(run_b, changed)},
        "measures": measures,
    }
