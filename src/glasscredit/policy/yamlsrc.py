"""YAML with line numbers: plain Python data plus a map from each path to its line in the file."""

from __future__ import annotations

from typing import Any

import yaml

from glasscredit.errors import PolicyError, Problem

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """``('rules', 3, 'when')`` -> ``rules[3].when``, the way problems name a place."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Located:
    """A parsed YAML document and the 1-based line of every mapping key and sequence item."""

    def __init__(self, data: Any, lines: dict[Path, int]) -> None:
        self.data = data
        self.lines = lines

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[Problem]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(
                key_node, yaml.ScalarNode) else key_node.value
            key = str(key)
            child = (*path, key)
            if key in out:
                problems.append(Problem(f"duplicate key {key!r}", dotted(child),
                                        key_node.start_mark.line + 1))
            lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            items.append(_build(item, (*path, i), lines, problems))
        return items
    return yaml.safe_load(yaml.serialize(node))


def load_located(text: str, source: str = "<policy>") -> Located:
    """Parse YAML text; malformed YAML raises PolicyError naming the line and column."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Problem(f"malformed YAML: {what}", "", line, col)], source) from None
    if node is None:
        raise PolicyError([Problem("the document is empty", "", 1)], source)
    lines: dict[Path, int] = {}
    problems: list[Problem] = []
    data = _build(node, (), lines, problems)
    if problems:
        raise PolicyError(problems, source)
    return Located(data, lines)
