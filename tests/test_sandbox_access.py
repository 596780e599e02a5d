"""Sandbox over HTTP: company info, codebases, authentication, security roles, versions."""

from __future__ import annotations

import base64

import requests

from cwsync.sandbox import Sandbox

from .conftest import Client


def _error_shape(response: requests.Response) -> dict:
    body = response.json()
    assert set(body) == {"code", "message", "errors"}, body
    assert body["message"]
    return body


def test_companyinfo(sandbox: Sandbox) -> None:
    r = requests.get(
        f"http://{sandbox.site}/login/companyinfo/{sandbox.tenant.company_id}", timeout=10
    )
    assert r.status_code == 200
    info = r.json()
    assert info["Codebase"] == "v4_6_release/"
    assert info["IsCloud"] == "False"
    assert info["CompanyID"] == sandbox.tenant.company_id
    assert info["VersionCode"].startswith("v20")
    assert {"CompanyName", "VersionNumber"} <= set(info)
    # company ids are case-insensitive, unknown ones are not found
    assert (
        requests.get(f"http://{sandbox.site}/login/companyinfo/CWSYNC", timeout=10).status_code
        == 200
    )
    assert (
        requests.get(f"http://{sandbox.site}/login/companyinfo/nope", timeout=10).status_code == 404
    )


def test_cloud_codebase_and_both_url_forms() -> None:
    with Sandbox(scale=200, seed=3, cloud=True) as sb:
        info = requests.get(f"http://{sb.site}/login/companyinfo/cwsync", timeout=10).json()
        assert info["IsCloud"] == "True"
        assert info["Codebase"].startswith("v20") and info["Codebase"].endswith("/")
        client = Client(sb)
        assert sb.info["base_url"].endswith(f"/{info['Codebase']}apis/3.0")
        cloud = client.session.get(
            f"http://{sb.site}/{info['Codebase']}apis/3.0/service/tickets", timeout=10
        )
        legacy = client.session.get(
            f"http://{sb.site}/v4_6_release/apis/3.0/service/tickets", timeout=10
        )
        assert cloud.status_code == legacy.status_code == 200
        assert cloud.json() == [
            _rebase(t, legacy.url.split("/service")[0], cloud.url.split("/service")[0])
            for t in legacy.json()
        ]


def _rebase(obj, old: str, new: str):
    if isinstance(obj, dict):
        return {k: _rebase(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rebase(v, old, new) for v in obj]
    if isinstance(obj, str):
        return obj.replace(old, new)
    return obj


def test_missing_and_wrong_credentials_are_401(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/service/tickets"
    client_id = {"clientId": sandbox.client_id}
    r = requests.get(url, headers=client_id, timeout=10)
    assert r.status_code == 401
    _error_shape(r)

    def basic(user: str, password: str) -> dict:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}", **client_id}

    info = sandbox.info
    good_user = f"{info['company_id']}+{info['public_key']}"
    assert requests.get(url, headers=basic(good_user, "wrong"), timeout=10).status_code == 401
    assert (
        requests.get(
            url, headers=basic(f"other+{info['public_key']}", info["private_key"]), timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.get(
            url, headers=basic(f"{info['company_id']}+nobody", info["private_key"]), timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.get(
            url, headers={"Authorization": "Basic !!!notbase64", **client_id}, timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.get(
            url, headers={"Authorization": "Bearer x", **client_id}, timeout=10
        ).status_code
        == 401
    )
    ok = requests.get(url, headers=basic(good_user, info["private_key"]), timeout=10)
    assert ok.status_code == 200
    # the error never echoes the credentials back
    r = requests.get(url, headers=basic(good_user, "wrong-secret-value"), timeout=10)
    assert "wrong-secret-value" not in r.text and info["public_key"] not in r.text


def test_client_id_header_required(sandbox: Sandbox, client: Client) -> None:
    r = requests.get(
        f"{sandbox.base_url}/service/tickets",
        headers={"Authorization": client.session.headers["Authorization"]},
        timeout=10,
    )
    assert r.status_code == 401
    assert "clientId" in _error_shape(r)["message"]
    r = requests.get(
        f"{sandbox.base_url}/service/tickets",
        headers={
            "Authorization": client.session.headers["Authorization"],
            "clientId": "not-registered",
        },
        timeout=10,
    )
    assert r.status_code == 401


def test_member_without_module_role_gets_403(sandbox: Sandbox) -> None:
    limited = sandbox.info["limited_member"]
    client = Client(sandbox, public_key=limited["public_key"], private_key=limited["private_key"])
    assert "finance" in limited["denied_modules"]
    r = client.get("finance/agreements")
    assert r.status_code == 403
    assert "finance" in _error_shape(r)["message"]
    assert client.get("finance/invoices/count").status_code == 403
    assert client.get("service/tickets").status_code == 200


def test_unknown_path_404_and_wrong_method_405(client: Client) -> None:
    r = client.get("service/nothing-here")
    assert r.status_code == 404
    _error_shape(r)
    r = client.request("DELETE", "service/tickets")
    assert r.status_code == 405
    _error_shape(r)


def test_version_header_selects_model(client: Client, sandbox: Sandbox) -> None:
    ticket_id = next(
        t["id"]
        for t in client.json("service/tickets", params={"pageSize": 1000})
        if "estimatedStartDate" in t and "budgetHours" in t
    )
    latest = client.json(f"service/tickets/{ticket_id}")
    pinned_new = client.json(
        f"service/tickets/{ticket_id}",
        headers={"Accept": "application/vnd.connectwise.com+json; version=2025.8"},
    )
    old = client.json(
        f"service/tickets/{ticket_id}",
        headers={"Accept": "application/vnd.connectwise.com+json; version=2024.1"},
    )
    assert latest == pinned_new
    assert "estimatedStartDate" in latest and "requiredDate" not in latest
    assert old["requiredDate"] == latest["estimatedStartDate"] and "estimatedStartDate" not in old
    assert isinstance(old["budgetHours"], int)
    assert old["budgetHours"] == round(latest["budgetHours"])
    # conditions may use the old name under the old version
    hits = client.json(
        "service/tickets",
        params={
            "conditions": f"requiredDate = [{latest['estimatedStartDate']}] and id = {ticket_id}"
        },
        headers={"Accept": "application/vnd.connectwise.com+json; version=2024.1"},
    )
    assert [t["id"] for t in hits] == [ticket_id]

    company = next(
        c for c in client.json("company/companies", params={"pageSize": 100}) if c.get("types")
    )
    old_company = client.json(
        f"company/companies/{company['id']}",
        headers={"Accept": "application/vnd.connectwise.com+json; version=2019.1"},
    )
    assert isinstance(company["types"], list)
    assert old_company["type"] == company["types"][0] and "types" not in old_company

    for bad in ("version=banana", "version=2010.1", "version=2999.1"):
        r = client.get(
            "service/tickets", headers={"Accept": f"application/vnd.connectwise.com+json; {bad}"}
        )
        assert r.status_code == 400, bad
        _error_shape(r)
