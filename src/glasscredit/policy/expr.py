"""Condition expressions: a small SQL-like language, parsed and type-checked, never ``eval``-ed.

Grammar (keywords are case-insensitive)::

    expr := or ; or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | cmp
    cmp  := sum [ op sum | ["not"] "in" "(" literal ("," literal)* ")" | "is" ["not"] "null" ]
    sum  := prod (("+" | "-") prod)* ; prod := unary (("*" | "/") unary)*
    unary := "-" unary | atom ; atom := number | 'string' | true | false | name | "(" expr ")"

Names may be dotted (``hits.late_payment``). ``check`` resolves every name against a namespace
of declared types, so a policy naming a missing attribute fails at load time, not mid-run.

>>> e = parse("days_late > 30 and amount >= 100.5")
>>> sorted(names(e))
['amount', 'days_late']
>>> check(e, {"days_late": "number", "amount": "number"})
'bool'
>>> check(parse("dayz_late > 30"), {"days_late": "number"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
glasscredit.errors.ExpressionError: unknown name 'dayz_late' (did you mean 'days_late'?); ...
>>> check(parse("k == 'rnt'"), {"k": "string"}, values={"k": ["rent"]})
Traceback (most recent call last):
glasscredit.errors.ExpressionError: 'rnt' is not a value of 'k' (did you mean 'rent'?); values: rent
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from glasscredit.errors import ExpressionError

Type = str  # "number" | "string" | "bool"


@dataclass(frozen=True)
class Lit:
    value: float | str | bool
    pos: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    name: str
    pos: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Unary:
    op: str  # "-" | "not"
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # arithmetic, comparison, "and", "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class In:
    operand: Node
    options: tuple[Lit, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    operand: Node
    negated: bool


Node = Lit | Name | Unary | Binary | In | IsNull

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)|(?P<str>'(?:[^']|'')*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op><=|>=|==|!=|<>|[<>=+\-*/(),]))"
)
_ARITHMETIC = ("+", "-", "*", "/")
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}
_COMPARE = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">",
            ">=": ">="}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = len(text[pos:]) - len(text[pos:].lstrip()) + pos
            what = ("unterminated string" if text[bad] == "'"
                    else f"unexpected character {text[bad]!r}")
            raise ExpressionError(f"{what} at column {bad + 1}", text, bad)
        kind = m.lastgroup or "op"
        value = m.group(kind)
        start = m.start(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        out.append((kind, value, start))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, value: str) -> bool:
        k, v, _ = self.peek()
        if k == kind and v == value:
            self.i += 1
            return True
        return False

    def fail(self, what: str) -> ExpressionError:
        kind, value, pos = self.peek()
        found = "end of expression" if kind == "end" else repr(value)
        return ExpressionError(f"expected {what} at column {pos + 1}, found {found}",
                               self.text, pos)

    def parse(self) -> Node:
        node = self.or_()
        if self.peek()[0] != "end":
            raise self.fail("an operator or the end")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.accept("kw", "or"):
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.accept("kw", "and"):
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.accept("kw", "not"):
            return Unary("not", self.not_())
        return self.cmp()

    def cmp(self) -> Node:
        left = self.sum_()
        kind, value, _ = self.peek()
        if kind == "op" and value in _COMPARE:
            self.take()
            return Binary(_COMPARE[value], left, self.sum_())
        if kind == "kw" and value == "is":
            self.take()
            negated = self.accept("kw", "not")
            if not self.accept("kw", "null"):
                raise self.fail("'null'")
            return IsNull(left, negated)
        negated = False
        if kind == "kw" and value == "not" and self.toks[self.i + 1][1] == "in":
            self.take()
            negated = True
        if self.accept("kw", "in"):
            if not self.accept("op", "("):
                raise self.fail("'('")
            options = [self.literal()]
            while self.accept("op", ","):
                options.append(self.literal())
            if not self.accept("op", ")"):
                raise self.fail("',' or ')'")
            return In(left, tuple(options), negated)
        return left

    def literal(self) -> Lit:
        node = self.unary()
        if not isinstance(node, Lit):
            raise self.fail("a literal")
        return node

    def sum_(self) -> Node:
        node = self.prod()
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            node = Binary(self.take()[1], node, self.prod())
        return node

    def prod(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in "*/":
            node = Binary(self.take()[1], node, self.unary())
        return node

    def unary(self) -> Node:
        pos = self.peek()[2]
        if self.accept("op", "-"):
            inner = self.unary()
            if isinstance(inner, Lit) and isinstance(inner.value, float):
                return Lit(-inner.value, pos)
            return Unary("-", inner)
        return self.atom()

    def atom(self) -> Node:
        kind, value, pos = self.peek()
        if kind == "num":
            number = float(value)
            if not math.isfinite(number):
                raise self.fail("a number of a sensible size")
            self.take()
            return Lit(number, pos)
        if kind == "str":
            self.take()
            return Lit(value[1:-1].replace("''", "'"), pos)
        if kind == "kw" and value in ("true", "false"):
            self.take()
            return Lit(value == "true", pos)
        if kind == "name":
            self.take()
            return Name(value, pos)
        if self.accept("op", "("):
            node = self.or_()
            if not self.accept("op", ")"):
                raise self.fail("')'")
            return node
        if kind == "kw" and value == "null":
            raise self.fail("a value (test for null with 'is null' or 'is not null')")
        raise self.fail("a value, a name or '('")


def parse(text: str) -> Node:
    """Parse a condition; raise ExpressionError with the column of the first problem."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty condition", str(text), 0)
    return _Parser(text).parse()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents first."""
    yield node
    if isinstance(node, Unary):
        yield from walk(node.operand)
    elif isinstance(node, Binary):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, In | IsNull):
        yield from walk(node.operand)


def names(node: Node) -> set[str]:
    """The names an expression reads."""
    return {n.name for n in walk(node) if isinstance(n, Name)}


def _show(value: float | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _lit_type(value: float | str | bool) -> Type:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


def position(node: Node) -> int | None:
    """Where the expression starts in its text (the leftmost name or literal), if known."""
    return next((n.pos for n in walk(node) if isinstance(n, Lit | Name) and n.pos is not None),
                None)


def _hint(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check(node: Node, namespace: Mapping[str, Type], *, text: str = "",
          values: Mapping[str, Collection[str]] | None = None) -> Type:
    """Type-check against declared names; return the expression's type or raise ExpressionError.

    ``values`` lists the allowed strings of enumerated names (an event attribute of type enum,
    ``band``): comparing one with any other string, or ordering it, is an error, since such a
    condition could never be what the author meant.
    """
    allowed = values or {}

    def fail(msg: str, at: Node) -> ExpressionError:
        return ExpressionError(msg, text, position(at))

    def enum_values(name: Node, options: tuple[Node, ...]) -> None:
        if not isinstance(name, Name) or name.name not in allowed:
            return
        choices = allowed[name.name]
        for o in options:
            if isinstance(o, Lit) and isinstance(o.value, str) and o.value not in choices:
                listed = ", ".join(choices) or "none declared"
                raise fail(f"{o.value!r} is not a value of {name.name!r}{_hint(o.value, choices)}"
                           f"; values: {listed}", o)

    def typ(n: Node) -> Type:
        if isinstance(n, Lit):
            return _lit_type(n.value)
        if isinstance(n, Name):
            if n.name not in namespace:
                known = ", ".join(sorted(namespace)) or "none"
                raise fail(f"unknown name {n.name!r}{_hint(n.name, namespace)}; known: {known}", n)
            return namespace[n.name]
        if isinstance(n, Unary):
            inner = typ(n.operand)
            want = "bool" if n.op == "not" else "number"
            if inner != want:
                raise fail(f"'{n.op}' needs a {want}, got a {inner}", n)
            return want
        if isinstance(n, IsNull):
            typ(n.operand)
            return "bool"
        if isinstance(n, In):
            t = typ(n.operand)
            for o in n.options:
                if _lit_type(o.value) != t:
                    raise fail(f"'in' compares a {t} with the {_lit_type(o.value)} "
                               f"{_show(o.value)}", o)
            enum_values(n.operand, n.options)
            return "bool"
        lt, rt = typ(n.left), typ(n.right)
        if n.op in ("and", "or"):
            if lt != "bool" or rt != "bool":
                raise fail(f"'{n.op}' joins conditions, got {lt} and {rt}", n)
            return "bool"
        if n.op in ("+", "-", "*", "/"):
            if lt != "number" or rt != "number":
                raise fail(f"'{n.op}' needs numbers, got {lt} and {rt}", n)
            return "number"
        if lt != rt:
            raise fail(f"cannot compare {lt} with {rt} using '{n.op}'", n)
        if n.op not in ("==", "!=") and lt == "bool":
            raise fail(f"'{n.op}' does not order booleans", n)
        for side in (n.left, n.right):
            if n.op not in ("==", "!=") and isinstance(side, Name) and side.name in allowed:
                raise fail(f"'{n.op}' does not order the values of {side.name!r}; "
                           "list the ones you mean with 'in (...)'", side)
        enum_values(n.left, (n.right,))
        enum_values(n.right, (n.left,))
        return "bool"

    return typ(node)


def compile_column(node: Node, F: Any, resolve: Callable[[str], Any]) -> Any:
    """Turn the tree into a DataFrame Column with the backend's functions module ``F``.

    SQL semantics throughout: NULL propagates (three-valued logic), and dividing by zero
    gives NULL on every backend.
    """

    def atom(n: Node) -> Any:
        # SQLFrame drops the parentheses around a condition used as an operand, and
        # "f = a < b" then fails to parse (DuckDB) or changes meaning; a cast keeps them.
        condition = isinstance(n, In | IsNull) or (isinstance(n, Unary) and n.op == "not") or (
            isinstance(n, Binary) and n.op not in _ARITHMETIC)
        return col(n).cast("boolean") if condition else col(n)

    def col(n: Node) -> Any:
        if isinstance(n, Lit):
            if isinstance(n.value, float):
                return F.lit(n.value).cast("double")  # DuckDB reads 0.69 as DECIMAL otherwise
            return F.lit(n.value)
        if isinstance(n, Name):
            return resolve(n.name)
        if isinstance(n, Unary):
            return ~col(n.operand) if n.op == "not" else -col(n.operand)
        if isinstance(n, IsNull):
            c = atom(n.operand)
            return c.isNotNull() if n.negated else c.isNull()
        if isinstance(n, In):
            c = atom(n.operand).isin([o.value for o in n.options])
            return ~c if n.negated else c
        if n.op in ("and", "or") or n.op in _ARITHMETIC:
            a, b = col(n.left), col(n.right)
        else:
            a, b = atom(n.left), atom(n.right)
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "and": lambda x, y: x & y, "or": lambda x, y: x | y,
            "+": lambda x, y: x + y, "-": lambda x, y: x - y,
            "*": lambda x, y: x * y,
            # x / 0 is NULL everywhere: DuckDB would say inf or NaN, ANSI Spark would raise
            "/": lambda x, y: F.when(y != F.lit(0.0).cast("double"), x / y),
            "==": lambda x, y: x == y, "!=": lambda x, y: x != y,
            "<": lambda x, y: x < y, "<=": lambda x, y: x <= y,
            ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
        }
        return ops[n.op](a, b)

    return col(node)


def to_python(node: Node) -> Callable[[Callable[[str], Any]], Any]:
    """The tree as a Python function of a name resolver, with ``compile_column``'s SQL
    semantics: NULL (None) propagates through arithmetic and comparisons, ``and``/``or`` are
    three-valued, and dividing by zero gives NULL. Built once per condition; for the real-time
    path (engine/direct.py), which evaluates conditions row by row."""
    Fn = Callable[[Callable[[str], Any]], Any]
    if isinstance(node, Lit):
        value = node.value
        return lambda r: value
    if isinstance(node, Name):
        name = node.name
        return lambda r: r(name)
    if isinstance(node, Unary):
        inner = to_python(node.operand)
        if node.op == "not":
            return lambda r: not3(inner(r))
        return lambda r: _neg(inner(r), lambda v: -v)
    if isinstance(node, IsNull):
        inner, negated = to_python(node.operand), node.negated
        return lambda r: (inner(r) is None) != negated
    if isinstance(node, In):
        inner, options, negated = (to_python(node.operand), [o.value for o in node.options],
                                   node.negated)
        return lambda r: _member(inner(r), options, negated)
    a, b = to_python(node.left), to_python(node.right)
    fn: Fn
    if node.op == "and":
        fn = lambda r: and3(a(r), b(r))  # noqa: E731
    elif node.op == "or":
        fn = lambda r: or3(a(r), b(r))  # noqa: E731
    else:
        op = _OPS[node.op]
        fn = lambda r: _null_or(op, a(r), b(r))  # noqa: E731
    return fn


def _neg(v: Any, f: Callable[[Any], Any]) -> Any:
    return None if v is None else f(v)


def _member(v: Any, options: list[Any], negated: bool) -> Any:
    return None if v is None else any(v == o for o in options) != negated


def not3(x: Any) -> Any:
    """SQL's ``NOT``: NULL stays NULL."""
    return None if x is None else not x


def and3(x: Any, y: Any) -> Any:
    """SQL's ``AND``: false wins over NULL."""
    return False if x is False or y is False else None if x is None or y is None else True


def or3(x: Any, y: Any) -> Any:
    """SQL's ``OR``: true wins over NULL."""
    return True if x is True or y is True else None if x is None or y is None else False


def _null_or(op: Callable[[Any, Any], Any], x: Any, y: Any) -> Any:
    return None if x is None or y is None else op(x, y)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
    "/": lambda x, y: None if y == 0 else x / y,
    "==": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
}


def threshold(node: Node, name: str = "score") -> tuple[str, float] | None:
    """``(op, N)`` when the expression is a bare ``name >= N`` style comparison, else None."""
    if (isinstance(node, Binary) and node.op in ("<", "<=", ">", ">=")
            and isinstance(node.left, Name) and node.left.name == name
            and isinstance(node.right, Lit) and isinstance(node.right.value, float)):
        return node.op, node.right.value
    return None
