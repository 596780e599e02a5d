"""The endpoint table: every collection the source walks, one row each.

A row says where a collection lives and how to sync it; generic code in
``__init__.py`` turns each row into a dlt resource:

* ``path`` — the collection under ``/apis/3.0``; ``{id}`` marks a per-parent collection
  (``service/tickets/{id}/notes``), which is fetched for each parent record that changed in
  this run and whose rows carry that parent's id as ``parent_id``.
* ``table`` — module + path in snake_case (``service/tickets/{id}/notes`` ->
  ``service_tickets_notes``), unless given.
* ``primary_key`` — the merge key (``id``).
* ``cursor`` — the field used as the incremental cursor in ``conditions``
  (``lastUpdated``); ``None`` for small setup tables without ``_info``, which are replaced
  in full on every run.
* ``forward_only`` — whether the collection supports forward-only paging (otherwise it is
  walked with ``page``/``pageSize``).
* ``api_version`` — pins this endpoint's model version (``Accept`` header); default: the
  source's ``api_version``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_API_VERSION = "2025.8"
PAGE_SIZE = 1000
DATASET_NAME = "connectwise"


def table_name(path: str) -> str:
    """``service/tickets/{id}/notes`` -> ``service_tickets_notes``; ``service/SLAs`` ->
    ``service_slas``; ``knowledgeBaseArticles`` -> ``knowledge_base_articles``."""
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{"):
            continue
        segment = re.sub(r"^([A-Z]+)s$", lambda m: m.group(1).lower() + "s", segment)
        segment = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", segment)
        parts.append(segment.lower())
    return "_".join(parts)


@dataclass(frozen=True)
class Endpoint:
    path: str
    table: str = ""
    primary_key: str = "id"
    cursor: str | None = "lastUpdated"
    forward_only: bool = True
    api_version: str | None = None

    def __post_init__(self) -> None:
        if not self.table:
            object.__setattr__(self, "table", table_name(self.path))

    @property
    def is_child(self) -> bool:
        return "{id}" in self.path

    @property
    def parent_path(self) -> str | None:
        return self.path.split("/{id}", 1)[0] if self.is_child else None

    @property
    def parent_table(self) -> str | None:
        parent = self.parent_path
        return table_name(parent) if parent else None

    @property
    def incremental(self) -> bool:
        return self.cursor is not None and not self.is_child

    def child_path(self, parent_id: int) -> str:
        return self.path.replace("{id}", str(int(parent_id)))


E = Endpoint

# fmt: off
ENDPOINTS: tuple[Endpoint, ...] = (
    # service
    E("service/tickets"),
    E("service/boards"),
    E("service/priorities"),
    E("service/SLAs"),
    E("service/sources"),
    E("service/impacts"),
    E("service/severities"),
    E("service/locations"),
    E("service/teams"),
    E("service/templates"),
    E("service/codes"),
    E("service/surveys"),
    E("service/knowledgeBaseArticles"),
    E("service/knowledgeBaseCategories"),
    # company
    E("company/companies"),
    E("company/contacts"),
    E("company/configurations"),
    E("company/configurations/types"),
    E("company/configurations/statuses"),
    E("company/companies/statuses"),
    E("company/companies/types"),
    E("company/contacts/types"),
    E("company/contacts/departments"),
    E("company/contacts/relationships"),
    E("company/countries"),
    E("company/states"),
    E("company/teamRoles"),
    E("company/noteTypes"),
    E("company/communicationTypes"),
    E("company/marketDescriptions"),
    E("company/ownershipTypes"),
    E("company/entityTypes", cursor=None),
    # time
    E("time/entries"),
    E("time/sheets"),
    E("time/workTypes"),
    E("time/workRoles"),
    E("time/chargeCodes"),
    E("time/accruals"),
    E("time/timePeriodSetups"),
    # schedule
    E("schedule/entries"),
    E("schedule/types"),
    E("schedule/statuses"),
    E("schedule/calendars"),
    E("schedule/holidayLists"),
    E("schedule/colors"),
    # finance
    E("finance/agreements"),
    E("finance/agreements/types"),
    E("finance/invoices"),
    E("finance/billingCycles"),
    E("finance/billingStatuses"),
    E("finance/billingTerms"),
    E("finance/currencies"),
    E("finance/glAccounts"),
    E("finance/taxCodes"),
    E("finance/deliveryMethods"),
    E("finance/accountingPackages", cursor=None),
    # expense
    E("expense/entries"),
    E("expense/reports"),
    E("expense/types"),
    E("expense/classifications"),
    E("expense/paymentTypes"),
    # project
    E("project/projects"),
    E("project/tickets"),
    E("project/projectTypes"),
    E("project/statuses"),
    E("project/phaseStatuses"),
    E("project/securityRoles"),
    # sales
    E("sales/opportunities"),
    E("sales/opportunities/statuses"),
    E("sales/opportunities/types"),
    E("sales/opportunities/ratings"),
    E("sales/activities"),
    E("sales/activities/statuses"),
    E("sales/activities/types"),
    E("sales/orders"),
    E("sales/orders/statuses"),
    E("sales/probabilities"),
    E("sales/stages"),
    E("sales/roles"),
    E("sales/quotas"),
    E("sales/salesTeams"),
    # procurement
    E("procurement/products"),
    E("procurement/purchaseorders"),
    E("procurement/purchaseorderstatuses"),
    E("procurement/catalog"),
    E("procurement/categories"),
    E("procurement/subcategories"),
    E("procurement/manufacturers"),
    E("procurement/types"),
    E("procurement/warehouses"),
    E("procurement/warehouseBins"),
    E("procurement/shipmentmethods"),
    E("procurement/unitOfMeasures"),
    E("procurement/adjustments"),
    # marketing
    E("marketing/campaigns"),
    E("marketing/groups"),
    E("marketing/campaigns/types"),
    E("marketing/campaigns/statuses"),
    # system
    E("system/members"),
    E("system/departments"),
    E("system/locations"),
    E("system/callbacks"),
    E("system/securityroles"),
    E("system/userDefinedFields"),
    E("system/workflows"),
    E("system/surveys"),
    E("system/standardNotes"),
    E("system/skills"),
    E("system/skillCategories"),
    E("system/certifications"),
    E("system/members/types"),
    E("system/apiMembers"),
    E("system/reportCards"),
    E("system/timeZoneSetups"),
    E("system/kpiCategories", cursor=None),
    # per-parent collections: fetched for the parents that changed in this run
    E("service/tickets/{id}/notes"),
    E("service/tickets/{id}/tasks"),
    E("service/boards/{id}/statuses"),
    E("service/boards/{id}/types"),
    E("service/boards/{id}/subtypes"),
    E("service/boards/{id}/items"),
    E("service/boards/{id}/teams"),
    E("company/companies/{id}/sites"),
    E("company/companies/{id}/notes"),
    E("company/contacts/{id}/communications"),
    E("company/contacts/{id}/notes"),
    E("finance/agreements/{id}/additions"),
    E("finance/agreements/{id}/adjustments"),
    E("finance/agreements/{id}/sites"),
    E("finance/invoices/{id}/payments"),
    E("project/projects/{id}/phases"),
    E("project/projects/{id}/teamMembers"),
    E("project/projects/{id}/notes"),
    E("project/tickets/{id}/notes"),
    E("project/tickets/{id}/tasks"),
    E("procurement/purchaseorders/{id}/lineitems"),
    E("sales/opportunities/{id}/forecast", forward_only=False),
    E("sales/opportunities/{id}/notes"),
    E("sales/orders/{id}/lineitems"),
    E("system/members/{id}/skills"),
)
# fmt: on

BY_TABLE: dict[str, Endpoint] = {e.table: e for e in ENDPOINTS}

# Endpoints declared in configuration (``extra_endpoints``), added by register_endpoints.
EXTRA: list[Endpoint] = []


def register_endpoints(extra: list[Endpoint]) -> None:
    """Add endpoints to the table at run time (idempotent); a table name already taken by
    another endpoint, or a per-parent endpoint whose parent is unknown, is a ValueError."""
    for endpoint in extra:
        known = BY_TABLE.get(endpoint.table)
        if known is not None:
            if known != endpoint:
                raise ValueError(f"table {endpoint.table} already exists ({known.path})")
            continue
        if endpoint.is_child and endpoint.parent_table not in BY_TABLE:
            raise ValueError(f"the parent of {endpoint.path} ({endpoint.parent_path}) is unknown")
        BY_TABLE[endpoint.table] = endpoint
        EXTRA.append(endpoint)


def all_endpoints() -> tuple[Endpoint, ...]:
    """The built-in endpoints and those registered from configuration."""
    return ENDPOINTS + tuple(EXTRA)


# Number fields that hold whole numbers by nature (counts, years, minutes, orders);
# every other non-identifier number is loaded as a float (see normalize.py).
INTEGER_FIELDS: frozenset[str] = frozenset(
    """
    applicationOrder backupYear daysPastEndDate daysTolerance dueDays duration
    emailConnectorReopenDaysClosedLimit emailConnectorReopenDaysLimit escalationLevel
    expiredDays forecastYear inactiveDaysAfterEnd lagDays lineNumber minStockLevel
    minutesBeforeWaiting minutesWaiting numberDecimals numberOfDecimals numberOfEmployees
    period portalSecurityLevel resPlanMinutes resolveMinutes resplanSkippedMinutes
    respondMinutes respondedSkippedMinutes revenueYear scheduleDaysBefore sequenceNumber
    serviceDaysBefore sortOrder subNumber year zipMinimumLength count
    """.split()
)
