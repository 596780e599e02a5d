"""Sandbox over HTTP: collections, record shapes, conditions, paging, fields, search."""

from __future__ import annotations

import random
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from cwsync.sandbox import Sandbox
from cwsync.sandbox.catalog import RESOURCES

from .conftest import Client

TOP_LEVEL = [r for r in RESOURCES if not r.is_child]
CHILDREN = [r for r in RESOURCES if r.is_child]


def _links(response) -> dict[str, str]:
    header = response.headers.get("Link", "")
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="(\w+)"', header)}


def test_catalog_is_broad() -> None:
    modules = {r.module for r in TOP_LEVEL}
    assert {
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
    } <= modules
    assert len(TOP_LEVEL) >= 60
    assert len(CHILDREN) >= 12


@pytest.mark.parametrize("res", TOP_LEVEL, ids=lambda r: r.path)
def test_every_top_level_collection_lists_counts_and_gets(
    client: Client, sandbox: Sandbox, res
) -> None:
    r = client.get(res.path, params={"pageSize": 1000})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert isinstance(rows, list)
    count = client.json(f"{res.path}/count")["count"]
    assert count == sandbox.count(res.path)
    assert len(rows) == min(count, 1000)
    if rows:
        one = client.json(f"{res.path}/{rows[0]['id']}")
        assert one == rows[0]


@pytest.mark.parametrize("res", CHILDREN, ids=lambda r: r.path)
def test_every_per_parent_collection(client: Client, sandbox: Sandbox, res) -> None:
    parent_ids = sandbox.ids(res.parent)
    assert parent_ids, f"no parents for {res.path}"
    # a parent that has children, if any does
    owner = next((p for p in parent_ids if sandbox.ids(res.path, p)), parent_ids[0])
    path = _concrete(res.path, owner, sandbox)
    rows = client.json(path, params={"pageSize": 1000})
    assert sorted(r["id"] for r in rows) == sandbox.ids(res.path, owner)
    assert client.json(f"{path}/count")["count"] == len(rows)
    if rows:
        assert client.json(f"{path}/{rows[0]['id']}") == rows[0]
    missing_parent = _concrete(res.path, 987654321, sandbox)
    assert client.get(missing_parent).status_code == 404


def _concrete(pattern: str, parent_id: int, sandbox: Sandbox) -> str:
    res = sandbox.resource(pattern)
    parts = pattern.split("/")
    placeholders = [i for i, p in enumerate(parts) if p.startswith("{")]
    parts[placeholders[-1]] = str(parent_id)
    if len(placeholders) > 1:  # grandparent: the parent's own parent
        parent = sandbox.resource(res.parent)
        row = sandbox.store.get_row(parent, parent_id)
        parts[placeholders[-2]] = str(row[0] if row else 1)
    return "/".join(parts)


def test_record_shapes_look_real(client: Client) -> None:
    tickets = client.json("service/tickets", params={"pageSize": 1000})
    t = tickets[0]
    assert list(t)[0] == "id"
    for ref in ("board", "status", "company"):
        assert {"id", "_info"} <= set(t[ref])
        assert any(k.endswith("_href") for k in t[ref]["_info"])
    assert "identifier" in t["company"] and "name" in t["company"]
    href = next(v for k, v in t["board"]["_info"].items() if k.endswith("_href"))
    assert href.startswith(client.base) and f"/service/boards/{t['board']['id']}" in href
    info = t["_info"]
    assert {"lastUpdated", "updatedBy", "dateEntered", "enteredBy"} <= set(info)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["lastUpdated"])

    def walk(obj):
        if isinstance(obj, dict):
            for v in obj.values():
                yield from walk(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from walk(v)
        else:
            yield obj

    values = list(walk(tickets))
    assert None not in values, "ConnectWise omits null properties"
    texts = [v for v in values if isinstance(v, str)]
    assert any('"' in s for s in texts) and any("\\" in s for s in texts)
    assert any(any(ord(c) > 127 for c in s) for s in texts)
    assert any("contact" not in x for x in tickets), "some references are null (absent)"
    fields = [cf for x in tickets for cf in x.get("customFields", [])]
    assert fields and any("value" not in cf for cf in fields)
    by_caption: dict[str, set] = {}
    for cf in fields:
        if "value" in cf:
            by_caption.setdefault(cf["caption"], set()).add(type(cf["value"]).__name__)
    assert any(len(types) > 1 for types in by_caption.values()), by_caption


def test_deterministic_by_seed() -> None:
    with (
        Sandbox(scale=300, seed=5) as a,
        Sandbox(scale=300, seed=5) as b,
        Sandbox(scale=300, seed=6) as c,
    ):
        ca, cb, cc = Client(a), Client(b), Client(c)
        pa = ca.get("service/tickets", params={"pageSize": 50}).text.replace(ca.base, "")
        pb = cb.get("service/tickets", params={"pageSize": 50}).text.replace(cb.base, "")
        pc = cc.get("service/tickets", params={"pageSize": 50}).text.replace(cc.base, "")
        assert pa == pb
        assert pa != pc


def test_page_size_default_and_cap(client: Client, sandbox: Sandbox) -> None:
    assert len(client.json("time/entries")) == 25
    assert sandbox.count("time/entries") > 1000
    assert len(client.json("time/entries", params={"pageSize": 5000})) == 1000
    assert client.get("time/entries", params={"pageSize": "abc"}).status_code == 400
    assert client.get("time/entries", params={"pageSize": 0}).status_code == 400
    assert client.get("time/entries", params={"page": 0}).status_code == 400


def test_navigable_links_match_the_guide(client: Client, sandbox: Sandbox) -> None:
    total = sandbox.count("company/companies")
    last = -(-total // 10)
    r = client.get("company/companies", params={"conditions": "id > 0", "pagesize": 10, "page": 1})
    links = _links(r)
    assert list(links) == ["next", "last"]
    assert links["next"].endswith("pageSize=10&page=2")
    assert links["last"].endswith(f"pageSize=10&page={last}")
    assert "conditions=id" in links["next"], "links keep the request's other parameters"
    r2 = client.session.get(links["next"], timeout=10)
    assert list(_links(r2)) == ["next", "prev", "first", "last"]
    assert _links(r2)["prev"].endswith("page=1") and _links(r2)["first"].endswith("page=1")
    r_last = client.get(
        "company/companies", params={"conditions": "id > 0", "pageSize": 10, "page": last}
    )
    assert list(_links(r_last)) == ["prev", "first", "last"]
    # following next links visits every record exactly once, in order
    seen, url = [], client.url("company/companies") + "?conditions=id%20%3E%200&pageSize=7"
    while url:
        page = client.session.get(url, timeout=10)
        seen += [c["id"] for c in page.json()]
        url = _links(page).get("next")
    assert seen == sandbox.ids("company/companies")
    # the raw link is exactly the guide's shape
    assert re.fullmatch(
        r'<http://[^>]+/apis/3\.0/company/companies\?conditions=id%20%3E%200&pageSize=7&page=\d+>; rel="last"',
        page.headers["Link"].split(", ")[-1],
    )


def test_forward_only_pagination(client: Client, sandbox: Sandbox) -> None:
    ids = sandbox.ids("time/entries")
    r = client.forward("time/entries", params={"pageSize": 1000, "page": 3})
    first = [e["id"] for e in r.json()]
    assert first == ids[:1000], "ordered by id; page is ignored"
    link = _links(r)["next"]
    q = parse_qs(urlsplit(link).query)
    assert q == {"pageSize": ["1000"], "pageId": [str(first[-1])]}
    seen: list[int] = []
    url = client.url("time/entries") + "?pageSize=1000"
    pages = 0
    while True:
        page = client.session.get(url, headers={"pagination-type": "forward-only"}, timeout=30)
        rows = page.json()
        pages += 1
        assert "next" in _links(page), "forward-only always has a next link, even at the end"
        seen += [e["id"] for e in rows]
        if len(rows) < 1000:
            break
        url = _links(page)["next"]
    assert seen == ids
    # pageId acts as id > pageId, combined with conditions
    mid = ids[len(ids) // 2]
    rows = client.forward(
        "time/entries", params={"pageId": mid, "pageSize": 5, "conditions": f"id <= {ids[-1]}"}
    ).json()
    assert [e["id"] for e in rows] == [i for i in ids if i > mid][:5]
    # the next link does not repeat conditions or fields
    r = client.forward(
        "time/entries", params={"pageSize": 5, "conditions": "id > 0", "fields": "id"}
    )
    assert "conditions" not in _links(r)["next"] and "fields" not in _links(r)["next"]
    # an empty page still points somewhere
    r = client.forward("time/entries", params={"pageId": ids[-1], "pageSize": 5})
    assert r.json() == [] and _links(r)["next"].endswith(f"pageId={ids[-1]}")
    # orderBy is refused
    r = client.forward("time/entries", params={"orderBy": "id desc"})
    assert r.status_code == 400 and r.json()["code"]


def test_forward_link_can_keep_params() -> None:
    with Sandbox(scale=200, seed=2, forward_link_keeps_params=True) as sb:
        r = Client(sb).forward("time/entries", params={"pageSize": 5, "conditions": "id > 0"})
        assert "conditions=id" in _links(r)["next"]


def test_conditions_over_http(client: Client, sandbox: Sandbox) -> None:
    tickets = client.json("service/tickets", params={"pageSize": 1000})
    board = tickets[0]["board"]["name"]
    expected = sorted(t["id"] for t in tickets if t["board"]["name"] == board)
    got = client.json(
        "service/tickets", params={"pageSize": 1000, "conditions": f'board/name="{board.upper()}"'}
    )
    assert sorted(t["id"] for t in got) == expected
    stamp = sorted(t["_info"]["lastUpdated"] for t in tickets)[len(tickets) // 2]
    for cond in (f"lastUpdated > [{stamp}]", f"_info/lastUpdated > [{stamp}]"):
        got = client.json("service/tickets", params={"pageSize": 1000, "conditions": cond})
        assert sorted(t["id"] for t in got) == sorted(
            t["id"] for t in tickets if t["_info"]["lastUpdated"] > stamp
        )
    ids = [t["id"] for t in tickets[:3]]
    got = client.json(
        "service/tickets",
        params={"conditions": f"id in ({', '.join(map(str, ids))}) and closedFlag != null"},
    )
    assert {t["id"] for t in got} <= set(ids)
    got = client.json(
        "service/tickets",
        params={
            "pageSize": 1000,
            "conditions": 'summary like "*a*" or (id < 0 and closedFlag = True)',
        },
    )
    assert sorted(t["id"] for t in got) == sorted(
        t["id"] for t in tickets if "a" in t["summary"].lower()
    )


def test_malformed_queries_are_400_never_500(client: Client) -> None:
    rng = random.Random(99)
    alphabet = 'abc/=<>!()"[]*\\ ANDORnotinlike0123456789.,-_'
    bad = [
        'board/name = "unterminated',
        "summary ==",
        "(id = 1",
        "id = 1)",
        "nosuchfield = 1",
        "id in ()",
        "id = [not a date]",
        "and",
        'board/id = "x"',
        "closedFlag = 3.5 and",
    ]
    bad += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(60)]
    for text in bad:
        for param in ("conditions", "childConditions", "customFieldConditions", "orderBy"):
            r = client.get("service/tickets", params={param: text})
            assert r.status_code in (200, 400), (param, text, r.status_code, r.text)
            if r.status_code == 400:
                assert set(r.json()) == {"code", "message", "errors"}


def test_child_and_custom_field_conditions(client: Client) -> None:
    contacts = client.json("company/contacts", params={"pageSize": 1000})
    with_items = [c for c in contacts if c.get("communicationItems")]
    assert with_items
    item = with_items[0]["communicationItems"][0]
    cond = f'communicationItems/value = "{item["value"]}" AND communicationItems/communicationType = "{item["communicationType"]}"'
    got = client.json("company/contacts", params={"childConditions": cond, "pageSize": 1000})
    assert with_items[0]["id"] in {c["id"] for c in got}
    assert all(
        any(
            i.get("value", "").lower() == item["value"].lower()
            and i.get("communicationType") == item["communicationType"]
            for i in c["communicationItems"]
        )
        for c in got
    )

    tickets = client.json("service/tickets", params={"pageSize": 1000})
    cf = next(f for t in tickets for f in t.get("customFields", []) if "value" in f)
    value = (
        f'"{cf["value"]}"'
        if isinstance(cf["value"], str)
        else str(cf["value"]).replace("True", "True")
    )
    if isinstance(cf["value"], bool):
        value = "True" if cf["value"] else "False"
    got = client.json(
        "service/tickets",
        params={
            "pageSize": 1000,
            "customFieldConditions": f'caption = "{cf["caption"]}" and value = {value}',
        },
    )
    expected = sorted(
        t["id"]
        for t in tickets
        if any(
            f["caption"] == cf["caption"] and f.get("value") == cf["value"]
            for f in t.get("customFields", [])
        )
    )
    assert sorted(t["id"] for t in got) == expected


def test_order_by_and_fields(client: Client) -> None:
    rows = client.json("company/companies", params={"orderBy": "name desc", "pageSize": 1000})
    names = [r["name"].lower() for r in rows]
    assert names == sorted(names, reverse=True)
    partial = client.json(
        "service/tickets",
        params={"fields": "id,summary,board/name,_info/lastUpdated", "pageSize": 3},
    )
    for t in partial:
        assert set(t) <= {"id", "summary", "board", "_info"}
        assert set(t["board"]) == {"name"}
        assert set(t["_info"]) == {"lastUpdated"}
    one = client.json(f"service/tickets/{partial[0]['id']}", params={"fields": "id,company"})
    assert set(one) == {"id", "company"} and "_info" in one["company"]


def test_url_length_limit_and_search(client: Client, sandbox: Sandbox) -> None:
    ids = sandbox.ids("time/entries")[:400]
    cond = f"id in ({','.join(map(str, ids))})"
    r = client.get("time/entries", params={"conditions": cond, "pageSize": 1000})
    assert r.status_code == 414
    assert "/search" in r.json()["message"]
    r = client.request(
        "POST", "time/entries/search", params={"pageSize": 1000}, json={"conditions": cond}
    )
    assert r.status_code == 200
    assert sorted(e["id"] for e in r.json()) == ids
    r = client.request(
        "POST", "time/entries/search", params={"pageSize": 10}, json={"conditions": "id >"}
    )
    assert r.status_code == 400
    r = client.request(
        "POST",
        "time/entries/search",
        headers={"pagination-type": "forward-only"},
        params={"pageSize": 100, "pageId": ids[99]},
        json={"conditions": cond},
    )
    assert [e["id"] for e in r.json()] == ids[100:200]


def _forward_ids(client: Client, path: str, conditions: str, page_size: int) -> list[list[int]]:
    pages, after = [], 0
    while True:
        response = client.forward(
            path, params={"conditions": conditions, "pageSize": page_size, "pageId": after}
        )
        assert response.status_code == 200, response.text
        page = [r["id"] for r in response.json()]
        if not page:
            return pages
        pages.append(page)
        after = page[-1]


def test_lastupdated_pages_from_the_index_equal_the_walk(
    client: Client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lastUpdated (and id) condition is answered from the lastUpdated index: the page's
    # ids sorted there, then their bodies. It must give the pages a walk in id order gives.
    from cwsync.sandbox.store import Store

    records = client.json("time/entries", params={"pageSize": 1000})
    stamps = sorted(r["_info"]["lastUpdated"] for r in records)
    checks = [
        f"lastUpdated >= [{stamps[len(stamps) * 9 // 10]}]",  # few: an incremental run
        f"lastUpdated > [{stamps[len(stamps) // 3]}] and id <= {records[len(records) // 2]['id']}",
        f"lastUpdated < [{stamps[len(stamps) // 2]}] or id = {records[0]['id']}",
    ]
    by_index = {c: _forward_ids(client, "time/entries", c, 7) for c in checks}
    monkeypatch.setattr(Store, "SELECTIVE_IDS", -1)  # never few: the walk in id order
    monkeypatch.setattr(Store, "SELECTIVE", -1)
    for condition in checks:
        walked = _forward_ids(client, "time/entries", condition, 7)
        assert by_index[condition] == walked, condition
        assert walked and sum(map(len, walked)) < len(records), condition
