"""Condition expressions: parser, type checker, and SQL evaluation that matches a Python one."""

from __future__ import annotations

import doctest
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasscredit.errors import ExpressionError
from glasscredit.policy import expr
from glasscredit.policy.expr import Binary, In, IsNull, Lit, Name, Unary, check, parse

# ------------------------------------------------------------------ parser


@pytest.mark.parametrize(("text", "tree"), [
    ("a or b and c", Binary("or", Name("a"), Binary("and", Name("b"), Name("c")))),
    ("a and b or c", Binary("or", Binary("and", Name("a"), Name("b")), Name("c"))),
    ("(a or b) and c", Binary("and", Binary("or", Name("a"), Name("b")), Name("c"))),
    ("not a and b", Binary("and", Unary("not", Name("a")), Name("b"))),
    ("not not a", Unary("not", Unary("not", Name("a")))),
    ("not x = 1", Unary("not", Binary("==", Name("x"), Lit(1.0)))),
    ("a + b * c", Binary("+", Name("a"), Binary("*", Name("b"), Name("c")))),
    ("a - b - c", Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))),
    ("a / b / c", Binary("/", Binary("/", Name("a"), Name("b")), Name("c"))),
    ("-a * b", Binary("*", Unary("-", Name("a")), Name("b"))),
    ("a - -3", Binary("-", Name("a"), Lit(-3.0))),
    ("-(2)", Lit(-2.0)),
    ("- -2", Lit(2.0)),
    ("x > -1.5e2", Binary(">", Name("x"), Lit(-150.0))),
    ("x >= .5", Binary(">=", Name("x"), Lit(0.5))),
    ("x in (1, -2, 3.5)", In(Name("x"), (Lit(1.0), Lit(-2.0), Lit(3.5)), negated=False)),
    ("x not in ('a', 'b')", In(Name("x"), (Lit("a"), Lit("b")), negated=True)),
    ("x NOT IN ('a')", In(Name("x"), (Lit("a"),), negated=True)),
    ("not x in ('a')", Unary("not", In(Name("x"), (Lit("a"),), negated=False))),
    ("x is null", IsNull(Name("x"), negated=False)),
    ("x IS NOT NULL", IsNull(Name("x"), negated=True)),
    ("s = 'it''s'", Binary("==", Name("s"), Lit("it's"))),
    ("s == ''", Binary("==", Name("s"), Lit(""))),
    ("s <> 'a b'", Binary("!=", Name("s"), Lit("a b"))),
    ("s != 'x'", Binary("!=", Name("s"), Lit("x"))),
    ("hits.late_payment >= 2", Binary(">=", Name("hits.late_payment"), Lit(2.0))),
    ("category.a_b.c <= 0", Binary("<=", Name("category.a_b.c"), Lit(0.0))),
    ("flag = TRUE", Binary("==", Name("flag"), Lit(True))),
    ("False", Lit(False)),
    ("  a  ", Name("a")),
])
def test_parse(text, tree):
    got = parse(text)
    assert got == tree
    assert repr(got) == repr(tree)  # Lit(True) == Lit(1.0) in Python; the repr tells them apart


@pytest.mark.parametrize(("text", "message", "position"), [
    ("", "empty condition", 0),
    ("   ", "empty condition", 0),
    ("a >", "expected a value, a name or '(' at column 4, found end of expression", 3),
    ("(a", "expected ')' at column 3, found end of expression", 2),
    ("a b", "expected an operator or the end at column 3, found 'b'", 2),
    ("a < b < c", "expected an operator or the end at column 7, found '<'", 6),
    ("x in 1", "expected '(' at column 6, found '1'", 5),
    ("x in (y)", "expected a literal at column 8, found ')'", 7),
    ("x in (1 2)", "expected ',' or ')' at column 9, found '2'", 8),
    ("x is 1", "expected 'null' at column 6, found '1'", 5),
    ("x not y", "expected an operator or the end at column 3, found 'not'", 2),
    ("x == null", "expected a value (test for null with 'is null' or 'is not null') at column 6, "
                  "found 'null'", 5),
    ("x # 1", "unexpected character '#' at column 3", 2),
    ("s = 'open", "unterminated string at column 5", 4),
    ("x > 1e999", "expected a number of a sensible size at column 5, found '1e999'", 4),
    ("and", "expected a value, a name or '(' at column 1, found 'and'", 0),
])
def test_parse_errors_name_the_column(text, message, position):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert str(info.value) == message
    assert info.value.position == position and info.value.text == text
    assert isinstance(info.value, ValueError)


NS = {"n": "number", "m": "number", "s": "string", "f": "bool", "band": "string"}


@pytest.mark.parametrize(("text", "type_"), [
    ("n + m * 2", "number"),
    ("-n", "number"),
    ("n > 1 and f", "bool"),
    ("s in ('a', 'b')", "bool"),
    ("s is null or n is not null", "bool"),
    ("f == false", "bool"),
    ("s", "string"),
    ("s < 'b'", "bool"),
    ("(n > 1) is null", "bool"),
])
def test_check_types(text, type_):
    assert check(parse(text), NS) == type_


@pytest.mark.parametrize(("text", "message", "position"), [
    ("q > 1", "unknown name 'q'; known: band, f, m, n, s", 0),
    ("n > 1 and mm > 2", "unknown name 'mm' (did you mean 'm'?); known: band, f, m, n, s", 10),
    ("n == 'a'", "cannot compare number with string using '=='", 0),
    ("f < true", "'<' does not order booleans", 0),
    ("n and f", "'and' joins conditions, got number and bool", 0),
    ("s + 1", "'+' needs numbers, got string and number", 0),
    ("not n", "'not' needs a bool, got a number", 4),
    ("-s", "'-' needs a number, got a string", 1),
    ("n in (1, 'a')", "'in' compares a number with the string 'a'", 9),
    ("f in (true, 2)", "'in' compares a bool with the number 2", 12),
    ("band == 'gold'", "'gold' is not a value of 'band' (did you mean 'good'?); values: poor, "
                       "good", 8),
    ("'poorer' != band", "'poorer' is not a value of 'band' (did you mean 'poor'?); values: "
                         "poor, good", 0),
    ("band in ('poor', 'bad')", "'bad' is not a value of 'band'; values: poor, good", 17),
    ("band >= 'good'", "'>=' does not order the values of 'band'; list the ones you mean with "
                       "'in (...)'", 0),
])
def test_check_errors(text, message, position):
    with pytest.raises(ExpressionError) as info:
        check(parse(text), NS, text=text, values={"band": ("poor", "good")})
    assert str(info.value) == message
    assert info.value.position == position and info.value.text == text


def test_names_and_threshold():
    assert expr.names(parse("a > 1 and (b.c is null or not d in (1))")) == {"a", "b.c", "d"}
    assert expr.threshold(parse("score >= 600")) == (">=", 600.0)
    assert expr.threshold(parse("score < 1")) == ("<", 1.0)
    assert expr.threshold(parse("600 <= score")) is None
    assert expr.threshold(parse("score >= 600 and band == 'a'")) is None
    assert expr.threshold(parse("score == 600")) is None
    assert expr.threshold(parse("hits.x > 1"), "hits.x") == (">", 1.0)


def test_module_doctests():
    result = doctest.testmod(expr, raise_on_error=False)
    assert result.attempted >= 4 and result.failed == 0


# ------------------------------------------------------------------ render -> parse round trip

def render(node: expr.Node) -> str:
    """Source text for a tree: every compound part in parentheses, literals in their syntax."""
    if isinstance(node, Lit):
        v = node.value
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(v)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Unary):
        return f"({node.op} {render(node.operand)})"
    if isinstance(node, Binary):
        return f"({render(node.left)} {node.op} {render(node.right)})"
    if isinstance(node, In):
        opts = ", ".join(render(o) for o in node.options)
        return f"({render(node.operand)} {'not in' if node.negated else 'in'} ({opts}))"
    return f"({render(node.operand)} is {'not null' if node.negated else 'null'})"


_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}
ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s.lower() not in _KEYWORDS)
names_ = st.lists(ident, min_size=1, max_size=3).map(".".join).map(Name)
numbers = st.floats(allow_nan=False, allow_infinity=False).map(Lit)
literals = st.one_of(numbers, st.text(max_size=8).map(Lit), st.booleans().map(Lit))
leaves = st.one_of(names_, literals)


def _not_number_literal(n: expr.Node) -> bool:
    # "-3" parses as the literal -3, never as minus applied to 3
    return not (isinstance(n, Lit) and isinstance(n.value, float) and not isinstance(n.value, bool))


def _extend(inner: st.SearchStrategy[expr.Node]) -> st.SearchStrategy[expr.Node]:
    ops = ["or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"]
    return st.one_of(
        st.builds(Unary, st.just("not"), inner),
        st.builds(Unary, st.just("-"), inner.filter(_not_number_literal)),
        st.builds(Binary, st.sampled_from(ops), inner, inner),
        st.builds(In, inner, st.lists(literals, min_size=1, max_size=3).map(tuple),
                  st.booleans()),
        st.builds(IsNull, inner, st.booleans()),
    )


trees = st.recursive(leaves, _extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_parse_render_round_trip(tree):
    back = parse(render(tree))
    assert back == tree and repr(back) == repr(tree)


# ------------------------------------------------------------------ SQL == Python, on DuckDB

COLUMNS = {"id": "int", "n": "double", "m": "double", "s": "string", "f": "boolean"}
TYPES = {"n": "number", "m": "number", "s": "string", "f": "bool"}
small = st.sampled_from([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0])
text_values = st.sampled_from(["", "a", "b", "it's", "A"])
num_lit = small.map(Lit)
str_lit = text_values.map(Lit)
bool_lit = st.booleans().map(Lit)


def typed(depth: int = 2) -> dict[str, st.SearchStrategy[expr.Node]]:
    """Well-typed trees over the test table's columns, by result type."""
    num: st.SearchStrategy[expr.Node] = st.one_of(st.sampled_from([Name("n"), Name("m")]),
                                                  num_lit)
    s: st.SearchStrategy[expr.Node] = st.one_of(st.just(Name("s")), str_lit)
    b: st.SearchStrategy[expr.Node] = st.one_of(st.just(Name("f")), bool_lit)
    for _ in range(depth):
        num = st.one_of(num, st.builds(Binary, st.sampled_from("+-*/"), num, num),
                        st.builds(Unary, st.just("-"), num.filter(_not_number_literal)))
        cmp = st.one_of(
            st.builds(Binary, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), num, num),
            st.builds(Binary, st.sampled_from(["==", "!=", "<", ">="]), s, s),
            st.builds(Binary, st.sampled_from(["==", "!="]), b, b),
            st.builds(In, num, st.lists(num_lit, min_size=1, max_size=3).map(tuple),
                      st.booleans()),
            st.builds(In, s, st.lists(str_lit, min_size=1, max_size=3).map(tuple),
                      st.booleans()),
            st.builds(IsNull, st.one_of(num, s, b), st.booleans()))
        b = st.one_of(b, cmp, st.builds(Unary, st.just("not"), b),
                      st.builds(Binary, st.sampled_from(["and", "or"]), b, b))
    return {"number": num, "string": s, "bool": b}


def evaluate(node: expr.Node, row: dict[str, Any]) -> Any:
    """SQL semantics in Python: None is NULL, three-valued logic, x / 0 is NULL."""
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Name):
        return row[node.name]
    if isinstance(node, IsNull):
        v = evaluate(node.operand, row)
        return (v is not None) if node.negated else (v is None)
    if isinstance(node, In):
        v = evaluate(node.operand, row)
        if v is None:
            return None
        hit = any(v == o.value for o in node.options)
        return (not hit) if node.negated else hit
    if isinstance(node, Unary):
        v = evaluate(node.operand, row)
        if v is None:
            return None
        return (not v) if node.op == "not" else -v
    a, b = evaluate(node.left, row), evaluate(node.right, row)
    if node.op == "and":
        if a is False or b is False:
            return False
        return None if a is None or b is None else True
    if node.op == "or":
        if a is True or b is True:
            return True
        return None if a is None or b is None else False
    if a is None or b is None:
        return None
    if node.op == "/":
        return None if b == 0 else a / b
    ops = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "==": lambda: a == b,
           "!=": lambda: a != b, "<": lambda: a < b, "<=": lambda: a <= b, ">": lambda: a > b,
           ">=": lambda: a >= b}
    return ops[node.op]()


rows_ = st.lists(st.tuples(st.none() | small, st.none() | small, st.none() | text_values,
                           st.none() | st.booleans()), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def duck():
    from glasscredit.engine.sessions import duckdb_backend

    b = duckdb_backend()
    yield b
    b.release()


def _frame(duck, data):
    return duck.rows([(i, *r) for i, r in enumerate(data)], COLUMNS)


def _compiled(duck, node):
    F = duck.F
    return expr.compile_column(node, F, F.col)


def test_compile_column_examples_on_duckdb(duck):
    df = _frame(duck, [(1.0, 2.0, "it's", True), (0.0, None, "b", None), (None, 0.5, None, False)])
    cases = {
        "n < m": [0],
        "s = 'it''s' or f": [0],
        "n / 0 is null": [0, 1, 2],          # dividing by zero is NULL, not inf or NaN
        "m / n > 1": [0],                    # row 1 divides by zero: NULL, not inf
        "not (n > 0.5)": [1],                # NULL stays NULL under not
        "n not in (1, 7)": [1],
        "s in ('b', 'c') and m is null": [1],
        "-n * 2 <= -2": [0],
        "f = false or f is null": [1, 2],
    }
    for text, want in cases.items():
        node = parse(text)
        assert check(node, TYPES) == "bool"
        got = sorted(r["id"] for r in df.filter(_compiled(duck, node)).collect())
        assert got == want, text


TYPED = typed()


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=rows_, conditions=st.lists(TYPED["bool"], min_size=1, max_size=4),
       number=TYPED["number"])
def test_sql_evaluation_equals_python_evaluation(duck, data, conditions, number):
    df = _frame(duck, data)
    for c in conditions:
        assert check(c, TYPES) == "bool"
    F = duck.F
    cols = [_compiled(duck, c).alias(f"c{i}") for i, c in enumerate(conditions)]
    got = {r["id"]: r for r in df.select("id", *cols, _compiled(duck, number).alias("x"))
           .collect()}
    for i, values in enumerate(data):
        row = dict(zip(["n", "m", "s", "f"], values, strict=True))
        for j, c in enumerate(conditions):
            assert got[i][f"c{j}"] == evaluate(c, row), (render(c), row)
        want = evaluate(number, row)
        have = got[i]["x"]
        assert (have is None) == (want is None), (render(number), row)
        if want is not None:
            assert math.isclose(have, want, rel_tol=1e-12, abs_tol=1e-12) or (
                math.isinf(want) and have == want), (render(number), row)
    # the law as the engine uses it: filtering keeps exactly the rows where it is true
    kept = sorted(r["id"] for r in df.filter(F.coalesce(_compiled(duck, conditions[0]),
                                                        F.lit(False))).collect())
    rows = [dict(zip(["n", "m", "s", "f"], v, strict=True)) for v in data]
    assert kept == [i for i, r in enumerate(rows) if evaluate(conditions[0], r) is True]
