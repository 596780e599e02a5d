"""The ConnectWise Manage API semantics the sandbox serves.

Routing (``/login/companyinfo/{companyId}`` and ``/{codebase}apis/3.0/...``), auth,
security roles, versions, both pagination modes with ``Link`` headers, ``/count``,
``/search``, partial responses, writes (POST/PUT/PATCH/DELETE), the audit trail and the
reporting endpoints. Storage is :mod:`.store`; query strings compile in
:mod:`.conditions`; record shapes come from :mod:`.catalog`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from . import conditions as cq
from . import versions
from .callbacks import validate_entry
from .catalog import custom_field_values, make_info, make_reference
from .clock import Clock, format_iso, parse_iso
from .http import ApiError, Request, Response
from .model import (
    ARRAY,
    BASE_PLACEHOLDER,
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
    Resource,
)
from .reports import REPORTS, report_columns, report_rows
from .store import Store

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25
_API_RE = re.compile(r"^/(v4_6_release|v\d{4}_\d{1,2})/apis/3\.0/?(.*)$", re.IGNORECASE)
_COMPANYINFO_RE = re.compile(r"^/login/companyinfo/([^/]+)/?$", re.IGNORECASE)
_PLACEHOLDER = BASE_PLACEHOLDER.encode()


@dataclass
class Member:
    """An API member: its keys and the modules its security role does not grant."""

    identifier: str
    public_key: str
    private_key: str
    denied_modules: frozenset[str] = frozenset()


@dataclass
class Tenant:
    company_id: str
    company_name: str
    client_ids: set[str]
    members: dict[str, Member] = field(default_factory=dict)  # by public key
    cloud: bool = False

    @property
    def codebase(self) -> str:
        if self.cloud:
            major, minor = versions.LATEST.split(".")
            return f"v{major}_{minor}/"
        return "v4_6_release/"


@dataclass
class Options:
    max_url_length: int = 2000
    forward_link_keeps_params: bool = False


@dataclass
class _Route:
    resource: Resource
    parent_id: int | None
    grandparent_id: int | None
    tail: str  # "" | "count" | "search" | "id"
    record_id: int | None


class Api:
    """Callable ``Request -> Response`` implementing the API."""

    def __init__(self, store: Store, tenant: Tenant, clock: Clock, options: Options | None = None):
        self.store = store
        self.tenant = tenant
        self.clock = clock
        self.options = options or Options()
        self.resources = store.resources
        self._patterns = sorted(
            ((tuple(p.lower() for p in r.path.split("/")), r) for r in self.resources.values()),
            key=lambda item: -len(item[0]),
        )

    # -- entry point ---------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        m = _COMPANYINFO_RE.match(request.path)
        if m and request.method == "GET":
            return self._companyinfo(m.group(1))
        m = _API_RE.match(request.path)
        if not m:
            raise ApiError(404, "NotFound", f"No resource was found at {request.path}.")
        codebase, rest = m.group(1), m.group(2).strip("/")
        if request.url_length > self.options.max_url_length:
            raise ApiError(
                414,
                "UriTooLong",
                f"The request URL is {request.url_length} characters long; the limit is "
                f"{self.options.max_url_length}. Send long conditions to the /search endpoint.",
            )
        member = self._authenticate(request)
        version = self._version(request)
        base = f"https://{request.host}/{codebase}/apis/3.0/".replace("https://", _scheme(request))
        segments = [s for s in rest.split("/") if s]
        lowered = [s.lower() for s in segments]
        if lowered[:2] == ["system", "audittrail"]:
            return self._audit_trail(request, lowered[2:])
        if lowered[:2] == ["system", "reports"]:
            self._authorize(member, "system", "system/reports")
            return self._reports(request, segments[2:])
        route = self._route(segments)
        res = route.resource
        self._authorize(member, res.security_module or res.module, res.path)
        changes = versions.changes_for(res.path, version)
        ctx = _Context(request, route, base, changes, member)
        if route.tail == "":
            if request.method == "GET":
                return self._list(ctx, request.query)
            if request.method == "POST":
                return self._create(ctx)
        elif route.tail == "count" and request.method == "GET":
            return self._count(ctx, request.query)
        elif route.tail == "search" and request.method == "POST":
            return self._list(ctx, {**request.query, **_search_body(request)})
        elif route.tail == "id":
            if request.method == "GET":
                return self._get(ctx)
            if request.method in ("PUT", "PATCH"):
                return self._update(ctx)
            if request.method == "DELETE":
                return self._delete(ctx)
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"The requested resource does not support http method '{request.method}'.",
        )

    # -- identity ------------------------------------------------------------------
    def _companyinfo(self, company: str) -> Response:
        if company.lower() != self.tenant.company_id.lower():
            raise ApiError(404, "NotFound", f"Company {company!r} was not found.")
        major, minor = versions.LATEST.split(".")
        body = {
            "CompanyName": self.tenant.company_name,
            "Codebase": self.tenant.codebase,
            "VersionCode": f"v{major}.{minor}",
            "VersionNumber": "v4.6.99999",
            "CompanyID": self.tenant.company_id,
            "IsCloud": "True" if self.tenant.cloud else "False",
            "SiteUrl": "",
            "AllowAccessToCloudAuth": False,
        }
        return Response(200, orjson.dumps(body))

    def _authenticate(self, request: Request) -> Member:
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            raise ApiError(401, "Unauthorized", "Authorization has been denied for this request.")
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(
                401, "Unauthorized", "Authorization has been denied for this request."
            ) from None
        user, _, password = decoded.partition(":")
        company, _, public_key = user.partition("+")
        member = self.tenant.members.get(public_key)
        if (
            company.lower() != self.tenant.company_id.lower()
            or member is None
            or member.private_key != password
        ):
            raise ApiError(401, "Unauthorized", "Authorization has been denied for this request.")
        client_id = request.header("clientid")
        if not client_id:
            raise ApiError(
                401,
                "ClientIdRequired",
                "A clientId header is required. Register one at the ConnectWise developer network.",
            )
        if client_id not in self.tenant.client_ids:
            raise ApiError(401, "InvalidClientId", "The clientId supplied is not registered.")
        return member

    def _authorize(self, member: Member, module: str, path: str) -> None:
        if module.lower() in member.denied_modules:
            raise ApiError(
                403,
                "NotAuthorized",
                f"You do not have access to {path}: the API member's security role does not "
                f"grant the {module} module.",
            )

    def _version(self, request: Request) -> str:
        try:
            return versions.parse_accept(request.header("accept"))
        except versions.VersionError as exc:
            raise ApiError(400, "InvalidVersion", str(exc)) from None

    # -- routing -------------------------------------------------------------------
    def _route(self, segments: list[str]) -> _Route:
        lowered = [s.lower() for s in segments]
        for pattern, res in self._patterns:
            n = len(pattern)
            if len(lowered) < n:
                continue
            ids: list[int] = []
            for want, got in zip(pattern, lowered, strict=False):
                if want.startswith("{"):
                    if not got.isdigit():
                        break
                    ids.append(int(got))
                elif want != got:
                    break
            else:
                tail = lowered[n:]
                if len(tail) > 1:
                    continue
                parent_id = ids[-1] if ids else None
                grandparent_id = ids[-2] if len(ids) > 1 else None
                if not tail:
                    route = _Route(res, parent_id, grandparent_id, "", None)
                elif tail[0] in ("count", "search"):
                    route = _Route(res, parent_id, grandparent_id, tail[0], None)
                elif tail[0].isdigit():
                    route = _Route(res, parent_id, grandparent_id, "id", int(tail[0]))
                else:
                    continue
                if res.is_child:
                    self._check_parent(res, parent_id, grandparent_id)
                return route
        raise ApiError(404, "NotFound", f"No resource was found at /{'/'.join(segments)}.")

    def _check_parent(
        self, res: Resource, parent_id: int | None, grandparent_id: int | None
    ) -> None:
        parent = self.resources[res.parent]
        row = self.store.get_row(parent, parent_id) if parent_id is not None else None
        if row is None or (grandparent_id is not None and row[0] != grandparent_id):
            raise ApiError(404, "NotFound", f"{parent.model} with id {parent_id} was not found.")

    # -- reads ---------------------------------------------------------------------
    def _filters(self, ctx: _Context, query: dict) -> tuple[list[str], list]:
        res, route = ctx.route.resource, ctx.route
        where: list[str] = []
        params: list = []
        if res.is_child:
            where.append("parent_id = ?")
            params.append(route.parent_id)
        try:
            text = query.get("conditions")
            if text and text.strip():
                sql, args = cq.compile_conditions(
                    versions.renamed_path(text, ctx.changes), res.fields
                )
                where.append(sql)
                params += args
            text = query.get("childconditions")
            if text and text.strip():
                sql, args = cq.compile_child_conditions(text, res.fields)
                where.append(sql)
                params += args
            text = query.get("customfieldconditions")
            if text and text.strip():
                sql, args = cq.compile_custom_field_conditions(text)
                where.append(sql)
                params += args
        except cq.ConditionError as exc:
            raise ApiError(400, "InvalidObject", str(exc)) from None
        page_id = query.get("pageid")
        if page_id not in (None, ""):
            where.append("id > ?")
            params.append(_int_param("pageId", page_id, minimum=0))
        return where, params

    def _list(self, ctx: _Context, query: dict) -> Response:
        res, request = ctx.route.resource, ctx.request
        where, params = self._filters(ctx, query)
        page_size = _page_size(query.get("pagesize"))
        selection = self._selection(ctx, query.get("fields"))
        forward = (request.header("pagination-type") or "").strip().lower() == "forward-only"
        headers: dict[str, str] = {}
        if forward:
            if not res.forward_only:
                raise ApiError(
                    400,
                    "InvalidPagination",
                    f"Forward-only pagination is not supported for /{res.path}; use page and pageSize.",
                )
            if query.get("orderby"):
                raise ApiError(
                    400,
                    "InvalidPagination",
                    "orderBy cannot be used with forward-only pagination: results are ordered by id.",
                )
            bodies = self.store.select_bodies(res, where, params, order="id", limit=page_size)
            start_id = _int_param("pageId", query.get("pageid") or "0", minimum=0)
            last_id = _last_id(bodies) if bodies else start_id
            headers["Link"] = self._forward_link(ctx, query, page_size, last_id)
        else:
            page = _int_param("page", query.get("page") or "1", minimum=1)
            order = "id"
            if query.get("orderby"):
                try:
                    order = cq.compile_order_by(
                        versions.renamed_path(query["orderby"], ctx.changes), res.fields
                    )
                except cq.ConditionError as exc:
                    raise ApiError(400, "InvalidObject", str(exc)) from None
            total = self.store.count(res, where, params)
            bodies = self.store.select_bodies(
                res, where, params, order=order, limit=page_size, offset=(page - 1) * page_size
            )
            headers["Link"] = self._navigable_links(ctx, page, page_size, total)
        body = self._render(bodies, ctx, selection)
        return Response(200, body, headers=headers, records=len(bodies))

    def _selection(self, ctx: _Context, text: str | None):
        if not text or not text.strip():
            return None
        try:
            return cq.parse_fields(
                versions.renamed_path(text, ctx.changes), ctx.route.resource.fields
            )
        except cq.ConditionError as exc:
            raise ApiError(400, "InvalidObject", str(exc)) from None

    def _render(self, bodies: list[str], ctx: _Context, selection) -> bytes:
        base = ctx.base.encode()
        if selection is None and not ctx.changes:
            return ("[" + ",".join(bodies) + "]").encode().replace(_PLACEHOLDER, base)
        out = []
        for text in bodies:
            record = orjson.loads(text)
            if selection is not None:
                record = cq.project(record, selection)
            out.append(versions.to_version(record, ctx.changes))
        return orjson.dumps(out).replace(_PLACEHOLDER, base)

    def _render_one(self, record: dict, ctx: _Context, selection=None) -> bytes:
        if selection is not None:
            record = cq.project(record, selection)
        record = versions.to_version(record, ctx.changes)
        return orjson.dumps(record).replace(_PLACEHOLDER, ctx.base.encode())

    def _navigable_links(self, ctx: _Context, page: int, page_size: int, total: int) -> str:
        last = max(1, math.ceil(total / page_size))
        links = []
        if page < last:
            links.append((page + 1, "next"))
        if page > 1:
            links.append((page - 1, "prev"))
            links.append((1, "first"))
        links.append((last, "last"))
        url = self._self_url(ctx, drop=("page", "pagesize", "pageid"))
        return ", ".join(f'<{url}pageSize={page_size}&page={n}>; rel="{rel}"' for n, rel in links)

    def _forward_link(self, ctx: _Context, query: dict, page_size: int, last_id: int) -> str:
        if self.options.forward_link_keeps_params:
            url = self._self_url(ctx, drop=("page", "pagesize", "pageid"))
        else:
            url = self._self_url(ctx, keep=())
        return f'<{url}pageSize={page_size}&pageId={last_id}>; rel="next"'

    def _self_url(
        self, ctx: _Context, *, drop: Iterable[str] = (), keep: Iterable[str] | None = None
    ) -> str:
        request = ctx.request
        dropped = set(drop)
        pieces = []
        for name, value in request.raw_params():
            low = name.lower()
            if low in dropped or (keep is not None and low not in keep):
                continue
            pieces.append(f"{name}={value}")
        url = f"{_scheme(request)}{request.host}{request.path}"
        return url + "?" + "".join(p + "&" for p in pieces)

    def _count(self, ctx: _Context, query: dict) -> Response:
        where, params = self._filters(ctx, query)
        return Response(
            200, orjson.dumps({"count": self.store.count(ctx.route.resource, where, params)})
        )

    def _get(self, ctx: _Context) -> Response:
        res, route = ctx.route.resource, ctx.route
        record = self.store.get(res, route.record_id, route.parent_id)
        if record is None:
            raise ApiError(404, "NotFound", f"{res.model} with id {route.record_id} was not found.")
        selection = self._selection(ctx, ctx.request.query.get("fields"))
        return Response(200, self._render_one(record, ctx, selection))

    # -- writes --------------------------------------------------------------------
    def _payload(self, request: Request) -> object:
        try:
            return orjson.loads(request.body or b"null")
        except orjson.JSONDecodeError:
            raise ApiError(400, "InvalidObject", "The request body is not valid JSON.") from None

    def _create(self, ctx: _Context) -> Response:
        res = ctx.route.resource
        if not res.writable:
            raise ApiError(405, "MethodNotAllowed", f"/{res.path} does not support POST.")
        payload = self._payload(ctx.request)
        record = self.write(
            res,
            payload,
            action="added",
            member=ctx.member,
            parent_id=ctx.route.parent_id,
            changes=ctx.changes,
        )
        location = f"{ctx.base.rstrip('/')}/{_concrete_path(res, ctx.route)}/{record['id']}"
        return Response(201, self._render_one(record, ctx), headers={"Location": location})

    def _update(self, ctx: _Context) -> Response:
        res, route = ctx.route.resource, ctx.route
        if not res.writable:
            raise ApiError(
                405, "MethodNotAllowed", f"/{res.path} does not support {ctx.request.method}."
            )
        if self.store.get(res, route.record_id, route.parent_id) is None:
            raise ApiError(404, "NotFound", f"{res.model} with id {route.record_id} was not found.")
        payload = self._payload(ctx.request)
        if ctx.request.method == "PATCH":
            record = self.patch(
                res, route.record_id, payload, member=ctx.member, changes=ctx.changes
            )
        else:
            record = self.write(
                res,
                payload,
                action="updated",
                member=ctx.member,
                parent_id=route.parent_id,
                record_id=route.record_id,
                changes=ctx.changes,
            )
        return Response(200, self._render_one(record, ctx))

    def _delete(self, ctx: _Context) -> Response:
        res, route = ctx.route.resource, ctx.route
        if not res.writable:
            raise ApiError(405, "MethodNotAllowed", f"/{res.path} does not support DELETE.")
        if self.store.get(res, route.record_id, route.parent_id) is None:
            raise ApiError(404, "NotFound", f"{res.model} with id {route.record_id} was not found.")
        self.store.delete(res, route.record_id, member=ctx.member.identifier)
        return Response(204)

    def write(
        self,
        res: Resource,
        payload: object,
        *,
        action: str,
        member: Member,
        parent_id: int | None = None,
        record_id: int | None = None,
        changes: tuple = (),
    ) -> dict:
        """POST (``record_id`` None) or PUT: build the whole record from ``payload``."""
        if not isinstance(payload, dict):
            raise ApiError(
                400,
                "InvalidObject",
                f"{_resource_word(res)} object is invalid: expected a JSON object.",
            )
        payload = versions.from_version(payload, changes)
        if res.path == "system/callbacks":
            validate_entry(payload)

        def build(db, rid, current):
            body = self._build_body(res, payload, touched=None, base=None)
            self._check_required(res, body)
            if rid is None:
                rid = self.store.next_id(db, res)
                entered, entered_by = self.clock.now_iso(), member.identifier
                owner = parent_id
            else:
                info = (current or {}).get("_info", {})
                entered, entered_by = info.get("dateEntered"), info.get("enteredBy")
                owner = parent_id
            return rid, owner, self._finish(res, rid, owner, body, member, entered, entered_by)

        return self.store.write(res, build, rid=record_id, action=action, member=member.identifier)

    def patch(
        self, res: Resource, record_id: int, ops: object, *, member: Member, changes: tuple = ()
    ) -> dict:
        """PATCH with the JSON-patch array the guide describes."""
        if not isinstance(ops, list) or not ops:
            raise ApiError(
                400,
                "InvalidObject",
                'PATCH expects a JSON array of operations: [{"op": "replace", "path": "summary", "value": "..."}]',
            )
        renames = {c.old_name: c.new_name for c in changes}
        updates: dict[str, object] = {}
        removals: set[str] = set()
        for op in ops:
            if (
                not isinstance(op, dict)
                or not isinstance(op.get("path"), str)
                or not isinstance(op.get("op"), str)
            ):
                raise ApiError(
                    400, "InvalidObject", "Each PATCH operation needs string 'op' and 'path'."
                )
            kind = op["op"].lower()
            if kind not in ("add", "replace", "remove"):
                raise ApiError(
                    400,
                    "InvalidObject",
                    f"Unsupported PATCH op {op['op']!r}: use add, replace or remove.",
                )
            path = op["path"].lstrip("/")
            if "/" in path:
                # The guide: updating inside an object (company/identifier) is not
                # supported and "may receive a false 200" - it is silently ignored.
                continue
            path = renames.get(path, path)
            fld = res.fields.get(path)
            if fld is None or path in ("id", "_info"):
                raise ApiError(
                    400,
                    "InvalidObject",
                    f"Cannot patch {op['path']!r}: no such field on {res.model} (paths are case sensitive).",
                    errors=[
                        {
                            "code": "InvalidField",
                            "message": f"Unknown field {op['path']}",
                            "resource": _resource_word(res),
                            "field": op["path"],
                        }
                    ],
                )
            if kind == "remove":
                removals.add(path)
                updates.pop(path, None)
            else:
                if "value" not in op:
                    raise ApiError(400, "InvalidObject", f"PATCH {kind} of {path!r} needs a value.")
                value = op["value"]
                if (
                    changes
                    and path in {c.new_name for c in changes}
                    and path == "types"
                    and isinstance(value, dict)
                ):
                    value = [value]
                updates[path] = value
                removals.discard(path)

        def build(db, rid, current):
            if current is None:
                raise ApiError(404, "NotFound", f"{res.model} with id {rid} was not found.")
            merged = {k: v for k, v in current.items() if k not in removals}
            merged.update(updates)
            body = self._build_body(res, merged, touched=set(updates), base=current)
            self._check_required(res, body)
            row = self.store.get_row(res, rid)
            parent_id = row[0] if row else None
            info = current.get("_info", {})
            return (
                rid,
                parent_id,
                self._finish(
                    res,
                    rid,
                    parent_id,
                    body,
                    member,
                    info.get("dateEntered"),
                    info.get("enteredBy"),
                ),
            )

        return self.store.write(
            res, build, rid=record_id, action="updated", member=member.identifier
        )

    def _build_body(
        self, res: Resource, payload: dict, *, touched: set[str] | None, base: dict | None
    ) -> dict:
        """Validate and coerce a payload into a stored body (without id/_info)."""
        lowered = {k.lower(): k for k in payload}
        body: dict = {}
        errors: list[dict] = []
        for name, fld in res.fields.items():
            if name in ("id", "_info") or fld.kind == INFO:
                continue
            key = name if name in payload else lowered.get(name.lower())
            if key is None:
                continue
            value = payload[key]
            if value is None:
                continue
            if touched is not None and name not in touched:
                body[name] = value  # unchanged by a PATCH: keep as stored
                continue
            try:
                body[name] = self._coerce(res, fld, value)
            except _FieldError as exc:
                errors.append(
                    {
                        "code": "InvalidField",
                        "message": str(exc),
                        "resource": _resource_word(res),
                        "field": name,
                    }
                )
        if errors:
            raise ApiError(
                400, "InvalidObject", f"{_resource_word(res)} object is invalid", errors=errors
            )
        return body

    def _coerce(self, res: Resource, fld: Field, value: object) -> object:
        kind = fld.kind
        if kind == INT:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(value, float) and not value.is_integer())
            ):
                raise _FieldError(f"The {fld.name} field must be a whole number.")
            return int(value)
        if kind == NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _FieldError(f"The {fld.name} field must be a number.")
            return value
        if kind == BOOL:
            if not isinstance(value, bool):
                raise _FieldError(f"The {fld.name} field must be true or false.")
            return value
        if kind == STRING:
            if not isinstance(value, str):
                raise _FieldError(f"The {fld.name} field must be a string.")
            return value
        if kind == DATETIME:
            if not isinstance(value, str):
                raise _FieldError(f"The {fld.name} field must be a date/time string.")
            try:
                return format_iso(parse_iso(value))
            except ValueError:
                raise _FieldError(
                    f"The {fld.name} field is not a valid date/time: {value!r}."
                ) from None
        if kind == REF:
            return self._resolve_reference(fld, value)
        if kind == CUSTOM_FIELDS:
            return self._custom_fields(res, value)
        if kind == ARRAY:
            if not isinstance(value, list):
                raise _FieldError(f"The {fld.name} field must be an array.")
            if fld.target:
                return [self._resolve_reference(fld, v) for v in value]
            return value
        if kind == OBJECT:
            if not isinstance(value, dict):
                raise _FieldError(f"The {fld.name} field must be an object.")
            return value
        return value

    def _resolve_reference(self, fld: Field, value: object) -> dict:
        if not isinstance(value, dict):
            raise _FieldError(
                f'The {fld.name} field must be a reference object such as {{"id": 1}}.'
            )
        target = self.resources.get(fld.target) if fld.target else None
        if target is None:
            return {k: v for k, v in value.items() if k != "_info"}
        found: list[tuple[int, int | None]] = []
        if isinstance(value.get("id"), int) and not isinstance(value.get("id"), bool):
            row = self.store.get_row(target, value["id"])
            found = [(value["id"], row[0])] if row else []
            label = f"id {value['id']}"
        elif isinstance(value.get("identifier"), str):
            found = self.store.find_by_label(target, "identifier", value["identifier"])
            label = f"identifier {value['identifier']!r}"
        elif isinstance(value.get("name"), str):
            found = self.store.find_by_label(target, "name", value["name"])
            label = f"name {value['name']!r}"
        else:
            raise _FieldError(f"The {fld.name} reference needs an id or identifier.")
        if not found:
            raise _FieldError(f"The {fld.name} with {label} was not found.")
        if len(found) > 1:
            raise _FieldError(f"The {fld.name} {label} is not unique; use its id.")
        rid, parent_id = found[0]
        target_body = self.store.get(target, rid)
        return make_reference(target, target_body, parent_id)

    def _custom_fields(self, res: Resource, value: object) -> list[dict]:
        if not isinstance(value, list):
            raise _FieldError("customFields must be the whole array of custom fields.")
        defs = {d.id: d for d in res.custom_fields}
        values: dict[int, object] = {}
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                raise _FieldError("Each custom field needs its id.")
            d = defs.get(item["id"])
            if d is None:
                raise _FieldError(f"Custom field id {item['id']} is not defined for {res.model}.")
            v = item.get("value")
            if v is not None:
                if d.type in ("Number", "Percent", "Currency") and (
                    isinstance(v, bool) or not isinstance(v, int | float)
                ):
                    raise _FieldError(f"Custom field {d.caption!r}: Option value must be a number.")
                if d.type == "Checkbox" and not isinstance(v, bool):
                    raise _FieldError(f"Custom field {d.caption!r} must be true or false.")
                values[d.id] = v
        # Passed whole: a field left out of the array loses its value.
        return custom_field_values(res.custom_fields, values)

    def _check_required(self, res: Resource, body: dict) -> None:
        missing = [name for name in res.required if body.get(name) in (None, "")]
        if missing:
            raise ApiError(
                400,
                "InvalidObject",
                f"{_resource_word(res)} object is invalid",
                errors=[
                    {
                        "code": "NullValue",
                        "message": f"The {name} field is required.",
                        "resource": _resource_word(res),
                        "field": name,
                    }
                    for name in missing
                ],
            )

    def _finish(self, res, rid, parent_id, body, member, entered, entered_by) -> dict:
        if res.parent_field and parent_id is not None:
            pf = res.fields.get(res.parent_field)
            if pf is not None and pf.kind == REF:
                parent_res = self.resources[res.parent]
                row = self.store.get_row(parent_res, parent_id)
                if row is not None:
                    body[res.parent_field] = make_reference(parent_res, row[1], row[0])
            else:
                body[res.parent_field] = parent_id
        if res.has_custom_fields and "customFields" not in body:
            body["customFields"] = custom_field_values(res.custom_fields, {})
        now = self.clock.now_iso()
        out: dict = {"id": rid}
        for name in res.fields:
            if name in body and name not in ("customFields",):
                out[name] = body[name]
        if res.has_info:
            out["_info"] = make_info(
                res,
                rid,
                parent_id,
                now,
                member.identifier,
                entered or now,
                entered_by or member.identifier,
            )
        if "customFields" in body:
            out["customFields"] = body["customFields"]
        return out

    # -- audit trail ---------------------------------------------------------------
    def _audit_trail(self, request: Request, rest: list[str]) -> Response:
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "The audit trail is read-only.")
        if (request.header("pagination-type") or "").lower() == "forward-only":
            raise ApiError(
                400,
                "InvalidPagination",
                "Forward-only pagination does not work with the Audit Trail endpoints.",
            )
        kind = request.query.get("type")
        if not kind:
            raise ApiError(
                400, "InvalidObject", "The type parameter is required (e.g. type=Ticket&id=123)."
            )
        rid = request.query.get("id")
        rid_int = _int_param("id", rid, minimum=0) if rid else None
        if rest == ["count"]:
            return Response(200, orjson.dumps({"count": self.store.audit_count(kind, rid_int)}))
        if rest:
            raise ApiError(404, "NotFound", "No resource was found.")
        page_size = _page_size(request.query.get("pagesize"))
        page = _int_param("page", request.query.get("page") or "1", minimum=1)
        rows = self.store.audit_entries(kind, rid_int, page_size, (page - 1) * page_size)
        return Response(200, ("[" + ",".join(rows) + "]").encode(), records=len(rows))

    # -- reports -------------------------------------------------------------------
    def _reports(self, request: Request, rest: list[str]) -> Response:
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "Reports are read-only.")
        if not rest:
            names = [{"name": name} for name in REPORTS]
            return Response(200, orjson.dumps(names), records=len(names))
        name = rest[0]
        report = REPORTS.get(name.lower())
        if report is None or len(rest) > 2:
            raise ApiError(404, "NotFound", f"Report {name!r} was not found.")
        res = self.resources[report.resource]
        try:
            columns = report_columns(report, res, request.query.get("columns"))
        except ValueError as exc:
            raise ApiError(400, "InvalidObject", str(exc)) from None
        if len(rest) == 2 and rest[1].lower() == "columns":
            return Response(200, orjson.dumps({c.name: c.definition() for c in columns}))
        ctx = _Context(request, _Route(res, None, None, "", None), "", (), None)
        where, params = self._filters(ctx, request.query)
        if len(rest) == 2:
            if rest[1].lower() != "count":
                raise ApiError(
                    404, "NotFound", f"No resource was found at system/reports/{name}/{rest[1]}."
                )
            return Response(200, orjson.dumps({"count": self.store.count(res, where, params)}))
        page_size = _page_size(request.query.get("pagesize"))
        page = _int_param("page", request.query.get("page") or "1", minimum=1)
        order = "id"
        if request.query.get("orderby"):
            try:
                order = cq.compile_order_by(request.query["orderby"], res.fields)
            except cq.ConditionError as exc:
                raise ApiError(400, "InvalidObject", str(exc)) from None
        bodies = self.store.select_bodies(
            res, where, params, order=order, limit=page_size, offset=(page - 1) * page_size
        )
        payload = {
            "column_definitions": [{c.name: c.definition()} for c in columns],
            "row_values": report_rows(columns, (orjson.loads(b) for b in bodies)),
        }
        return Response(200, orjson.dumps(payload), records=len(bodies))


@dataclass
class _Context:
    request: Request
    route: _Route
    base: str
    changes: tuple
    member: Member | None


class _FieldError(ValueError):
    pass


def _scheme(request: Request) -> str:
    proto = request.header("x-forwarded-proto")
    return f"{proto}://" if proto else "http://"


def _search_body(request: Request) -> dict:
    if not request.body:
        return {}
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "InvalidObject", "The search body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(
            400, "InvalidObject", 'The search body must be an object like {"conditions": "..."}.'
        )
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        out[key.lower()] = str(value)
    return out


def _int_param(name: str, value: str | None, *, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ApiError(
            400, "InvalidObject", f"The {name} parameter must be a whole number, got {value!r}."
        ) from None
    if number < minimum:
        raise ApiError(400, "InvalidObject", f"The {name} parameter must be at least {minimum}.")
    return number


def _page_size(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_PAGE_SIZE
    return min(_int_param("pageSize", value, minimum=1), MAX_PAGE_SIZE)


def _last_id(bodies: list[str]) -> int:
    text = bodies[-1]
    m = re.match(r'\{"id":(\d+)', text)
    return int(m.group(1)) if m else orjson.loads(text)["id"]


def _resource_word(res: Resource) -> str:
    return res.model[:1].lower() + res.model[1:]


def _concrete_path(res: Resource, route: _Route) -> str:
    ids = [i for i in (route.grandparent_id, route.parent_id) if i is not None]
    parts = []
    for seg in res.path.split("/"):
        if seg.startswith("{"):
            parts.append(str(ids.pop(0)) if ids else seg)
        else:
            parts.append(seg)
    return "/".join(parts)
