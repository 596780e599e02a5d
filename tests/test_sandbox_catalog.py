"""The sandbox catalog and the seeded tenant generator (no HTTP)."""

from __future__ import annotations

import re
import time

import orjson
import pytest

from cwsync.sandbox.catalog import (
    BY_PATH,
    RESOURCES,
    custom_field_values,
    make_info,
    make_reference,
)
from cwsync.sandbox.generate import TenantGenerator, scale_counts
from cwsync.sandbox.model import ARRAY, BASE_PLACEHOLDER, KINDS, REF, CustomFieldDef

TOP = [r for r in RESOURCES if not r.is_child]
CHILDREN = [r for r in RESOURCES if r.is_child]
MODULES = {
    "service",
    "company",
    "time",
    "finance",
    "project",
    "sales",
    "procurement",
    "system",
    "expense",
    "schedule",
    "marketing",
    "configurations",
}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def tenant() -> dict[str, list[tuple[int, int | None, dict]]]:
    gen = TenantGenerator(7, scale_counts("small"))
    return {res.path: list(gen.rows(res)) for res in gen.order()}


def test_catalog_is_broad_and_well_formed() -> None:
    assert len(TOP) >= 60 and len(CHILDREN) >= 15
    assert MODULES <= {r.module for r in TOP}
    assert len(BY_PATH) == len(RESOURCES)
    for res in RESOURCES:
        assert "id" in res.fields, res.path
        assert list(res.fields)[0] == "id"
        for f in res.fields.values():
            assert f.kind in KINDS, (res.path, f.name)
            if f.kind in (REF, ARRAY) and f.target:
                assert f.target in BY_PATH, (res.path, f.name, f.target)
        if res.is_child:
            assert res.parent in BY_PATH and "{parentId}" in res.path
            assert res.parent_field is None or res.parent_field in res.fields
        # a few collections have no _info block, as in the real API
        assert res.has_info == (
            res.path
            not in {"company/entityTypes", "finance/accountingPackages", "system/kpiCategories"}
        ), res.path
        assert res.href_key.endswith("_href")
        assert res.security_module == ("companies" if res.module == "company" else res.module)
    assert BY_PATH["service/tickets"].required == ("summary", "company")
    assert BY_PATH["system/callbacks"].writable and BY_PATH["service/impacts"].writable is False
    assert (
        BY_PATH["service/tickets"].callback_type
        == "Ticket"
        == BY_PATH["project/tickets"].callback_type
    )
    assert (
        BY_PATH["company/companies"].custom_fields and not BY_PATH["service/boards"].custom_fields
    )


def test_reference_and_info_shapes() -> None:
    status = make_reference(
        BY_PATH["service/boards/{parentId}/statuses"],
        {"id": 562, "name": "New", "sortOrder": 1},
        30,
    )
    assert status == {
        "id": 562,
        "name": "New",
        "sort": 1,
        "_info": {"status_href": f"{BASE_PLACEHOLDER}/service/boards/30/statuses/562"},
    }
    company = make_reference(
        BY_PATH["company/companies"], {"id": 3, "identifier": "Acme", "name": "Acme Inc"}
    )
    assert list(company) == ["id", "identifier", "name", "_info"]
    info = make_info(
        BY_PATH["service/tickets"],
        3186,
        None,
        "2024-01-02T00:00:00Z",
        "a",
        "2024-01-01T00:00:00Z",
        "b",
    )
    assert list(info)[:4] == ["lastUpdated", "updatedBy", "dateEntered", "enteredBy"]
    assert info["notes_href"] == f"{BASE_PLACEHOLDER}/service/tickets/3186/notes"
    note = make_info(BY_PATH["service/tickets/{parentId}/notes"], 1, 3186, "x", "a", "y", "b")
    assert note == {"lastUpdated": "x", "updatedBy": "a"}
    defs = (CustomFieldDef(1, "A", "Text"), CustomFieldDef(2, "B", "Number"))
    assert custom_field_values(defs, {2: 5, 1: None}) == [
        {
            "id": 1,
            "caption": "A",
            "type": "Text",
            "entryMethod": "EntryField",
            "numberOfDecimals": 0,
        },
        {
            "id": 2,
            "caption": "B",
            "type": "Number",
            "entryMethod": "EntryField",
            "numberOfDecimals": 0,
            "value": 5,
        },
    ]


def test_scale_counts() -> None:
    small, medium, large = scale_counts("small"), scale_counts("medium"), scale_counts("large")
    assert small["time/entries"] == 2000 and small["service/tickets"] == 500
    assert small["company/contacts"] == 200 and small["company/companies"] == 100
    assert medium["time/entries"] == 200_000 and medium["service/tickets"] == 50_000
    assert large["service/tickets"] == 10 * medium["service/tickets"]
    assert large["service/boards"] == medium["service/boards"] == small["service/boards"]
    assert medium["service/tickets/{parentId}/notes"] == 2 * medium["service/tickets"]
    assert scale_counts(300)["time/entries"] == 300
    assert set(medium) == set(BY_PATH) and medium["system/callbacks"] == 0
    over = scale_counts("small", {"service/tickets": 1_000_000, "time/entries": 0})
    assert over["service/tickets"] == 1_000_000 and over["time/entries"] == 0
    with pytest.raises(ValueError):
        scale_counts("huge")
    with pytest.raises(ValueError):
        scale_counts("small", {"no/such": 1})


def test_weekly_collections_stay_in_the_data_window_at_any_size() -> None:
    """More time sheets than member-weeks (the large scale has that) start over from the
    first week instead of running past the generated calendar."""
    # 40 members x 328 weeks of calendar: 14,000 sheets ran past it
    counts = scale_counts("small", {"time/sheets": 14_000})
    rows = list(TenantGenerator(3, counts).rows(BY_PATH["time/sheets"]))
    assert len(rows) == 14_000
    starts = {row[2]["dateStart"] for row in rows}
    assert min(starts) >= "2023-01-01" and max(starts) < "2026-01-01"


def test_deterministic_by_seed() -> None:
    counts = scale_counts(400)

    def dump(seed: int, paths: list[str]) -> list[bytes]:
        gen = TenantGenerator(seed, counts)
        return [orjson.dumps(row) for p in paths for row in gen.rows(BY_PATH[p])]

    paths = [
        "service/tickets",
        "time/entries",
        "company/contacts",
        "service/tickets/{parentId}/notes",
    ]
    a = dump(5, paths)
    assert a == dump(5, paths)
    # a collection generated on its own (dependencies built on demand) is the same
    n_tickets = counts["service/tickets"]
    assert dump(5, ["time/entries"]) == a[n_tickets : n_tickets + counts["time/entries"]]
    assert a != dump(6, paths)


def test_bodies_look_real(tenant) -> None:
    for path, rows in tenant.items():
        res = BY_PATH[path]
        ids = [r[0] for r in rows]
        assert ids == sorted(set(ids)) and all(i > 0 for i in ids), path
        order = list(res.fields)
        for _, _, body in rows:
            assert None not in body.values(), path
            keys = list(body)
            assert keys[0] == "id" and set(keys) <= set(order), (path, set(keys) - set(order))
            assert keys == sorted(keys, key=order.index), path
            if not res.has_info:
                assert "_info" not in body, path
                continue
            info = body["_info"]
            assert STAMP.fullmatch(info["lastUpdated"]), path
            if "dateEntered" in info:
                assert info["dateEntered"] <= info["lastUpdated"] < "2026-01-01T00:00:00Z"
    tickets = [b for _, _, b in tenant["service/tickets"]]
    assert tickets[0]["id"] >= 1000
    texts = [b["summary"] for b in tickets]
    assert any('"' in s for s in texts) and any("\\" in s for s in texts)
    assert any(any(ord(ch) > 127 for ch in s) for s in texts)
    assert any("contact" not in t for t in tickets) and any("contact" in t for t in tickets)
    stamps = [t["_info"]["lastUpdated"] for t in tickets]
    assert len(set(stamps)) < len(stamps), "some records share a lastUpdated second"
    # lastUpdated order is not id order: old records were updated recently too
    first, last = tickets[: len(tickets) // 5], tickets[-len(tickets) // 5 :]
    assert max(t["_info"]["lastUpdated"] for t in first) > min(
        t["_info"]["lastUpdated"] for t in last
    )
    entries = [b for _, _, b in tenant["time/entries"]]
    assert {"ServiceTicket", "ProjectTicket"} <= {e["chargeToType"] for e in entries}
    for e in entries[:50]:
        assert e["timeStart"] <= e["timeEnd"] and e["actualHours"] > 0 and "member" in e


def test_custom_fields(tenant) -> None:
    captions: dict[str, set[str]] = {}
    for path, rows in tenant.items():
        res = BY_PATH[path]
        if not res.has_custom_fields:
            assert all("customFields" not in b for _, _, b in rows)
            continue
        assert 3 <= len(res.custom_fields) <= 5
        for _, _, body in rows:
            assert [f["id"] for f in body["customFields"]] == [d.id for d in res.custom_fields]
            for f in body["customFields"]:
                assert "value" not in f or f["value"] is not None
                captions.setdefault(f["caption"], set()).add(path)
    values = {
        type(f["value"]).__name__
        for p in ("service/tickets", "company/companies")
        for _, _, b in tenant[p]
        for f in b["customFields"]
        if f["caption"] == "Seats" and "value" in f
    }
    assert {"int", "str"} <= values
    assert captions["Seats"] >= {"service/tickets", "company/companies"}
    assert any("value" not in f for _, _, b in tenant["service/tickets"] for f in b["customFields"])


def _refs(obj, fields):
    for name, value in obj.items():
        f = fields.get(name)
        if f is None:
            continue
        if f.kind == REF and f.target:
            yield f.target, value
        elif f.kind == ARRAY and f.target:
            for v in value:
                yield f.target, v


def test_referential_integrity(tenant) -> None:
    records = {p: {rid: (parent, body) for rid, parent, body in rows} for p, rows in tenant.items()}
    checked = 0
    for path, rows in tenant.items():
        res = BY_PATH[path]
        for rid, parent_id, body in rows:
            if res.is_child:
                assert parent_id in records[res.parent], (path, rid)
                pf = res.parent_field
                if pf:
                    got = body[pf]["id"] if isinstance(body.get(pf), dict) else body.get(pf)
                    assert got == parent_id, (path, rid)
            for target, ref in _refs(body, res.fields):
                assert ref["id"] in records[target], (path, rid, target, ref)
                t_parent, t_body = records[target][ref["id"]]
                assert ref == make_reference(BY_PATH[target], t_body, t_parent), (path, target)
                checked += 1
    assert checked > 10_000
    statuses = records["service/boards/{parentId}/statuses"]
    contacts = records["company/contacts"]
    for _, _, t in tenant["service/tickets"]:
        board_of_status = statuses[t["status"]["id"]][0]
        assert board_of_status == t["board"]["id"], "a ticket's status belongs to its board"
        if "contact" in t:
            assert contacts[t["contact"]["id"]][1]["company"]["id"] == t["company"]["id"]
    tickets = records["service/tickets"]
    for _, _, e in tenant["time/entries"]:
        if e["chargeToType"] == "ServiceTicket":
            assert tickets[e["chargeToId"]][1]["company"]["id"] == e["company"]["id"]
        elif e["chargeToType"] == "ProjectTicket":
            assert e["chargeToId"] in records["project/tickets"]


def test_every_parent_collection_has_children(tenant) -> None:
    for res in CHILDREN:
        if res.path != "system/callbacks":
            assert tenant[res.parent], res.parent
            assert tenant[res.path], res.path


def test_small_scale_is_fast() -> None:
    started = time.perf_counter()
    gen = TenantGenerator(3, scale_counts("small"))
    total = sum(1 for res in gen.order() for _ in gen.rows(res))
    assert total > 5000
    assert time.perf_counter() - started < 1.0
