"""Prepared plans kept on disk, so that a new process replays a plan instead of rebuilding it.

Building a policy's plan through SQLFrame costs seconds whatever the data size; a command-line
call, a worker process or a restarted service would pay it every time. A recorded plan is only
SQL text, so it is written as JSON under a key that names everything the text depends on: the
policy's content hash and the input shapes (the in-memory key), plus a digest of the engine,
the policy compiler, the catalogue and the versions of DuckDB, SQLFrame and sqlglot. A change to
any of them is a different file; an unreadable file is ignored and the plan rebuilt.

``GLASSCREDIT_PLAN_CACHE`` names the folder (default: ``$XDG_CACHE_HOME/glasscredit/plans``,
else ``~/.cache/glasscredit/plans``); ``off`` turns the disk cache off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

ENV = "GLASSCREDIT_PLAN_CACHE"
_OFF = {"", "0", "off", "no", "false", "none"}


def cache_dir() -> Path | None:
    """Where plans are kept, or None when the disk cache is off."""
    value = os.environ.get(ENV)
    if value is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "glasscredit" / "plans"
    if value.strip().lower() in _OFF:
        return None
    return Path(value)


@functools.cache
def engine_digest() -> str:
    """What the recorded SQL depends on besides the policy and the inputs."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    files = [*sorted((root / "engine").rglob("*.py")), *sorted((root / "policy").rglob("*.py")),
             root / "catalogue.py", root / "catalogue.yaml"]
    for f in files:
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    for pkg in ("duckdb", "sqlframe", "sqlglot"):
        try:
            h.update(f"{pkg}={metadata.version(pkg)}".encode())
        except metadata.PackageNotFoundError:  # pragma: no cover - they are dependencies
            h.update(f"{pkg}=?".encode())
    return h.hexdigest()


def path_for(directory: Path, key: Any) -> Path:
    """The file of one plan key."""
    digest = hashlib.sha256((engine_digest() + "\n" + repr(key)).encode()).hexdigest()
    return directory / f"{digest[:40]}.json"


def load(path: Path) -> dict[str, Any] | None:
    """A stored plan, or None if there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("engine") == engine_digest() else None


def save(path: Path, data: dict[str, Any]) -> None:
    """Write a plan atomically (a reader sees the whole file or none); failures are ignored:
    the cache only saves time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({**data, "engine": engine_digest()}, f)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
