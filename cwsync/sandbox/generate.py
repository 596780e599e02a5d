"""Seeded, deterministic generation of a sandbox tenant.

:func:`scale_counts` says how many records each collection gets; :class:`TenantGenerator`
yields them in dependency order as ``(id, parent_id, body)``, each body shaped the way the
latest API version returns it (camelCase keys in model order, nulls omitted, ``_info``,
``customFields``). Every collection draws from its own ``random.Random(f"{seed}:{path}")``
and no wall clock is read, so a seed and counts give byte-identical records in any
process. References point at generated records and carry their real labels (a ticket's
status is a status of the ticket's board, its contact a contact of its company, ...).

Speed: per-record work is kept small (reference dicts are built once per target record;
strings come from pre-built pools), and the biggest tables have hand-written builders.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone

from .catalog import BY_PATH, RESOURCES, custom_field_values, make_info, make_reference
from .model import ARRAY, BOOL, DATETIME, INT, NUMBER, REF, STRING, CustomFieldDef, Resource

ANCHOR = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())  # data ends here
START = ANCHOR - 1096 * 86400  # 2023-01-01: three years of history
DAY = 86400

# -- timestamps -------------------------------------------------------------------------
_EPOCH0 = START - 4000 * DAY  # earliest date any field may hold (hire dates, ...)
_DAYS: list[str] = []
_HMS: list[str] = []


def _tables() -> None:
    if _DAYS:
        return
    d0 = datetime.fromtimestamp(_EPOCH0, timezone.utc)
    _DAYS.extend((d0 + timedelta(days=i)).strftime("%Y-%m-%dT") for i in range(4000 + 1096 + 1200))
    _HMS.extend(
        f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)
    )


def iso(ts: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of a UTC epoch second."""
    d, s = divmod(ts - _EPOCH0, DAY)
    return _DAYS[d] + _HMS[s]


def iso_day(ts: int) -> str:
    return _DAYS[(ts - _EPOCH0) // DAY] + "00:00:00Z"


# -- counts -----------------------------------------------------------------------------
# Entity tables at "medium" (they scale); everything else is setup data of fixed size.
_MEDIUM: dict[str, int] = {
    "time/entries": 200_000,
    "service/tickets": 50_000,
    "service/tickets/{parentId}/notes": 100_000,
    "service/tickets/{parentId}/tasks": 50_000,
    "company/contacts": 20_000,
    "company/contacts/{parentId}/communications": 40_000,
    "company/contacts/{parentId}/notes": 5_000,
    "company/companies": 10_000,
    "company/companies/{parentId}/sites": 12_000,
    "company/companies/{parentId}/notes": 8_000,
    "company/configurations": 20_000,
    "schedule/entries": 25_000,
    "finance/agreements": 3_000,
    "finance/agreements/{parentId}/additions": 6_000,
    "finance/agreements/{parentId}/adjustments": 1_000,
    "finance/agreements/{parentId}/sites": 2_000,
    "finance/invoices": 5_000,
    "finance/invoices/{parentId}/payments": 4_000,
    "sales/opportunities": 3_000,
    "sales/opportunities/{parentId}/forecast": 3_000,
    "sales/opportunities/{parentId}/notes": 4_000,
    "sales/activities": 5_000,
    "sales/orders": 1_000,
    "sales/orders/{parentId}/lineitems": 2_500,
    "project/projects": 500,
    "project/projects/{parentId}/phases": 2_000,
    "project/projects/{parentId}/teamMembers": 1_500,
    "project/projects/{parentId}/notes": 1_000,
    "project/tickets": 8_000,
    "project/tickets/{parentId}/notes": 12_000,
    "project/tickets/{parentId}/tasks": 6_000,
    "time/sheets": 4_000,
    "expense/entries": 8_000,
    "expense/reports": 1_500,
    "procurement/products": 10_000,
    "procurement/purchaseorders": 1_500,
    "procurement/purchaseorders/{parentId}/lineitems": 4_000,
    "service/knowledgeBaseArticles": 400,
}
_SETUP: dict[str, int] = {
    "service/boards": 8,
    "service/boards/{parentId}/statuses": 52,
    "service/boards/{parentId}/types": 48,
    "service/boards/{parentId}/subtypes": 48,
    "service/boards/{parentId}/items": 40,
    "service/boards/{parentId}/teams": 20,
    "service/priorities": 5,
    "service/SLAs": 4,
    "service/sources": 8,
    "service/impacts": 3,
    "service/severities": 3,
    "service/locations": 4,
    "service/teams": 6,
    "service/templates": 12,
    "service/codes": 10,
    "service/surveys": 3,
    "service/knowledgeBaseCategories": 8,
    "system/members": 40,
    "system/members/{parentId}/skills": 120,
    "system/callbacks": 0,
    "system/timeZoneSetups": 6,
    "company/countries": 12,
    "company/states": 30,
    "company/configurations/types": 15,
    "configurations/types/info": 15,
    "procurement/catalog": 800,
    "procurement/adjustments": 60,
    "procurement/warehouseBins": 12,
    "procurement/subcategories": 30,
    "marketing/campaigns": 60,
    "marketing/groups": 25,
    "sales/quotas": 20,
    "time/chargeCodes": 15,
    "procurement/manufacturers": 20,
    "finance/glAccounts": 20,
    "system/skills": 25,
    "procurement/categories": 10,
    "system/standardNotes": 10,
    "system/userDefinedFields": 10,
    "sales/probabilities": 10,
    "system/certifications": 10,
    "time/workTypes": 10,
    "time/workRoles": 10,
}
_SCALES = {"small": 0.01, "medium": 1.0, "large": 10.0}


def scale_counts(scale: str | int, overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """Record count per collection path (per-parent: total child rows) for a scale:
    "small" | "medium" | "large" | an int N = number of time entries."""
    if isinstance(scale, bool):
        raise ValueError(f"invalid scale {scale!r}")
    if isinstance(scale, int):
        if scale < 0:
            raise ValueError("scale must be >= 0")
        factor = scale / _MEDIUM["time/entries"]
    elif isinstance(scale, str) and scale.strip().isdigit():
        factor = int(scale) / _MEDIUM["time/entries"]
    elif scale in _SCALES:
        factor = _SCALES[scale]
    else:
        raise ValueError(
            f"unknown scale {scale!r}: small, medium, large or a number of time entries"
        )
    counts: dict[str, int] = {}
    for res in RESOURCES:
        if res.path in _MEDIUM:
            counts[res.path] = max(1, round(_MEDIUM[res.path] * factor)) if factor > 0 else 0
        else:
            counts[res.path] = _SETUP.get(res.path, 5 if res.is_child else 6)
    for path, n in (overrides or {}).items():
        if path not in BY_PATH:
            raise ValueError(f"unknown collection {path!r}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"count for {path} must be an int >= 0")
        counts[path] = n
    return counts


# -- string pools -------------------------------------------------------------------------
_FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Paul "
    "Ashley Steven Emily Andrew Donna Kevin Michelle Brian Carol George Amanda Priya Wei Aisha Omar Lars "
    "José Zoë Björn François Renée Søren Łukasz Chloé Noël Dóra 健太 美咲"
).split()
_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Carter Roberts Patel "
    "Müller Nguyễn O'Brien D'Angelo Kowalski Çelik Østergaard García-Márquez 山田 Schröder"
).split()
_CO_A = (
    "Acme Blue Summit Northwind Contoso Fabrikam Pioneer Redwood Granite Silver Harbor Evergreen Atlas "
    "Beacon Cascade Liberty Keystone Orion Sterling Vertex Falcon Maple Coastal Prairie Riverbend "
    "Ironclad Lakeside Meridian Apex Crescent"
).split()
_CO_B = (
    "Dental Logistics Legal Partners Manufacturing Realty Clinic Accounting Engineering Foods Motors "
    "Insurance Architects Labs Media Construction Pharmacy Hotels Freight Robotics Farms Bakery "
    "Consulting Outfitters Veterinary Energy Studios"
).split()
_CO_C = ("Inc", "LLC", "Ltd", "Group", "Co", "Corp", "& Sons", "GmbH", "PLC", "")
_CO_SPECIAL = (
    'Café "Le Petit" Bistro',
    "O'Reilly & Sons Plumbing",
    "東京テック株式会社",
    "Rocket 🚀 Labs",
    "Back\\Slash Systems",
    "Zürich Rückversicherung AG",
    'Smith "The Movers" Ltd',
    "Ñandú Exportaciones",
)
_SUMMARY_A = (
    "Cannot",
    "Unable to",
    "Need help to",
    "Request to",
    "Error when trying to",
    "Slow when users",
    "Intermittent failure to",
    "Users cannot",
)
_SUMMARY_B = (
    "print to",
    "connect to",
    "log in to",
    "sync",
    "access",
    "reset password for",
    "install",
    "map drive on",
    "open attachments in",
    "update",
    "back up",
    "restore files from",
)
_SUMMARY_C = (
    "the VPN",
    "Outlook",
    "Teams",
    "QuickBooks",
    "the file server",
    "the 3rd floor printer",
    "SharePoint",
    "the firewall",
    "Wi-Fi in conference room B",
    "the new laptop",
    "the ERP",
    "Azure AD",
    "the NAS",
    "the POS terminal",
    "Dropbox",
    "the label printer",
    "the CRM",
    "OneDrive",
)
_SUMMARY_FIXED = (
    "New user onboarding",
    "Employee offboarding",
    "Monthly patching",
    "Server disk space alert",
    "Backup job failed",
    "Phishing email reported",
    "License renewal",
    "Replace failing UPS battery",
    "Firewall firmware update",
    "SSL certificate expiring",
)
_SUMMARY_SPECIAL = (
    'Printer "HP 4050" can\'t print',
    "Share \\\\fs01\\scans missing",
    "Can't open C:\\Users\\jdoe\\Desktop",
    "Ошибка входа в систему 1C",
    "打印机无法连接",
    'Email from "CEO" looks like phishing',
    "Wi‑Fi drops 📶 every hour",
    "Résumé template won't save",
    "Path \\\\nas\\backups\\2024 not found",
    "Quote 'Q-1042' needs approval",
)
_NOTE_TEXT = (
    "Called the user and walked them through the fix.",
    "Remoted in and rebooted the service.",
    "Waiting on the vendor to respond.",
    "Issue resolved, closing ticket.",
    "Escalated to tier 2.",
    "Replaced the toner and tested printing.",
    "Reset the password and verified login.",
    "Applied the latest patches; monitoring.",
    "Client confirmed everything works now.",
    "Scheduled onsite visit for tomorrow morning.",
    "Checked event logs - no errors since the change.",
    'User reports "it just stopped working" after the update.',
    "Cleared C:\\Windows\\Temp and rebooted.",
    "Ticket merged from email thread — see details.",
    "Kunde bestätigt: Problem gelöst ✅",
)
_CITIES = (
    ("Tampa", "FL", "33602"),
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Portland", "OR", "97201"),
    ("Chicago", "IL", "60601"),
    ("Boston", "MA", "02108"),
    ("Seattle", "WA", "98101"),
    ("Atlanta", "GA", "30303"),
    ("Phoenix", "AZ", "85004"),
    ("Nashville", "TN", "37203"),
)
_STREETS = (
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Park Blvd",
    "Lake Rd",
    "Hill St",
    "Market St",
)
_TEXTS = (
    "Tier 1",
    "Tier 2",
    "Gold",
    "Silver",
    "Bronze",
    "Pending review",
    "N/A",
    "Legacy",
    "Migrated",
    "VIP",
)

# Names of the setup collections (others get "<Model> <n>").
_NAMES: dict[str, str] = {
    "service/priorities": "Priority 1 - Emergency|Priority 2 - Quick Response|Priority 3 - Normal Response|"
    "Priority 4 - Low|Do Not Respond",
    "service/SLAs": "Standard SLA|Premium SLA|24x7 Critical SLA|Project SLA",
    "service/sources": "Email Connector|Phone|Portal|Walk-in|Automate|RMM Alert|Chat|Workflow",
    "service/impacts": "Low|Medium|High",
    "service/severities": "Low|Medium|High",
    "service/locations": "Remote|On-Site|In-House|Phone",
    "service/teams": "Help Desk|Escalations|Network|Projects|Field Services|Security",
    "service/codes": "Hardware|Software|Network|Email|Security|Printing|Backup|Phone System|Account|Other",
    "service/surveys": "Ticket Closed Survey|Quarterly NPS|Onboarding Feedback",
    "service/knowledgeBaseCategories": "Email|Networking|Printers|Security|Microsoft 365|Line of Business|"
    "Hardware|Policies",
    "company/companies/statuses": "Active|Inactive|Credit Hold|Not Approved|Delinquent",
    "company/companies/types": "Client|Prospect|Vendor|Partner|Competitor|Former Client|Lead|Internal",
    "company/contacts/types": "Approver|Billing|Decision Maker|End User|Technical|Owner",
    "company/contacts/departments": "Accounting|Administration|Executive|IT|Marketing|Operations|Sales|Support",
    "company/contacts/relationships": "Spouse|Assistant|Manager|Colleague|Referral|Vendor Rep",
    "company/teamRoles": "Account Manager|Technical Lead|Sales Rep|Primary Engineer|vCIO|Billing Contact",
    "company/noteTypes": "General|Billing|Technical|Sales|Escalation",
    "company/communicationTypes": "Email|Direct|Cell|Fax|Home|Pager",
    "company/marketDescriptions": "Healthcare|Legal|Manufacturing|Finance|Education|Non-Profit|Retail|Government",
    "company/ownershipTypes": "Private|Public|Government|Non-Profit|Partnership",
    "company/entityTypes": "Company|Contact|Opportunity|Ticket|Project|Agreement|Invoice",
    "finance/accountingPackages": "QuickBooks Online|QuickBooks Desktop|Xero|Sage Intacct|Great Plains",
    "system/kpiCategories": "Service|Finance|Sales|Project|Time",
    "company/configurations/types": "Workstation|Laptop|Server|Firewall|Switch|Router|Printer|Wireless AP|"
    "Mobile Device|Managed Server|NAS|UPS|Phone|Virtual Machine|Software License",
    "configurations/types/info": "Workstation|Laptop|Server|Firewall|Switch|Router|Printer|Wireless AP|"
    "Mobile Device|Managed Server|NAS|UPS|Phone|Virtual Machine|Software License",
    "company/configurations/statuses": "Active|Inactive|In Repair|Retired|On Order",
    "company/countries": "United States|Canada|United Kingdom|Germany|France|Australia|Mexico|Japan|"
    "Netherlands|Ireland|España|Österreich",
    "time/workTypes": "Regular|After Hours|Remote|Onsite|Travel|Project|Internal|Admin|Training|Warranty",
    "time/workRoles": "Help Desk Technician|Systems Engineer|Network Engineer|Project Manager|Consultant|"
    "vCIO|Field Technician|Security Analyst|Developer|Administrator",
    "time/accruals": "Standard Accrual|Part-Time Accrual|Executive Accrual",
    "time/timePeriodSetups": "Weekly|Semi-Monthly|Monthly",
    "time/chargeCodes": "Internal Meeting|Training|Sales Support|Admin|PTO|Holiday|Sick|R&D|Marketing Event|"
    "Travel|Documentation|Recruiting|Lunch & Learn|Vendor Call|Lab",
    "schedule/types": "Service|Project|Sales|Activity|Meeting|Reminder",
    "schedule/statuses": "Firm|Tentative|Cancelled|Done|Pending",
    "schedule/calendars": "Standard Business Hours|24x7|Extended Hours",
    "schedule/holidayLists": "US Holidays|Canada Holidays|UK Holidays",
    "schedule/colors": "#FF0000|#FFA500|#FFFF00|#00FF00|#0000FF|#800080",
    "finance/agreements/types": "Managed Services|Block Time|Break Fix|Backup as a Service|Security Bundle|"
    "Microsoft 365|VoIP|Internal",
    "finance/billingCycles": "Monthly|Quarterly|Annually|Weekly|Bi-Monthly|Semi-Annually",
    "finance/billingStatuses": "Open|Sent|Paid|Partially Paid|Void|Disputed|Closed",
    "finance/billingTerms": "Net 30 days|Net 15 days|Net 10 days|Due on receipt|Net 60 days",
    "finance/currencies": "US Dollars|Canadian Dollars|Euros|British Pounds",
    "finance/taxCodes": "Tax-State|Tax-Exempt|Tax-County|VAT 20%|GST|Tax-City",
    "finance/deliveryMethods": "Email|Mail|Portal|Fax",
    "expense/types": "Mileage|Meals|Lodging|Airfare|Parking|Supplies|Tolls|Car Rental|Phone|Other",
    "expense/classifications": "Reimbursable|Non-Reimbursable|Company Card|Personal",
    "expense/paymentTypes": "Cash|Company Credit Card|Personal Credit Card|Check|Direct Bill",
    "project/projectTypes": "Implementation|Migration|Infrastructure|Onboarding|Security Audit|Internal",
    "project/statuses": "Open|In Progress|On Hold|Waiting|Closed|Cancelled",
    "project/phaseStatuses": "Not Started|In Progress|Complete|On Hold|Cancelled",
    "project/securityRoles": "Project Manager|Team Member|Engineer|Reviewer|Sponsor|Observer",
    "sales/opportunities/statuses": "Open|Won|Lost|No Decision|Pending",
    "sales/opportunities/types": "New Business|Upsell|Renewal|Project|Hardware|Managed Services",
    "sales/opportunities/ratings": "Hot|Warm|Cold|Unqualified",
    "sales/activities/statuses": "Open|Closed|Cancelled|In Progress|Waiting",
    "sales/activities/types": "Call|Email|Meeting|Quote|Follow Up|Demo|Lunch|Task",
    "sales/orders/statuses": "New|Open|Ordered|Shipped|Invoiced|Closed",
    "sales/stages": "Lead|Qualified|Proposal|Negotiation|Verbal|Closed",
    "sales/roles": "Account Executive|Sales Engineer|Inside Sales|Sales Manager|Partner Manager",
    "sales/salesTeams": "East|West|Central|Enterprise",
    "procurement/purchaseorderstatuses": "Open|Ordered|Partially Received|Received|Closed|Cancelled",
    "procurement/categories": "Hardware|Software|Services|Networking|Accessories|Licensing|Cloud|Security|"
    "Telecom|Miscellaneous",
    "procurement/types": "Non-Inventory|Inventory|Service|Agreement|Bundle|Labor|Subscription|Shipping",
    "procurement/unitOfMeasures": "Each|Box|Hour|Month|Year|Case",
    "procurement/shipmentmethods": "UPS Ground|FedEx Overnight|USPS Priority|Will Call|DHL Express|Freight",
    "procurement/warehouses": "Main Warehouse|Tampa Stockroom|Denver Depot",
    "procurement/manufacturers": "Dell|HP|Lenovo|Cisco|Ubiquiti|Fortinet|SonicWall|Microsoft|APC|Synology|"
    "Apple|Samsung|Brother|Meraki|Datto|Sophos|Logitech|Poly|Yealink|Veeam",
    "marketing/campaigns/types": "Email|Webinar|Trade Show|Direct Mail|Social",
    "marketing/campaigns/statuses": "Planned|Active|Completed|Cancelled",
    "system/departments": "Service|Projects|Sales|Administration|Finance|Engineering",
    "system/locations": "Tampa Office|Denver Office|Remote|Austin Office|Head Office",
    "system/securityroles": "Admin|Technician|Dispatcher|Project Manager|Sales|Finance|Executive|API Integrations",
    "system/members/types": "Employee|Contractor|Intern|Part-Time",
    "system/skillCategories": "Networking|Microsoft|Security|Cloud|Soft Skills",
    "system/reportCards": "Technician Scorecard|Service Manager|Executive Summary|Sales Rep",
    "system/timeZoneSetups": "GMT-5/Eastern Time: US & Canada|GMT-6/Central Time|GMT-7/Mountain Time|"
    "GMT-8/Pacific Time|GMT+0/London|GMT+1/Berlin",
    "system/workflows": "Ticket Escalation|Unresponded Ticket|Agreement Expiring|Stale Opportunity|"
    "Contact Birthday|Configuration Warranty|Project Over Budget|Invoice Overdue",
    "system/surveys": "Customer Satisfaction|Employee Pulse|Exit Survey",
    "system/apiMembers": "Warehouse Sync|RMM Integration|Quoting Tool",
}
_BOARDS = (
    "Help Desk",
    "Network Operations",
    "Alerts",
    "Onboarding",
    "Field Services",
    "Escalations",
    "Professional Services",
    "Internal Projects",
)
_STATUSES = (
    "New",
    "Assigned",
    "In Progress",
    "Waiting on Client",
    "Scheduled",
    "Escalated",
    "Resolved",
    ">Closed",
    "Closed",
)
_BTYPES = ("Incident", "Service Request", "Problem", "Change", "Alert", "Maintenance")
_BSUBTYPES = ("Hardware", "Software", "Network", "Email", "Account", "Printer")
_BITEMS = ("Workstation", "Server", "Firewall", "Mailbox", "User Account")
_PHASES = ("Planning", "Design", "Build", "Testing", "Go-Live", "Closeout")


class _Index:
    """What later collections need to know about a generated one."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.parents: list[int | None] = []
        self.dates: list[int] = []
        self.refs: list[dict] = []
        self.extra: dict[str, list] = {}
        self.by_parent: dict[int, list[int]] = {}  # parent index -> child indexes

    def __len__(self) -> int:
        return len(self.ids)


class _Ctx:
    """Per-collection state while its rows are generated."""

    def __init__(self, gen: TenantGenerator, res: Resource, rng: random.Random, n: int):
        self.gen, self.res, self.rng, self.n = gen, res, rng, n
        self.k = 0  # position under the current parent
        self.pidx: int | None = None  # parent index
        self.extra: dict[str, list] = {}

    def keep(self, key: str, value: object) -> None:
        self.extra.setdefault(key, []).append(value)


_STORE_REFS_MAX = 300_000  # keep reference dicts for collections up to this size


class TenantGenerator:
    """Generates every collection of a tenant; see the module docstring."""

    def __init__(self, seed: int, counts: Mapping[str, int]):
        _tables()
        self.seed = seed
        self.counts = {r.path: int(counts.get(r.path, 0)) for r in RESOURCES}
        self._index: dict[str, _Index] = {}
        self._order = [BY_PATH[p] for p in _ORDER] + [r for r in RESOURCES if r.path not in _ORDER]
        self._pos = {r.path: i for i, r in enumerate(self._order)}
        brng = random.Random(f"{seed}:bulk-updates")
        # Seconds at which mass updates touched many records (shared lastUpdated values).
        self._bulk = sorted(brng.randrange(START + 200 * DAY, ANCHOR) for _ in range(40))
        self._plans: dict[str, list] = {}

    def order(self) -> list[Resource]:
        return list(self._order)

    # -- helpers ----------------------------------------------------------------------
    def idx(self, path: str) -> _Index:
        """The index of a collection, generating it (and discarding rows) if needed."""
        if path not in self._index:
            for _ in self.rows(BY_PATH[path]):
                pass
        return self._index[path]

    def ref(self, path: str, i: int) -> dict:
        return self.idx(path).refs[i]

    def pick(self, path: str, rng: random.Random) -> dict | None:
        ix = self.idx(path)
        return ix.refs[int(rng.random() * len(ix.refs))] if ix.refs else None

    def who(self, rng: random.Random, path: str = "") -> str:
        """An updatedBy/enteredBy value: a member's identifier (setup data: the admins)."""
        if self._pos.get(path, 10**9) <= self._pos["system/members"]:
            return ("admin", "CONVERSION")[int(rng.random() * 2)]
        ident = self.idx("system/members").extra.get("identifier") or ["admin"]
        r = rng.random()
        if r < 0.04:
            return "CONVERSION" if r < 0.02 else "Workflow"
        return ident[int(rng.random() * len(ident))]

    def updated(self, rng: random.Random, entered: int) -> int:
        r = rng.random()
        if r < 0.04:  # a mass update's second, when it came after the record
            b = self._bulk[int(rng.random() * len(self._bulk))]
            if b >= entered:
                return b
        if r < 0.35:  # touched any time since (old records updated recently)
            return entered + int(rng.random() * (ANCHOR - entered))
        return min(ANCHOR - 1, entered + int(rng.expovariate(1 / (2 * DAY))))

    # -- rows -------------------------------------------------------------------------
    def rows(self, resource: Resource) -> Iterator[tuple[int, int | None, dict]]:
        """``(id, parent_id, body)`` of every record of ``resource``, in id order."""
        res = resource
        n = self.counts.get(res.path, 0)
        rng = random.Random(f"{self.seed}:{res.path}")
        spec = _BUILDERS.get(res.path)
        build = spec[0] if spec else _generic
        plan = (spec[1] if spec else None) or _default_plan
        ctx = _Ctx(self, res, rng, n)
        ix = _Index()
        parent_ix = self.idx(res.parent) if res.parent else None
        if res.parent and not parent_ix:
            n = 0
        cf = _custom_maker(res, rng) if res.has_custom_fields else None
        store_refs = n <= _STORE_REFS_MAX and res.path not in _NO_REFS
        rid = _first_id(res, rng)
        path = res.path
        for ts, pidx in plan(ctx, n, parent_ix):
            ctx.pidx = pidx
            parent_id = parent_ix.ids[pidx] if parent_ix is not None and pidx is not None else None
            fields = build(ctx, len(ix), rid, ts)
            body = {"id": rid}
            for k, v in fields.items():
                if v is not None:
                    body[k] = v
            entered_by = body.pop("_enteredBy", None)
            if res.has_info:
                lu = self.updated(rng, ts)
                entered_by = entered_by or self.who(rng, path)
                updated_by = entered_by if lu == ts else self.who(rng, path)
                body["_info"] = make_info(
                    res, rid, parent_id, iso(lu), updated_by, iso(ts), entered_by
                )
            if cf is not None:
                body["customFields"] = cf()
            ix.ids.append(rid)
            ix.parents.append(parent_id)
            ix.dates.append(ts)
            if pidx is not None:
                ix.by_parent.setdefault(pidx, []).append(len(ix.ids) - 1)
            if store_refs:
                ix.refs.append(make_reference(res, body, parent_id))
            yield rid, parent_id, body
            rid += 1 if rng.random() > 0.03 else 2 + int(rng.random() * 12)
        ix.extra = ctx.extra
        self._index[path] = ix


# -- id and date plans ----------------------------------------------------------------------
_ID_START = {
    "service/tickets": 1000,
    "project/tickets": 600_000,
    "time/entries": 50_000,
    "company/companies": 250,
    "company/contacts": 2_000,
    "system/members": 130,
}


def _first_id(res: Resource, rng: random.Random) -> int:
    if res.path in _ID_START:
        return _ID_START[res.path]
    if res.path in _MEDIUM:
        return 100 + int(rng.random() * 900)
    return 1 + int(rng.random() * 3)


def _window(res: Resource) -> tuple[int, int]:
    if res.path in ("company/companies",):
        return START - 300 * DAY, ANCHOR - 20 * DAY
    if res.path in _MEDIUM:
        return START, ANCHOR - 60
    if res.path == "system/members":
        return START - 400 * DAY, START + 600 * DAY
    return START - 500 * DAY, START - 400 * DAY


def _default_plan(c: _Ctx, n: int, parent_ix: _Index | None) -> Iterator[tuple[int, int | None]]:
    """Top level: ``n`` rising dates in the collection's window. Per parent: children
    spread over parents in date order (stream), each dated after its parent."""
    rng = c.rng
    if parent_ix is None:
        lo, hi = _window(c.res)
        step = (hi - lo) / max(n, 1)
        for i in range(n):
            yield lo + int((i + rng.random()) * step), None
        return
    dates = parent_ix.dates
    if c.res.path not in _MEDIUM:  # setup children: contiguous blocks per parent
        m = len(dates)
        for i in range(n):
            p = i * m // n
            c.k = i - (-(-p * n // m))
            yield dates[p] + 60 + i, p
        return
    lo, hi = max(dates[0], START), ANCHOR - 60
    step = (hi - lo) / max(n, 1)
    window = 21 * DAY
    for i in range(n):
        ts = lo + int((i + rng.random()) * step)
        top = bisect.bisect_right(dates, ts)
        bottom = bisect.bisect_left(dates, ts - window, 0, top)
        if top == 0:
            p = 0
            ts = max(ts, dates[0])
        elif bottom >= top:
            p = top - 1
        else:
            p = bottom + int(rng.random() * (top - bottom))
        yield ts, p


def _each_plan(per: int) -> Callable:
    """Children planned in parent order: the first ``per`` parents' worth evenly, each
    parent's children dated shortly after it (keeps ids rising with dates)."""

    def plan(c: _Ctx, n: int, parent_ix: _Index | None) -> Iterator[tuple[int, int | None]]:
        dates = parent_ix.dates
        m = len(dates)
        for i in range(n):
            p = i * m // n
            c.k = i - (-(-p * n // m))
            yield dates[p] + 30 + c.k, p

    return plan


# -- custom fields --------------------------------------------------------------------------
def _custom_maker(res: Resource, rng: random.Random) -> Callable[[], list[dict]]:
    defs: tuple[CustomFieldDef, ...] = res.custom_fields
    empty = custom_field_values(defs, {})
    rand = rng.random

    def value(d: CustomFieldDef) -> object:
        if d.caption == "Seats":
            return (12, 25, 3.5, "Yes", "12 units", 40, "No", 7)[int(rand() * 8)]
        if d.type in ("Number", "Percent", "Currency"):
            return (
                round(rand() * 100, d.number_of_decimals)
                if d.number_of_decimals
                else int(rand() * 500)
            )
        if d.type == "Checkbox":
            return rand() < 0.5
        if d.type == "Date":
            return iso_day(START + int(rand() * (ANCHOR - START)))
        if d.type == "Hyperlink":
            return f"https://meet.example.com/{int(rand() * 99999)}"
        return _TEXTS[int(rand() * len(_TEXTS))]

    def make() -> list[dict]:
        if rand() < 0.35:
            return empty
        out = list(empty)
        for j, d in enumerate(defs):
            if rand() < 0.45:
                out[j] = {**empty[j], "value": value(d)}
        return out

    return make


# -- generic builder ----------------------------------------------------------------------
_NAME_FIELDS = (
    "name",
    "description",
    "identifier",
    "title",
    "caption",
    "salesTeamIdentifier",
    "salesTeamDescription",
    "contents",
    "instructions",
    "color",
    "invoiceCaption",
    "issue",
    "resolution",
    "summary",
    "text",
    "notes",
)
_TEXT_FIELDS = {"contents", "instructions", "issue", "resolution", "text", "notes"}


def _generic_names(res: Resource, n: int) -> list[str]:
    if res.path in _NAMES:
        names = _NAMES[res.path].split("|")
    else:
        names = []
    label = res.model.split(".")[-1]
    label = "".join(" " + ch if ch.isupper() and i else ch for i, ch in enumerate(label)).strip()
    return [names[i] if i < len(names) else f"{label} {i + 1}" for i in range(n)]


def _generic(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    """Fill a setup-ish record from its fields: labels, flags, numbers, dates and
    references to collections generated earlier."""
    g, res = c.gen, c.res
    plan = g._plans.get(res.path)
    if plan is None:
        plan = g._plans[res.path] = _generic_plan(g, res, c.n)
    out: dict = {}
    for name, make in plan:
        out[name] = make(c, i, ts)
    pf = res.parent_field
    if pf and c.pidx is not None:
        parent = g.idx(res.parent)
        if res.fields[pf].kind == REF:
            out[pf] = parent.refs[c.pidx] if parent.refs else None
        else:
            out[pf] = parent.ids[c.pidx]
        out = {k: out.get(k) for k in res.fields if k in out}
    return out


def _generic_plan(g: TenantGenerator, res: Resource, n: int) -> list:
    names = _generic_names(res, max(n, 1))
    pos = g._pos[res.path]
    fixed = _FIXED.get(res.path, {})
    plan: list = []
    seen_ident: set[str] = set()
    idents = []
    for nm in names:
        base = "".join(ch for ch in nm.title() if ch.isalnum())[:12] or "X"
        ident, k = base, 1
        while ident.lower() in seen_ident:
            k += 1
            ident = f"{base}{k}"
        seen_ident.add(ident.lower())
        idents.append(ident)
    has_name = "name" in res.fields
    for f in res.fields.values():
        name = f.name
        if name in ("id", "_info", "customFields") or name == res.parent_field:
            continue
        if name in fixed:
            val = fixed[name]
            if callable(val):
                plan.append((name, val))
            elif isinstance(val, list):
                plan.append((name, lambda c, i, ts, v=val: v[i % len(v)]))
            else:
                plan.append((name, lambda c, i, ts, v=val: v))
            continue
        kind = f.kind
        if kind == STRING and name in _NAME_FIELDS:
            if name == "identifier":
                plan.append((name, lambda c, i, ts: idents[i % len(idents)]))
            elif name in _TEXT_FIELDS or (name == "description" and has_name):
                plan.append(
                    (name, lambda c, i, ts: _NOTE_TEXT[int(c.rng.random() * len(_NOTE_TEXT))])
                )
            elif name == "color":
                plan.append(
                    (
                        name,
                        lambda c, i, ts: ("#E53935", "#FB8C00", "#FDD835", "#43A047", "#1E88E5")[
                            i % 5
                        ],
                    )
                )
            else:
                plan.append((name, lambda c, i, ts: names[i % len(names)]))
        elif kind == BOOL:
            if name == "defaultFlag":
                plan.append((name, lambda c, i, ts: i == 0))
            elif name.startswith("inactive") or name in ("closedFlag", "deletedFlag", "lockedFlag"):
                plan.append((name, lambda c, i, ts: c.rng.random() < 0.05))
            else:
                plan.append((name, lambda c, i, ts: c.rng.random() < 0.25))
        elif kind == INT:
            if name.endswith(("Id", "ID", "Ids")) or name == "id":
                continue
            if name.startswith("sort") or name in ("sequenceNumber", "sortOrder", "lineNumber"):
                plan.append((name, lambda c, i, ts: c.k + 1 if c.pidx is not None else i + 1))
            else:
                plan.append((name, lambda c, i, ts: int(c.rng.random() * 40)))
        elif kind == NUMBER:
            plan.append((name, lambda c, i, ts: round(c.rng.random() * 250, 2)))
        elif kind == DATETIME:
            if any(w in name.lower() for w in ("inactive", "delete", "cancel", "closed", "expire")):
                continue
            plan.append((name, lambda c, i, ts: iso(ts + int(c.rng.random() * 90 * DAY))))
        elif kind in (REF, ARRAY) and f.target and not BY_PATH[f.target].is_child:
            if g._pos.get(f.target, 10**9) >= pos or g.counts.get(f.target, 0) == 0:
                continue
            tgt = f.target
            if kind == REF:
                plan.append(
                    (
                        name,
                        lambda c, i, ts, t=tgt: (
                            c.gen.pick(t, c.rng) if c.rng.random() < 0.85 else None
                        ),
                    )
                )
            else:
                plan.append((name, lambda c, i, ts, t=tgt: [c.gen.pick(t, c.rng)]))
    return plan


def _cycle(*values: object) -> list:
    return list(values)


_FIXED: dict[str, dict[str, object]] = {
    "finance/currencies": {
        "currencyIdentifier": _cycle("USD", "CAD", "EUR", "GBP"),
        "symbol": _cycle("$", "$", "€", "£"),
        "decimalSeparator": ".",
        "thousandsSeparator": ",",
        "numberOfDecimals": 2,
        "displayIdFlag": False,
        "displaySymbolFlag": True,
        "negativeParenthesesFlag": False,
        "rightAlign": False,
        "currencyCode": lambda c, i, ts: {"id": i + 1, "name": ("USD", "CAD", "EUR", "GBP")[i % 4]},
    },
    "company/countries": {
        "currency": lambda c, i, ts: c.gen.ref("finance/currencies", 0),
        "countryCode": _cycle(
            "US", "CA", "GB", "DE", "FR", "AU", "MX", "JP", "NL", "IE", "ES", "AT"
        ),
    },
    "company/states": {
        "identifier": _cycle(
            "FL", "TX", "CO", "OR", "IL", "MA", "WA", "GA", "AZ", "TN", "NY", "CA", "OH", "NC", "MI"
        ),
        "name": _cycle(
            "Florida",
            "Texas",
            "Colorado",
            "Oregon",
            "Illinois",
            "Massachusetts",
            "Washington",
            "Georgia",
            "Arizona",
            "Tennessee",
            "New York",
            "California",
            "Ohio",
            "North Carolina",
            "Michigan",
        ),
        "country": lambda c, i, ts: c.gen.ref("company/countries", 0),
    },
    "service/priorities": {
        "color": _cycle("Red", "Orange", "Yellow", "Green", "Blue"),
        "sortOrder": lambda c, i, ts: i + 1,
        "level": _cycle("High", "High", "Medium", "Low", "Low"),
    },
    "service/SLAs": {
        "basedOn": _cycle("AllHours", "BusinessHours", "AllHours", "Custom"),
        "respondHours": _cycle(2.0, 1.0, 0.5, 8.0),
        "resolutionHours": _cycle(24.0, 8.0, 4.0, 72.0),
    },
    "service/locations": {"where": _cycle("Remote", "OnSite", "InHouse", "Remote")},
    "time/workTypes": {
        "billTime": _cycle(
            "Billable",
            "Billable",
            "Billable",
            "Billable",
            "Billable",
            "Billable",
            "DoNotBill",
            "NoCharge",
            "NoCharge",
            "Billable",
        ),
        "rateType": "StandardRate",
        "rate": 1.0,
        "utilizationFlag": True,
    },
    "time/workRoles": {
        "hourlyRate": _cycle(95.0, 150.0, 165.0, 175.0, 185.0, 225.0, 110.0, 175.0, 160.0, 125.0)
    },
    "finance/billingTerms": {"dueDays": _cycle(30, 15, 10, 0, 60)},
    "finance/billingStatuses": {
        "closedFlag": _cycle(False, False, True, False, True, False, True),
        "sortOrder": lambda c, i, ts: i + 1,
    },
    "finance/taxCodes": {"identifier": _cycle("ST", "EX", "CO", "VAT", "GST", "CITY")},
    "system/timeZoneSetups": {"offset": _cycle(-5.0, -6.0, -7.0, -8.0, 0.0, 1.0)},
    "sales/probabilities": {"probability": lambda c, i, ts: (i + 1) * 10},
    "sales/opportunities/statuses": {
        "wonFlag": _cycle(False, True, False, False, False),
        "lostFlag": _cycle(False, False, True, True, False),
        "closedFlag": _cycle(False, True, True, True, False),
    },
    "schedule/types": {"identifier": _cycle("S", "P", "C", "A", "M", "R")},
    "schedule/colors": {
        "color": lambda c, i, ts: _NAMES["schedule/colors"].split("|")[i % 6],
        "startPercent": lambda c, i, ts: i * 20,
        "endPercent": lambda c, i, ts: i * 20 + 19,
    },
    "system/callbacks": {},
    "system/departments": {"identifier": _cycle("SVC", "PRJ", "SLS", "ADM", "FIN", "ENG")},
    "system/certifications": {"company": lambda c, i, ts: None},
    "procurement/subcategories": {
        "category": lambda c, i, ts: (
            c.gen.ref("procurement/categories", i % 10)
            if c.gen.idx("procurement/categories").refs
            else None
        )
    },
    "procurement/catalog": {
        "identifier": lambda c, i, ts: f"SKU-{10000 + i * 7}",
        "description": lambda c, i, ts: (
            f"{_NAMES['procurement/manufacturers'].split('|')[i % 20]} "
            f"{('Laptop', 'Switch 24p', 'Firewall', 'Monitor 27in', 'M365 Business', 'Dock', 'UPS 1500VA', 'AP Wi-Fi 6')[i % 8]} {i // 8 + 1}"
        ),
        "price": lambda c, i, ts: round(20 + c.rng.random() * 1800, 2),
        "cost": lambda c, i, ts: round(10 + c.rng.random() * 1200, 2),
        "productClass": _cycle("NonInventory", "Inventory", "Service", "Agreement"),
    },
}


# -- hand-written builders for the entity tables ----------------------------------------------
def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _pick_before(dates: list[int], ts: int, rng: random.Random) -> int:
    top = bisect.bisect_right(dates, ts)
    return int(rng.random() * top) if top else 0


def _b_members(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    rng = c.rng
    first = _FIRST[(i * 7 + 3) % len(_FIRST)]
    last = _LAST[(i * 11 + 5) % len(_LAST)]
    ascii_last = "".join(ch for ch in last if ch.isascii() and ch.isalpha()) or "user"
    ascii_first = "".join(ch for ch in first if ch.isascii() and ch.isalpha()) or "m"
    ident = f"{ascii_first[0]}{ascii_last}".lower()[:14] + (str(i) if i >= 20 else "")
    c.keep("identifier", ident)
    g = c.gen
    out = _generic(c, i, rid, ts)
    out.update(
        identifier=ident,
        firstName=first,
        lastName=last,
        title=("Technician", "Engineer", "Service Manager", "Account Manager", "Project Manager")[
            i % 5
        ],
        licenseClass="F" if i % 9 else "A",
        inactiveFlag=i % 17 == 16,
        hireDate=iso_day(ts),
        officeEmail=f"{ident}@sandbox-msp.example",
        defaultEmail="Office",
        defaultPhone="Office",
        dailyCapacity=8.0,
        hourlyCost=round(30 + rng.random() * 40, 2),
        hourlyRate=round(95 + rng.random() * 90, 2),
        timeZone=g.ref("system/timeZoneSetups", 0) if g.counts["system/timeZoneSetups"] else None,
        serviceDefaultBoard=g.ref("service/boards", i % len(g.idx("service/boards")))
        if g.idx("service/boards")
        else None,
    )
    return {k: out.get(k) for k in c.res.fields if k in out}


def _board_child(names: tuple[str, ...]) -> Callable:
    def build(c: _Ctx, i: int, rid: int, ts: int) -> dict:
        out = _generic(c, i, rid, ts)
        out["name"] = names[c.k % len(names)] + (
            "" if c.k < len(names) else f" {c.k // len(names) + 1}"
        )
        if "closedStatus" in out or c.res.path.endswith("statuses"):
            closed = out["name"].startswith((">Closed", "Closed"))
            out["closedStatus"] = closed
            out["sortOrder"] = c.k
            out["escalationStatus"] = (
                "Resolved" if closed else "NotResponded" if c.k == 0 else "Responded"
            )
            out["defaultFlag"] = c.k == 0
            c.keep("closed", closed)
        return out

    return build


def _b_boards(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    out = _generic(c, i, rid, ts)
    project = i % 4 == 3
    c.keep("project", project)
    out.update(
        name=_BOARDS[i] if i < len(_BOARDS) else f"Board {i + 1}",
        projectFlag=project,
        inactiveFlag=False,
    )
    return out


def _company_name(rng: random.Random, i: int) -> str:
    if i == 0:
        return "Sandbox MSP"
    if rng.random() < 0.04:
        return _CO_SPECIAL[int(rng.random() * len(_CO_SPECIAL))] + ("" if i < 60 else f" {i}")
    a = _CO_A[int(rng.random() * len(_CO_A))]
    b = _CO_B[int(rng.random() * len(_CO_B))]
    suffix = _CO_C[int(rng.random() * len(_CO_C))]
    return f"{a} {b} {suffix}".strip()


def _b_companies(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    name = _company_name(rng, i)
    base = "".join(ch for ch in name if ch.isascii() and ch.isalnum())[:14] or "Company"
    seen = c.extra.setdefault("_seen", [set()])[0]
    ident, k = base, 1
    while ident.lower() in seen:
        k += 1
        ident = f"{base}{k}"
    seen.add(ident.lower())
    city, state, zip_ = _CITIES[int(rng.random() * len(_CITIES))]
    street = f"{100 + int(rng.random() * 9800)} {_STREETS[int(rng.random() * len(_STREETS))]}"
    c.keep("address", (street, city, state, zip_))
    self_ref = make_reference(c.res, {"id": rid, "identifier": ident, "name": name})
    r = rng.random()
    return {
        "identifier": ident,
        "name": name,
        "status": g.ref("company/companies/statuses", 0 if r < 0.9 else 1 + int(rng.random() * 3)),
        "types": [
            g.ref(
                "company/companies/types",
                0 if r < 0.7 else int(rng.random() * 8) % len(g.idx("company/companies/types")),
            )
        ],
        "addressLine1": street,
        "addressLine2": "Suite 200" if r < 0.2 else None,
        "city": city,
        "state": state,
        "zip": zip_,
        "country": g.ref("company/countries", 0),
        "phoneNumber": f"{200 + int(rng.random() * 700)}555{int(rng.random() * 9000) + 1000}",
        "faxNumber": None,
        "website": f"www.{base.lower()}.example",
        "territory": g.pick("system/locations", rng),
        "market": g.pick("company/marketDescriptions", rng),
        "accountNumber": f"A{rid:06d}" if r < 0.6 else None,
        "dateAcquired": iso(ts),
        "annualRevenue": round(rng.random() * 5_000_000, 2) if r < 0.5 else None,
        "numberOfEmployees": int(rng.random() * 500) if r < 0.6 else None,
        "ownershipType": g.pick("company/ownershipTypes", rng) if r < 0.5 else None,
        "timeZoneSetup": g.ref("system/timeZoneSetups", 0),
        "leadFlag": r > 0.95,
        "unsubscribeFlag": False,
        "taxCode": g.pick("finance/taxCodes", rng),
        "billingTerms": g.ref("finance/billingTerms", 0),
        "billToCompany": self_ref,
        "invoiceDeliveryMethod": g.ref("finance/deliveryMethods", 0),
        "deletedFlag": False,
        "mobileGuid": _guid(rng),
        "currency": g.ref("finance/currencies", 0),
        "territoryManager": g.pick("system/members", rng) if r < 0.7 else None,
        "isVendorFlag": r > 0.93,
    }


def _b_sites(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    comp = g.idx("company/companies")
    street, city, state, zip_ = comp.extra["address"][c.pidx]
    main = c.pidx not in c.extra.setdefault("_has", [set()])[0]
    c.extra["_has"][0].add(c.pidx)
    c.keep("address", (street, city, state, zip_))
    return {
        "name": "Main"
        if main
        else ("Branch Office", "Warehouse", "Remote Site", "HQ – 2nd Floor")[i % 4],
        "addressLine1": street,
        "city": city,
        "zip": zip_,
        "country": g.ref("company/countries", 0),
        "company": comp.refs[c.pidx],
        "phoneNumber": None,
        "primaryAddressFlag": main,
        "defaultBillingFlag": main,
        "defaultShippingFlag": main,
        "defaultMailingFlag": main,
        "inactiveFlag": False,
        "mobileGuid": _guid(rng),
    }


def _sites_plan(c: _Ctx, n: int, parent_ix: _Index) -> Iterator[tuple[int, int]]:
    m = len(parent_ix.ids)
    rng = c.rng
    pairs = [(parent_ix.dates[p], p) for p in range(min(n, m))]
    pairs += [
        (parent_ix.dates[p] + int(rng.random() * 200 * DAY), p)
        for p in (int(rng.random() * m) for _ in range(n - len(pairs)))
    ]
    pairs.sort()
    for ts, p in pairs:
        yield min(ts, ANCHOR - 60), p


def _b_contacts(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    comp = g.idx("company/companies")
    p = _pick_before(comp.dates, ts, rng)
    first = _FIRST[int(rng.random() * len(_FIRST))]
    last = _LAST[int(rng.random() * len(_LAST))]
    dom = comp.refs[p]["identifier"].lower()
    email = f"{''.join(ch for ch in first if ch.isascii()).lower() or 'user'}.{i}@{dom}.example"
    phone = f"{200 + int(rng.random() * 700)}555{int(rng.random() * 9000) + 1000}"
    c.keep("company", p)
    c.keep("contact", (f"{first} {last}".strip(), phone, email))
    sites = g.idx("company/companies/{parentId}/sites")
    site_list = sites.by_parent.get(p)
    comm = g.idx("company/communicationTypes")
    base = _COMM_BASE + 2 * i
    items = [
        {
            "id": base,
            "type": comm.refs[1] if len(comm) > 1 else None,
            "value": phone,
            "defaultFlag": True,
            "communicationType": "Phone",
        },
        {
            "id": base + 1,
            "type": comm.refs[0] if comm.refs else None,
            "value": email,
            "defaultFlag": True,
            "domain": "@" + email.split("@")[1],
            "communicationType": "Email",
        },
    ]
    r = rng.random()
    return {
        "firstName": first,
        "lastName": last,
        "company": comp.refs[p],
        "site": sites.refs[site_list[0]] if site_list and sites.refs else None,
        "inactiveFlag": r > 0.96,
        "title": (
            "Office Manager",
            "CEO",
            "IT Coordinator",
            "Accountant",
            "Owner",
            "Receptionist",
            "Director of Operations",
            None,
        )[int(rng.random() * 8)],
        "marriedFlag": False,
        "childrenFlag": False,
        "portalSecurityLevel": 1 + int(rng.random() * 6),
        "disablePortalLoginFlag": r < 0.5,
        "unsubscribeFlag": False,
        "mobileGuid": _guid(rng),
        "defaultPhoneType": "Direct",
        "defaultPhoneNbr": phone,
        "defaultBillingFlag": r < 0.1,
        "defaultFlag": r < 0.3,
        "department": g.pick("company/contacts/departments", rng) if r < 0.5 else None,
        "communicationItems": [{k: v for k, v in it.items() if v is not None} for it in items],
        "types": [g.pick("company/contacts/types", rng)] if r < 0.4 else [],
    }


_COMM_BASE = 5_000


def _comm_plan(c: _Ctx, n: int, parent_ix: _Index) -> Iterator[tuple[int, int]]:
    for i in range(min(n, 2 * len(parent_ix.ids))):
        c.k = i % 2
        yield parent_ix.dates[i // 2], i // 2


def _b_communications(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g = c.gen
    contacts = g.idx("company/contacts")
    _, phone, email = contacts.extra["contact"][c.pidx]
    comm = g.idx("company/communicationTypes")
    if c.k == 0:
        return {
            "contactId": contacts.ids[c.pidx],
            "type": comm.refs[1] if len(comm) > 1 else None,
            "value": phone,
            "defaultFlag": True,
            "communicationType": "Phone",
        }
    return {
        "contactId": contacts.ids[c.pidx],
        "type": comm.refs[0] if comm.refs else None,
        "value": email,
        "defaultFlag": True,
        "domain": "@" + email.split("@")[1],
        "communicationType": "Email",
    }


def _summary(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.04:
        return _SUMMARY_SPECIAL[int(rng.random() * len(_SUMMARY_SPECIAL))]
    if r < 0.25:
        return _SUMMARY_FIXED[int(rng.random() * len(_SUMMARY_FIXED))]
    return (
        f"{_SUMMARY_A[int(rng.random() * 8)]} {_SUMMARY_B[int(rng.random() * 12)]} "
        f"{_SUMMARY_C[int(rng.random() * 18)]}"
    )


class _BoardInfo:
    """Per board: its statuses (open / closed), types, subtypes, items, teams as refs."""

    def __init__(self, g: TenantGenerator):
        boards = g.idx("service/boards")
        st = g.idx("service/boards/{parentId}/statuses")
        closed = st.extra.get("closed", [])
        self.refs = boards.refs
        self.service = [b for b, p in enumerate(boards.extra.get("project", [])) if not p] or list(
            range(len(boards))
        )
        self.project = [
            b for b, p in enumerate(boards.extra.get("project", [])) if p
        ] or self.service
        self.open: list[list[dict]] = []
        self.closed: list[list[dict]] = []
        self.kids: dict[str, list[list[dict]]] = {}
        for b in range(len(boards)):
            kids = st.by_parent.get(b, [])
            self.open.append([st.refs[k] for k in kids if not closed[k]])
            self.closed.append([st.refs[k] for k in kids if closed[k]])
        for name in ("types", "subtypes", "items", "teams"):
            ix = g.idx(f"service/boards/{{parentId}}/{name}")
            self.kids[name] = [
                [ix.refs[k] for k in ix.by_parent.get(b, [])] for b in range(len(boards))
            ]


def _board_info(g: TenantGenerator) -> _BoardInfo:
    info = g._plans.get("_boards")
    if info is None:
        info = g._plans["_boards"] = _BoardInfo(g)
    return info


def _choice(seq: list, rng: random.Random) -> object:
    return seq[int(rng.random() * len(seq))] if seq else None


def _ticket_common(c: _Ctx, rng: random.Random, ts: int, board: int, project: bool) -> dict:
    g = c.gen
    bi = _board_info(g)
    age = (ANCHOR - ts) / DAY
    closed = rng.random() < (0.97 if age > 30 else 0.4)
    status = _choice(bi.closed[board] if closed and bi.closed[board] else bi.open[board], rng)
    c.keep("closed", closed)
    return {
        "board": bi.refs[board],
        "status": status,
        "closed": closed,
        "type": _choice(bi.kids["types"][board], rng),
        "subType": _choice(bi.kids["subtypes"][board], rng) if rng.random() < 0.6 else None,
        "item": _choice(bi.kids["items"][board], rng) if rng.random() < 0.3 else None,
        "team": _choice(bi.kids["teams"][board], rng) if rng.random() < 0.7 else None,
    }


def _b_tickets(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    st = c.extra.get("_static")
    if st is None:
        comp = g.idx("company/companies")
        contacts = g.idx("company/contacts")
        by_company: dict[int, list[int]] = {}
        for k, p in enumerate(contacts.extra.get("company", [])):
            by_company.setdefault(p, []).append(k)
        agr = g.idx("finance/agreements")
        agr_by: dict[int, list[int]] = {}
        for k, p in enumerate(agr.extra.get("company", [])):
            agr_by.setdefault(p, []).append(k)
        st = c.extra["_static"] = [
            (
                comp,
                contacts,
                by_company,
                agr,
                agr_by,
                g.idx("system/members"),
                g.idx("service/priorities"),
                g.idx("service/sources"),
                g.idx("service/SLAs"),
                g.idx("service/locations"),
                g.idx("company/companies/{parentId}/sites"),
            )
        ]
    comp, contacts, by_company, agr, agr_by, members, prio, src, sla, loc, sites = st[0]
    bi = _board_info(g)
    board = bi.service[int(rng.random() * len(bi.service))]
    t = _ticket_common(c, rng, ts, board, False)
    p = (
        _pick_before(comp.dates, ts, rng)
        if rng.random() > 0.3
        else int(rng.random() * max(1, len(comp) // 20))
    )
    c.keep("company", p)
    street, city, state, zip_ = comp.extra["address"][p]
    cl = by_company.get(p)
    k = cl[int(rng.random() * len(cl))] if cl and rng.random() < 0.9 else None
    contact = contacts.refs[k] if k is not None and contacts.refs else None
    cname, phone, email = contacts.extra["contact"][k] if k is not None else (None, None, None)
    al = agr_by.get(p)
    agreement = agr.refs[al[int(rng.random() * len(al))]] if al and rng.random() < 0.6 else None
    c.keep("agreement", agreement)
    owner = (
        members.refs[int(rng.random() * len(members.refs))]
        if members.refs and rng.random() < 0.85
        else None
    )
    closed = t["closed"]
    r = rng.random()
    resp = ts + int(r * 4 * 3600)
    done = min(ANCHOR - 1, ts + int(rng.random() * 20 * DAY)) if closed else None
    summary = _summary(rng)
    c.keep("summary", summary)
    sl = sites.by_parent.get(p)
    return {
        "summary": summary,
        "recordType": "ServiceTicket",
        "board": t["board"],
        "status": t["status"],
        "company": comp.refs[p],
        "site": sites.refs[sl[0]] if sl and sites.refs else None,
        "siteName": "Main" if sl else None,
        "addressLine1": street,
        "city": city,
        "stateIdentifier": state,
        "zip": zip_,
        "country": None,
        "contact": contact,
        "contactName": cname,
        "contactPhoneNumber": phone,
        "contactEmailAddress": email,
        "type": t["type"],
        "subType": t["subType"],
        "item": t["item"],
        "team": t["team"],
        "owner": owner,
        "priority": prio.refs[(0, 1, 2, 2, 2, 2, 3, 3)[int(r * 8)] % len(prio.refs)]
        if prio.refs
        else None,
        "serviceLocation": loc.refs[int(r * len(loc.refs))] if loc.refs else None,
        "source": src.refs[int(rng.random() * len(src.refs))] if src.refs else None,
        "estimatedStartDate": iso_day(ts + 7 * DAY) if r < 0.2 else None,
        "budgetHours": (1.0, 2.0, 4.0, 0.5, 8.0)[int(r * 5)] if r < 0.3 else None,
        "agreement": agreement,
        "severity": ("Low", "Medium", "High")[int(r * 3)],
        "impact": ("Low", "Medium", "High")[int(rng.random() * 3)],
        "allowAllClientsPortalView": False,
        "customerUpdatedFlag": r > 0.9,
        "automaticEmailContactFlag": True,
        "automaticEmailResourceFlag": True,
        "automaticEmailCcFlag": False,
        "closedDate": iso(done) if closed else None,
        "closedBy": owner["identifier"] if closed and owner else None,
        "closedFlag": closed,
        "actualHours": round(int(rng.random() * 24) * 0.25, 2),
        "approved": True,
        "estimatedExpenseCost": 0.0,
        "estimatedExpenseRevenue": 0.0,
        "estimatedProductCost": 0.0,
        "estimatedProductRevenue": 0.0,
        "estimatedTimeCost": 0.0,
        "estimatedTimeRevenue": 0.0,
        "billingMethod": "ActualRates",
        "subBillingMethod": "ActualRates",
        "dateResolved": iso(done) if closed else None,
        "dateResplan": iso(resp),
        "dateResponded": iso(resp),
        "resolveMinutes": (done - ts) // 60 if closed else 0,
        "resPlanMinutes": (resp - ts) // 60,
        "respondMinutes": (resp - ts) // 60,
        "isInSla": r < 0.85,
        "resources": owner["identifier"] if owner else None,
        "hasChildTicket": False,
        "hasMergedChildTicketFlag": False,
        "billTime": "NoDefault",
        "billExpenses": "NoDefault",
        "billProducts": "NoDefault",
        "mobileGuid": _guid(rng),
        "sla": sla.refs[0] if sla.refs else None,
        "requestForChangeFlag": False,
        "currency": g.ref("finance/currencies", 0) if g.counts["finance/currencies"] else None,
        "escalationLevel": 0 if closed else int(r * 10),
        "minutesBeforeWaiting": 0,
        "_enteredBy": owner["identifier"] if owner else None,
    }


def _b_project_tickets(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    proj = g.idx("project/projects")
    phases = g.idx("project/projects/{parentId}/phases")
    members = g.idx("system/members")
    p = _pick_before(proj.dates, ts, rng)
    board = proj.extra["board"][p]
    t = _ticket_common(c, rng, ts, board, True)
    ph = phases.by_parent.get(p)
    comp_i = proj.extra["company"][p]
    c.keep("company", comp_i)
    c.keep("project", p)
    phase_ref = phases.refs[ph[int(rng.random() * len(ph))]] if ph and phases.refs else None
    c.keep("phase", phase_ref)
    summary = (
        ("Configure", "Install", "Migrate", "Document", "Test", "Deploy", "Review")[
            int(rng.random() * 7)
        ]
        + " "
        + _SUMMARY_C[int(rng.random() * 18)]
    )
    c.keep("summary", summary)
    owner = members.refs[int(rng.random() * len(members.refs))] if members.refs else None
    return {
        "summary": summary,
        "isIssueFlag": False,
        "board": t["board"],
        "status": t["status"],
        "project": proj.refs[p],
        "phase": phase_ref,
        "company": g.ref("company/companies", comp_i),
        "type": t["type"],
        "owner": owner,
        "budgetHours": float(1 + int(rng.random() * 16)),
        "actualHours": round(int(rng.random() * 40) * 0.25, 2),
        "closedFlag": t["closed"],
        "closedDate": iso(min(ANCHOR - 1, ts + 10 * DAY)) if t["closed"] else None,
        "billTime": "Billable",
        "billExpenses": "Billable",
        "billProducts": "Billable",
        "scheduleStartDate": iso_day(ts + DAY),
        "scheduleEndDate": iso_day(ts + 6 * DAY),
        "wbsCode": f"{p + 1}.{int(rng.random() * 5) + 1}",
        "mobileGuid": _guid(rng),
        "_enteredBy": owner["identifier"] if owner else None,
    }


def _note_builder(kind: str) -> Callable:
    """Ticket notes (service and project)."""

    def build(c: _Ctx, i: int, rid: int, ts: int) -> dict:
        g, rng = c.gen, c.rng
        members = g.idx("system/members")
        m = members.refs[int(rng.random() * len(members.refs))] if members.refs else None
        r = rng.random()
        out = {
            "ticketId": c.gen.idx(kind).ids[c.pidx],
            "text": _NOTE_TEXT[int(rng.random() * len(_NOTE_TEXT))],
            "detailDescriptionFlag": r < 0.5,
            "internalAnalysisFlag": 0.5 <= r < 0.85,
            "resolutionFlag": r >= 0.85,
            "issueFlag": False,
            "member": m,
            "dateCreated": iso(ts),
            "createdBy": m["identifier"] if m else "admin",
            "internalFlag": 0.5 <= r < 0.85,
            "externalFlag": r < 0.5,
        }
        return out

    return build


def _task_builder(kind: str) -> Callable:
    def build(c: _Ctx, i: int, rid: int, ts: int) -> dict:
        rng = c.rng
        closed = rng.random() < 0.7
        return {
            "ticketId": c.gen.idx(kind).ids[c.pidx],
            "summary": None,
            "notes": (
                "Verify backups",
                "Call user",
                "Order part",
                "Update documentation",
                "Test VPN",
                "Patch server",
                'Check the "legacy" share',
                "Confirm with vendor",
            )[int(rng.random() * 8)],
            "closedFlag": closed,
            "priority": 1 + int(rng.random() * 5),
            "resolution": "Done" if closed else None,
            "member": c.gen.pick("system/members", rng) if rng.random() < 0.5 else None,
        }

    return build


def _b_time_entries(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    st = c.extra.get("_static")
    if st is None:
        st = c.extra["_static"] = [
            (
                g.idx("service/tickets"),
                g.idx("project/tickets"),
                g.idx("company/companies"),
                g.idx("system/members"),
                g.idx("time/workTypes"),
                g.idx("time/workRoles"),
                g.idx("time/chargeCodes"),
                BY_PATH["service/tickets"].href_key,
            )
        ]
    tix, ptix, comp, members, wtypes, wroles, codes, _ = st[0]
    r = rng.random()
    ticket = project = phase = agreement = None
    if r < 0.75 and tix.ids:
        k = _pick_window(tix.dates, ts, rng)
        ctype, cid = "ServiceTicket", tix.ids[k]
        company = comp.refs[tix.extra["company"][k]]
        ticket = {
            "id": cid,
            "summary": tix.extra["summary"][k],
            "_info": {"ticket_href": f"§BASE§/service/tickets/{cid}"},
        }
        agreement = tix.extra["agreement"][k]
    elif r < 0.88 and ptix.ids:
        k = _pick_window(ptix.dates, ts, rng)
        ctype, cid = "ProjectTicket", ptix.ids[k]
        company = comp.refs[ptix.extra["company"][k]]
        project = g.ref("project/projects", ptix.extra["project"][k])
        phase = ptix.extra["phase"][k]
    elif r < 0.95 or not codes.ids:
        k = _pick_before(comp.dates, ts, rng)
        ctype, cid, company = "Company", comp.ids[k], comp.refs[k]
    else:
        k = int(rng.random() * len(codes.ids))
        ctype, cid, company = "ChargeCode", codes.ids[k], comp.refs[0]
    m = int(rng.random() * len(members.refs))
    member = members.refs[m]
    hours = (1 + int(rng.random() * 16)) * 0.25
    role = int(rng.random() * len(wroles.refs)) if wroles.refs else None
    rate = (
        wroles.extra.get("rate", [150.0] * 99)[role]
        if role is not None and wroles.extra.get("rate")
        else 150.0
    )
    b = rng.random()
    billable = (
        "Billable"
        if b < 0.7
        else "DoNotBill"
        if b < 0.85
        else "NoCharge"
        if b < 0.97
        else "NoDefault"
    )
    billed = hours if billable == "Billable" else 0.0
    age = ANCHOR - ts
    start = ts - int(hours * 3600)
    return {
        "company": company,
        "chargeToId": cid,
        "chargeToType": ctype,
        "member": member,
        "locationId": 2,
        "businessUnitId": 10,
        "workType": wtypes.refs[int(rng.random() * len(wtypes.refs))] if wtypes.refs else None,
        "workRole": wroles.refs[role] if role is not None else None,
        "agreement": agreement,
        "timeStart": iso(start),
        "timeEnd": iso(ts),
        "actualHours": hours,
        "billableOption": billable,
        "notes": _NOTE_TEXT[int(rng.random() * len(_NOTE_TEXT))] if b < 0.9 else None,
        "addToDetailDescriptionFlag": ctype.endswith("Ticket") and b < 0.3,
        "addToInternalAnalysisFlag": False,
        "addToResolutionFlag": False,
        "emailResourceFlag": False,
        "emailContactFlag": False,
        "emailCcFlag": False,
        "hoursBilled": billed,
        "invoiceHours": billed,
        "extendedInvoiceAmount": round(billed * rate, 2),
        "agreementAmount": 0.0,
        "enteredBy": member["identifier"],
        "dateEntered": iso(ts + 60),
        "mobileGuid": _guid(rng),
        "hourlyRate": rate,
        "status": "Billed"
        if age > 45 * DAY and billable == "Billable"
        else "Open"
        if age < 7 * DAY
        else "ReadyToBill",
        "phase": phase,
        "project": project,
        "ticket": ticket,
    }


def _pick_window(dates: list[int], ts: int, rng: random.Random, window: int = 30 * DAY) -> int:
    top = bisect.bisect_right(dates, ts)
    if top == 0:
        return 0
    bottom = bisect.bisect_left(dates, ts - window, 0, top)
    if bottom >= top:
        return top - 1
    return bottom + int(rng.random() * (top - bottom))


def _company_child_refs(c: _Ctx, ts: int) -> tuple[int, dict, dict | None]:
    """A company entered before ``ts``, its ref and one of its contacts (or None)."""
    g, rng = c.gen, c.rng
    comp = g.idx("company/companies")
    p = _pick_before(comp.dates, ts, rng)
    by = g._plans.get("_contacts_by_company")
    if by is None:
        contacts = g.idx("company/contacts")
        by = g._plans["_contacts_by_company"] = {}
        for k, cp in enumerate(contacts.extra.get("company", [])):
            by.setdefault(cp, []).append(contacts.refs[k] if contacts.refs else None)
    cl = by.get(p)
    return p, comp.refs[p], (cl[int(rng.random() * len(cl))] if cl else None)


def _b_agreements(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    c.keep("company", p)
    types = g.idx("finance/agreements/types")
    t = int(rng.random() * len(types.refs)) if types.refs else None
    tname = types.refs[t]["name"] if t is not None else "Agreement"
    end = ts + 365 * DAY
    cancelled = rng.random() < 0.08
    return {
        "name": f"{company['name'][:40]} - {tname}",
        "type": types.refs[t] if t is not None else None,
        "company": company,
        "contact": contact,
        "agreementStatus": "Cancelled"
        if cancelled
        else ("Expired" if end < ANCHOR and rng.random() < 0.5 else "Active"),
        "startDate": iso_day(ts),
        "endDate": iso_day(end) if rng.random() < 0.7 else None,
        "noEndingDateFlag": False,
        "cancelledFlag": cancelled,
        "dateCancelled": iso_day(ts + 200 * DAY) if cancelled else None,
        "billAmount": round(100 + rng.random() * 4900, 2),
        "billingCycle": g.ref("finance/billingCycles", 0),
        "billingTerms": g.ref("finance/billingTerms", 0),
        "billTime": "Billable",
        "billExpenses": "Billable",
        "billProducts": "Billable",
        "taxable": True,
        "currency": g.ref("finance/currencies", 0),
        "applicationUnits": "Amount",
        "applicationLimit": round(rng.random() * 5000, 2),
        "applicationUnlimitedFlag": rng.random() < 0.4,
        "billToCompany": company,
        "billToContact": contact,
        "customerPO": f"PO-{int(rng.random() * 90000) + 10000}" if rng.random() < 0.3 else None,
    }


def _b_projects(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    bi = _board_info(g)
    board = bi.project[int(rng.random() * len(bi.project))]
    c.keep("company", p)
    c.keep("board", board)
    closed = ts < ANCHOR - 200 * DAY and rng.random() < 0.8
    statuses = g.idx("project/statuses")
    est = rng.random() * 300
    return {
        "actualEnd": iso_day(ts + 120 * DAY) if closed else None,
        "actualHours": round(est * 0.9, 2),
        "actualStart": iso_day(ts + 7 * DAY),
        "billExpenses": "Billable",
        "billProducts": "Billable",
        "billTime": "Billable",
        "billingAmount": round(est * 150, 2),
        "billingMethod": "FixedFee" if est > 150 else "ActualRates",
        "board": bi.refs[board],
        "budgetHours": round(est, 2),
        "closedFlag": closed,
        "company": company,
        "contact": contact,
        "currency": g.ref("finance/currencies", 0),
        "description": "Project for " + company["name"],
        "estimatedEnd": iso_day(ts + 90 * DAY),
        "estimatedStart": iso_day(ts + 7 * DAY),
        "estimatedHours": round(est, 2),
        "manager": g.pick("system/members", rng),
        "name": (
            "Office 365 Migration",
            "Server Refresh",
            "Network Upgrade",
            "New Site Build-out",
            "Security Hardening",
            "Onboarding",
            "Firewall Replacement",
            "Café Wi-Fi Rollout",
        )[int(rng.random() * 8)],
        "percentComplete": 100.0 if closed else round(rng.random() * 100, 1),
        "status": statuses.refs[
            4
            if closed and len(statuses.refs) > 4
            else int(rng.random() * min(4, len(statuses.refs)))
        ]
        if statuses.refs
        else None,
        "type": g.pick("project/projectTypes", rng),
    }


def _b_phases(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    proj = g.idx("project/projects")
    bi = _board_info(g)
    return {
        "projectId": proj.ids[c.pidx],
        "description": _PHASES[c.k % len(_PHASES)],
        "board": bi.refs[proj.extra["board"][c.pidx]],
        "status": g.pick("project/phaseStatuses", rng),
        "scheduledStart": iso_day(ts + c.k * 14 * DAY),
        "scheduledEnd": iso_day(ts + (c.k + 1) * 14 * DAY),
        "budgetHours": float(4 + int(rng.random() * 40)),
        "actualHours": round(rng.random() * 40, 2),
        "billTime": "Billable",
        "billExpenses": "Billable",
        "billProducts": "Billable",
        "markAsMilestoneFlag": False,
        "wbsCode": str(c.k + 1),
    }


def _b_opportunities(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    statuses = g.idx("sales/opportunities/statuses")
    closed = ts < ANCHOR - 90 * DAY and rng.random() < 0.8
    s = (1 if rng.random() < 0.45 else 2) if closed else 0
    return {
        "billToCompany": company,
        "closedBy": g.pick("system/members", rng) if closed else None,
        "closedDate": iso(ts + 40 * DAY) if closed else None,
        "company": company,
        "contact": contact,
        "currency": g.ref("finance/currencies", 0),
        "expectedCloseDate": iso_day(ts + 45 * DAY),
        "name": f"{company['name'][:30]} - "
        + (
            "Firewall refresh",
            "Managed services",
            "Laptops (x10)",
            "M365 E3 upgrade",
            "Backup appliance",
            "VoIP phones",
        )[int(rng.random() * 6)],
        "notes": _NOTE_TEXT[int(rng.random() * len(_NOTE_TEXT))] if rng.random() < 0.3 else None,
        "primarySalesRep": g.pick("system/members", rng),
        "probability": g.pick("sales/probabilities", rng),
        "rating": g.pick("sales/opportunities/ratings", rng),
        "source": "Referral" if rng.random() < 0.3 else None,
        "stage": g.pick("sales/stages", rng),
        "status": statuses.refs[s % len(statuses.refs)] if statuses.refs else None,
        "type": g.pick("sales/opportunities/types", rng),
        "campaign": g.pick("marketing/campaigns", rng) if rng.random() < 0.2 else None,
        "totalSalesTax": 0.0,
    }


def _b_invoices(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, _ = _company_child_refs(c, ts)
    sub = round(50 + rng.random() * 9500, 2)
    tax = round(sub * 0.07, 2)
    paid = ts < ANCHOR - 45 * DAY and rng.random() < 0.9
    agr = g.pick("finance/agreements", rng) if rng.random() < 0.4 else None
    statuses = g.idx("finance/billingStatuses")
    return {
        "invoiceNumber": f"{rid}",
        "type": "Agreement" if agr else "Standard",
        "status": statuses.refs[
            2 if paid and len(statuses.refs) > 2 else 1 % max(1, len(statuses.refs))
        ]
        if statuses.refs
        else None,
        "company": company,
        "billToCompany": company,
        "shipToCompany": company,
        "applyToType": "All",
        "date": iso_day(ts),
        "dueDate": iso_day(ts + 30 * DAY),
        "billingTerms": g.ref("finance/billingTerms", 0),
        "taxCode": g.pick("finance/taxCodes", rng),
        "currency": g.ref("finance/currencies", 0),
        "subtotal": sub,
        "total": round(sub + tax, 2),
        "salesTax": tax,
        "balance": 0.0 if paid else round(sub + tax, 2),
        "payments": round(sub + tax, 2) if paid else 0.0,
        "credits": 0.0,
        "agreement": agr,
        "serviceTotal": sub,
        "productTotal": 0.0,
        "expenseTotal": 0.0,
        "taxableFlag": True,
        "specialInvoiceFlag": False,
    }


def _b_payments(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    inv = g.idx("finance/invoices")
    return {
        "type": "Payment",
        "invoice": inv.refs[c.pidx] if inv.refs else None,
        "amount": round(50 + rng.random() * 5000, 2),
        "paymentDate": iso_day(ts),
        "appliedBy": g.who(rng, c.res.path),
        "source": "Default",
        "paymentSyncStatus": "Applied",
    }


def _b_activities(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    return {
        "name": (
            "Follow up call",
            "Send quote",
            "Quarterly business review",
            "Renewal discussion",
            'Lunch with "the CFO"',
            "Demo: backup & DR",
        )[int(rng.random() * 6)],
        "type": g.pick("sales/activities/types", rng),
        "company": company,
        "contact": contact,
        "status": g.pick("sales/activities/statuses", rng),
        "assignTo": g.pick("system/members", rng),
        "dateStart": iso(ts + DAY),
        "dateEnd": iso(ts + DAY + 3600),
        "opportunity": g.pick("sales/opportunities", rng) if rng.random() < 0.3 else None,
        "notes": _NOTE_TEXT[int(rng.random() * len(_NOTE_TEXT))] if rng.random() < 0.4 else None,
        "mobileGuid": _guid(rng),
    }


def _b_schedule(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    tix = g.idx("service/tickets")
    k = _pick_window(tix.dates, ts, rng) if tix.ids else None
    hours = (1 + int(rng.random() * 8)) * 0.5
    return {
        "objectId": tix.ids[k] if k is not None else None,
        "name": tix.extra["summary"][k] if k is not None else "Scheduled work",
        "member": g.pick("system/members", rng),
        "where": g.pick("service/locations", rng),
        "dateStart": iso(ts + DAY),
        "dateEnd": iso(ts + DAY + int(hours * 3600)),
        "status": g.pick("schedule/statuses", rng),
        "type": g.ref("schedule/types", 0),
        "doneFlag": ts < ANCHOR - 7 * DAY,
        "hours": hours,
        "ownerFlag": False,
        "meetingFlag": False,
        "acknowledgedFlag": rng.random() < 0.5,
        "mobileGuid": _guid(rng),
    }


def _b_configurations(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    types = g.idx("company/configurations/types")
    t = int(rng.random() * len(types.refs)) if types.refs else None
    tname = types.refs[t]["name"] if t is not None else "Device"
    return {
        "name": f"{company['identifier'][:8].upper()}-{tname[:3].upper()}{i % 1000:03d}",
        "type": types.refs[t] if t is not None else None,
        "status": g.pick("company/configurations/statuses", rng),
        "company": company,
        "contact": contact if rng.random() < 0.5 else None,
        "serialNumber": f"SN{rng.getrandbits(40):010X}",
        "modelNumber": f"M{int(rng.random() * 9000) + 1000}",
        "tagNumber": f"TAG-{i:05d}" if rng.random() < 0.5 else None,
        "purchaseDate": iso_day(ts),
        "installationDate": iso_day(ts + 3 * DAY),
        "warrantyExpirationDate": iso_day(ts + 3 * 365 * DAY),
        "ipAddress": f"10.{int(rng.random() * 255)}.{int(rng.random() * 255)}.{int(rng.random() * 254) + 1}",
        "macAddress": ":".join(f"{rng.getrandbits(8):02X}" for _ in range(6)),
        "osType": ("Windows 11 Pro", "Windows Server 2022", "macOS 14", "Ubuntu 22.04", None)[
            int(rng.random() * 5)
        ],
        "manufacturer": g.pick("procurement/manufacturers", rng),
        "activeFlag": rng.random() < 0.9,
        "billFlag": False,
        "needsRenewalFlag": False,
        "mobileGuid": _guid(rng),
    }


def _company_note(field: str, parent: str) -> Callable:
    def build(c: _Ctx, i: int, rid: int, ts: int) -> dict:
        g, rng = c.gen, c.rng
        pix = g.idx(parent)
        who = g.who(rng, c.res.path)
        return {
            field: pix.refs[c.pidx] if field == "company" else pix.ids[c.pidx],
            "text": _NOTE_TEXT[int(rng.random() * len(_NOTE_TEXT))],
            "flagged": rng.random() < 0.05,
            "enteredBy": who if "enteredBy" in c.res.fields else None,
            "_enteredBy": who,
        }

    return build


def _b_order(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    sub = round(100 + rng.random() * 8000, 2)
    return {
        "company": company,
        "contact": contact,
        "status": g.pick("sales/orders/statuses", rng),
        "salesRep": g.pick("system/members", rng),
        "orderDate": iso_day(ts),
        "poNumber": f"PO{rid:06d}",
        "subTotal": sub,
        "taxTotal": round(sub * 0.07, 2),
        "total": round(sub * 1.07, 2),
        "opportunity": g.pick("sales/opportunities", rng) if rng.random() < 0.3 else None,
        "currency": g.ref("finance/currencies", 0),
        "billClosedFlag": False,
        "billShippedFlag": False,
    }


def _b_po(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, contact = _company_child_refs(c, ts)
    sub = round(100 + rng.random() * 20000, 2)
    closed = ts < ANCHOR - 60 * DAY and rng.random() < 0.85
    return {
        "closedFlag": closed,
        "dateClosed": iso(ts + 20 * DAY) if closed else None,
        "poDate": iso_day(ts),
        "poNumber": f"{rid}",
        "status": g.pick("procurement/purchaseorderstatuses", rng),
        "subTotal": sub,
        "total": round(sub * 1.07, 2),
        "salesTax": round(sub * 0.07, 2),
        "freightCost": 0.0,
        "terms": g.ref("finance/billingTerms", 0),
        "vendorCompany": company,
        "vendorContact": contact,
        "warehouse": g.pick("procurement/warehouses", rng),
        "shipmentMethod": g.pick("procurement/shipmentmethods", rng),
        "currency": g.ref("finance/currencies", 0),
    }


def _b_po_lines(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    cat = g.pick("procurement/catalog", rng)
    qty = float(1 + int(rng.random() * 20))
    cost = round(10 + rng.random() * 900, 2)
    return {
        "description": cat["name"] if cat else "Item",
        "lineNumber": c.k + 1,
        "product": cat,
        "purchaseOrderId": g.idx("procurement/purchaseorders").ids[c.pidx],
        "quantity": qty,
        "unitCost": cost,
        "extCost": round(qty * cost, 2),
        "receivedQuantity": qty if rng.random() < 0.7 else 0.0,
        "receivedStatus": "FullyReceived" if rng.random() < 0.7 else "Waiting",
        "closedFlag": False,
        "canceledFlag": False,
        "unitOfMeasure": g.ref("procurement/unitOfMeasures", 0),
    }


def _b_products(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, _ = _company_child_refs(c, ts)
    cat = g.pick("procurement/catalog", rng)
    qty = float(1 + int(rng.random() * 10))
    price = round(20 + rng.random() * 1500, 2)
    return {
        "catalogItem": cat,
        "description": cat["name"] if cat else "Item",
        "quantity": qty,
        "price": price,
        "cost": round(price * 0.7, 2),
        "extPrice": round(qty * price, 2),
        "extCost": round(qty * price * 0.7, 2),
        "billableOption": "Billable",
        "company": company,
        "taxableFlag": True,
        "dropshipFlag": False,
        "specialOrderFlag": False,
        "cancelledFlag": False,
        "productClass": "NonInventory",
    }


def _b_expenses(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    p, company, _ = _company_child_refs(c, ts)
    amount = round(5 + rng.random() * 400, 2)
    return {
        "amount": amount,
        "billAmount": amount,
        "billableOption": "Billable" if rng.random() < 0.6 else "DoNotBill",
        "chargeToId": company["id"],
        "chargeToType": "Company",
        "classification": g.pick("expense/classifications", rng),
        "company": company,
        "date": iso_day(ts),
        "expenseReport": g.pick("expense/reports", rng),
        "member": g.pick("system/members", rng),
        "paymentMethod": g.pick("expense/paymentTypes", rng),
        "type": g.pick("expense/types", rng),
        "status": "Open" if ts > ANCHOR - 30 * DAY else "Billed",
        "notes": (
            "Mileage to client site",
            "Lunch with client",
            "Parking",
            "Cables & adapters",
            "Hôtel – 1 nuit",
        )[int(rng.random() * 5)],
    }


def _weekly(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    # one sheet per member and week of the three years; a bigger tenant (more sheets than
    # member-weeks) starts over from the first week rather than run past the data's end
    weeks = (ANCHOR - START) // (7 * DAY)
    week = START + (i // max(1, len(g.idx("system/members"))) % weeks) * 7 * DAY
    return {
        "member": g.ref("system/members", i % max(1, len(g.idx("system/members")))),
        "dateStart": iso_day(week),
        "dateEnd": iso_day(week + 6 * DAY),
        "status": "Approved" if week < ANCHOR - 21 * DAY else "Open",
        "hours": float(20 + int(rng.random() * 21)),
        "total": round(rng.random() * 600, 2),
        "year": int(iso_day(week)[:4]),
        "period": 1 + ((week - START) // (7 * DAY)) % 52,
    }


def _b_kb(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    s = _summary(rng)
    who = g.who(rng, c.res.path)
    return {
        "title": "How to fix: " + s,
        "issue": s,
        "resolution": _NOTE_TEXT[int(rng.random() * len(_NOTE_TEXT))],
        "board": g.pick("service/boards", rng),
        "categoryId": g.idx("service/knowledgeBaseCategories").ids[0]
        if g.idx("service/knowledgeBaseCategories").ids
        else None,
        "dateCreated": iso(ts),
        "createdBy": who,
    }


def _b_forecast(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    g, rng = c.gen, c.rng
    opp = g.idx("sales/opportunities")
    items = []
    for j in range(1 + int(rng.random() * 3)):
        rev = round(100 + rng.random() * 9000, 2)
        cost = round(rev * 0.6, 2)
        items.append(
            {
                "id": rid * 10 + j,
                "forecastType": ("Service", "Product", "Agreement")[j % 3],
                "opportunity": opp.refs[c.pidx],
                "status": g.pick("sales/opportunities/statuses", rng),
                "revenue": rev,
                "cost": cost,
                "margin": round(rev - cost, 2),
                "percentage": 50.0,
                "includeFlag": True,
                "linkFlag": False,
                "quantity": 1.0,
                "recurringFlag": False,
            }
        )
    return {
        "forecastItems": items,
        "expectedProbability": 50.0,
        "recurringTotal": 0.0,
        "currency": g.ref("finance/currencies", 0),
    }


def _with_generic(build: Callable) -> Callable:
    """A builder that lays its own values over the generic ones (for mid-size tables)."""

    def both(c: _Ctx, i: int, rid: int, ts: int) -> dict:
        out = _generic(c, i, rid, ts)
        out.update(build(c, i, rid, ts))
        return {k: out[k] for k in list(c.res.fields) + ["_enteredBy"] if k in out}

    return both


def _ordered(build: Callable) -> Callable:
    """Put a builder's values in model order (cheap enough for all but the biggest tables)."""

    def wrapped(c: _Ctx, i: int, rid: int, ts: int) -> dict:
        out = build(c, i, rid, ts)
        keys = c.gen._plans.get("_keys:" + c.res.path)
        if keys is None:
            keys = c.gen._plans["_keys:" + c.res.path] = [*c.res.fields, "_enteredBy"]
        return {k: out[k] for k in keys if k in out}

    return wrapped


def _keep_rate(c: _Ctx, i: int, rid: int, ts: int) -> dict:
    out = _generic(c, i, rid, ts)
    c.keep("rate", out.get("hourlyRate") or 150.0)
    return out


_BUILDERS: dict[str, tuple[Callable, Callable | None]] = {
    "system/members": (_b_members, None),
    "service/boards": (_b_boards, None),
    "service/boards/{parentId}/statuses": (_board_child(_STATUSES), None),
    "service/boards/{parentId}/types": (_board_child(_BTYPES), None),
    "service/boards/{parentId}/subtypes": (_board_child(_BSUBTYPES), None),
    "service/boards/{parentId}/items": (_board_child(_BITEMS), None),
    "service/boards/{parentId}/teams": (_board_child(("Tier 1", "Tier 2", "Dispatch")), None),
    "time/workRoles": (_keep_rate, None),
    "company/companies": (_ordered(_b_companies), None),
    "company/companies/{parentId}/sites": (_ordered(_b_sites), _sites_plan),
    "company/contacts": (_ordered(_b_contacts), None),
    "company/contacts/{parentId}/communications": (_ordered(_b_communications), _comm_plan),
    "company/companies/{parentId}/notes": (
        _ordered(_company_note("company", "company/companies")),
        None,
    ),
    "company/contacts/{parentId}/notes": (
        _ordered(_company_note("contactId", "company/contacts")),
        None,
    ),
    "sales/opportunities/{parentId}/notes": (
        _ordered(_company_note("opportunityId", "sales/opportunities")),
        None,
    ),
    "project/projects/{parentId}/notes": (
        _ordered(_company_note("projectId", "project/projects")),
        None,
    ),
    "company/configurations": (_ordered(_b_configurations), None),
    "finance/agreements": (_with_generic(_b_agreements), None),
    "project/projects": (_ordered(_b_projects), None),
    "project/projects/{parentId}/phases": (_ordered(_b_phases), _each_plan(4)),
    "service/tickets": (_ordered(_b_tickets), None),
    "service/tickets/{parentId}/notes": (_note_builder("service/tickets"), None),
    "service/tickets/{parentId}/tasks": (_ordered(_task_builder("service/tickets")), None),
    "project/tickets": (_ordered(_b_project_tickets), None),
    "project/tickets/{parentId}/notes": (_ordered(_note_builder("project/tickets")), None),
    "project/tickets/{parentId}/tasks": (_ordered(_task_builder("project/tickets")), None),
    "time/entries": (_ordered(_b_time_entries), None),
    "sales/opportunities": (_ordered(_b_opportunities), None),
    "sales/opportunities/{parentId}/forecast": (_ordered(_b_forecast), _each_plan(1)),
    "finance/invoices": (_ordered(_b_invoices), None),
    "finance/invoices/{parentId}/payments": (_ordered(_b_payments), None),
    "sales/activities": (_ordered(_b_activities), None),
    "schedule/entries": (_ordered(_b_schedule), None),
    "sales/orders": (_ordered(_b_order), None),
    "procurement/purchaseorders": (_ordered(_b_po), None),
    "procurement/purchaseorders/{parentId}/lineitems": (_ordered(_b_po_lines), _each_plan(3)),
    "procurement/products": (_ordered(_b_products), None),
    "expense/entries": (_ordered(_b_expenses), None),
    "time/sheets": (_with_generic(_weekly), None),
    "expense/reports": (_with_generic(_weekly), None),
    "service/knowledgeBaseArticles": (_ordered(_b_kb), None),
}
_BUILDERS = {
    p: (
        b if p == "service/tickets/{parentId}/notes" or b.__name__ == "wrapped" else _ordered(b),
        plan,
    )
    for p, (b, plan) in _BUILDERS.items()
}
# Collections nothing refers to by reference (their reference dicts are not kept).
_NO_REFS = {
    "time/entries",
    "service/tickets/{parentId}/notes",
    "service/tickets/{parentId}/tasks",
    "project/tickets/{parentId}/notes",
    "project/tickets/{parentId}/tasks",
    "schedule/entries",
    "expense/entries",
    "company/contacts/{parentId}/communications",
    "service/tickets",
}

_ORDER: tuple[str, ...] = (
    "system/timeZoneSetups",
    "system/locations",
    "system/departments",
    "system/securityroles",
    "system/members/types",
    "system/skillCategories",
    "system/skills",
    "system/reportCards",
    "time/workRoles",
    "time/workTypes",
    "finance/currencies",
    "finance/billingCycles",
    "finance/billingStatuses",
    "finance/billingTerms",
    "finance/taxCodes",
    "finance/deliveryMethods",
    "finance/glAccounts",
    "finance/agreements/types",
    "service/boards",
    "service/boards/{parentId}/statuses",
    "service/boards/{parentId}/types",
    "service/boards/{parentId}/subtypes",
    "service/boards/{parentId}/items",
    "system/members",
    "service/boards/{parentId}/teams",
    "system/members/{parentId}/skills",
    "system/apiMembers",
    "company/countries",
    "company/states",
    "company/companies/statuses",
    "company/companies/types",
    "company/contacts/types",
    "company/contacts/departments",
    "company/contacts/relationships",
    "company/teamRoles",
    "company/noteTypes",
    "company/communicationTypes",
    "company/marketDescriptions",
    "company/ownershipTypes",
    "company/configurations/types",
    "company/configurations/statuses",
    "configurations/types/info",
    "service/priorities",
    "service/SLAs",
    "service/sources",
    "service/impacts",
    "service/severities",
    "service/locations",
    "service/teams",
    "service/codes",
    "service/surveys",
    "service/knowledgeBaseCategories",
    "schedule/holidayLists",
    "schedule/calendars",
    "schedule/types",
    "schedule/statuses",
    "schedule/colors",
    "time/accruals",
    "time/timePeriodSetups",
    "sales/opportunities/statuses",
    "sales/opportunities/types",
    "sales/opportunities/ratings",
    "sales/probabilities",
    "sales/stages",
    "sales/roles",
    "sales/salesTeams",
    "sales/activities/statuses",
    "sales/activities/types",
    "sales/orders/statuses",
    "marketing/campaigns/types",
    "marketing/campaigns/statuses",
    "marketing/groups",
    "marketing/campaigns",
    "project/projectTypes",
    "project/statuses",
    "project/phaseStatuses",
    "project/securityRoles",
    "procurement/categories",
    "procurement/subcategories",
    "procurement/manufacturers",
    "procurement/types",
    "procurement/unitOfMeasures",
    "procurement/shipmentmethods",
    "procurement/warehouses",
    "procurement/warehouseBins",
    "procurement/purchaseorderstatuses",
    "procurement/catalog",
    "expense/types",
    "expense/classifications",
    "expense/paymentTypes",
    "system/callbacks",
    "system/userDefinedFields",
    "system/workflows",
    "system/surveys",
    "system/standardNotes",
    "system/certifications",
    "company/companies",
    "company/companies/{parentId}/sites",
    "company/contacts",
    "company/contacts/{parentId}/communications",
    "company/companies/{parentId}/notes",
    "company/contacts/{parentId}/notes",
    "company/configurations",
    "time/chargeCodes",
    "sales/quotas",
    "service/templates",
    "sales/opportunities",
    "sales/opportunities/{parentId}/forecast",
    "sales/opportunities/{parentId}/notes",
    "finance/agreements",
    "finance/agreements/{parentId}/additions",
    "finance/agreements/{parentId}/adjustments",
    "finance/agreements/{parentId}/sites",
    "project/projects",
    "project/projects/{parentId}/phases",
    "project/projects/{parentId}/teamMembers",
    "project/projects/{parentId}/notes",
    "service/tickets",
    "service/tickets/{parentId}/notes",
    "service/tickets/{parentId}/tasks",
    "project/tickets",
    "project/tickets/{parentId}/notes",
    "project/tickets/{parentId}/tasks",
    "service/knowledgeBaseArticles",
    "time/sheets",
    "time/entries",
    "schedule/entries",
    "sales/activities",
    "sales/orders",
    "sales/orders/{parentId}/lineitems",
    "finance/invoices",
    "finance/invoices/{parentId}/payments",
    "expense/reports",
    "expense/entries",
    "procurement/products",
    "procurement/purchaseorders",
    "procurement/purchaseorders/{parentId}/lineitems",
    "procurement/adjustments",
)
