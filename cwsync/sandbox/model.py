"""Shapes shared by the sandbox's catalog, query compiler, store and server.

A :class:`Resource` is one collection of the simulated API (``service/tickets``,
``service/tickets/{parentId}/notes``); its :class:`Field` map describes the model the
way the OpenAPI spec does (names and kinds), which is what the conditions grammar
resolves paths against and what writes validate against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Kinds of a field, as the conditions grammar and the writers need to know them.
INT = "int"
NUMBER = "number"  # decimal
STRING = "string"
BOOL = "bool"
DATETIME = "datetime"  # "2024-05-01T13:04:05Z", compared as UTC
REF = "ref"  # {"id", "name"|"identifier", "_info": {"<x>_href"}} pointing at another resource
OBJECT = "object"  # nested object that is not a reference (children describe it)
ARRAY = "array"  # array of scalars (children empty) or of objects (children describe one element)
CUSTOM_FIELDS = "custom_fields"  # the customFields array
INFO = "info"  # the _info block: lastUpdated, updatedBy, dateEntered, enteredBy, *_href

KINDS = frozenset({INT, NUMBER, STRING, BOOL, DATETIME, REF, OBJECT, ARRAY, CUSTOM_FIELDS, INFO})

# Placeholder for the API base URL inside stored bodies (``_href`` links). The server
# replaces it with the request's own base URL when it writes a response.
BASE_PLACEHOLDER = "\u00a7BASE\u00a7"


@dataclass(frozen=True)
class Field:
    """One property of a model."""

    name: str
    kind: str
    # For REF: the target resource path (e.g. "service/boards"); None when the target is
    # not simulated (the reference is then only generated, never resolved on writes).
    target: str | None = None
    # For OBJECT / ARRAY of objects / REF / INFO: the properties of the nested object.
    children: Mapping[str, Field] = field(default_factory=dict)
    read_only: bool = False

    def child(self, name: str) -> Field | None:
        return self.children.get(name)


@dataclass(frozen=True)
class CustomFieldDef:
    """A custom field defined on a screen (an element of every record's customFields)."""

    id: int
    caption: str
    type: str  # Text | Number | Checkbox | Date | TextArea | Percent | Hyperlink | ...
    entry_method: str = "EntryField"  # EntryField | List | Option | Date
    number_of_decimals: int = 0


@dataclass(frozen=True)
class Resource:
    """One simulated collection."""

    path: str  # "service/tickets" or "service/tickets/{parentId}/notes"
    model: str  # OpenAPI model name, e.g. "Ticket"
    fields: Mapping[str, Field]  # top-level properties, including "id" and "_info"
    parent: str | None = None  # parent resource path for per-parent collections
    parent_field: str | None = (
        None  # body field that carries the parent id ("ticketId") or ref ("company")
    )
    ref_labels: tuple[str, ...] = ("name",)  # labels a reference to this resource carries
    href_key: str = ""  # key in a reference's _info, e.g. "board_href"
    custom_fields: tuple[CustomFieldDef, ...] = ()
    required: tuple[str, ...] = ()  # fields required on POST / PUT
    forward_only: bool = True  # supports pagination-type: forward-only
    writable: bool = True
    has_count: bool = True
    callback_type: str | None = None  # callback "type" (Ticket, Company, ...) for this resource
    security_module: str = ""  # security-role module that guards it ("service", "finance", ...)

    @property
    def module(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def is_child(self) -> bool:
        return self.parent is not None

    @property
    def has_info(self) -> bool:
        return "_info" in self.fields

    @property
    def has_custom_fields(self) -> bool:
        return "customFields" in self.fields

    @property
    def table(self) -> str:
        """SQLite table name: path without placeholders, '/' -> '_'."""
        parts = [p for p in self.path.split("/") if not p.startswith("{")]
        return "_".join(p.lower() for p in parts)
