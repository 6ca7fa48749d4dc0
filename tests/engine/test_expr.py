"""The safe expression language: accepted forms, refused forms, types and evaluation."""

from __future__ import annotations

import contextlib
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.expr import DTYPES, FUNCTIONS, MAX_LENGTH, Column, Expr, ExprError, parse

NAN = float("nan")
N = 4


def _columns() -> dict[str, object]:
    return {
        "a": np.array([1.0, 2.0, NAN, 4.0]),
        "b": np.array([0.5, NAN, 3.0, -1.0]),
        "i": np.array([1, 2, 3, 4]),
        "z": np.array([0, 1, 0, 2]),
        "m": Column(np.array([10, 20, 30, 40]), np.array([False, True, False, False])),
        "s": np.array(["x", None, "yz", ""], dtype=object),
        "t": np.array(["a", "b", NAN, "d"], dtype=object),
        "p": np.array([True, False, True, False]),
        "q": Column(np.array([True, True, False, False]), np.array([False, True, False, True])),
        "d": np.array(["2024-01-01", "2024-02-01", "NaT", "2024-03-15"], dtype="datetime64[ns]"),
        "unit price": np.array([1.5, 2.5, 3.5, 4.5]),
        "o": np.array([1, None, 3, 4], dtype=object),
        "ob": np.array([True, None, False, True], dtype=object),
    }


def _values(result: Column) -> list:
    """Rows as Python values, None where missing."""
    assert len(result.data) == N
    mask = [False] * N if result.mask is None else list(result.mask)
    return [None if missing else value for value, missing in zip(result.data.tolist(), mask, strict=True)]


def _same(actual: list, expected: list) -> bool:
    """Equal rows, floats compared to 1e-9."""
    return len(actual) == len(expected) and all(
        x == y or (isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=1e-9))
        for x, y in zip(actual, expected, strict=True)
    )


SCHEMA = {
    "a": "float64",
    "i": "int64",
    "s": "string",
    "c": "category",
    "p": "bool",
    "d": "datetime",
    "revenue": "float64",
    "u": None,
}


@pytest.mark.parametrize(
    ("text", "expected", "dtype"),
    [
        ("a + 1", [2.0, 3.0, None, 5.0], "float64"),
        ("a * b - a", [-0.5, None, None, -8.0], "float64"),
        ("-a", [-1.0, -2.0, None, -4.0], "float64"),
        ("+i", [1, 2, 3, 4], "int64"),
        ("i + 1", [2, 3, 4, 5], "int64"),
        ("i / 2", [0.5, 1.0, 1.5, 2.0], "float64"),
        ("i // z", [math.inf, 2.0, math.inf, 2.0], "float64"),
        ("z // z", [None, 1.0, None, 1.0], "float64"),
        ("i % z", [None, 0.0, None, 0.0], "float64"),
        ("i // 2", [0, 1, 1, 2], "int64"),
        ("i ** 2", [1, 4, 9, 16], "int64"),
        ("i ** -1", [1.0, 0.5, 1 / 3, 0.25], "float64"),
        ("m + 1", [11, None, 31, 41], "int64"),
        ("m ** -1", [0.1, None, 1 / 30, 0.025], "float64"),
        ("0 / 0", [None] * N, "float64"),
        ("sqrt(a - 2)", [None, 0.0, None, math.sqrt(2)], "float64"),
        ("1 < a < 3", [False, True, False, False], "bool"),
        ("1 < i <= 3 != z", [False, True, True, False], "bool"),
        ("a == a", [True, True, False, True], "bool"),
        ("a != a", [False, False, True, False], "bool"),
        ("a > 1 and i < 4", [False, True, False, False], "bool"),
        ("(a > 1) & (i < 4)", [False, True, False, False], "bool"),
        ("p & q", [True, False, False, False], "bool"),
        ("p | q", [True, None, True, None], "bool"),
        ("q or True", [True] * N, "bool"),
        ("q and False", [False] * N, "bool"),
        ("~q", [False, None, True, None], "bool"),
        ("not p", [False, True, False, True], "bool"),
        ("where(q, 1, 2)", [1, 2, 2, 2], "int64"),
        ("where(p, m, 0.5)", [10.0, 0.5, 30.0, 0.5], "float64"),
        ("where(p, m, i)", [10, 2, 30, 4], "int64"),
        ("where(q, s, 'k')", ["x", "k", "k", "k"], "object"),
        ("isnull(a)", [False, False, True, False], "bool"),
        ("notnull(s)", [True, False, True, True], "bool"),
        ("isnull(0 / z)", [True, False, True, False], "bool"),
        ("isnull(d)", [False, False, True, False], "bool"),
        ("isnull(1)", [False] * N, "bool"),
        ("col('unit price') * 2", [3.0, 5.0, 7.0, 9.0], "float64"),
        ('col("a") + col("unit price")', [2.5, 4.5, None, 8.5], "float64"),
        ("s + '!'", ["x!", None, "yz!", "!"], "object"),
        ("'<' + t + '>'", ["<a>", "<b>", None, "<d>"], "object"),
        ("s == 'x'", [True, False, False, False], "bool"),
        ("s != 'x'", [False, True, True, True], "bool"),
        ("t < 'c'", [True, True, False, False], "bool"),
        ("s == ''", [False, False, False, True], "bool"),
        ("d > '2024-01-15'", [False, True, False, True], "bool"),
        ("'2024-01-15' >= d", [True, False, False, False], "bool"),
        ("d == '2024-02-01T00:00'", [False, True, False, False], "bool"),
        ("abs(b)", [0.5, None, 3.0, 1.0], "float64"),
        ("abs(-m)", [10, None, 30, 40], "int64"),
        ("round(a / 3, 2)", [0.33, 0.67, None, 1.33], "float64"),
        ("round(m, -1)", [10, None, 30, 40], "int64"),
        ("round(2.5)", [2.0] * N, "float64"),
        ("clip(i, 2, 3)", [2, 2, 3, 3], "int64"),
        ("clip(a, 1.5, 3)", [1.5, 2.0, None, 3.0], "float64"),
        ("minimum(a, i)", [1.0, 2.0, None, 4.0], "float64"),
        ("maximum(z, 1)", [1, 1, 1, 2], "int64"),
        ("floor(i / 3)", [0.0, 0.0, 1.0, 1.0], "float64"),
        ("ceil(i)", [1.0, 2.0, 3.0, 4.0], "float64"),
        ("log(z)", [-math.inf, 0.0, -math.inf, math.log(2)], "float64"),
        ("exp(0) + sin(0) + cos(0) + tan(0) + arctan(0) + arcsin(0)", [2.0] * N, "float64"),
        ("log10(100) + log1p(0) + arccos(1)", [2.0] * N, "float64"),
        ("1 + 2", [3] * N, "int64"),
        ("'a' + 'b'", ["ab"] * N, "object"),
        ("True", [True] * N, "bool"),
        ("2.5", [2.5] * N, "float64"),
        ("o + 1", [2, None, 4, 5], "int64"),
        ("ob & True", [True, None, False, True], "bool"),
        ("  a + 1  # a comment", [2.0, 3.0, None, 5.0], "float64"),
        ("(a\n + 1)", [2.0, 3.0, None, 5.0], "float64"),
    ],
)
def test_evaluate_accepted_form_matches_expected_rows(text: str, expected: list, dtype: str) -> None:
    result = parse(text).evaluate(_columns(), N)
    assert result.data.dtype == np.dtype(dtype)
    assert _same(_values(result), expected)
    assert result.mask is None or result.mask.dtype == bool
    if None not in expected:
        assert result.mask is None


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("__import__('os')", "unknown function '__import__' (functions: abs, sqrt", 0),
        ("a.__class__", "attribute access is not allowed", 1),
        ("sqrt.__call__(1)", "attribute access is not allowed", 4),
        ("lambda: 1", "lambda is not allowed", 0),
        ("[x for x in a]", "comprehensions are not allowed", 0),
        ("{x for x in a}", "comprehensions are not allowed", 0),
        ("a[0]", "subscripts (indexing) are not allowed", 1),
        ('f"{a}"', "f-strings are not allowed", 0),
        ("(a := 1)", "assignment (:=) is not allowed", 1),
        ("a if b else c", "conditional expressions are not allowed; use where(cond, a, b)", 0),
        ("None", "None is not allowed; use isnull(x)", 0),
        ("round(a, ndigits=2)", "keyword arguments are not allowed", 9),
        ("round(a, b)", "whole-number literal", 9),
        ("round(a, 1.5)", "whole-number literal", 9),
        ("sqrt()", "sqrt() takes 1 argument (got 0)", 0),
        ("sqrt(a, b)", "sqrt() takes 1 argument (got 2)", 0),
        ("round(a, 1, 2)", "round() takes 1 or 2 arguments (got 3)", 0),
        ("where(a, b)", "where() takes 3 arguments (got 2)", 0),
        ("col(a)", "col() takes one string literal", 4),
        ("col()", "col() takes one string literal", 0),
        ("col('')", "col() takes one string literal", 4),
        ("open('x')", "unknown function 'open'", 0),
        ("sqr(a)", "unknown function 'sqr' (did you mean 'sqrt'?)", 0),
        ("(a)(1)", "unknown function 'a'", 0),
        ("(a + 1)(2)", "only the listed functions can be called", 0),
        ("sqrt(*a)", "starred arguments are not allowed", 5),
        ("b'x'", "bytes literals are not allowed", 0),
        ("1j", "complex numbers are not allowed", 0),
        ("...", "'...' is not allowed", 0),
        ("99999999999999999999", "integer literal is too large", 0),
        ("*a", "invalid syntax", 0),
        ("a +", "invalid syntax", 3),
        ("a b", "invalid syntax", 2),
        ("(a + 1", "'(' was never closed", 0),
        ("", "empty expression", 0),
        ("   \n ", "empty expression", 0),
        ("é + unknownfn(1)", "unknown function 'unknownfn'", 4),
        ("é + 'abc", "unterminated string literal", 4),
        ("éé + 1é", "invalid syntax", 6),
        ("(é +\n é $)", "invalid syntax", 8),
        ("(é +\r\n é.x)", "attribute access is not allowed", 8),
        ("  a + ", "invalid syntax", 6),
        ("a ^ b", "operator '^' is not allowed (use ** for powers", 2),
        ("a @ b", "operator '@' is not allowed", 2),
        ("a << 1", "operator '<<' is not allowed", 2),
        ("a is None", "'is' is not allowed; use == or isnull(x)", 2),
        ("a is not b", "'is not' is not allowed", 2),
        ("a not in b", "'not in' is not allowed", 2),
        ("1 < a in b", "'in' is not allowed", 6),
        ("a, b", "tuples are not allowed", 0),
        ("[a]", "list literals are not allowed", 0),
        ("{a: 1}", "dict literals are not allowed", 0),
        ("{a}", "set literals are not allowed", 0),
        ("a\0", "null characters are not allowed", 1),
        ("await a", "await is not allowed", 0),
        ("(yield)", "yield is not allowed", 1),
    ],
)
def test_parse_refused_form_reports_message_and_position(text: str, fragment: str, position: int) -> None:
    with pytest.raises(ExprError) as info:
        parse(text)
    assert fragment in info.value.message
    assert info.value.position == position
    assert info.value.expression == text


@pytest.mark.parametrize(
    ("text", "schema", "dtype"),
    [
        ("a + 1", SCHEMA, "float64"),
        ("i + 1", SCHEMA, "int64"),
        ("i * i - i // 2 % 3", SCHEMA, "int64"),
        ("i ** 2", SCHEMA, "int64"),
        ("i / 1", SCHEMA, "float64"),
        ("-i", SCHEMA, "int64"),
        ("i > 1", SCHEMA, "bool"),
        ("1 < a < 3", SCHEMA, "bool"),
        ("p & (i > 1)", SCHEMA, "bool"),
        ("not p or ~p", SCHEMA, "bool"),
        ("s + 'x'", SCHEMA, "string"),
        ("c + s", SCHEMA, "string"),
        ("c", SCHEMA, "category"),
        ("c == 'x'", SCHEMA, "bool"),
        ("s < c", SCHEMA, "bool"),
        ("d", SCHEMA, "datetime"),
        ("d >= '2024-01-31'", SCHEMA, "bool"),
        ("'2024-01-31T12:00' < d", SCHEMA, "bool"),
        ("d == d", SCHEMA, "bool"),
        ("sqrt(i)", SCHEMA, "float64"),
        ("floor(i)", SCHEMA, "float64"),
        ("abs(i)", SCHEMA, "int64"),
        ("round(i, -1)", SCHEMA, "int64"),
        ("round(a)", SCHEMA, "float64"),
        ("clip(i, 0, 10)", SCHEMA, "int64"),
        ("clip(i, 0, 0.5)", SCHEMA, "float64"),
        ("minimum(i, a)", SCHEMA, "float64"),
        ("maximum(i, 2)", SCHEMA, "int64"),
        ("where(p, i, a)", SCHEMA, "float64"),
        ("where(p, s, c)", SCHEMA, "string"),
        ("where(p, c, c)", SCHEMA, "category"),
        ("where(p, d, d)", SCHEMA, "datetime"),
        ("isnull(s) | notnull(d)", SCHEMA, "bool"),
        ("u", SCHEMA, None),
        ("u + 1", SCHEMA, None),
        ("u / 2", SCHEMA, "float64"),
        ("u + 'x'", SCHEMA, "string"),
        ("where(p, u, 1)", SCHEMA, None),
        ("i", {"i": "object"}, None),
        ("a + 1", None, None),
        ("a > 1", None, "bool"),
        ("a / b", None, "float64"),
        ("1 + 2", None, "int64"),
        ("1 + 2.0", None, "float64"),
        ("'a' + 'b'", None, "string"),
        ("True", None, "bool"),
        ("sqrt(a)", None, "float64"),
    ],
)
def test_infer_type_valid_expression_gives_dtype(text: str, schema: dict | None, dtype: str | None) -> None:
    assert parse(text).infer_type(schema) == dtype
    assert dtype is None or dtype in DTYPES


@pytest.mark.parametrize(
    ("text", "schema", "fragment", "position"),
    [
        ("revnue * 2", SCHEMA, "unknown column 'revnue' (did you mean 'revenue'?)", 0),
        ("1 + zzz", SCHEMA, "unknown column 'zzz'", 4),
        ("col('unit price')", SCHEMA, "unknown column 'unit price'", 0),
        ("s * 2", SCHEMA, "'*' cannot be used on string (only + joins strings)", 0),
        ("1 - c", SCHEMA, "'-' cannot be used on category", 4),
        ("s + 1", SCHEMA, "'+' cannot join string and int64", 2),
        ("'a' + 1", None, "'+' cannot join string and int64", 4),
        ("p + 1", SCHEMA, "'+' cannot be used on bool; use where(cond, 1, 0)", 0),
        ("True * 2", None, "'*' cannot be used on bool", 0),
        ("d - d", SCHEMA, "'-' cannot be used on datetime", 0),
        ("-s", SCHEMA, "'-' needs a number, but got string", 0),
        ("-p", SCHEMA, "'-' needs a number, but got bool", 0),
        ("s > 1", SCHEMA, "cannot compare string with int64", 2),
        ("a == p", SCHEMA, "cannot compare float64 with bool", 2),
        ("d > 1", SCHEMA, "cannot compare datetime with int64 (compare with a date literal", 2),
        ("d > s", SCHEMA, "cannot compare datetime with string", 2),
        ("d > '2024-13-45'", SCHEMA, "'2024-13-45' is not a date", 4),
        ("d > ''", SCHEMA, "'' is not a date", 4),
        ("1 < a < 's'", SCHEMA, "cannot compare float64 with string", 6),
        ("a & p", SCHEMA, "'&' needs true/false values, but got float64", 0),
        ("a > 1 & i < 2", SCHEMA, "(add parentheses: (a > 1) & (b < 2))", 4),
        ("p or s", SCHEMA, "'or' needs true/false values, but got string", 5),
        ("~i", SCHEMA, "'~' needs true/false values, but got int64", 1),
        ("not 1", None, "'not' needs true/false values, but got int64", 4),
        ("sqrt(s)", SCHEMA, "sqrt() needs numbers, but got string", 5),
        ("abs(p)", SCHEMA, "abs() needs numbers, but got bool", 4),
        ("clip(i, 0, 'x')", SCHEMA, "clip() needs numbers, but got string", 11),
        ("minimum(d, d)", SCHEMA, "minimum() needs numbers, but got datetime", 8),
        ("where(i, 1, 2)", SCHEMA, "the where() condition needs true/false values, but got int64", 6),
        ("where(p, 1, 'x')", SCHEMA, "where() branches have different types: int64 and string", 0),
        ("1 + 'x'", SCHEMA, "'+' cannot join int64 and string", 2),
    ],
)
def test_infer_type_type_error_reports_message_and_position(
    text: str, schema: dict | None, fragment: str, position: int
) -> None:
    with pytest.raises(ExprError) as info:
        parse(text).infer_type(schema)
    assert fragment in info.value.message
    assert info.value.position == position


def test_infer_type_unknown_dtype_names_count_as_unknown() -> None:
    assert parse("x * 2").infer_type({"x": "timedelta"}) is None


def test_parse_columns_distinct_in_order_of_first_appearance() -> None:
    expr = parse('b + a * col("unit price") + b + where(a > 1, c, col("b"))')
    assert expr.columns == ("b", "a", "unit price", "c")


def test_parse_function_names_and_keywords_as_columns_are_columns() -> None:
    assert parse("log + where").columns == ("log", "where")
    assert parse("é + ﬁ").columns == ("é", "ﬁ")  # as typed, not NFKC-normalised


def test_parse_same_text_returns_cached_expr() -> None:
    assert parse("a + 12345") is parse("a + 12345")
    assert isinstance(parse("a"), Expr)


def test_parse_non_text_raises_expr_error() -> None:
    with pytest.raises(ExprError, match="must be text"):
        parse(["a"])  # type: ignore[arg-type]


def test_parse_too_long_raises_expr_error() -> None:
    with pytest.raises(ExprError, match="too long"):
        parse("a+" * (MAX_LENGTH // 2) + "a")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 250 + "a" + ")" * 250,
        "-" * 150 + "a",
        "+".join(["a"] * 3000),
        "not " * 500 + "a",
        "sqrt(" * 120 + "a" + ")" * 120,
        "-(" * 2000 + "a" + ")" * 2000,
    ],
)
def test_parse_deep_nesting_raises_expr_error(text: str) -> None:
    with pytest.raises(ExprError, match=r"nested too deeply|too many nested"):
        parse(text)


def test_parse_moderate_nesting_accepted() -> None:
    assert parse("(" * 50 + "a" + ")" * 50 + "+ 1").columns == ("a",)
    assert parse("+".join(["a"] * 90)).columns == ("a",)


def test_functions_whitelist_matches_format() -> None:
    assert "col" not in FUNCTIONS
    assert FUNCTIONS["round"] == (1, 2)
    assert FUNCTIONS["clip"] == (3, 3)
    listed = "abs sqrt exp log log10 log1p sin cos tan arcsin arccos arctan floor ceil round clip"
    assert set(FUNCTIONS) == {*listed.split(), "where", "isnull", "notnull", "minimum", "maximum"}


def test_expr_error_str_and_pointer_show_position() -> None:
    with pytest.raises(ExprError) as info:
        parse("é + unknownfn(1)")
    error = info.value
    assert str(error).startswith("unknown function 'unknownfn'")
    assert str(error).endswith(" at column 5 in `é + unknownfn(1)`")
    assert error.pointer() == "é + unknownfn(1)\n    ^"


def test_expr_error_multiline_str_is_one_line() -> None:
    with pytest.raises(ExprError) as info:
        parse("(a +\n b.c)")
    assert "\n" not in str(info.value)
    assert info.value.pointer() == "(a +  b.c)\n       ^"


def test_expr_error_without_position_omits_column() -> None:
    error = ExprError("a + b", "went wrong")
    assert str(error) == "went wrong in `a + b`"
    assert error.pointer() == "a + b"
    assert isinstance(error, ValueError)


def test_expr_error_pickles_with_fields() -> None:
    error = pickle.loads(pickle.dumps(ExprError("a +", "invalid syntax", 3)))
    assert (error.expression, error.message, error.position) == ("a +", "invalid syntax", 3)
    assert str(error) == "invalid syntax at column 4 in `a +`"


def test_evaluate_missing_column_raises_with_suggestion() -> None:
    with pytest.raises(
        ExprError, match=r"unknown column 'unit_price' \(did you mean 'unit price'\?\)"
    ) as info:
        parse("1 + unit_price").evaluate(_columns(), N)
    assert info.value.position == 4


def test_evaluate_wrong_length_raises_expr_error() -> None:
    with pytest.raises(ExprError, match="column 'a' has shape") as info:
        parse("1 + a").evaluate({"a": np.zeros(3)}, N)
    assert info.value.position == 4


def test_evaluate_bad_date_literal_raises_with_position() -> None:
    with pytest.raises(ExprError, match="'31/01/2024' is not a date") as info:
        parse("d < '31/01/2024'").evaluate(_columns(), N)
    assert info.value.position == 4


def test_evaluate_timezone_date_literal_refused_without_warning() -> None:
    with pytest.raises(ExprError, match="is not a date"):
        parse("d < '2024-01-01T00:00+02:00'").evaluate(_columns(), N)


def test_evaluate_type_error_from_dtypes_raises_expr_error() -> None:
    with pytest.raises(ExprError, match="cannot compare string with int64") as info:
        parse("s > 1").evaluate(_columns(), N)
    assert info.value.position == 2


def test_evaluate_runtime_failure_raises_expr_error_with_position() -> None:
    mixed = np.array([1, "x", 2.5, None], dtype=object)
    with pytest.raises(ExprError, match="cannot compute '-'") as info:
        parse("m - mixed").evaluate({"mixed": mixed, "m": np.arange(N)}, N)
    assert info.value.position == 2


def test_evaluate_cupy_like_namespace_failure_raises_expr_error() -> None:
    class Broken:
        def asarray(self, value: object, dtype: object = None) -> object:
            raise RuntimeError("no device")

    with pytest.raises(ExprError, match="evaluation failed: no device"):
        parse("a + 1").evaluate({"a": np.zeros(N)}, N, xp=Broken())


def test_evaluate_object_strings_mask_none_and_nan() -> None:
    result = parse("s").evaluate(_columns(), N)
    assert result.mask.tolist() == [False, True, False, False]
    assert result.data[1] == ""  # masked values are harmless placeholders


def test_evaluate_column_mask_on_object_data_fills_placeholders() -> None:
    data = Column(np.array(["a", None, "c"], dtype=object), np.array([False, True, False]))
    result = parse("s + 'x'").evaluate({"s": data}, 3)
    assert result.data.tolist() == ["ax", "x", "cx"]
    assert result.mask.tolist() == [False, True, False]


def test_evaluate_integer_mask_keeps_int64_data() -> None:
    result = parse("m * 2").evaluate(_columns(), N)
    assert result.data.dtype == np.int64
    assert result.mask.tolist() == [False, True, False, False]


def test_evaluate_where_missing_condition_picks_second_branch() -> None:
    result = parse("where(q, m, i)").evaluate(_columns(), N)
    # q = [True, NA, False, NA]; m = [10, NA, 30, 40]; i = [1, 2, 3, 4]
    assert _values(result) == [10, 2, 3, 4]


def test_evaluate_zero_rows_gives_empty_column() -> None:
    result = parse("a * 2 + 1").evaluate({"a": np.array([], dtype=float)}, 0)
    assert result.data.shape == (0,)
    assert result.mask is None


def test_evaluate_accepts_lists_and_unicode_arrays() -> None:
    result = parse("s + t").evaluate({"s": ["a", "b"], "t": np.array(["x", "y"])}, 2)
    assert result.data.tolist() == ["ax", "by"]


def test_evaluate_no_floating_point_warnings_leak() -> None:
    columns = {"a": np.array([0.0, -1.0, 1e308]), "i": np.array([0, 0, 1])}
    result = parse("a / a + sqrt(a) + log(a) + a * 1e308 + i // i + i % i + arcsin(a + 3)").evaluate(
        columns, 3
    )
    assert result.mask.tolist() == [True, True, True]


def test_import_expr_stays_light() -> None:
    code = (
        "import sys, engine.expr; heavy = {'numpy', 'pandas', 'joblib', 'dask', 'PySide6'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_arbitrary_text_raises_only_expr_error(text: str) -> None:
    try:
        expr = parse(text)
    except ExprError as error:
        assert error.position is None or 0 <= error.position <= len(text)
        error.pointer()
        return
    assert isinstance(expr, Expr)
    with contextlib.suppress(ExprError):
        expr.infer_type(None)


_TOKENS = ["a", "b", "1", "2.5", "'s'", "True", "+", "-", "*", "/", "//", "%", "**", "(", ")", "<", "==", "&"]
_TOKENS += ["|", "~", "not ", " and ", "sqrt(", "where(", ",", "isnull(", "col('a')", " ", "round(", "é"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))
def test_parse_token_soup_raises_only_expr_error_and_evaluates(text: str) -> None:
    try:
        expr = parse(text)
        expr.infer_type({"a": "float64", "b": "int64"})
        columns = {"a": np.array([1.0, NAN, -2.0, 0.0]), "b": np.array([0, 1, -3, 7])}
        result = expr.evaluate(columns, N)
    except ExprError:
        return
    assert len(result.data) == N


_FLOATS = hnp.arrays(
    np.float64,
    6,
    elements=st.floats(-1e6, 1e6) | st.just(NAN) | st.sampled_from([0.0, -0.0, 1.0, 2.0]),
)
_UFUNCS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "//": np.floor_divide,
    "%": np.remainder,
    "**": np.power,
}


@settings(max_examples=200, deadline=None)
@given(_FLOATS, _FLOATS, st.sampled_from(sorted(_UFUNCS)), st.sampled_from(sorted(_UFUNCS)))
def test_evaluate_float_arithmetic_matches_numpy(a: np.ndarray, b: np.ndarray, op1: str, op2: str) -> None:
    with np.errstate(all="ignore"):
        expected = _UFUNCS[op2](_UFUNCS[op1](a, b), a)
    result = parse(f"(a {op1} b) {op2} a").evaluate({"a": a, "b": b}, len(a))
    missing = np.isnan(a) | np.isnan(b) | np.isnan(expected)
    mask = np.zeros(len(a), bool) if result.mask is None else result.mask
    assert mask.tolist() == missing.tolist()
    np.testing.assert_array_equal(result.data[~missing], expected[~missing])
