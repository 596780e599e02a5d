"""The BI layer: SQL views a dashboard can read directly, refreshed after every load.

* ``bi_<table>_custom_fields`` — for every table that has custom fields: the table's own
  columns and one column per custom field caption (``cf_<caption in snake_case>``), typed by
  the field's ``type`` (Number → double, Checkbox → boolean, Date → timestamp, others text;
  a value that does not parse is NULL rather than an error).
* Friendly views of the core facts, named columns only: ``bi_tickets`` (board, status,
  company, owner names and the SLA dates and minutes), ``bi_time_entries`` (hours,
  billable amount), ``bi_agreements``, ``bi_invoices``, ``bi_opportunities``.

Every view shows live rows only (``_cw_deleted_at IS NULL``). The SQL runs unchanged on
DuckDB (and MotherDuck) and Postgres: double quoted identifiers, ``CAST``, ``CASE``,
anchored ``~`` regular expressions; other destinations get no views. A column the
tenant never sent is a typed NULL, so a view's columns do not depend on the data.

Views are dropped and created again in one transaction (not ``CREATE OR REPLACE``:
Postgres refuses to change a view's columns that way); after a run only the views whose
SQL changed are (see :func:`build_views`). :func:`drop_views` runs before a full refresh,
since Postgres will not drop a table a view depends on.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import dlt

from sources.connectwise import DELETED_AT

from .reconcile import is_load_id, loaded_tables

log = logging.getLogger("cwsync.views")

PREFIX = "bi_"
CUSTOM_SUFFIX = "__custom_fields"
MAX_IDENTIFIER = 60  # Postgres cuts identifiers at 63 bytes

TEXT = "TEXT"
NUMBER = "DOUBLE PRECISION"
INTEGER = "BIGINT"
BOOLEAN = "BOOLEAN"
TIMESTAMP = "TIMESTAMP WITH TIME ZONE"

NUMERIC = r"^ *-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)? *$"
DATE_LIKE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


@dataclass(frozen=True)
class Column:
    """One column of a friendly view: ``expr`` names source columns in ``{braces}``."""

    alias: str
    expr: str
    type: str

    @property
    def needs(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.expr)


@dataclass(frozen=True)
class Friendly:
    name: str
    table: str
    columns: tuple[Column, ...]


def _c(alias: str, expr: str | None = None, type: str = TEXT) -> Column:
    return Column(alias, expr or "{" + alias + "}", type)


def _hours_between(start: str, end: str) -> str:
    return f"EXTRACT(EPOCH FROM ({{{end}}} - {{{start}}})) / 3600.0"


FRIENDLY: tuple[Friendly, ...] = (
    Friendly(
        "bi_tickets",
        "service_tickets",
        (
            _c("ticket_id", "{id}", INTEGER),
            _c("summary"),
            _c("board_id", "{board__id}", INTEGER),
            _c("board", "{board__name}"),
            _c("status", "{status__name}"),
            _c("type", "{type__name}"),
            _c("sub_type", "{sub_type__name}"),
            _c("item", "{item__name}"),
            _c("priority", "{priority__name}"),
            _c("source", "{source__name}"),
            _c("company_id", "{company__id}", INTEGER),
            _c("company", "{company__name}"),
            _c("company_identifier", "{company__identifier}"),
            _c("contact", "{contact__name}"),
            _c("owner", "{owner__name}"),
            _c("owner_identifier", "{owner__identifier}"),
            _c("team", "{team__name}"),
            _c("agreement", "{agreement__name}"),
            _c("sla", "{sla__name}"),
            _c("closed", "{closed_flag}", BOOLEAN),
            _c("entered_at", "{_info__date_entered}", TIMESTAMP),
            _c("updated_at", "{_info__last_updated}", TIMESTAMP),
            _c("responded_at", "{date_responded}", TIMESTAMP),
            _c("resplan_at", "{date_resplan}", TIMESTAMP),
            _c("resolved_at", "{date_resolved}", TIMESTAMP),
            _c("closed_at", "{closed_date}", TIMESTAMP),
            _c("is_in_sla", "{is_in_sla}", BOOLEAN),
            _c("respond_minutes", "{respond_minutes}", INTEGER),
            _c("resplan_minutes", "{res_plan_minutes}", INTEGER),
            _c("resolve_minutes", "{resolve_minutes}", INTEGER),
            _c("hours_to_respond", _hours_between("_info__date_entered", "date_responded"), NUMBER),
            _c("hours_to_resolve", _hours_between("_info__date_entered", "date_resolved"), NUMBER),
            _c("actual_hours", "{actual_hours}", NUMBER),
            _c("budget_hours", "{budget_hours}", NUMBER),
        ),
    ),
    Friendly(
        "bi_time_entries",
        "time_entries",
        (
            _c("time_entry_id", "{id}", INTEGER),
            _c("member", "{member__name}"),
            _c("member_identifier", "{member__identifier}"),
            _c("company_id", "{company__id}", INTEGER),
            _c("company", "{company__name}"),
            _c("charge_to_type"),
            _c("charge_to_id", "{charge_to_id}", INTEGER),
            _c("ticket_id", "{ticket__id}", INTEGER),
            _c("project", "{project__name}"),
            _c("agreement", "{agreement__name}"),
            _c("work_type", "{work_type__name}"),
            _c("work_role", "{work_role__name}"),
            _c("time_start", "{time_start}", TIMESTAMP),
            _c("time_end", "{time_end}", TIMESTAMP),
            _c("date_entered", "{date_entered}", TIMESTAMP),
            _c("billable_option"),
            _c("billable", "{billable_option} = 'Billable'", BOOLEAN),
            _c("hours", "{actual_hours}", NUMBER),
            _c("hours_billed", "{hours_billed}", NUMBER),
            _c("invoice_hours", "{invoice_hours}", NUMBER),
            _c("hourly_rate", "{hourly_rate}", NUMBER),
            _c(
                "billable_amount",
                "CASE WHEN {billable_option} = 'Billable' THEN "
                "COALESCE({hours_billed}, {actual_hours}, 0) * COALESCE({hourly_rate}, 0) "
                "ELSE 0 END",
                NUMBER,
            ),
            _c("invoiced_amount", "{extended_invoice_amount}", NUMBER),
            _c("agreement_amount", "{agreement_amount}", NUMBER),
            _c("status"),
            _c("notes"),
        ),
    ),
    Friendly(
        "bi_agreements",
        "finance_agreements",
        (
            _c("agreement_id", "{id}", INTEGER),
            _c("name"),
            _c("type", "{type__name}"),
            _c("status", "{agreement_status}"),
            _c("company_id", "{company__id}", INTEGER),
            _c("company", "{company__name}"),
            _c("contact", "{contact__name}"),
            _c("start_date", "{start_date}", TIMESTAMP),
            _c("end_date", "{end_date}", TIMESTAMP),
            _c("no_end_date", "{no_ending_date_flag}", BOOLEAN),
            _c("cancelled", "{cancelled_flag}", BOOLEAN),
            _c("date_cancelled", "{date_cancelled}", TIMESTAMP),
            _c("billing_cycle", "{billing_cycle__name}"),
            _c("bill_amount", "{bill_amount}", NUMBER),
            _c("application_units"),
            _c("application_limit", "{application_limit}", NUMBER),
            _c("next_invoice_date", "{next_invoice_date}", TIMESTAMP),
            _c("updated_at", "{_info__last_updated}", TIMESTAMP),
        ),
    ),
    Friendly(
        "bi_invoices",
        "finance_invoices",
        (
            _c("invoice_id", "{id}", INTEGER),
            _c("invoice_number"),
            _c("type"),
            _c("status", "{status__name}"),
            _c("company_id", "{company__id}", INTEGER),
            _c("company", "{company__name}"),
            _c("bill_to_company", "{bill_to_company__name}"),
            _c("agreement", "{agreement__name}"),
            _c("invoice_date", "{date}", TIMESTAMP),
            _c("due_date", "{due_date}", TIMESTAMP),
            _c("subtotal", "{subtotal}", NUMBER),
            _c("sales_tax", "{sales_tax}", NUMBER),
            _c("total", "{total}", NUMBER),
            _c("payments", "{payments}", NUMBER),
            _c("credits", "{credits}", NUMBER),
            _c("balance", "{balance}", NUMBER),
            _c("service_total", "{service_total}", NUMBER),
            _c("product_total", "{product_total}", NUMBER),
            _c("expense_total", "{expense_total}", NUMBER),
            _c("updated_at", "{_info__last_updated}", TIMESTAMP),
        ),
    ),
    Friendly(
        "bi_opportunities",
        "sales_opportunities",
        (
            _c("opportunity_id", "{id}", INTEGER),
            _c("name"),
            _c("company_id", "{company__id}", INTEGER),
            _c("company", "{company__name}"),
            _c("contact", "{contact__name}"),
            _c("sales_rep", "{primary_sales_rep__name}"),
            _c("stage", "{stage__name}"),
            _c("status", "{status__name}"),
            _c("type", "{type__name}"),
            _c("probability", "{probability__name}"),
            _c("rating", "{rating__name}"),
            _c("campaign", "{campaign__name}"),
            _c("expected_close_date", "{expected_close_date}", TIMESTAMP),
            _c("closed_date", "{closed_date}", TIMESTAMP),
            _c("entered_at", "{_info__date_entered}", TIMESTAMP),
            _c("updated_at", "{_info__last_updated}", TIMESTAMP),
        ),
    ),
)


# -- naming ---------------------------------------------------------------------------------
def safe_name(caption: str, taken: set[str], prefix: str = "cf_") -> str:
    """``"T&M Billing Required"`` -> ``cf_t_m_billing_required``: lower snake case, ASCII,
    at most 60 characters, unique among ``taken`` (``_2``, ``_3``, … when needed)."""
    base = re.sub(r"[^a-z0-9]+", "_", caption.lower()).strip("_") or "field"
    base = (prefix + base)[:MAX_IDENTIFIER].rstrip("_")
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"_{n}"
        name = base[: MAX_IDENTIFIER - len(suffix)] + suffix
    taken.add(name)
    return name


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def typed_value(expr: str, cf_type: str | None) -> tuple[str, str]:
    """SQL casting a custom field's text ``expr`` by its ConnectWise ``type``, and the SQL
    type; values that do not parse become NULL instead of failing the query."""
    kind = (cf_type or "").lower()
    if kind in ("number", "percent", "currency"):
        sql = f"CASE WHEN {expr} ~ '{NUMERIC}' THEN CAST(TRIM({expr}) AS {NUMBER}) END"
        return sql, NUMBER
    if kind == "checkbox":
        sql = (
            f"CASE WHEN LOWER({expr}) = 'true' THEN TRUE "
            f"WHEN LOWER({expr}) = 'false' THEN FALSE END"
        )
        return sql, BOOLEAN
    if kind == "date":
        sql = f"CASE WHEN {expr} ~ '{DATE_LIKE}' THEN CAST({expr} AS {TIMESTAMP}) END"
        return sql, TIMESTAMP
    return expr, TEXT


# -- building -------------------------------------------------------------------------------
@dataclass
class ViewsBuilt:
    views: list[str]
    skipped: list[str]  # friendly views whose table is not loaded


def _columns(schema, table: str) -> list[str]:
    return list(schema.get_table_columns(table).keys())


def _friendly_sql(view: Friendly, qualified: str, present: set[str]) -> str:
    parts = []
    for column in view.columns:
        if all(name in present for name in column.needs):
            expr = column.expr.format(**{n: "t." + _quote(n) for n in column.needs})
            parts.append(f"CAST({expr} AS {column.type}) AS {_quote(column.alias)}")
        else:
            parts.append(f"CAST(NULL AS {column.type}) AS {_quote(column.alias)}")
    where = f" WHERE t.{_quote(DELETED_AT)} IS NULL" if DELETED_AT in present else ""
    return "SELECT " + ", ".join(parts) + f" FROM {qualified} AS t{where}"


Captions = dict[str, list[str]]  # caption -> the custom field types it was seen with


def _captions(sql, nested: str, since: str | None = None) -> Captions:
    """The captions (with their types) of the rows of the custom field table ``nested``;
    with ``since``, of the rows of loads after that load id only (a few row groups)."""
    where = "caption IS NOT NULL"
    if since is not None:
        where += f" AND _dlt_load_id > '{since}'"
    rows = sql.execute_sql(
        f"SELECT DISTINCT caption, type FROM {sql.make_qualified_table_name(nested)} WHERE {where}"
    )
    out: dict[str, set[str]] = {}
    for caption, cf_type in rows or []:
        out.setdefault(str(caption), set()).add(str(cf_type or ""))
    return {caption: sorted(kinds) for caption, kinds in out.items()}


def _merged(known: Captions, new: Captions) -> Captions:
    merged = {caption: set(kinds) for caption, kinds in known.items()}
    for caption, kinds in new.items():
        merged.setdefault(caption, set()).update(kinds)
    return {caption: sorted(kinds) for caption, kinds in sorted(merged.items())}


def _custom_sql(sql, schema, table: str, captions: Captions) -> str:
    """The wide view of ``table``: its columns plus one typed column per caption."""
    nested = table + CUSTOM_SUFFIX
    q_table = sql.make_qualified_table_name(table)
    q_nested = sql.make_qualified_table_name(nested)
    base = [c for c in _columns(schema, table) if not c.startswith("_dlt_") and c != DELETED_AT]
    taken = set(base)
    pivot, outer = [], []
    for i, caption in enumerate(sorted(captions)):
        kinds = captions[caption]
        # one type per caption; a caption seen with several types stays text
        cf_type = kinds[0] if len(kinds) == 1 else None
        raw = f"v{i}"
        pivot.append(f"MAX(CASE WHEN caption = {_literal(caption)} THEN value END) AS {raw}")
        expr, _ = typed_value(f"cf.{raw}", cf_type)
        outer.append(f"{expr} AS {_quote(safe_name(caption, taken))}")
    select = [f"t.{_quote(c)}" for c in base] + outer
    where = (
        f" WHERE t.{_quote(DELETED_AT)} IS NULL" if DELETED_AT in _columns(schema, table) else ""
    )
    if not pivot:
        return f"SELECT {', '.join(select)} FROM {q_table} AS t{where}"
    return (
        f"SELECT {', '.join(select)} FROM {q_table} AS t LEFT JOIN ("
        f"SELECT record_id, {', '.join(pivot)} FROM {q_nested} GROUP BY record_id"
        f") AS cf ON cf.record_id = t.id{where}"
    )


def custom_view_name(table: str) -> str:
    return f"{PREFIX}{table}_custom_fields"


def view_names(pipeline: dlt.Pipeline) -> list[str]:
    """The views this module keeps in the pipeline's dataset (existing or to be made)."""
    present = loaded_tables(pipeline)
    names = [v.name for v in FRIENDLY]
    names += [
        custom_view_name(t[: -len(CUSTOM_SUFFIX)])
        for t in sorted(present)
        if t.endswith(CUSTOM_SUFFIX) and t[: -len(CUSTOM_SUFFIX)] in present
    ]
    return names


# where the views' SQL is known to run (tested on DuckDB and Postgres; MotherDuck is DuckDB)
VIEW_DESTINATIONS = frozenset({"duckdb", "motherduck", "postgres"})


def supports_views(pipeline: dlt.Pipeline) -> bool:
    """DuckDB, MotherDuck and Postgres; other warehouses speak other SQL dialects (regular
    expressions, quoting, type names) and the filesystem destination has no database."""
    return pipeline.destination.destination_type.rsplit(".", 1)[-1] in VIEW_DESTINATIONS


def drop_views(pipeline: dlt.Pipeline, names: Sequence[str] | None = None) -> None:
    """Drop the BI views (before dlt drops tables: Postgres refuses while views depend)."""
    if (
        not supports_views(pipeline)
        or not pipeline.schemas
        or "connectwise" not in (pipeline.schemas)
    ):
        return
    names = list(names) if names is not None else view_names(pipeline)
    with pipeline.sql_client() as sql:
        if not sql.has_dataset():
            return
        for name in names:
            sql.execute_sql(f"DROP VIEW IF EXISTS {sql.make_qualified_table_name(name)}")


# pipeline local state: what the views were last made from (see build_views)
VIEWS_KEY = "cwsync_views"


def _newest_load(sql) -> str | None:
    rows = sql.execute_sql(
        f"SELECT max(load_id) FROM {sql.make_qualified_table_name('_dlt_loads')}"
    )
    newest = rows[0][0] if rows else None
    return str(newest) if newest is not None and is_load_id(str(newest)) else None


def _existing_views(sql) -> set[str]:
    rows = sql.execute_sql(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %s AND table_type = 'VIEW'",
        sql.dataset_name,
    )
    return {str(name) for (name,) in rows or []}


def build_views(pipeline: dlt.Pipeline, *, incremental: bool = False) -> ViewsBuilt:
    """Create (or refresh) every BI view whose tables are loaded.

    ``incremental`` (after a run's load): the captions of a custom field table are the
    ones known when the views were last made plus those of the rows loaded since, read
    from the newest row groups rather than the whole table (0.4 s of a small run at 6M
    custom field rows); a view whose SQL is what it was, and that exists, is left as it
    is. A caption no row has any more keeps its (empty) column until a full build: a
    full refresh, ``cwsync views``, or a new machine (what was made is kept in the
    pipeline's local state)."""
    built = ViewsBuilt([], [])
    if not supports_views(pipeline) or "connectwise" not in (pipeline.schemas or {}):
        return built
    schema = pipeline.schemas["connectwise"]  # each read of a schema costs dlt ~30 ms
    present = loaded_tables(pipeline, schema)
    kept: dict = {}
    if incremental:
        try:
            kept = dict(pipeline.get_local_state_val(VIEWS_KEY) or {})
        except KeyError:
            kept = {}
    since = kept.get("through")
    since = since if isinstance(since, str) and is_load_id(since) else None
    known: dict[str, Captions] = (kept.get("captions") or {}) if since else {}
    made: dict[str, str] = dict(kept.get("made") or {}) if since else {}
    captions: dict[str, Captions] = {}
    # one transaction (DDL is transactional on DuckDB and Postgres): a dashboard querying
    # during the refresh sees the old views or the new ones, never a missing one
    with pipeline.sql_client() as sql, sql.begin_transaction():
        through = _newest_load(sql)
        existing = _existing_views(sql) if since else set()

        def make(view_name: str, body: str | None) -> None:
            """The view as ``body`` says (None: no view), left alone when it already is."""
            name = sql.make_qualified_table_name(view_name)
            digest = hashlib.sha1(body.encode()).hexdigest() if body is not None else None
            if digest is not None and made.get(view_name) == digest and view_name in existing:
                return
            sql.execute_sql(f"DROP VIEW IF EXISTS {name}")
            made.pop(view_name, None)
            if body is not None and digest is not None:
                sql.execute_sql(f"CREATE VIEW {name} AS {body}")
                made[view_name] = digest

        for view in FRIENDLY:
            if view.table not in present:
                make(view.name, None)
                built.skipped.append(view.name)
                continue
            columns = set(_columns(schema, view.table))
            make(view.name, _friendly_sql(view, sql.make_qualified_table_name(view.table), columns))
            built.views.append(view.name)
        for table in sorted(present):
            if not table.endswith(CUSTOM_SUFFIX):
                continue
            parent = table[: -len(CUSTOM_SUFFIX)]
            if parent not in present:
                continue
            if since and table in known:
                captions[table] = _merged(known[table], _captions(sql, table, since))
            else:
                captions[table] = _captions(sql, table)
            view_name = custom_view_name(parent)
            make(view_name, _custom_sql(sql, schema, parent, captions[table]))
            built.views.append(view_name)
    pipeline.set_local_state_val(
        VIEWS_KEY, {"through": through, "captions": captions, "made": made} if through else {}
    )
    log.info("refreshed %d views", len(built.views))
    return built
