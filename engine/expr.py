"""The safe expression language over table columns (FORMAT.md, "Expressions").

Opening a project someone else wrote must never run their code, so text is parsed with `ast`
(mode="eval") against a whitelist into a small tree of `_Node`s; nothing here calls Python's
`eval`, `exec` or `compile`, reads attributes or imports anything the text names.
`Expr.infer_type` checks types before any data is read; `Expr.evaluate` runs the tree vectorised
on NumPy, or on another namespace with the same functions (CuPy), with explicit missing masks.
NumPy is imported lazily, so `import engine.expr` stays cheap for validation and the GUI.
"""

from __future__ import annotations

import ast
import difflib
import functools
import operator
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = ["DTYPES", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "Column", "Expr", "ExprError", "parse"]

DTYPES = ("int64", "float64", "string", "bool", "datetime", "category")
MAX_LENGTH = 10_000  # characters; longer text is refused before parsing
MAX_DEPTH = 100  # nesting levels; keeps every recursive walk far from Python's recursion limit

_MATH = ("sqrt", "exp", "log", "log10", "log1p", "sin", "cos", "tan")
_MATH += ("arcsin", "arccos", "arctan", "floor", "ceil")
_ONE = (1, 1)
# The whitelist: name -> (min args, max args). `col("name")` is not listed: it is a column
# reference resolved while parsing, not a function over values.
FUNCTIONS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"abs": _ONE, **dict.fromkeys(_MATH, _ONE), "round": (1, 2), "clip": (3, 3), "where": (3, 3)}
    | {"isnull": _ONE, "notnull": _ONE, "minimum": (2, 2), "maximum": (2, 2)}
)
_NUMBER = ("int64", "float64")
_TOO_DEEP = f"expression is nested too deeply (more than {MAX_DEPTH} levels)"
_TEXT = ("string", "category")
_TIMEZONE = re.compile(r"\d(?:Z|[+-]\d\d:?\d\d)$")  # numpy only warns about these
_WARNINGS = threading.Lock()  # catch_warnings is process-wide: keep our own threads in line

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//"}
_BINARY |= {ast.Mod: "%", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|"}
_REFUSED_BINARY = {ast.BitXor: "^", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>"}
_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_REFUSED_COMPARE = {ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~", ast.Not: "not"}
_REFUSED = {
    ast.Attribute: "attribute access is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.Subscript: "subscripts (indexing) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.IfExp: "conditional expressions are not allowed; use where(cond, a, b)",
    ast.Dict: "dict literals are not allowed",
    ast.List: "list literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Starred: "starred expressions are not allowed",
    ast.Slice: "slices are not allowed",
    **dict.fromkeys(
        (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
        "comprehensions are not allowed",
    ),
}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_ARITH |= {"//": operator.floordiv, "%": operator.mod, "**": operator.pow}
_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le}
_CMP |= {">": operator.gt, ">=": operator.ge}


class ExprError(ValueError):
    """A refused or failing expression, with the 0-based character position of the problem."""

    def __init__(self, expression: str, message: str, position: int | None = None) -> None:
        super().__init__(expression, message, position)  # args mirror __init__, so it pickles
        self.expression = expression
        self.message = message
        self.position = position

    def _line(self) -> str:
        return self.expression.replace("\r", " ").replace("\n", " ")  # same length: carets align

    def __str__(self) -> str:
        where = "" if self.position is None else f" at column {self.position + 1}"
        return f"{self.message}{where} in `{self._line()}`"

    def pointer(self) -> str:
        """The expression and a caret under the problem, for a monospaced editor or terminal."""
        line = self._line()
        if self.position is None:
            return line
        pad = "".join("\t" if c == "\t" else " " for c in line[: self.position])
        return f"{line}\n{pad}^"


class Column(NamedTuple):
    """A result column: `data` has one value per row; `mask` is True where a value is missing."""

    data: Any
    mask: Any | None = None


class _Problem(Exception):
    """Raised inside the module; the public entry points turn it into an ExprError."""

    def __init__(self, message: str, pos: int | None) -> None:
        super().__init__(message)
        self.message, self.pos = message, pos


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # "column", "const", "unary", "binary", "compare", "logic" or "call"
    op: str  # column name, operator as written, or function name ("" for a constant)
    args: tuple[_Node, ...] = ()
    value: Any = None  # a constant's value; round()'s ndigits
    pos: int = 0  # where the sub-expression starts
    at: int = 0  # where its operator or function name is: errors about it point here


class _Reader:
    """Turns a Python AST into `_Node`s, refusing everything outside the whitelist."""

    def __init__(self, text: str, offset: int) -> None:
        self.text, self.offset = text, offset  # ast saw text[offset:]
        body = text[offset:]
        self.starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", body))]

    def char(self, lineno: int, col: int, *, chars: bool = False) -> int:
        """ast gives UTF-8 byte columns per line (SyntaxError: characters); we want characters."""
        lineno = min(max(lineno, 1), len(self.starts))
        start = self.starts[lineno - 1]
        end = self.starts[lineno] if lineno < len(self.starts) else len(self.text) - self.offset
        line = self.text[self.offset + start : self.offset + end]
        width = col if chars else len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))
        return min(self.offset + start + width, len(self.text))

    def pos(self, node: ast.AST) -> int:
        return self.char(node.lineno, node.col_offset)

    def end(self, node: ast.AST) -> int:
        return self.char(node.end_lineno or node.lineno, node.end_col_offset or 0)

    def syntax_pos(self, exc: SyntaxError) -> int:
        lineno, offset = exc.lineno or 1, exc.offset or 0
        if offset < 1:  # reported at the end of input: point just past the line's text
            found = re.compile(r"[\r\n]").search(self.text, self.char(lineno, 0))
            return found.start() if found else len(self.text)
        return self.char(lineno, offset - 1, chars=True)

    def find(self, start: int, end: int, symbol: str) -> int:
        """Where an operator sits between two operands (ast does not record it)."""
        i = start
        while i < end:
            if self.text[i] == "#":
                while i < end and self.text[i] not in "\r\n":
                    i += 1
            elif self.text.startswith(symbol, i):
                return i
            i += 1
        return start

    def read(self, node: ast.AST, depth: int = 0) -> _Node:
        if depth > MAX_DEPTH:
            raise _Problem(_TOO_DEEP, self.pos(node))
        if isinstance(node, ast.Constant):
            return self.constant(node)
        pos, depth = self.pos(node), depth + 1
        if isinstance(node, ast.Name):  # the raw text, not ast's NFKC-normalised id
            return _Node("column", self.text[pos : self.end(node)], pos=pos, at=pos)
        if isinstance(node, ast.BinOp):
            sym = _BINARY.get(type(node.op)) or _REFUSED_BINARY.get(type(node.op), "?")
            at = self.find(self.end(node.left), self.pos(node.right), sym)
            if type(node.op) not in _BINARY:
                hint = " (use ** for powers, & | ~ for logic)" if sym == "^" else ""
                raise _Problem(f"operator '{sym}' is not allowed{hint}", at)
            args = (self.read(node.left, depth), self.read(node.right, depth))
            kind = "logic" if sym in ("&", "|") else "binary"
            return _Node(kind, sym, args, pos=pos, at=at)
        if isinstance(node, ast.BoolOp):
            sym = "and" if isinstance(node.op, ast.And) else "or"
            at = self.find(self.end(node.values[0]), self.pos(node.values[1]), sym)
            args = tuple(self.read(v, depth) for v in node.values)
            return _Node("logic", sym, args, pos=pos, at=at)
        if isinstance(node, ast.UnaryOp):
            sym = _UNARY[type(node.op)]
            return _Node("unary", sym, (self.read(node.operand, depth),), pos=pos, at=pos)
        if isinstance(node, ast.Compare):
            return self.compare(node, pos, depth)
        if isinstance(node, ast.Call):
            return self.call(node, pos, depth)
        if isinstance(node, ast.Attribute):
            at = self.find(self.end(node.value), self.end(node), ".")
            raise _Problem(_REFUSED[ast.Attribute], at)
        if isinstance(node, ast.Subscript):
            raise _Problem(_REFUSED[ast.Subscript], self.find(self.end(node.value), self.end(node), "["))
        message = _REFUSED.get(type(node), f"{type(node).__name__.lower()} is not allowed")
        raise _Problem(message, pos)

    def constant(self, node: ast.Constant) -> _Node:
        value, pos = node.value, self.pos(node)
        if value is None:
            raise _Problem("None is not allowed; use isnull(x) or notnull(x)", pos)
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise _Problem("integer literal is too large for int64", pos)
        if isinstance(value, bytes | complex) or value is ...:
            what = {bytes: "bytes literals are", complex: "complex numbers are"}.get(type(value), "'...' is")
            raise _Problem(f"{what} not allowed", pos)
        return _Node("const", "", value=value, pos=pos, at=pos)

    def compare(self, node: ast.Compare, pos: int, depth: int) -> _Node:
        operands = [node.left, *node.comparators]
        ats = []
        for a, op, b in zip(operands, node.ops, operands[1:], strict=False):
            word = _COMPARE.get(type(op)) or _REFUSED_COMPARE[type(op)]
            ats.append(self.find(self.end(a), self.pos(b), word.split()[0]))
            if type(op) in _REFUSED_COMPARE:
                hint = "; use == or isnull(x)" if word.startswith("is") else ""
                raise _Problem(f"'{word}' is not allowed{hint}", ats[-1])
        nodes = [self.read(o, depth) for o in operands]
        pairs = tuple(
            _Node("compare", _COMPARE[type(op)], (a, b), pos=a.pos, at=at)
            for a, op, b, at in zip(nodes, node.ops, nodes[1:], ats, strict=False)
        )  # `1 < a < 3` means (1 < a) and (a < 3)
        return pairs[0] if len(pairs) == 1 else _Node("logic", "and", pairs, pos=pos, at=ats[0])

    def call(self, node: ast.Call, pos: int, depth: int) -> _Node:
        if not isinstance(node.func, ast.Name):
            self.read(node.func, depth)  # refuses attributes, subscripts, ...
            raise _Problem("only the listed functions can be called", pos)
        name, args = node.func.id, node.args
        if node.keywords:
            raise _Problem("keyword arguments are not allowed", self.pos(node.keywords[0]))
        for arg in args:
            if isinstance(arg, ast.Starred):
                raise _Problem("starred arguments are not allowed", self.pos(arg))
        if name == "col":
            arg = args[0] if len(args) == 1 else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value):
                where = self.pos(args[0]) if args else pos
                raise _Problem('col() takes one string literal, e.g. col("unit price")', where)
            return _Node("column", args[0].value, pos=pos, at=pos)
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"functions: {', '.join(FUNCTIONS)}, col"
            raise _Problem(f"unknown function '{name}' ({hint})", pos)
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            count = str(low) if low == high else f"{low} or {high}"
            plural = "" if count == "1" else "s"
            raise _Problem(f"{name}() takes {count} argument{plural} (got {len(args)})", pos)
        ndigits = None
        if name == "round" and len(args) == 2:
            ndigits, args = _int_literal(args[1]), args[:1]
            if ndigits is None:
                raise _Problem("round() takes a whole-number literal for ndigits", self.pos(node.args[1]))
        return _Node("call", name, tuple(self.read(a, depth) for a in args), ndigits, pos=pos, at=pos)


def _int_literal(node: ast.AST) -> int | None:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign, node = (-1 if isinstance(node.op, ast.USub) else 1), node.operand
    ok = isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) < 2**31
    return sign * node.value if ok else None  # type: ignore[attr-defined]


def parse(text: str) -> Expr:
    """Parse and whitelist an expression; raises only ExprError. Results are cached."""
    if not isinstance(text, str):
        raise ExprError(repr(text), f"an expression must be text, not {type(text).__name__}")
    return _parse(text)


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> Expr:
    if len(text) > MAX_LENGTH:
        raise ExprError(text, f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})")
    if "\0" in text:
        raise ExprError(text, "null characters are not allowed", text.index("\0"))
    body = text.lstrip(" \t\f\r\n")  # leading blanks would be an IndentationError
    if not body.strip():
        raise ExprError(text, "empty expression", 0)
    reader = _Reader(text, len(text) - len(body))
    try:
        with _WARNINGS, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences in string literals
            tree = ast.parse(body, mode="eval")
        root = reader.read(tree.body)
    except SyntaxError as exc:
        raise ExprError(text, exc.msg or "invalid syntax", reader.syntax_pos(exc)) from None
    except (RecursionError, MemoryError):
        raise ExprError(text, _TOO_DEEP) from None
    except ValueError as exc:  # e.g. lone surrogates the parser cannot encode
        raise ExprError(text, f"unreadable expression: {exc}", None) from None
    except _Problem as p:
        raise ExprError(text, p.message, p.pos) from None
    first: dict[str, int] = {}
    _walk_columns(root, first)
    return Expr(text, tuple(first), root, MappingProxyType(first))


def _walk_columns(node: _Node, first: dict[str, int]) -> None:
    if node.kind == "column":
        first.setdefault(node.op, node.pos)
    for arg in node.args:
        _walk_columns(arg, first)


@dataclass(frozen=True, slots=True)
class Expr:
    """A parsed, whitelisted expression; immutable, so parse() can share it from its cache."""

    text: str
    columns: tuple[str, ...]  # distinct column names, in order of first appearance
    _root: _Node = field(repr=False, compare=False)
    _first: Mapping[str, int] = field(repr=False, compare=False)  # column -> first position

    def infer_type(self, schema: Mapping[str, str | None] | None) -> str | None:
        """The result dtype, or None when it can't be known; raises ExprError on type errors.

        `schema` maps column -> dtype (names outside DTYPES count as unknown); None means the
        columns are unknown, so only literals and operator rules are checked. Exceptions to the
        static result: int64 `//`, `%` by zero and `**` by a negative number give float64 data.
        Arithmetic on datetime (even datetime - datetime) and on bool is refused.
        """
        try:
            return _Typer(None if schema is None else dict(schema)).type(self._root)
        except _Problem as p:
            raise ExprError(self.text, p.message, p.pos) from None

    def evaluate(self, columns: Mapping[str, Any], length: int, xp: Any = None) -> Column:
        """Evaluate on whole arrays; the result has `length` rows and may share input memory.

        Values are NumPy (or `xp`) arrays or Columns. Missing: a mask, NaN, NaT, or None/NaN/NA
        in object arrays. Object arrays of str are strings; of bool, int or numbers they become
        bool, int64 or float64 with a mask. A missing where() condition picks the `b` branch.
        The types are checked first (like infer_type) from the arrays' dtypes.
        """
        import numpy as np

        xp = np if xp is None else xp
        try:
            values: dict[str, tuple[Any, Any]] = {}
            schema: dict[str, str | None] = dict.fromkeys(columns)
            for name in self.columns:
                if name in columns:
                    values[name], schema[name] = _load(np, xp, name, columns[name], length, self._first[name])
            _Typer(schema).type(self._root)
            with np.errstate(all="ignore"):
                data, mask = _Evaluator(np, xp, values).run(self._root)
                return _finish(np, xp, data, mask, length)
        except _Problem as p:
            raise ExprError(self.text, p.message, p.pos) from None
        except ExprError:
            raise
        except Exception as exc:  # anything the array library raised outside a node
            raise ExprError(self.text, f"evaluation failed: {exc}") from None


_CONST_TYPES = {bool: "bool", int: "int64", float: "float64", str: "string"}


def _group(dtype: str | None) -> str | None:
    return "number" if dtype in _NUMBER else "text" if dtype in _TEXT else dtype


def _date(np: Any, node: _Node) -> Any:
    """A string literal compared with a datetime column, as numpy datetime64."""
    try:
        value = None if _TIMEZONE.search(node.value.strip()) else np.datetime64(node.value)
    except Exception:
        value = None
    if value is None or np.isnat(value):
        raise _Problem(f"'{node.value}' is not a date (write e.g. '2024-01-31')", node.pos)
    return value


class _Typer:
    """Static types; raises _Problem where the offending sub-expression is."""

    def __init__(self, schema: dict[str, str | None] | None) -> None:
        self.schema = schema

    def type(self, node: _Node) -> str | None:
        if node.kind == "const":
            return _CONST_TYPES[type(node.value)]
        if node.kind == "column":
            if self.schema is None:
                return None
            if node.op not in self.schema:
                close = difflib.get_close_matches(node.op, [str(c) for c in self.schema], n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise _Problem(f"unknown column '{node.op}'{hint}", node.pos)
            dtype = self.schema[node.op]
            return dtype if dtype in DTYPES else None
        types = [self.type(a) for a in node.args]
        return getattr(self, node.kind)(node, types)

    def need_bool(self, node: _Node, dtype: str | None, what: str) -> None:
        if dtype is not None and dtype != "bool":
            hint = " (add parentheses: (a > 1) & (b < 2))" if what in ("'&'", "'|'") else ""
            raise _Problem(f"{what} needs true/false values, but got {dtype}{hint}", node.pos)

    def unary(self, node: _Node, types: list[str | None]) -> str | None:
        if node.op in ("~", "not"):
            self.need_bool(node.args[0], types[0], f"'{node.op}'")
            return "bool"
        if types[0] is not None and types[0] not in _NUMBER:
            raise _Problem(f"'{node.op}' needs a number, but got {types[0]}", node.pos)
        return types[0]

    def binary(self, node: _Node, types: list[str | None]) -> str | None:
        op, groups = node.op, {_group(t) for t in types} - {None}
        for arg, dtype in zip(node.args, types, strict=True):
            if dtype in ("bool", "datetime") or (dtype in _TEXT and op != "+"):
                hint = {"bool": "; use where(cond, 1, 0)", "datetime": ""}.get(
                    dtype, " (only + joins strings)"
                )
                raise _Problem(f"'{op}' cannot be used on {dtype}{hint}", arg.pos)
        if "text" in groups:
            if "number" in groups:
                raise _Problem(f"'+' cannot join {types[0]} and {types[1]}", node.at)
            return "string"
        if op == "/":
            return "float64"
        return None if None in types else "int64" if types == ["int64", "int64"] else "float64"

    def compare(self, node: _Node, types: list[str | None]) -> str:
        (lt, rt), (left, right) = types, node.args
        for dtype, other in ((lt, right), (rt, left)):
            if dtype == "datetime" and other.kind == "const" and isinstance(other.value, str):
                import numpy as np

                _date(np, other)
                return "bool"
        if None not in types and _group(lt) != _group(rt):
            hint = " (compare with a date literal such as '2024-01-31')" if "datetime" in types else ""
            raise _Problem(f"cannot compare {lt} with {rt}{hint}", node.at)
        return "bool"

    def logic(self, node: _Node, types: list[str | None]) -> str:
        for arg, dtype in zip(node.args, types, strict=True):
            self.need_bool(arg, dtype, f"'{node.op}'")
        return "bool"

    def call(self, node: _Node, types: list[str | None]) -> str | None:
        name = node.op
        if name in ("isnull", "notnull"):
            return "bool"
        if name == "where":
            self.need_bool(node.args[0], types[0], "the where() condition")
            a, b = types[1:]
            if a is None or b is None or a == b:
                return a if a == b else None
            if _group(a) != _group(b):
                raise _Problem(f"where() branches have different types: {a} and {b}", node.at)
            return "float64" if a in _NUMBER else "string"
        for arg, dtype in zip(node.args, types, strict=True):
            if dtype is not None and dtype not in _NUMBER:
                raise _Problem(f"{name}() needs numbers, but got {dtype}", arg.pos)
        if name in _MATH:
            return "float64"
        return None if None in types else "int64" if set(types) == {"int64"} else "float64"


def _is_missing(value: Any) -> bool:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and value != value


def _load(np: Any, xp: Any, name: str, value: Any, length: int, pos: int) -> tuple[Any, str | None]:
    """One input column as (data, mask) plus its dtype name, missing values folded into the mask."""
    mask = None
    if isinstance(value, Column):
        value, mask = value.data, value.mask
    data = xp.asarray(value)
    if data.shape != (length,) or (mask is not None and xp.asarray(mask).shape != (length,)):
        raise _Problem(f"column '{name}' has shape {data.shape}, expected {length} rows", pos)
    mask = None if mask is None else xp.asarray(mask, dtype=bool)
    kind = data.dtype.kind
    if kind in "OUST":
        data = np.asarray(data, dtype=object)
        missing = np.fromiter(map(_is_missing, data), dtype=bool, count=length)
        if mask is not None:
            missing |= mask
        present = data[~missing]
        mask = missing if missing.any() else None
        if all(isinstance(v, str) for v in present):
            return (np.where(missing, "", data), mask), "string"
        if all(isinstance(v, bool | np.bool_) for v in present):
            return (np.where(missing, False, data).astype(bool), mask), "bool"
        if all(isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in present):
            return (np.where(missing, 0, data).astype(np.int64), mask), "int64"
        if all(isinstance(v, int | float | np.number) for v in present):
            return (np.where(missing, 0.0, data).astype(np.float64), mask), "float64"
        return (data, mask), None  # mixed values: unknown type, checked when computed
    mask = _union(mask, _bad(xp, data))
    dtype = {"f": "float64", "i": "int64", "u": "int64", "b": "bool", "M": "datetime"}.get(kind)
    return (data, mask), dtype


def _kind(data: Any) -> str:
    """The numpy dtype kind of an array or numpy scalar; "" for Python str constants."""
    return getattr(getattr(data, "dtype", None), "kind", "")


def _bad(xp: Any, data: Any) -> Any:
    """Where float or datetime data holds NaN/NaT (both count as missing), else None."""
    kind = _kind(data)
    return xp.isnan(data) if kind == "f" else xp.isnat(data) if kind == "M" else None


def _union(*masks: Any) -> Any:
    present = [m for m in masks if m is not None]
    return functools.reduce(operator.or_, present) if present else None


class _Evaluator:
    """Walks the tree; every value is (data, mask) with data an array or a scalar to broadcast."""

    def __init__(self, np: Any, xp: Any, values: dict[str, tuple[Any, Any]]) -> None:
        self.np, self.xp, self.values = np, xp, values

    def run(self, node: _Node) -> tuple[Any, Any]:
        if node.kind == "column":
            return self.values[node.op]
        if node.kind == "const":
            value, np = node.value, self.np
            convert = {bool: np.bool_, int: np.int64, float: np.float64, str: str}[type(value)]
            return convert(value), None
        args = [self.run(a) for a in node.args]
        try:
            return getattr(self, node.kind)(node, args)
        except _Problem:
            raise
        except Exception as exc:  # a numpy/cupy failure: name the sub-expression
            raise _Problem(f"cannot compute '{node.op}': {exc}", node.at) from None

    def any(self, cond: Any, mask: Any) -> bool:
        return bool((cond if mask is None else cond & ~mask).any())

    def unary(self, node: _Node, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        data, mask = args[0]
        if node.op in ("~", "not"):
            return self.xp.logical_not(data), mask
        return (-data if node.op == "-" else data), mask

    def binary(self, node: _Node, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        (a, ma), (b, mb) = args
        f64 = self.np.float64
        if _kind(a) in ("i", "u") and _kind(b) in ("i", "u"):  # where numpy's int rules differ from pandas'
            if node.op in ("//", "%") and self.any(b == 0, mb):
                a, b = a.astype(f64), b.astype(f64)
            elif node.op == "**":
                b = b if mb is None else self.xp.where(mb, 1, b)
                if self.any(b < 0, None):
                    a, b = a.astype(f64), b.astype(f64)
        return _ARITH[node.op](a, b), _union(ma, mb)

    def compare(self, node: _Node, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        (a, ma), (b, mb) = args
        left, right = node.args
        if _kind(a) == "M" and isinstance(b, str):
            b = _date(self.np, right)
        elif _kind(b) == "M" and isinstance(a, str):
            a = _date(self.np, left)
        result = _CMP[node.op](a, b)
        result = self.np.bool_(result) if isinstance(result, bool) else result
        mask = _union(ma, mb)
        if mask is None:
            return result, None
        return (result | mask if node.op == "!=" else result & ~mask), None

    def logic(self, node: _Node, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """Kleene logic: False & NA is False, True | NA is True, otherwise NA."""
        both = node.op in ("&", "and")
        data, mask = args[0]
        for other, other_mask in args[1:]:
            if mask is None and other_mask is None:
                data = data & other if both else data | other
                continue
            true_a, false_a = self.known(data, mask)
            true_b, false_b = self.known(other, other_mask)
            data = true_a & true_b if both else true_a | true_b
            false = false_a | false_b if both else false_a & false_b
            mask = self.xp.logical_not(data | false)
        return data, mask

    def known(self, data: Any, mask: Any) -> tuple[Any, Any]:
        xp = self.xp
        if mask is None:
            return data, xp.logical_not(data)
        present = xp.logical_not(mask)
        return data & present, xp.logical_not(data) & present

    def missing(self, data: Any, mask: Any) -> Any:
        found = _union(mask, _bad(self.xp, data))
        return self.np.bool_(False) if found is None else found

    def call(self, node: _Node, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        name, xp = node.op, self.xp
        if name in ("isnull", "notnull"):
            found = self.missing(*args[0])
            return (found if name == "isnull" else xp.logical_not(found)), None
        if name == "where":
            (cond, mc), (a, ma), (b, mb) = args
            pick = cond if mc is None else cond & xp.logical_not(mc)  # a missing cond picks b
            a, b = (self.np.asarray(v, dtype=object) if isinstance(v, str) else v for v in (a, b))
            if ma is None and mb is None:
                return xp.where(pick, a, b), None
            return xp.where(pick, a, b), xp.where(
                pick, False if ma is None else ma, False if mb is None else mb
            )
        data = [d for d, _ in args]
        mask = _union(*(m for _, m in args))
        if name in _MATH:
            return getattr(xp, name)(data[0].astype(self.np.float64, copy=False)), mask  # no copy of floats
        if name == "abs":
            return xp.abs(data[0]), mask
        if name == "round":
            return xp.around(data[0], node.value or 0), mask
        if name == "clip":
            return xp.minimum(xp.maximum(data[0], data[1]), data[2]), mask
        return getattr(xp, name)(data[0], data[1]), mask  # minimum, maximum


def _finish(np: Any, xp: Any, data: Any, mask: Any, length: int) -> Column:
    """Broadcast scalars to `length` rows; NaN/NaT made by the computation counts as missing."""
    if isinstance(data, str):
        data = np.full(length, data, dtype=object)
    data = xp.asarray(data)
    if data.ndim == 0:
        data = xp.broadcast_to(data, (length,)).copy()
    if mask is not None:
        mask = xp.asarray(mask, dtype=bool)
        mask = xp.broadcast_to(mask, (length,)).copy() if mask.ndim == 0 else mask
    mask = _union(mask, _bad(xp, data))
    if mask is not None and not bool(mask.any()):
        mask = None
    return Column(data, mask)
