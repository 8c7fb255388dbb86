"""YAML with line numbers: plain Python data plus a map from each path to its line in the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from glasscredit.errors import PolicyError, Problem

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """``('rules', 3, 'when')`` -> ``rules[3].when``, the way problems name a place.

    >>> dotted(("rules", 3, "when"))
    'rules[3].when'
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Scalar:
    """Where a scalar value starts in the text (0-based index, 1-based line and column)."""

    index: int
    line: int
    column: int
    style: str | None  # None (plain), "'", '"', "|" or ">"
    one_line: bool


class Located:
    """A parsed YAML document and the 1-based line of every mapping key and sequence item."""

    def __init__(self, data: Any, lines: dict[Path, int], scalars: dict[Path, Scalar] | None = None,
                 text: str = "") -> None:
        self.data = data
        self.lines = lines
        self.scalars = scalars or {}
        self.text = text

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def position(self, path: Path, offset: int) -> tuple[int | None, int | None]:
        """Line and column in the file of character ``offset`` of the string value at ``path``.

        The column is given only when the value sits on one line and its text up to ``offset``
        appears verbatim in the file (no escapes), so it is never wrong, only sometimes absent.
        """
        s = self.scalars.get(tuple(path))
        value = self._value(path)
        if s is None or not isinstance(value, str):
            return self.line(path), None
        if not s.one_line or s.style not in (None, "'", '"'):
            return s.line, None
        start = s.index + (0 if s.style is None else 1)
        if self.text[start:start + offset] != value[:offset]:
            return s.line, None
        return s.line, s.column + (0 if s.style is None else 1) + offset

    def _value(self, path: Path) -> Any:
        node = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node


_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(node: yaml.Node, path: Path, found: Located, problems: list[Problem],
           scalars: yaml.SafeLoader) -> Any:
    found.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                problems.append(Problem(f"duplicate key {key!r}", dotted(child),
                                        key_node.start_mark.line + 1))
            found.lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, found, problems, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            found.lines[(*path, i)] = item.start_mark.line + 1
            items.append(_build(item, (*path, i), found, problems, scalars))
        return items
    start, end = node.start_mark, node.end_mark
    found.scalars[path] = Scalar(start.index, start.line + 1, start.column + 1,
                                 getattr(node, "style", None) or None, start.line == end.line)
    return scalars.construct_object(node, deep=True)


def load_located(text: str, source: str = "<policy>") -> Located:
    """Parse YAML text; malformed YAML raises PolicyError naming the line and column.

    >>> load_located("a:\\n  b: [1, 2]\\n").line(("a", "b", 1))
    2
    """
    try:
        node = yaml.compose(text, Loader=_FAST)
    except yaml.YAMLError:
        node = None
    try:  # the pure-Python parser words errors the same on every machine
        node = node or yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        at = f" (column {col})" if col is not None else ""
        raise PolicyError([Problem(f"malformed YAML{at}: {what}", "", line, col)],
                          source) from None
    if node is None:
        raise PolicyError([Problem("the document is empty", "", 1)], source)
    found = Located(None, {}, {}, text)
    problems: list[Problem] = []
    found.data = _build(node, (), found, problems, yaml.SafeLoader(""))
    if problems:
        raise PolicyError(problems, source)
    return found
