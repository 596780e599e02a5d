"""The sandbox's query compiler: ConnectWise query parameters -> SQLite.

``conditions``, ``childConditions`` and ``customFieldConditions`` are tokenized, parsed
by recursive descent into a small AST, type-checked against the resource's
:class:`~cwsync.sandbox.model.Field` map and compiled to a boolean SQL expression over
a collection table (``id, parent_id, last_updated, body``) with every value bound as
a parameter. ``orderBy`` compiles to an ORDER BY body, and ``fields`` parses to a
:class:`FieldSelection` that :func:`project` applies to records (partial responses).

Anything malformed raises :class:`ConditionError` (the server answers HTTP 400);
no other exception escapes, and the SQL produced always executes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import (
    ARRAY,
    BOOL,
    CUSTOM_FIELDS,
    DATETIME,
    INFO,
    INT,
    NUMBER,
    OBJECT,
    REF,
    STRING,
    Field,
)

__all__ = [
    "ConditionError",
    "FieldSelection",
    "compile_child_conditions",
    "compile_conditions",
    "compile_custom_field_conditions",
    "compile_order_by",
    "parse_fields",
    "project",
]

MAX_DEPTH = 64  # nested parentheses / prefix NOTs
MAX_PARAMS = 10_000  # bound values per parameter (SQLite allows 32766 per statement)
MAX_PATTERN_BYTES = 50_000  # SQLite's LIKE pattern length limit

ANY = "any"  # internal kind: a value whose JSON type is only known per record
_SCALARS = frozenset({INT, NUMBER, STRING, BOOL, DATETIME, ANY})
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "contains", "null", "true", "false"})
_ORDERING = frozenset({"<", "<=", ">", ">="})

# Labels every reference may be compared on, whatever its catalog entry lists.
_REF_LABELS = {
    "id": Field("id", INT),
    "name": Field("name", STRING),
    "identifier": Field("identifier", STRING),
}
# One element of a record's customFields array (the CustomFieldValue model).
_CUSTOM_FIELD_VALUE = {
    f.name: f
    for f in (
        Field("id", INT),
        Field("caption", STRING),
        Field("type", STRING),
        Field("entryMethod", STRING),
        Field("numberOfDecimals", INT),
        Field("value", ANY),
    )
}


class ConditionError(ValueError):
    """A malformed or ill-typed query parameter; the message is one line naming the parameter."""


def _fail(param: str, message: str, pos: int | None = None) -> ConditionError:
    where = "" if pos is None else f" at position {pos}"
    return ConditionError(f"{param}: {message}{where}")


def _show(text: str) -> str:
    """A token for an error message: quoted, one line, truncated."""
    body = repr(text[:40])[1:-1]
    return f"'{body}{'...' if len(text) > 40 else ''}'"


# -- datetimes -----------------------------------------------------------------------
_DATETIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d\d):?(\d\d))?",
    re.ASCII,
)


@dataclass(frozen=True)
class _Instant:
    """A datetime normalised to UTC: ``base`` to the second, ``exact`` with any fraction."""

    base: str  # "YYYY-MM-DDTHH:MM:SSZ"
    exact: str  # base, or "YYYY-MM-DDTHH:MM:SS.fffZ" when there are fractional seconds

    @property
    def fractional(self) -> bool:
        return self.base != self.exact


def _parse_instant(text: str) -> _Instant | None:
    m = _DATETIME.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = m.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
        if sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            moment -= offset if sign == "+" else -offset
    except (ValueError, OverflowError):
        return None
    base = moment.isoformat() + "Z"  # whole seconds, four-digit year
    digits = (fraction or "").rstrip("0")
    return _Instant(base, f"{base[:-1]}.{digits}Z" if digits else base)


# -- tokens ----------------------------------------------------------------------------
_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n\f\v]+)"
    r"|(?P<number>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op>!=|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])"
)
_ESCAPE = re.compile(r"\\([\"'\\])")


@dataclass(frozen=True)
class _Token:
    kind: str  # "word" | "number" | "string" | "datetime" | "op" | "(" | ")" | "," | "end"
    text: str  # the source text
    pos: int
    value: object = None  # decoded string, number or _Instant


def _tokenize(text: str, param: str) -> Iterator[_Token]:
    pos, end = 0, len(text)
    while pos < end:
        char = text[pos]
        if char in "\"'":
            token = _string_token(text, pos, param)
        elif char == "[":
            token = _datetime_token(text, pos, param)
        else:
            m = _TOKEN.match(text, pos)
            if m is None:
                raise _fail(param, f"unexpected character {_show(char)}", pos)
            kind, raw = m.lastgroup or "", m.group()
            if kind == "ws":
                pos = m.end()
                continue
            value = _number(raw, param, pos) if kind == "number" else None
            token = _Token(raw if kind == "punct" else kind, raw, pos, value)
        yield token
        pos += len(token.text)
    yield _Token("end", "", end)


def _string_token(text: str, start: int, param: str) -> _Token:
    """A quoted string; backslash escapes \\" \\' \\\\, other escapes keep their backslash."""
    quote, i = text[start], start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    if i >= len(text):
        raise _fail(param, "unterminated string", start)
    raw = text[start : i + 1]
    return _Token("string", raw, start, _ESCAPE.sub(r"\1", raw[1:-1]))


def _datetime_token(text: str, start: int, param: str) -> _Token:
    close = text.find("]", start)
    if close < 0:
        raise _fail(param, "unterminated datetime", start)
    raw = text[start : close + 1]
    instant = _parse_instant(raw[1:-1])
    if instant is None:
        raise _fail(param, f"invalid datetime {_show(raw)}", start)
    return _Token("datetime", raw, start, instant)


def _number(text: str, param: str, pos: int) -> int | float:
    if "." not in text:
        if len(text) > 20 or not -(2**63) <= int(text) < 2**63:
            raise _fail(param, f"number {_show(text)} is out of range", pos)
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise _fail(param, f"number {_show(text)} is out of range", pos)
    return value


# -- AST -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    """A resolved path: JSON keys (model spelling) under ``scope`` (an array, or body)."""

    keys: tuple[str, ...]
    kind: str
    scope: str = ""


@dataclass(frozen=True)
class _Literal:
    kind: str  # "string" | "number" | "bool" | "null" | "datetime"
    value: object
    text: str
    pos: int


@dataclass(frozen=True)
class _Compare:
    target: _Target
    op: str  # = != < <= > >= contains like in
    negated: bool  # not contains / not like / not in
    value: _Literal | tuple[_Literal, ...]


@dataclass(frozen=True)
class _Logic:
    op: str  # "AND" | "OR"
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not:
    item: _Node


_Node = _Compare | _Logic | _Not
_Resolver = Callable[[str, int], _Target]


class _Parser:
    """Recursive descent over the tokens (keywords are case-insensitive)::

    expr       := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := path ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                | path ["not"] ("contains" | "like") value
                | path ["not"] "in" "(" value ("," value)* ")"
    value      := string | number | [datetime] | true | false | null
    """

    def __init__(self, text: str, param: str, resolve: _Resolver) -> None:
        self.tokens = list(_tokenize(text, param))
        self.i = 0
        self.depth = 0
        self.param = param
        self.resolve = resolve

    def parse(self) -> _Node:
        node = self._expr()
        if self._peek().kind != "end":
            raise self._unexpected(self._peek())
        return node

    # helpers
    def _peek(self) -> _Token:
        return self.tokens[self.i]

    def _next(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind == "word" and token.text.lower() == word:
            self.i += 1
            return True
        return False

    def _unexpected(self, token: _Token, expected: str = "") -> ConditionError:
        wanted = f", expected {expected}" if expected else ""
        if token.kind == "end":
            return _fail(self.param, f"unexpected end of input{wanted}", token.pos)
        return _fail(self.param, f"unexpected token {_show(token.text)}{wanted}", token.pos)

    def _nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(
                self.param, f"expression nested more than {MAX_DEPTH} levels deep", token.pos
            )

    # grammar
    def _expr(self) -> _Node:
        items = [self._and()]
        while self._keyword("or"):
            items.append(self._and())
        return items[0] if len(items) == 1 else _Logic("OR", tuple(items))

    def _and(self) -> _Node:
        items = [self._unary()]
        while self._keyword("and"):
            items.append(self._unary())
        return items[0] if len(items) == 1 else _Logic("AND", tuple(items))

    def _unary(self) -> _Node:
        token = self._next()
        if token.kind == "word" and token.text.lower() == "not":
            self._nest(token)
            node: _Node = _Not(self._unary())
        elif token.kind == "(":
            self._nest(token)
            node = self._expr()
            closing = self._next()
            if closing.kind != ")":
                raise self._unexpected(closing, "')'")
        elif token.kind == "word" and token.text.lower() not in _KEYWORDS:
            return self._comparison(token)
        else:
            raise self._unexpected(token, "a field name")
        self.depth -= 1
        return node

    def _comparison(self, path: _Token) -> _Compare:
        target = self.resolve(path.text, path.pos)
        token, negated = self._next(), False
        if token.kind == "word" and token.text.lower() == "not":
            negated, token = True, self._next()
            if token.kind != "word" or token.text.lower() not in ("contains", "like", "in"):
                raise self._unexpected(token, "contains, like or in after 'not'")
        if token.kind == "op":
            op = token.text
        elif token.kind == "word" and token.text.lower() in ("contains", "like", "in"):
            op = token.text.lower()
        else:
            raise self._unexpected(token, f"an operator after {_show(path.text)}")
        if op != "in":
            return _Compare(target, op, negated, self._value())
        token = self._next()
        if token.kind != "(":
            raise self._unexpected(token, "'(' after in")
        values = [self._value()]
        while (token := self._next()).kind == ",":
            values.append(self._value())
        if token.kind != ")":
            raise self._unexpected(token, "',' or ')'")
        return _Compare(target, op, negated, tuple(values))

    def _value(self) -> _Literal:
        token = self._next()
        if token.kind in ("string", "number", "datetime"):
            return _Literal(token.kind, token.value, token.text, token.pos)
        word = token.text.lower() if token.kind == "word" else ""
        if word in ("true", "false"):
            return _Literal("bool", word == "true", token.text, token.pos)
        if word == "null":
            return _Literal("null", None, token.text, token.pos)
        raise self._unexpected(token, "a value")


# -- paths -----------------------------------------------------------------------------
def _lookup(fields: Mapping[str, Field], name: str) -> tuple[str, Field] | None:
    """Case-insensitive field lookup, preferring an exact match."""
    found = fields.get(name)
    if found is not None:
        return name, found
    folded = name.lower()
    for key, value in fields.items():
        if key.lower() == folded:
            return key, value
    return None


def _children(field: Field) -> Mapping[str, Field] | None:
    """What a path may continue into below ``field``; None when any key is accepted
    (an object the model leaves undescribed, like a reference's ``_info``)."""
    if field.kind == REF:
        return {**_REF_LABELS, **field.children}
    if field.kind == CUSTOM_FIELDS:
        return _CUSTOM_FIELD_VALUE
    if field.kind in (OBJECT, INFO):
        return field.children or None
    return field.children if field.kind == ARRAY else {}


_Chain = list[tuple[str, Field | None]]


def _walk(segments: list[str], fields: Mapping[str, Field], *, top: bool) -> _Chain | None:
    """Resolve path segments to ``(key, field)`` pairs (field None below an open object)."""
    if top and len(segments) == 1 and segments[0].lower() == "lastupdated":
        if _lookup(fields, "lastUpdated") is None and "_info" in fields:
            segments = ["_info", "lastUpdated"]  # ConnectWise accepts both spellings
    chain: _Chain = []
    children: Mapping[str, Field] | None = fields
    for segment in segments:
        if children is None:
            chain.append((segment, None))
            continue
        hit = _lookup(children, segment)
        if hit is None:
            return None
        chain.append(hit)
        children = _children(hit[1])
    return chain


def _scalar_target(
    chain: _Chain | None, path: str, param: str, pos: int, scope: str = ""
) -> _Target:
    """Check that a resolved path ends at a comparable value and crosses no array."""
    if chain is None:
        raise _fail(param, f"unknown field {_show(path)}", pos)
    keys = tuple(key for key, _ in chain)
    for index, (_, field) in enumerate(chain):
        kind = field.kind if field else ANY
        shown = "/".join(keys[: index + 1])
        if kind == CUSTOM_FIELDS:
            raise _fail(param, f"{_show(shown)} is searched with customFieldConditions", pos)
        if kind == ARRAY:
            raise _fail(param, f"{_show(shown)} is an array; search it with childConditions", pos)
        if index == len(chain) - 1 and kind not in _SCALARS:
            raise _fail(param, f"{_show(shown)} is an object; compare one of its fields", pos)
    return _Target(keys, kind, scope)


# -- SQL -------------------------------------------------------------------------------
_SAFE_KEY = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class _Column:
    sql: str  # expression yielding the value
    kind: str
    name: str  # the path, for messages
    type_sql: str = ""  # json_type(...) of the value, for ANY columns


def _json_path(keys: tuple[str, ...]) -> str:
    if not all(_SAFE_KEY.fullmatch(k) for k in keys):  # model spellings; never user text
        raise ConditionError(f"unsupported field name in {'/'.join(keys)!r}")
    return "$" + "".join(f'."{k}"' for k in keys)


def _json_column(source: str, target: _Target) -> _Column:
    path = _json_path(target.keys)
    sql, type_sql = f"json_extract({source}, '{path}')", f"json_type({source}, '{path}')"
    return _Column(sql, target.kind, "/".join(target.keys), type_sql)


def _body_column(target: _Target) -> _Column:
    if target.keys == ("id",):
        return _Column("id", target.kind, "id")
    if target.keys == ("_info", "lastUpdated"):
        return _Column("last_updated", target.kind, "_info/lastUpdated")
    return _json_column("body", target)


def _element_column(target: _Target) -> _Column:
    return _json_column("je.value", target)


# JSON types an ANY column must hold for each comparison flavour.
_GUARDS = {
    "num": "'integer', 'real'",
    "bool": "'true', 'false'",
    "text": "'text', 'integer', 'real'",
    "time": "'text'",
}
_WHAT = {"string": "a string", "number": "a number", "bool": "a boolean", "datetime": "a datetime"}


_LOOKS_LIKE_DATE = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"


def _guard(column: _Column, flavour: str, sql: str) -> str:
    """For ANY columns, only values of a comparable JSON type take part."""
    if column.kind != ANY:
        return sql
    if flavour == "time":  # text that is not a date is not "after" a datetime
        sql = f"{column.sql} GLOB {_LOOKS_LIKE_DATE} AND {sql}"
    return f"({column.type_sql} IN ({_GUARDS[flavour]}) AND {sql})"


def _coerce(column: _Column, lit: _Literal, param: str) -> tuple[str, object]:
    """Type-check ``lit`` against the column: ``(flavour, value)``, flavour being how
    the two compare (num, bool, text or time)."""
    kind = column.kind
    if kind in (INT, NUMBER) or (kind == ANY and lit.kind == "number"):
        if lit.kind == "number":
            return "num", lit.value
    elif kind == BOOL or (kind == ANY and lit.kind == "bool"):
        if lit.kind == "bool":
            return "bool", int(bool(lit.value))
    elif kind in (STRING, ANY):
        if lit.kind == "string":
            return "text", lit.value
        if lit.kind == "number":
            return "text", lit.text
        if lit.kind == "datetime":
            return "time", lit.value
    elif kind == DATETIME:
        if lit.kind == "datetime":
            return "time", lit.value
        if lit.kind == "string":
            instant = _parse_instant(str(lit.value))
            if instant is None:
                raise _fail(param, f"{_show(lit.text)} is not a datetime", lit.pos)
            return "time", instant
    message = (
        f"cannot compare {kind} field {_show(column.name)} with {_WHAT[lit.kind]} {_show(lit.text)}"
    )
    raise _fail(param, message, lit.pos)


def _operand(column: _Column, op: str, lit: _Literal, param: str) -> tuple[str, str, object]:
    """-> (flavour, operator, bound value); a datetime with a fraction of a second is
    compared so that whole-second stored values order correctly against it."""
    flavour, value = _coerce(column, lit, param)
    if not isinstance(value, _Instant):
        return flavour, op, value
    if value.fractional and op in _ORDERING:
        return flavour, (">" if op.startswith(">") else "<="), value.base
    return flavour, op, value.exact


def _scalar_sql(column: _Column, op: str, lit: _Literal, param: str) -> tuple[str, list]:
    flavour, op, value = _operand(column, op, lit, param)
    lhs, collate = column.sql, ""
    if flavour == "text":  # SQL Server's default collation is case-insensitive
        collate = " COLLATE NOCASE"
        lhs = f"CAST({lhs} AS TEXT)" if column.kind == ANY else lhs
    return _guard(column, flavour, f"{lhs} {op} ?{collate}"), [value]


def _like_pattern(text: str, *, contains: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = re.sub(r"\*+", "%", escaped)
    return f"%{pattern}%" if contains else pattern


def _pattern_sql(
    column: _Column, op: str, lit: _Literal, negated: bool, param: str
) -> tuple[str, list]:
    if column.kind == BOOL:
        raise _fail(param, f"{op} cannot be used on boolean field {_show(column.name)}", lit.pos)
    if lit.kind not in ("string", "number"):
        raise _fail(param, f"{op} needs a quoted string, not {_show(lit.text)}", lit.pos)
    text = lit.value if lit.kind == "string" else lit.text
    pattern = _like_pattern(str(text), contains=op == "contains")
    if len(pattern.encode()) > MAX_PATTERN_BYTES:
        raise _fail(param, f"{op} pattern is too long", lit.pos)
    sql = _guard(column, "text", f"{column.sql} LIKE ? ESCAPE '\\'")
    return (f"NOT ({sql})" if negated else sql), [pattern]


def _in_sql(column: _Column, values: tuple[_Literal, ...], param: str) -> tuple[str, list]:
    if any(v.kind == "null" for v in values):
        raise _fail(param, "null cannot be used in an in list", values[0].pos)
    if column.kind == ANY:  # each value may meet a different JSON type
        return _join("OR", [_scalar_sql(column, "=", v, param) for v in values])
    operands = [_operand(column, "=", v, param) for v in values]
    collate = " COLLATE NOCASE" if any(flavour == "text" for flavour, _, _ in operands) else ""
    marks = ", ".join("?" * len(operands))
    return f"{column.sql}{collate} IN ({marks})", [value for _, _, value in operands]


def _compare_sql(node: _Compare, column: _Column, param: str) -> tuple[str, list]:
    op, value = node.op, node.value
    if isinstance(value, tuple):
        sql, params = _in_sql(column, value, param)
        return (f"NOT ({sql})" if node.negated else sql), params
    if value.kind == "null":
        if op not in ("=", "!="):
            raise _fail(param, f"null can only be compared with = or !=, not {op}", value.pos)
        return f"{column.sql} IS {'NOT ' if op == '!=' else ''}NULL", []
    if op in ("contains", "like"):
        return _pattern_sql(column, op, value, node.negated, param)
    if op in ("=", "!=") and value.kind == "string" and "*" in str(value.value):
        if column.kind in (STRING, DATETIME, ANY):  # "Accepts *'s for Wild Cards"
            return _pattern_sql(column, "like", value, op == "!=", param)
    return _scalar_sql(column, op, value, param)


def _join(op: str, parts: list[tuple[str, list]]) -> tuple[str, list]:
    """Combine as a balanced tree, so long chains stay under SQLite's depth limit."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left, right = _join(op, parts[:middle]), _join(op, parts[middle:])
    return f"({left[0]} {op} {right[0]})", left[1] + right[1]


def _to_sql(node: _Node, leaf: Callable[[_Compare], tuple[str, list]]) -> tuple[str, list]:
    if isinstance(node, _Compare):
        return leaf(node)
    if isinstance(node, _Not):
        sql, params = _to_sql(node.item, leaf)
        return f"NOT ({sql})", params
    return _join(node.op, [_to_sql(item, leaf) for item in node.items])


def _check_text(text: object, param: str) -> str:
    if not isinstance(text, str):
        raise _fail(param, f"expected text, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(param, "invalid character", exc.start) from None
    return text


def _finish(sql: str, params: list, param: str) -> tuple[str, list]:
    if len(params) > MAX_PARAMS:
        raise _fail(param, f"too many values ({len(params)}; at most {MAX_PARAMS})")
    return f"({sql})", params


def _each(array: str, where: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM json_each(body, '{_json_path((array,))}') AS je"
        f" WHERE je.type = 'object' AND {where})"
    )


# -- public API ------------------------------------------------------------------------
def compile_conditions(
    text: str, fields: Mapping[str, Field], *, param: str = "conditions"
) -> tuple[str, list]:
    """-> (SQL boolean expression usable in WHERE, bound parameters list)."""
    if not _check_text(text, param).strip():
        return "1", []

    def resolve(path: str, pos: int) -> _Target:
        return _scalar_target(_walk(path.split("/"), fields, top=True), path, param, pos)

    node = _Parser(text, param, resolve).parse()
    return _finish(*_to_sql(node, lambda c: _compare_sql(c, _body_column(c.target), param)), param)


def compile_child_conditions(text: str, fields: Mapping[str, Field]) -> tuple[str, list]:
    """childConditions: paths start with an array of objects; comparisons over one array
    share a single EXISTS, so they must all hold for the same element."""
    param = "childConditions"
    if not _check_text(text, param).strip():
        return "1", []
    scopes: set[str] = set()  # the arrays the expression searches

    def resolve(path: str, pos: int) -> _Target:
        head, *rest = path.split("/")
        hit = _lookup(fields, head)
        if hit is None:
            raise _fail(param, f"unknown field {_show(path)}", pos)
        array, field = hit
        if field.kind != ARRAY or not field.children:
            raise _fail(param, f"{_show(array)} is not an array of objects", pos)
        if not rest:
            raise _fail(param, f"name a field of each {_show(array)} element, e.g. {array}/id", pos)
        scopes.add(array)
        return _scalar_target(_walk(rest, field.children, top=False), path, param, pos, scope=array)

    node = _Parser(text, param, resolve).parse()
    if len(scopes) == 1:
        sql, params = _to_sql(node, lambda c: _compare_sql(c, _element_column(c.target), param))
        return _finish(_each(scopes.pop(), sql), params, param)

    def leaf(c: _Compare) -> tuple[str, list]:
        sql, params = _compare_sql(c, _element_column(c.target), param)
        return _each(c.target.scope, sql), params

    return _finish(*_to_sql(node, leaf), param)


def compile_custom_field_conditions(text: str) -> tuple[str, list]:
    """customFieldConditions over the CustomFieldValue properties (id, caption, type,
    entryMethod, numberOfDecimals, value), all holding for one customFields element."""
    param = "customFieldConditions"
    if not _check_text(text, param).strip():
        return "1", []

    def resolve(path: str, pos: int) -> _Target:
        return _scalar_target(
            _walk(path.split("/"), _CUSTOM_FIELD_VALUE, top=False), path, param, pos
        )

    node = _Parser(text, param, resolve).parse()
    sql, params = _to_sql(node, lambda c: _compare_sql(c, _element_column(c.target), param))
    return _finish(_each("customFields", sql), params, param)


_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")


def compile_order_by(text: str, fields: Mapping[str, Field]) -> str:
    """``orderBy`` -> ORDER BY body (without the words), ``id`` last as tiebreaker."""
    param = "orderBy"
    if not _check_text(text, param).strip():
        return "id"
    terms: list[str] = []
    directions: list[str] = []
    has_id = False
    offset = 0
    for item in text.split(","):
        pos = offset + len(item) - len(item.lstrip())
        offset += len(item) + 1
        words = item.split()
        if not words:
            raise _fail(param, "empty sort key", pos)
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise _fail(param, f"expected 'field [asc|desc]', got {_show(item.strip())}", pos)
        path = words[0]
        chain = _walk(path.split("/"), fields, top=True) if _PATH.fullmatch(path) else None
        target = _scalar_target(chain, path, param, pos)
        column = _body_column(target)
        direction = words[1].upper() if len(words) == 2 else "ASC"
        collate = " COLLATE NOCASE" if target.kind in (STRING, ANY) else ""
        terms.append(f"{column.sql}{collate} {direction}")
        directions.append(direction)
        has_id = has_id or column.sql == "id"
    if not has_id:
        terms.append(f"id {directions[0]}")
    return ", ".join(terms)


class FieldSelection:
    """A parsed ``fields=`` parameter: the keys to keep, each mapping to the selection
    below it, or to None to keep the whole value. ``fold_case`` marks a level the model
    does not describe, whose keys are matched case-insensitively (stored lower-cased)."""

    __slots__ = ("keys", "fold_case")

    def __init__(self, fold_case: bool = False) -> None:
        self.keys: dict[str, FieldSelection | None] = {}
        self.fold_case = fold_case

    def __repr__(self) -> str:
        return f"FieldSelection({self.keys!r})"

    def _add(self, chain: _Chain) -> None:
        node = self
        for index, (key, field) in enumerate(chain):
            key = key.lower() if node.fold_case else key
            if index == len(chain) - 1:
                node.keys[key] = None
                return
            if key in node.keys and node.keys[key] is None:
                return  # the whole value is already selected
            sub = node.keys.get(key)
            if sub is None:
                sub = node.keys[key] = FieldSelection(field is None or _children(field) is None)
            node = sub


def parse_fields(text: str, fields: Mapping[str, Field]) -> FieldSelection:
    """``fields=id,name,status/id,_info/lastUpdated`` -> a selection; paths the model does
    not know are ignored, as ConnectWise returns only what exists."""
    selection = FieldSelection()
    for item in _check_text(text, "fields").split(","):
        path = item.strip()
        if _PATH.fullmatch(path):
            chain = _walk(path.split("/"), fields, top=True)
            if chain:
                selection._add(chain)
    return selection


def project(record: dict, selection: FieldSelection) -> dict:
    """The partial response: only the selected paths, in record order; absent keys stay absent.
    Selections below an array apply to each of its object elements."""
    keys, fold = selection.keys, selection.fold_case
    out = {}
    for key, value in record.items():
        name = key.lower() if fold else key
        if name not in keys:
            continue
        sub = keys[name]
        if sub is None or value is None:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = project(value, sub)
        elif isinstance(value, list):
            out[key] = [project(v, sub) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out
