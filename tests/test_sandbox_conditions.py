"""The sandbox's query compiler, run against a real in-memory SQLite table."""

from __future__ import annotations

import json
import random
import sqlite3
import time

import pytest

from cwsync.sandbox.conditions import (
    ConditionError,
    compile_child_conditions,
    compile_conditions,
    compile_custom_field_conditions,
    compile_order_by,
    parse_fields,
    project,
)
from cwsync.sandbox.model import (
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


def _fields(**kinds: str | Field) -> dict[str, Field]:
    return {k: v if isinstance(v, Field) else Field(k, v) for k, v in kinds.items()}


BOARD = Field("board", REF, children=_fields(id=INT, name=STRING, _info=Field("_info", INFO)))
FIELDS = _fields(
    id=INT,
    summary=STRING,
    closedFlag=BOOL,
    hours=NUMBER,
    requiredDate=DATETIME,
    board=BOARD,
    status=Field("status", REF),  # a reference whose labels the catalog does not list
    address=Field("address", OBJECT, children=_fields(city=STRING)),
    communicationItems=Field(
        "communicationItems",
        ARRAY,
        children=_fields(value=STRING, communicationType=STRING, defaultFlag=BOOL),
    ),
    sites=Field("sites", ARRAY, children=_fields(name=STRING)),
    tags=Field("tags", ARRAY),  # an array of scalars
    _info=Field("_info", INFO, children=_fields(lastUpdated=DATETIME, updatedBy=STRING)),
    customFields=Field("customFields", CUSTOM_FIELDS),
)


def _record(id: int, updated: str, **body: object) -> dict:
    board = body.pop("board", None)
    if board:
        bid, name = board
        href = f"https://x/service/boards/{bid}"
        body["board"] = {"id": bid, "name": name, "_info": {"board_href": href}}
    return {"id": id, **body, "_info": {"lastUpdated": updated, "updatedBy": "admin"}}


def _seats(value: object = None, vip: object = None) -> list[dict]:
    def cf(id: int, caption: str, type: str, value: object) -> dict:
        item = {"id": id, "caption": caption, "type": type, "entryMethod": "EntryField"}
        return {**item, "numberOfDecimals": 0, **({} if value is None else {"value": value})}

    return [cf(1, "Seats", "Text", value), cf(2, "Vip", "Checkbox", vip)]


def _items(*pairs: tuple[str, str]) -> list[dict]:
    return [
        {"value": v, "communicationType": t, "defaultFlag": i == 0}
        for i, (v, t) in enumerate(pairs)
    ]


RECORDS = [
    _record(
        1, "2024-05-01T10:00:00Z", summary="Printer on fire", closedFlag=False, hours=1.5,
        requiredDate="2024-06-01T00:00:00Z", board=(1, "Help Desk"), status={"id": 10, "name": "New"},
        address={"city": "Tampa"}, tags=["a", "b"],
        communicationItems=_items(("john@outlook.com", "Email"), ("555-1234", "Phone")),
        sites=[{"name": "Main"}], customFields=_seats(12, True),
    ),
    _record(
        2, "2024-05-02T08:30:00Z", summary='He said "hi" \\ bye', closedFlag=True, hours=2,
        board=(2, "Integration"),
        communicationItems=_items(("john@outlook.com", "Phone"), ("x@y.com", "Email")),
        sites=[{"name": "Branch"}], customFields=_seats("Yes", False),
    ),
    _record(
        3, "2024-05-03T23:59:59Z", summary="Café crème 100% done_ok", closedFlag=True, hours=0.25,
        requiredDate="2024-04-01T00:00:00Z", board=(1, "HELP DESK"), customFields=_seats(3.5),
    ),
    _record(
        4, "2023-12-31T22:00:00Z", closedFlag=False, hours=-1, board=(3, "Professional Services"),
        communicationItems=_items(("ops@example.com", "Email")), customFields=_seats("12 units"),
    ),
    _record(
        5, "2024-05-01T10:00:01Z", summary="it's O'Brien's *star*", closedFlag=False, hours=10,
        board=(2, "Integration"), sites=[{"name": "Main"}],
        customFields=[{"id": 3, "caption": "Due", "type": "Date", "value": "2024-01-05T00:00:00Z"}],
    ),
    _record(6, "2024-05-04T00:00:00Z", summary="Unicode ☃ ünïcode", closedFlag=False, hours=3),
]  # fmt: skip


@pytest.fixture(scope="module")
def db() -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, parent_id INTEGER, last_updated TEXT, body TEXT)"
    )
    for r in RECORDS:
        con.execute(
            "INSERT INTO t VALUES (?, NULL, ?, ?)",
            (r["id"], r["_info"]["lastUpdated"], json.dumps(r)),
        )
    return con


def _ids(db: sqlite3.Connection, compiled: tuple[str, list]) -> list[int]:
    sql, params = compiled
    return [row[0] for row in db.execute(f"SELECT id FROM t WHERE {sql} ORDER BY id", params)]


def _ordered(db: sqlite3.Connection, order: str) -> list[int]:
    return [row[0] for row in db.execute(f"SELECT id FROM t ORDER BY {order}")]


# -- conditions -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers, case-insensitive field names and keywords
        ("id = 1", [1]),
        ("ID = 1", [1]),
        ("id != 1", [2, 3, 4, 5, 6]),
        ("id > 4", [5, 6]),
        ("id >= 4", [4, 5, 6]),
        ("id<2", [1]),
        ("id <= 2", [1, 2]),
        ("id < 2.5", [1, 2]),
        ("hours > 1.5", [2, 5, 6]),
        ("hours = 2", [2]),
        ("hours = -1", [4]),
        ("hours >= .25 and hours < 1", [3]),
        # strings compare case-insensitively
        ('Board/Name = "help desk"', [1, 3]),
        ("board/name = 'HELP DESK'", [1, 3]),
        ('board/name != "help desk"', [2, 4, 5]),
        ('board/name > "i"', [2, 4, 5]),
        ("board/id in (1, 3)", [1, 3, 4]),
        ("board/id not in (1,3)", [2, 5]),
        ('board/name IN ("integration", "Help Desk")', [1, 2, 3, 5]),
        ('board/name Not In ("integration")', [1, 3, 4]),
        # like / contains / wildcards
        ('summary like "printer*"', [1]),
        ('summary LIKE "*FIRE"', [1]),
        ('summary like "printer"', []),
        ('summary like "PRINTER ON FIRE"', [1]),
        ('summary = "print*"', [1]),
        ('summary != "print*"', [2, 3, 5, 6]),
        ('summary contains "on fi"', [1]),
        ('summary not contains "i"', [3]),
        ('summary contains "100%"', [3]),
        ('summary contains "0%"', [3]),
        ('summary like "*100_*"', []),
        ('summary like "*done_ok"', [3]),
        ('summary like "*e*e*"', [1, 2, 3, 6]),
        # escapes of quotes and backslashes
        ('summary = "He said \\"hi\\" \\\\ bye"', [2]),
        ("summary = 'he said \"hi\" \\\\ BYE'", [2]),
        ('summary contains "\\\\"', [2]),
        ("summary = 'it\\'s O\\'Brien\\'s *star*'", [5]),
        ('summary contains "O\'Brien"', [5]),
        ('summary like "*\\"hi\\"*"', [2]),
        # unicode
        ('summary contains "☃"', [6]),
        ('summary contains "CAFé CRèME"', [3]),
        ('summary = "unicode ☃ ünïcode"', [6]),
        # the lastUpdated alias, datetimes, offsets, fractions
        ("lastUpdated > [2024-05-01T10:00:00Z]", [2, 3, 5, 6]),
        ("LastUpdated >= [2024-05-01T10:00:00Z]", [1, 2, 3, 5, 6]),
        ("_info/lastUpdated > [2024-05-01T10:00:00Z]", [2, 3, 5, 6]),
        ("_Info/LastUpdated < [2024-01-01T00:00:00Z]", [4]),
        ("lastUpdated = [2024-05-01T12:00:00+02:00]", [1]),
        ("lastUpdated = [2024-05-01T05:00:00-0500]", [1]),
        ("lastUpdated < [2024-01-01T00:00:00+01:00]", [4]),
        ("lastUpdated = [2024-05-01T10:00:00]", [1]),
        ("lastUpdated = [2024-05-01 10:00:00.000Z]", [1]),
        ("lastUpdated = [2024-05-01T10:00:00.5Z]", []),
        ("lastUpdated != [2024-05-01T10:00:00.5Z]", [1, 2, 3, 4, 5, 6]),
        ("lastUpdated > [2024-05-01T10:00:00.5Z] and id in (1, 5)", [5]),
        ("lastUpdated >= [2024-05-01T10:00:00.5Z] and id in (1, 5)", [5]),
        ("lastUpdated < [2024-05-01T10:00:00.5Z] and id in (1, 5)", [1]),
        ("lastUpdated <= [2024-05-01T10:00:00.5Z] and id in (1, 5)", [1]),
        ('lastUpdated = "2024-05-01T10:00:00Z"', [1]),
        ('lastUpdated like "2024-05-0*"', [1, 2, 3, 5, 6]),
        ("lastUpdated in ([2024-05-01T10:00:00Z], [2024-05-04])", [1, 6]),
        ("requiredDate < [2024-05-01]", [3]),
        ("requiredDate > [2024-05-01T00:00:00Z]", [1]),
        # nulls
        ("summary = null", [4]),
        ("summary != NULL", [1, 2, 3, 5, 6]),
        ("requiredDate = null", [2, 4, 5, 6]),
        ("status/id = null", [2, 3, 4, 5, 6]),
        ("closedFlag != null", [1, 2, 3, 4, 5, 6]),
        # booleans
        ("closedFlag = True", [2, 3]),
        ("ClosedFlag = false", [1, 4, 5, 6]),
        ("closedFlag != TRUE", [1, 4, 5, 6]),
        # precedence, parentheses, not
        ("id = 1 or id = 2 and id = 3", [1]),
        ("(id = 1 or id = 2) and id = 3", []),
        ("id = 1 or (id = 2 and closedFlag = true)", [1, 2]),
        ("((id = 1 or (id = 2)) and not (closedFlag = true))", [1]),
        ("not (id in (1, 2)) and not board/id = 3", [3, 5]),  # 6 has no board: NULL
        ("not not id = 2", [2]),
        ('id IN (1,2) AND summary NOT CONTAINS "said" OR Id = 6', [1, 6]),
        ("(((id = 1)))", [1]),
        # references, objects and undescribed objects
        ('status/name = "new"', [1]),
        ("status/identifier = null", [1, 2, 3, 4, 5, 6]),
        ('address/city = "tampa"', [1]),
        ('_info/updatedBy = "ADMIN" and id = 2', [2]),
        ('board/_info/board_href contains "boards/2"', [2, 5]),
        ('board/_info/board_href like "*/3"', [4]),
    ],
)
def test_conditions_match(db: sqlite3.Connection, text: str, expected: list[int]) -> None:
    assert _ids(db, compile_conditions(text, FIELDS)) == sorted(set(expected))


def test_conditions_sql_uses_indexed_columns_and_binds_values() -> None:
    sql, params = compile_conditions("id = 5 and lastUpdated > [2024-05-01T00:00:00Z]", FIELDS)
    assert "id = ?" in sql and "last_updated > ?" in sql and "json_extract" not in sql
    assert params == [5, "2024-05-01T00:00:00Z"]
    sql, params = compile_conditions('summary = "x\'); DROP TABLE t; --"', FIELDS)
    assert "DROP" not in sql and params == ["x'); DROP TABLE t; --"]
    # a model with a real top-level lastUpdated uses it rather than _info's
    own = {**FIELDS, "lastUpdated": Field("lastUpdated", DATETIME)}
    sql, _ = compile_conditions("lastupdated > [2024-01-01T00:00:00Z]", own)
    assert "json_extract(body, '$.\"lastUpdated\"')" in sql and "last_updated" not in sql
    sql, _ = compile_conditions("_info/lastUpdated > [2024-01-01T00:00:00Z]", own)
    assert "last_updated" in sql
    assert compile_conditions("  ", FIELDS) == ("1", [])


def test_long_conditions_stay_within_sqlite_limits(db: sqlite3.Connection) -> None:
    ored = " or ".join(f"id = {i}" for i in range(2000))
    assert _ids(db, compile_conditions(ored, FIELDS)) == [1, 2, 3, 4, 5, 6]
    listed = f"id in ({', '.join(map(str, range(5000)))})"
    assert _ids(db, compile_conditions(listed, FIELDS)) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ConditionError, match="too many values"):
        compile_conditions(f"id in ({', '.join(map(str, range(20000)))})", FIELDS)
    with pytest.raises(ConditionError, match="nested"):
        compile_conditions("(" * 500 + "id = 1" + ")" * 500, FIELDS)


MALFORMED = [
    ('board/id = "abc"', "cannot compare int field 'board/id' with a string"),
    ('hours = "1.5"', "cannot compare number field"),
    ("closedFlag = [2024-01-01T00:00:00Z]", "cannot compare bool field"),
    ('closedFlag = "true"', "cannot compare bool field"),
    ("closedFlag = 1", "cannot compare bool field"),
    ("lastUpdated = True", "cannot compare datetime field"),
    ("requiredDate > 5", "cannot compare datetime field"),
    ("summary = True", "cannot compare string field 'summary' with a boolean"),
    ("id = [2024-01-01T00:00:00Z]", "cannot compare int field"),
    ('lastUpdated = "yesterday"', "is not a datetime"),
    ('board/name = "unterminated', "unterminated string at position 13"),
    ("summary = 'it\\'", "unterminated string"),
    ("id in ()", "unexpected token ')', expected a value"),
    ("id in (1, 2", "expected ',' or ')'"),
    ("id in (1,)", "expected a value"),
    ("id in 1, 2", "expected '(' after in"),
    ("id in (1, null)", "null cannot be used in an in list"),
    ("id = 1 and", "unexpected end of input, expected a field name"),
    ("and id = 1", "unexpected token 'and'"),
    ("id = 1 or or id = 2", "unexpected token 'or'"),
    ("id = 1 and ()", "expected a field name"),
    ("(id = 1", "expected ')'"),
    ("((id = 1)", "expected ')'"),
    ("id = 1)", "unexpected token ')' at position 6"),
    ("id == 1", "expected a value"),
    ("id <> 1", "expected a value"),
    ("id ~ 1", "unexpected character '~'"),
    ("id ! 1", "unexpected character '!'"),
    ("id equals 1", "expected an operator after 'id'"),
    ("id not = 1", "expected contains, like or in after 'not'"),
    ("id = 1 foo = 2", "unexpected token 'foo' at position 7"),
    ("id = 1 2", "unexpected token '2'"),
    ("id =", "unexpected end of input, expected a value"),
    ("summary = bare", "unexpected token 'bare', expected a value"),
    ("id", "expected an operator"),
    ("nosuchfield = 1", "unknown field 'nosuchfield'"),
    ("board/nosuch = 1", "unknown field 'board/nosuch'"),
    ("summary/x = 1", "unknown field 'summary/x'"),
    ("board = 1", "'board' is an object"),
    ("_info = 1", "'_info' is an object"),
    ('communicationItems/value = "x"', "childConditions"),
    ("tags = 1", "childConditions"),
    ('customFields/value = "x"', "customFieldConditions"),
    ("lastUpdated > [not a date]", "invalid datetime '[not a date]'"),
    ("lastUpdated > [2024-13-01T00:00:00Z]", "invalid datetime"),
    ("lastUpdated > [2024-05-01T25:00:00Z]", "invalid datetime"),
    ("lastUpdated > [2024-05-01", "unterminated datetime"),
    ("summary like null", "null can only be compared with = or !="),
    ("summary > null", "null can only be compared"),
    ('closedFlag like "t*"', "like cannot be used on boolean field"),
    ("summary contains True", "contains needs a quoted string"),
    ("summary like [2024-01-01]", "like needs a quoted string"),
    ("id = 99999999999999999999999", "out of range"),
    ("id = 1 and summary = 'x\ud800'", "invalid character at position 23"),
    ("id = 1 \x00", "unexpected character '\\x00'"),
    ("not", "unexpected end of input"),
    ("id = 1 and (" * 100, "nested more than 64 levels"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_conditions_raise_condition_error(text: str, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        compile_conditions(text, FIELDS)
    error = str(info.value)
    assert error.startswith("conditions: ") and "\n" not in error
    assert message in error


def test_error_names_the_parameter() -> None:
    with pytest.raises(ConditionError, match=r"^search: unknown field 'x' at position 0$"):
        compile_conditions("x = 1", FIELDS, param="search")


# -- childConditions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # both comparisons must hold for the same element (2 has john as a Phone)
        ('communicationItems/value like "john@Outlook.com" AND communicationItems/communicationType="Email"', [1]),
        ('communicationItems/value = "john@outlook.com"', [1, 2]),
        ('communicationItems/value like "*@outlook.com" and communicationItems/communicationType = "phone"', [2]),
        ('CommunicationItems/Value = "x@y.com" or communicationItems/communicationType = "Phone"', [1, 2]),
        ('communicationItems/communicationType = "Email" and communicationItems/defaultFlag = false', [2]),
        ('communicationItems/value not contains "john"', [1, 2, 4]),
        ('not (communicationItems/value contains "john")', [1, 2, 4]),
        ('communicationItems/communicationType != null', [1, 2, 4]),
        # different arrays: one EXISTS each
        ('communicationItems/communicationType = "Email" and sites/name = "main"', [1]),
        ('communicationItems/value contains "ops" or sites/name = "Main"', [1, 4, 5]),
    ],
)  # fmt: skip
def test_child_conditions(db: sqlite3.Connection, text: str, expected: list[int]) -> None:
    assert _ids(db, compile_child_conditions(text, FIELDS)) == expected


def test_child_conditions_share_one_exists_per_array() -> None:
    one, _ = compile_child_conditions(
        'communicationItems/value = "a" and communicationItems/communicationType = "Email"', FIELDS
    )
    assert one.count("EXISTS") == 1
    two, _ = compile_child_conditions('communicationItems/value = "a" and sites/name = "b"', FIELDS)
    assert two.count("EXISTS") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('summary = "x"', "'summary' is not an array of objects"),
        ("tags = 1", "'tags' is not an array of objects"),
        ("customFields/value = 1", "not an array of objects"),
        ('communicationItems = "x"', "name a field of each 'communicationItems' element"),
        ("communicationItems/nope = 1", "unknown field 'communicationItems/nope'"),
        ("nope/value = 1", "unknown field 'nope/value'"),
        ('communicationItems/defaultFlag = "yes"', "cannot compare bool field"),
        ('communicationItems/value = "x" and', "unexpected end of input"),
    ],
)
def test_child_conditions_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match="^childConditions: ") as info:
        compile_child_conditions(text, FIELDS)
    assert message in str(info.value)


# -- customFieldConditions ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('caption="Seats" AND value = 12', [1]),
        ('caption = "seats" and value = "yes"', [2]),
        ("value = 3.5", [3]),
        ('value = "12 units"', [4]),
        ('value = "12"', [1]),  # text comparison sees the number 12 as "12"
        ('caption = "Vip" and value = True', [1]),
        ("value = false", [2]),
        ('caption = "Vip" and value = null', [3, 4]),
        ('caption = "Seats" and value != null', [1, 2, 3, 4]),
        ("value > 10", [1]),  # numbers only: neither "Yes" nor "12 units"
        ("value < 4", [3]),
        ('value like "12*"', [1, 4]),
        ('value contains "UNIT"', [4]),
        ('caption = "Vip" and value = 12', []),  # same element
        ('Caption = "Seats" AND Value In (12, "Yes")', [1, 2]),
        ("value > [2024-01-01T00:00:00Z]", [5]),
        ('type = "checkbox" and not (value = true)', [2]),
        ("id = 3 or numberOfDecimals > 0", [5]),
        ('entryMethod = "EntryField" and caption = "Seats"', [1, 2, 3, 4]),
    ],
)
def test_custom_field_conditions(db: sqlite3.Connection, text: str, expected: list[int]) -> None:
    assert _ids(db, compile_custom_field_conditions(text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope = 1", "unknown field 'nope'"),
        ('id = "x"', "cannot compare int field 'id'"),
        ("numberOfDecimals = True", "cannot compare int field"),
        ("caption = True", "cannot compare string field 'caption'"),
        ("value like null", "null can only be compared"),
        ('caption = "Seats" and value != ', "expected a value"),
    ],
)
def test_custom_field_conditions_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match="^customFieldConditions: ") as info:
        compile_custom_field_conditions(text)
    assert message in str(info.value)


# -- orderBy --------------------------------------------------------------------------------
def test_order_by(db: sqlite3.Connection) -> None:
    assert compile_order_by("", FIELDS) == "id"
    assert compile_order_by("id desc", FIELDS) == "id DESC"
    # nulls first, case-insensitive, id as tiebreaker in the first key's direction
    assert _ordered(db, compile_order_by("summary", FIELDS)) == [4, 3, 2, 5, 1, 6]
    order = compile_order_by("Board/Name DESC", FIELDS)
    assert order.endswith("id DESC")
    assert _ordered(db, order) == [4, 5, 2, 3, 1, 6]
    assert _ordered(db, compile_order_by("board/name asc, id desc", FIELDS)) == [6, 3, 1, 5, 2, 4]
    assert _ordered(db, compile_order_by("closedFlag, hours DESC", FIELDS)) == [5, 6, 1, 4, 2, 3]
    assert compile_order_by("LastUpdated desc", FIELDS) == "last_updated DESC, id DESC"
    assert _ordered(db, compile_order_by("lastUpdated", FIELDS)) == [4, 1, 5, 2, 3, 6]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope", "unknown field 'nope'"),
        ("summary sideways", "expected 'field [asc|desc]'"),
        ("summary asc extra", "expected 'field [asc|desc]'"),
        ("summary,,id", "empty sort key at position 8"),
        (",", "empty sort key"),
        ("board", "'board' is an object"),
        ("communicationItems/value", "childConditions"),
        ('"summary"', "unknown field"),
        ("summary; DROP TABLE t", "expected 'field [asc|desc]'"),
    ],
)
def test_order_by_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match="^orderBy: ") as info:
        compile_order_by(text, FIELDS)
    assert message in str(info.value)


# -- fields / partial responses ----------------------------------------------------------------
def test_fields_projection() -> None:
    record = RECORDS[0]
    selection = parse_fields("_info/lastUpdated, Board/Name,nope,board/nope,ID,summary", FIELDS)
    out = project(record, selection)
    assert out == {
        "id": 1,
        "summary": "Printer on fire",
        "board": {"name": "Help Desk"},
        "_info": {"lastUpdated": "2024-05-01T10:00:00Z"},
    }
    assert list(out) == ["id", "summary", "board", "_info"]  # record order, not request order
    # absent keys stay absent
    assert project(RECORDS[3], selection) == {
        "id": 4,
        "board": {"name": "Professional Services"},
        "_info": {"lastUpdated": "2023-12-31T22:00:00Z"},
    }
    assert project(RECORDS[1], parse_fields("status/id,requiredDate", FIELDS)) == {}


def test_fields_whole_reference_wins_and_nested_paths() -> None:
    for text in ("board,board/id", "board/id,board"):
        assert project(RECORDS[0], parse_fields(text, FIELDS)) == {"board": RECORDS[0]["board"]}
    got = project(RECORDS[0], parse_fields("board/id,board/_info/BOARD_HREF", FIELDS))
    assert got == {"board": {"id": 1, "_info": {"board_href": "https://x/service/boards/1"}}}
    got = project(RECORDS[0], parse_fields("communicationItems/value,customFields/value", FIELDS))
    assert got["communicationItems"] == [{"value": "john@outlook.com"}, {"value": "555-1234"}]
    assert got["customFields"] == [{"value": 12}, {"value": True}]
    got = project(RECORDS[0], parse_fields("lastUpdated", FIELDS))  # the _info alias
    assert got == {"_info": {"lastUpdated": "2024-05-01T10:00:00Z"}}
    assert project(RECORDS[0], parse_fields('"x", (((, ,,/', FIELDS)) == {}


def test_project_is_fast_on_large_pages() -> None:
    selection = parse_fields("id,summary,board/name,_info/lastUpdated", FIELDS)
    page = [{**RECORDS[i % 6], **{f"extra{j}": j for j in range(60)}} for i in range(1000)]
    start = time.perf_counter()
    out = [project(r, selection) for r in page]
    assert time.perf_counter() - start < 0.5
    assert out[0]["board"] == {"name": "Help Desk"}


# -- robustness ------------------------------------------------------------------------------
_WORDS = [
    *("id summary closedFlag hours board/id board/name status/identifier lastUpdated".split()),
    *("_info/lastUpdated communicationItems/value sites/name tags customFields caption".split()),
    *("value type and or not in like contains null True false = != < <= > >= ( ) ,".split()),
    *['"a*b"', "'x\\'y'", '"\\\\"', "5", "-3.5", "1e5", ".5", "5.", "asc", "DESC", "*"],
    *["[2020-01-01T00:00:00Z]", "[2020-01-01T00:00:00.5+02:00]", "[bad]", '"2020-01-01"'],
    *['"', "'", "[", "]", "\\", "é", "\ud800", "\x00", "99999999999999999999999", "%", "_"],
]
_ALPHABET = "abc/=<>!()\"'[]*\\ ANDORnotinlike0123456789.,-_é\t%:TZ+"


def _junk(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))


def test_random_junk_only_ever_raises_condition_error(db: sqlite3.Connection) -> None:
    rng = random.Random(2024)
    compiled = {"conditions": 0, "children": 0, "custom": 0, "order": 0, "fields": 0}
    for _ in range(4000):
        text = _junk(rng)
        for name, compile_ in (
            ("conditions", lambda t: compile_conditions(t, FIELDS)),
            ("children", lambda t: compile_child_conditions(t, FIELDS)),
            ("custom", compile_custom_field_conditions),
            ("order", lambda t: compile_order_by(t, FIELDS)),
            ("fields", lambda t: parse_fields(t, FIELDS)),
        ):
            try:
                result = compile_(text)
            except ConditionError as exc:
                assert "\n" not in str(exc)
                continue
            compiled[name] += 1
            # whatever compiles must also execute
            if isinstance(result, tuple):
                _ids(db, result)
            elif isinstance(result, str):
                _ordered(db, result)
            else:
                project(RECORDS[0], result)
    # the junk reaches past the tokenizer and parser often enough to mean something
    assert min(compiled.values()) > 20, compiled
