"""``glasscredit score``, ``explain`` and ``demo``: the engine from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from glasscredit.engine.explain import explain as explain_subject
from glasscredit.engine.explain import plan_sql
from glasscredit.engine.run import Inputs, score
from glasscredit.engine.sessions import Backend, duckdb_backend
from glasscredit.errors import GlassCreditError
from glasscredit.policy.load import CompiledPolicy, load_policy

out = Console(emoji=False)
err = Console(stderr=True, emoji=False)

PolicyOpt = Annotated[str, typer.Option("--policy", "-p", help="Policy file or preset name.")]
LedgerOpt = Annotated[str | None, typer.Option(
    "--ledger", envvar="GLASSCREDIT_LEDGER",
    help="DuckDB ledger file (default: the shipped example data).")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="ISO time to score at, UTC (default: now; the example: 2026-11-01).")]


def _as_of(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {text!r}") from None


KeyOpt = Annotated[Path | None, typer.Option(
    "--key-file", envvar="GLASSCREDIT_KEY_FILE", help="Pseudonym key file of the ledger.")]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def open_inputs(ledger: str | None, key_file: Path | None = None,
                cp: CompiledPolicy | None = None) -> tuple[Backend, Inputs, datetime]:
    """The engine's inputs from a ledger, or from the shipped example."""
    if ledger is None:
        from glasscredit.examples import AS_OF, example_inputs

        b = duckdb_backend()
        return b, example_inputs(b), AS_OF
    from glasscredit.commands.ledger import open_ledger
    from glasscredit.runs import check_mode, ledger_inputs

    book = open_ledger(ledger, key_file)
    if cp is not None:
        try:
            check_mode(book, cp)
        except GlassCreditError as exc:
            _fail(exc)
    b, inputs = ledger_inputs(book)
    return b, inputs, _now()


def _fail(exc: GlassCreditError) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False)
    raise typer.Exit(1)


def _policy(name: str) -> CompiledPolicy:
    try:
        return load_policy(name)
    except GlassCreditError as exc:
        _fail(exc)
        raise  # unreachable


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    return "n/a" if v is None else str(v)


def print_scores(cp: CompiledPolicy, scores: list[dict[str, Any]], reasons: list[dict[str, Any]],
                 measures: list[dict[str, Any]], limit: int | None = None) -> None:
    """The score table with each subject's first reasons and active measures."""
    why: dict[str, list[str]] = {}
    for r in reasons:
        why.setdefault(r["subject_id"], []).append(f"{r['reason']} (−{r['points_lost']:.1f})")
    active: dict[str, list[str]] = {}
    for m in measures:
        if m["active"]:
            active.setdefault(m["subject_id"], []).append(m["measure"])
    t = Table(title=f"{cp.version_id} — {cp.policy.mode} mode", show_lines=False)
    for col in ("subject", "score", "band", "rank", "measures", "reasons (points lost)"):
        t.add_column(col, justify="right" if col in ("score", "rank") else "left")
    ordered = sorted(scores, key=lambda s: (-s["score"], s["subject_id"]))
    for s in ordered[:limit] if limit else ordered:
        sid = s["subject_id"]
        t.add_row(sid, f"{s['score']:.2f}", s["band"] or "", _fmt(int(s["rank"] or 0)),
                  ", ".join(active.get(sid, [])), "; ".join(why.get(sid, [])[:2]))
    out.print(t)


def score_cmd(policy: PolicyOpt, ledger: LedgerOpt = None, key_file: KeyOpt = None,
              as_of: AsOfOpt = None,
              subject: Annotated[list[str] | None, typer.Option(
                  "--subject", "-s", help="Score only these subjects.")] = None,
              output: Annotated[Path | None, typer.Option(
                  "--out", help="Write the scores table to this Parquet file.")] = None,
              limit: Annotated[int, typer.Option(help="Rows to print.")] = 40) -> None:
    """Score every subject (or some) under a policy and print the table with reasons.

    On a ledger, a full run is kept as the snapshot that explain, decide and the next run read.
    """
    cp = _policy(policy)
    try:
        if ledger is None:
            b, inputs, default = open_inputs(None)
            r = score(b, inputs, cp, _as_of(as_of, default), subject or None)
        else:
            from glasscredit.commands.ledger import open_ledger
            from glasscredit.runs import score_ledger

            run = score_ledger(open_ledger(ledger, key_file), cp, _as_of(as_of, _now()),
                               subject or None)
            r = run.result
        scores = r.arrow("scores")
        print_scores(cp, scores.to_pylist(), r.arrow("reasons").to_pylist(),
                     r.arrow("measures").to_pylist(), limit)
    except GlassCreditError as exc:
        _fail(exc)
    if output is not None:
        import pyarrow.parquet as pq

        pq.write_table(scores, output)
        out.print(f"scores written to {output}")


def explain_cmd(subject: Annotated[str, typer.Argument(help="Internal subject id.")],
                policy: PolicyOpt, ledger: LedgerOpt = None, key_file: KeyOpt = None,
                as_of: AsOfOpt = None,
                sql: Annotated[bool, typer.Option(
                    "--sql", help="Print the SQL the engine runs instead.")] = False) -> None:
    """Why a subject has its score: the at most four reasons and the events behind them."""
    cp = _policy(policy)
    b, inputs, default = open_inputs(ledger, key_file, cp)
    when = _as_of(as_of, default)
    if sql:
        out.print(plan_sql(b, inputs, cp, when, subject), highlight=False, markup=False)
        return
    try:
        x = explain_subject(b, inputs, cp, when, subject)
    except GlassCreditError as exc:
        _fail(exc)
        return
    s = x.score
    out.print(f"[bold]{subject}[/bold] under {x.policy} at {when:%Y-%m-%d %H:%M}: "
              f"score [bold]{s['score']:.2f}[/bold] on {cp.policy.scale.min:g}–"
              f"{cp.policy.scale.max:g}, band {s['band']}, rank {_fmt(s['rank'])}")
    for cat in cp.policy.categories:
        out.print(f"  {cat.name:<28} {s['cat__' + cat.name]:>10.2f} points")
    if not x.reasons:
        out.print("No rule costs this subject any points.")
    for r in x.reasons:
        out.print(f"{r['rank']}. [bold]{r['reason']}[/bold] — {r['points_lost']:.2f} points "
                  f"lost ({r['rule_id']}, {r['category']})")
        for e in (e for e in x.events if e["rule_id"] == r["rule_id"]):
            out.print(f"     {e['occurred_at']:%Y-%m-%d} {e['kind']} from {e['source_id']}: "
                      f"{e['points']:+.2f} (raw {e['raw']:+.2f} × reliability "
                      f"{e['reliability']:.2f} × decay {e['decay']:.3f})")
    for m in x.measures:
        state = "applies" if m["active"] else "does not apply"
        out.print(f"  {m['type']} {m['measure']} ({m['context']}): {state}")
    for lst in x.lists:
        out.print(f"  list {lst['list']}: {'listed' if lst['listed'] else 'not listed'}")


def decide_cmd(subject: Annotated[str, typer.Argument(help="Internal subject id.")],
               measure: Annotated[str, typer.Argument(help="Measure name in the policy.")],
               policy: PolicyOpt,
               ledger: Annotated[str, typer.Option("--ledger", envvar="GLASSCREDIT_LEDGER",
                                                   help="DuckDB file or postgresql:// URL.")],
               key_file: KeyOpt = None, as_of: AsOfOpt = None) -> None:
    """May SUBJECT have MEASURE now? Allow/deny (or applies) with reasons and policy version."""
    from glasscredit.commands.ledger import open_ledger
    from glasscredit.runs import decide

    cp = _policy(policy)
    try:
        d = decide(open_ledger(ledger, key_file), cp, subject, measure, _as_of(as_of, _now()))
    except GlassCreditError as exc:
        _fail(exc)
        return
    out.print(f"{d.outcome.upper()}: {d.type} {d.measure} ({d.context}) for {d.subject_id} — "
              f"score {d.score:.2f}, band {d.band}, policy {d.policy_version}", highlight=False)
    for r in d.reasons:
        out.print(f"  {r['rank']}. {r['reason']} (−{r['points_lost']:.2f})", highlight=False)


def _example_demo() -> None:
    """Score the shipped 36-person example under two example policies."""
    from glasscredit.examples import AS_OF, POLICIES, example_inputs, path

    b = duckdb_backend()
    inputs = example_inputs(b)
    for name in POLICIES:
        cp = load_policy(str(path(f"{name}.yaml")))
        r = score(b, inputs, cp, AS_OF)
        print_scores(cp, r.arrow("scores").to_pylist(), r.arrow("reasons").to_pylist(),
                     r.arrow("measures").to_pylist())
        if cp.findings:
            out.print(f"[yellow]{len(cp.findings)} guard finding(s) — this policy could not "
                      "run in live mode:[/yellow]")
            for f in cp.findings:
                out.print(f"  {f}", highlight=False, markup=False)
    out.print("\nTry: glasscredit explain p03 --policy example:sesame_like", highlight=False)


def demo_cmd(
        example: Annotated[bool, typer.Option(
            "--example", help="Only score the shipped 36-person example (seconds).")] = False,
        people: Annotated[int, typer.Option(min=100)] = 100_000,
        orgs: Annotated[int, typer.Option(min=10)] = 5_000,
        months: Annotated[int, typer.Option(min=1, max=60)] = 12,
        seed: int = 2016,
        directory: Annotated[Path, typer.Option("--out")] = Path("out/demo")) -> None:
    """Generate a synthetic city, run the Sesame and national presets month by month, audit
    them and write a self-contained HTML report."""
    if example:
        _example_demo()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from glasscredit.simulate.demo import run_demo

    bars: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        def progress(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total)
            bar.update(bars[stage], completed=done, total=total)

        summary = run_demo(directory, people, orgs, months, seed, progress)
    t = Table(title=f"{people:,} people, {orgs:,} organisations, {months} months (seed {seed})")
    t.add_column("")
    for row in summary.rows:
        t.add_column(str(row["policy"]), justify="right")
    for key in (k for k in (summary.rows[0] if summary.rows else {}) if k != "policy"):
        t.add_row(key, *[f"{r[key]:,}" if isinstance(r[key], int) else str(r[key])
                         for r in summary.rows])
    out.print(t)
    took = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
    out.print(f"Stages: {took}", highlight=False)
    out.print(f"Report: {summary.report.resolve()}", highlight=False)
    out.print(f"Audit and what-if as JSON: {summary.out_dir / 'audit.json'}, "
              f"{summary.out_dir / 'whatif.json'}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the top-level app."""
    app.command("score")(score_cmd)
    app.command("explain")(explain_cmd)
    app.command("decide")(decide_cmd)
    app.command("demo")(demo_cmd)
