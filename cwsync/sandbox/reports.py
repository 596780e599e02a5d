"""The reporting endpoints (``system/reports/{name}``) in ConnectWise's column/row format.

A report is a flat view over one collection: ``column_definitions`` is a list of
``{column: {"type", "isNullable", "identityColumn"}}`` and ``row_values`` a list of
value lists in column order. ``columns=`` picks columns (``fields`` does not apply here,
as the guide says); column names are record paths such as ``company/name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .model import BOOL, DATETIME, INT, NUMBER, Field, Resource


@dataclass(frozen=True)
class Report:
    resource: str
    columns: tuple[str, ...]


REPORTS: dict[str, Report] = {
    "service": Report(
        "service/tickets",
        (
            "id",
            "summary",
            "board/name",
            "status/name",
            "company/name",
            "contact/name",
            "priority/name",
            "owner/identifier",
            "closedFlag",
            "actualHours",
            "_info/dateEntered",
            "_info/lastUpdated",
        ),
    ),
    "time": Report(
        "time/entries",
        (
            "id",
            "member/identifier",
            "company/name",
            "chargeToType",
            "chargeToId",
            "timeStart",
            "timeEnd",
            "actualHours",
            "hoursBilled",
            "billableOption",
            "_info/lastUpdated",
        ),
    ),
    "company": Report(
        "company/companies",
        ("id", "identifier", "name", "status/name", "city", "phoneNumber", "_info/lastUpdated"),
    ),
    "contact": Report(
        "company/contacts",
        ("id", "firstName", "lastName", "company/name", "title", "_info/lastUpdated"),
    ),
    "agreement": Report(
        "finance/agreements",
        ("id", "name", "type/name", "company/name", "startDate", "endDate", "_info/lastUpdated"),
    ),
    "invoice": Report(
        "finance/invoices",
        ("id", "invoiceNumber", "company/name", "date", "total", "balance", "_info/lastUpdated"),
    ),
    "opportunity": Report(
        "sales/opportunities",
        ("id", "name", "company/name", "status/name", "expectedCloseDate", "_info/lastUpdated"),
    ),
    "project": Report(
        "project/projects",
        (
            "id",
            "name",
            "company/name",
            "status/name",
            "estimatedStart",
            "estimatedEnd",
            "_info/lastUpdated",
        ),
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    path: tuple[str, ...]
    type: str

    def definition(self) -> dict:
        return {
            "type": self.type,
            "isNullable": self.name != "id",
            "identityColumn": self.name == "id",
        }


def _column_type(fields: Mapping[str, Field], path: tuple[str, ...]) -> str:
    current: Field | None = fields.get(path[0])
    for part in path[1:]:
        if current is None:
            break
        current = current.children.get(part)
    if path[-1] == "id" or path[-1].endswith("Id"):
        return "Numeric"
    kind = current.kind if current is not None else None
    if kind in (INT, NUMBER):
        return "Numeric"
    if kind == BOOL:
        return "Boolean"
    if kind == DATETIME or path[-1] in ("lastUpdated", "dateEntered"):
        return "DateTime"
    return "Text"


def report_columns(report: Report, res: Resource, wanted: str | None) -> list[Column]:
    """The report's columns, or those ``columns=`` asks for (case-insensitive)."""
    available = {name.lower(): name for name in report.columns}
    names = list(report.columns)
    if wanted and wanted.strip():
        names = []
        for raw in wanted.split(","):
            name = available.get(raw.strip().lower())
            if name is None:
                raise ValueError(
                    f"columns: unknown column {raw.strip()!r}; available: {', '.join(report.columns)}"
                )
            names.append(name)
    return [
        Column(n, tuple(n.split("/")), _column_type(res.fields, tuple(n.split("/")))) for n in names
    ]


def report_rows(columns: list[Column], records: Iterable[dict]) -> list[list]:
    rows = []
    for record in records:
        row = []
        for col in columns:
            value: object = record
            for part in col.path:
                value = value.get(part) if isinstance(value, dict) else None
            row.append(value)
        rows.append(row)
    return rows
