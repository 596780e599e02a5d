"""Sandbox over HTTP: POST/PUT/PATCH/DELETE, stamping, callbacks CRUD, audit trail, reports."""

from __future__ import annotations

from cwsync.sandbox import Sandbox

from .conftest import Client


def _some_company(client: Client) -> dict:
    return client.json("company/companies", params={"pageSize": 1})[0]


def test_post_put_patch_delete_ticket(fresh_client: Client, fresh_sandbox: Sandbox) -> None:
    client, sb = fresh_client, fresh_sandbox
    sb.clock.freeze("2026-06-01T12:00:00Z")
    company = _some_company(client)
    board = client.json("service/boards", params={"pageSize": 1})[0]
    r = client.request(
        "POST",
        "service/tickets",
        json={
            "summary": 'New "quoted" \\ ticket – ünïcode',
            "company": {"identifier": company["identifier"]},
            "board": {"id": board["id"]},
            "unknownField": "ignored",
        },
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert r.headers["Location"].endswith(f"/service/tickets/{ticket['id']}")
    assert ticket["company"]["id"] == company["id"] and ticket["company"]["name"] == company["name"]
    assert any(k.endswith("_href") for k in ticket["company"]["_info"])
    assert ticket["summary"] == 'New "quoted" \\ ticket – ünïcode'
    assert ticket["_info"]["lastUpdated"] == "2026-06-01T12:00:00Z"
    assert ticket["_info"]["dateEntered"] == "2026-06-01T12:00:00Z"
    assert ticket["_info"]["updatedBy"] == sb.member.identifier
    assert "unknownField" not in ticket
    assert client.json(f"service/tickets/{ticket['id']}") == ticket

    # missing required fields / bad references / bad JSON -> 400 with the guide's shape
    r = client.request("POST", "service/tickets", json={"company": {"id": company["id"]}})
    assert r.status_code == 400
    body = r.json()
    assert body["errors"] and body["errors"][0]["field"] == "summary"
    assert (
        client.request(
            "POST", "service/tickets", json={"summary": "x", "company": {"id": 99999999}}
        ).status_code
        == 400
    )
    assert (
        client.request(
            "POST",
            "service/tickets",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ).status_code
        == 400
    )

    # PATCH: JSON-patch array, reference replaced by identifier, stamps the clock second
    sb.clock.advance(61)
    other = client.json("company/companies", params={"pageSize": 2})[1]
    r = client.request(
        "PATCH",
        f"service/tickets/{ticket['id']}",
        json=[
            {"op": "replace", "path": "summary", "value": "Patched"},
            {"op": "replace", "path": "company", "value": {"identifier": other["identifier"]}},
            {
                "op": "replace",
                "path": "company/identifier",
                "value": "ignored",
            },  # the guide's "false 200"
        ],
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["summary"] == "Patched" and patched["company"]["id"] == other["id"]
    assert patched["_info"]["lastUpdated"] == "2026-06-01T12:01:01Z"
    assert patched["_info"]["dateEntered"] == "2026-06-01T12:00:00Z"
    assert (
        client.request(
            "PATCH", f"service/tickets/{ticket['id']}", json={"op": "replace"}
        ).status_code
        == 400
    )
    assert (
        client.request(
            "PATCH",
            f"service/tickets/{ticket['id']}",
            json=[{"op": "replace", "path": "Summary", "value": "x"}],
        ).status_code
        == 400
    )
    assert (
        client.request(
            "PATCH", f"service/tickets/{ticket['id']}", json=[{"op": "move", "path": "summary"}]
        ).status_code
        == 400
    )

    # PUT replaces the whole record: what is not sent is gone
    r = client.request(
        "PUT",
        f"service/tickets/{ticket['id']}",
        json={"summary": "Put", "company": {"id": company["id"]}},
    )
    assert r.status_code == 200
    put = r.json()
    assert put["summary"] == "Put" and "board" not in put

    # DELETE -> 204, then 404
    r = client.request("DELETE", f"service/tickets/{ticket['id']}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"service/tickets/{ticket['id']}").status_code == 404
    assert client.request("DELETE", f"service/tickets/{ticket['id']}").status_code == 404


def test_custom_fields_replaced_whole(fresh_client: Client) -> None:
    client = fresh_client
    ticket = next(
        t for t in client.json("service/tickets", params={"pageSize": 100}) if t.get("customFields")
    )
    fields = ticket["customFields"]
    text_field = next(f for f in fields if f["type"] == "Text")
    r = client.request(
        "PATCH",
        f"service/tickets/{ticket['id']}",
        json=[
            {
                "op": "replace",
                "path": "customFields",
                "value": [{**text_field, "value": "only me"}],
            },
        ],
    )
    assert r.status_code == 200, r.text
    after = r.json()["customFields"]
    assert [f["id"] for f in after] == [f["id"] for f in fields], "all definitions stay"
    assert [f for f in after if "value" in f] == [{**text_field, "value": "only me"}], (
        "others lost their values"
    )
    number = next((f for f in fields if f["type"] == "Number"), None)
    if number is not None:
        r = client.request(
            "PATCH",
            f"service/tickets/{ticket['id']}",
            json=[
                {
                    "op": "replace",
                    "path": "customFields",
                    "value": [{**number, "value": "not a number"}],
                },
            ],
        )
        assert r.status_code == 400


def test_same_second_writes_share_last_updated(fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    sb.clock.freeze("2026-07-01T08:00:00.900Z")
    ids = sb.ids("service/tickets")[:3]
    stamps = {
        sb.update("service/tickets", i, {"summary": f"same second {i}"})["_info"]["lastUpdated"]
        for i in ids
    }
    assert stamps == {"2026-07-01T08:00:00Z"}


def test_per_parent_writes(fresh_client: Client, fresh_sandbox: Sandbox) -> None:
    client = fresh_client
    ticket_id = fresh_sandbox.ids("service/tickets")[0]
    r = client.request(
        "POST",
        f"service/tickets/{ticket_id}/notes",
        json={"text": "a note", "internalAnalysisFlag": True},
    )
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["ticketId"] == ticket_id
    assert note["id"] in {
        n["id"]
        for n in client.json(f"service/tickets/{ticket_id}/notes", params={"pageSize": 1000})
    }
    assert (
        client.request("POST", "service/tickets/987654321/notes", json={"text": "x"}).status_code
        == 404
    )
    # deleting the parent removes its children
    assert client.request("DELETE", f"service/tickets/{ticket_id}").status_code == 204
    assert fresh_sandbox.ids("service/tickets/{parentId}/notes", ticket_id) == []


def test_callbacks_crud(fresh_client: Client) -> None:
    client = fresh_client
    assert client.json("system/callbacks") == []
    r = client.request(
        "POST",
        "system/callbacks",
        json={
            "description": "tickets to the warehouse",
            "url": "https://example.invalid/hook",
            "objectId": 1,
            "type": "Ticket",
            "level": "Owner",
            "inactiveFlag": False,
        },
    )
    assert r.status_code == 201, r.text
    cb = r.json()
    assert cb["type"] == "Ticket" and cb["level"] == "Owner" and cb["_info"]["lastUpdated"]
    assert client.json("system/callbacks") == [cb]
    r = client.request(
        "PATCH",
        f"system/callbacks/{cb['id']}",
        json=[{"op": "replace", "path": "inactiveFlag", "value": True}],
    )
    assert r.json()["inactiveFlag"] is True
    assert client.json("system/callbacks/count") == {"count": 1}
    assert client.request("DELETE", f"system/callbacks/{cb['id']}").status_code == 204
    assert client.json("system/callbacks") == []


def test_audit_trail(fresh_client: Client, fresh_sandbox: Sandbox) -> None:
    client = fresh_client
    ticket_id = fresh_sandbox.ids("service/tickets")[0]
    fresh_sandbox.update("service/tickets", ticket_id, {"summary": "audited"})
    entries = client.json("system/audittrail", params={"type": "Ticket", "id": ticket_id})
    assert entries and set(entries[0]) == {
        "text",
        "enteredDate",
        "enteredBy",
        "auditType",
        "auditSubType",
        "auditSource",
    }
    assert client.json("system/audittrail/count", params={"type": "Ticket", "id": ticket_id})[
        "count"
    ] == len(entries)
    assert (
        client.forward("system/audittrail", params={"type": "Ticket", "id": ticket_id}).status_code
        == 400
    )
    assert client.get("system/audittrail").status_code == 400


def test_reports(client: Client, sandbox: Sandbox) -> None:
    names = [r["name"] for r in client.json("system/reports")]
    assert "service" in names
    report = client.json(
        "system/reports/service",
        params={"columns": "id,summary,company/name", "pageSize": 5, "conditions": "id > 0"},
    )
    assert [list(c) for c in report["column_definitions"]] == [
        ["id"],
        ["summary"],
        ["company/name"],
    ]
    assert report["column_definitions"][0]["id"] == {
        "type": "Numeric",
        "isNullable": False,
        "identityColumn": True,
    }
    rows = report["row_values"]
    tickets = client.json("service/tickets", params={"pageSize": 5})
    assert rows == [[t["id"], t["summary"], t["company"]["name"]] for t in tickets]
    assert client.json("system/reports/service/count")["count"] == sandbox.count("service/tickets")
    assert "summary" in client.json("system/reports/service/columns")
    assert client.get("system/reports/service", params={"columns": "nope"}).status_code == 400
    assert client.get("system/reports/nope").status_code == 404
