"""``cwsync run`` and ``cwsync demo`` as a user runs them: a subprocess, configured through
``SOURCES__CONNECTWISE__*`` environment variables, against a sandbox on 127.0.0.1 and a
DuckDB file in a scratch directory.

Covers: a run prints its summary (tables and rows) and a second run shows that little
changed; failures (bad credentials, missing configuration, unknown table, bad date) are
one line on stderr with the documented exit status, no traceback and no secrets;
``run --sandbox`` needs no configuration; ``demo`` prints the summary table and SQL.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cwsync.sandbox import Sandbox

SCALE = 300
SUMMARY = re.compile(r"^(?P<tables>\d+) tables changed, (?P<rows>[\d,]+) rows \(")
TABLE_LINE = re.compile(r"^  (?P<table>\w+)\s+(?P<rows>[\d,]+)$")


@pytest.fixture(scope="module")
def tenant() -> Iterator[Sandbox]:
    """A sandbox the CLI subprocesses read (nothing here changes it)."""
    with Sandbox(scale=SCALE, seed=3) as sb:
        yield sb


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment without any dlt or ConnectWise configuration of the host."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "DESTINATION__", "DLT_", "RUNTIME__"))
    }
    env["DLT_DATA_DIR"] = str(tmp_path / "dlt-data")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _env(tmp_path: Path, sb: Sandbox, **overrides: str) -> dict[str, str]:
    info = sb.info
    values = {
        "BASE_URL": info["base_url"],
        "COMPANY_ID": info["company_id"],
        "PUBLIC_KEY": info["public_key"],
        "PRIVATE_KEY": info["private_key"],
        "CLIENT_ID": info["client_id"],
        "REQUESTS_PER_SECOND": "0",
        **overrides,
    }
    env = _clean_env(tmp_path)
    env.update({f"SOURCES__CONNECTWISE__{k}": v for k, v in values.items()})
    return env


def _cwsync(tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "cwsync", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _run_args(tmp_path: Path, *args: str) -> list[str]:
    return [
        "run",
        *args,
        "--duckdb-file",
        "x.duckdb",
        "--pipelines-dir",
        str(tmp_path / "pipelines"),
    ]


def _summary(stdout: str) -> tuple[int, int, dict[str, int]]:
    """(tables changed, rows, {table: rows}) from the summary a run prints."""
    lines = stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if SUMMARY.match(line)]
    assert heads, f"no summary in {stdout!r}"
    head = SUMMARY.match(lines[heads[-1]])
    assert head
    tables: dict[str, int] = {}
    for line in lines[heads[-1] + 1 :]:
        match = TABLE_LINE.match(line)
        if not match:
            break
        tables[match["table"]] = int(match["rows"].replace(",", ""))
    return int(head["tables"]), int(head["rows"].replace(",", "")), tables


def _assert_one_line_failure(result, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cwsync:"), result.stderr
    return lines[0]


def _notes_count(sb: Sandbox) -> int:
    return sum(
        len(sb.ids("service/tickets/{parentId}/notes", tid)) for tid in sb.ids("service/tickets")
    )


def _duckdb_count(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(f"SELECT count(*) FROM connectwise.{table}").fetchone()[0]


# -- 1. a run, then a second run ---------------------------------------------------------
def test_run_prints_tables_and_rows_and_a_second_run_changes_little(
    tenant: Sandbox, tmp_path: Path
) -> None:
    env = _env(tmp_path, tenant)
    args = _run_args(tmp_path, "--resources", "service_tickets,service_tickets_notes")

    first = _cwsync(tmp_path, env, *args)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    _, rows, tables = _summary(first.stdout)
    tickets, notes = tenant.count("service/tickets"), _notes_count(tenant)
    assert tables["service_tickets"] == tickets
    assert tables["service_tickets_notes"] == notes
    assert rows >= tickets + notes
    assert _duckdb_count(tmp_path / "x.duckdb", "service_tickets") == tickets
    assert _duckdb_count(tmp_path / "x.duckdb", "service_tickets_notes") == notes

    second = _cwsync(tmp_path, env, *args)
    assert second.returncode == 0, second.stderr
    changed, rows_again, tables_again = _summary(second.stdout)
    # nothing changed in the tenant: at most a record at the watermark is read again
    assert rows_again <= 10, second.stdout
    assert tables_again.get("service_tickets", 0) < tickets
    assert tables_again.get("service_tickets_notes", 0) < notes
    assert changed <= 3
    assert _duckdb_count(tmp_path / "x.duckdb", "service_tickets") == tickets
    assert _duckdb_count(tmp_path / "x.duckdb", "service_tickets_notes") == notes


# -- 2. bad credentials ------------------------------------------------------------------
def test_bad_credentials_exit_1_with_one_line_and_no_secrets(
    tenant: Sandbox, tmp_path: Path
) -> None:
    wrong = "Wr0ngPrivateKeyDoNotPrint"
    env = _env(tmp_path, tenant, PRIVATE_KEY=wrong)
    result = _cwsync(tmp_path, env, *_run_args(tmp_path, "--resources", "service_tickets"))
    line = _assert_one_line_failure(result, 1)
    assert "authentication" in line.lower()
    info = tenant.info
    tokens = [
        base64.b64encode(f"{info['company_id']}+{info['public_key']}:{key}".encode()).decode()
        for key in (wrong, info["private_key"])
    ]
    for secret in (wrong, info["public_key"], info["private_key"], info["client_id"], *tokens):
        assert secret not in result.stdout and secret not in result.stderr


# -- 3. no configuration at all ----------------------------------------------------------
def test_missing_configuration_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _cwsync(
        tmp_path, _clean_env(tmp_path), *_run_args(tmp_path, "--resources", "service_tickets")
    )
    line = _assert_one_line_failure(result, 2)
    assert "missing" in line.lower()
    assert result.stdout == ""


# -- 4. bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--resources", "no_such_table"], "no_such_table"),
        (["--resources", "service_tickets", "--start-date", "notadate"], "notadate"),
    ],
    ids=["unknown-table", "bad-start-date"],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], named: str, tenant: Sandbox, tmp_path: Path
) -> None:
    tenant.clear_requests()
    result = _cwsync(tmp_path, _env(tmp_path, tenant), *_run_args(tmp_path, *args))
    line = _assert_one_line_failure(result, 2)
    assert named in line
    assert result.stdout == ""
    # refused before any data was read
    assert not [r for r in tenant.requests if "/apis/3.0/" in r.path]


# -- 5. run --sandbox --------------------------------------------------------------------
def test_run_against_an_embedded_sandbox_needs_no_configuration(tmp_path: Path) -> None:
    with Sandbox(scale=SCALE, seed=1) as same:  # what --scale 300 (seed 1) serves
        tickets = same.count("service/tickets")
    result = _cwsync(
        tmp_path,
        _clean_env(tmp_path),
        *_run_args(tmp_path, "--sandbox", "--scale", str(SCALE), "--resources", "service_tickets"),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    _, _, tables = _summary(result.stdout)
    assert tables["service_tickets"] == tickets
    assert _duckdb_count(tmp_path / "x.duckdb", "service_tickets") == tickets


# -- 6. demo -----------------------------------------------------------------------------
def test_demo_prints_the_summary_table_and_example_sql(tmp_path: Path) -> None:
    result = _cwsync(
        tmp_path,
        _clean_env(tmp_path),
        "demo",
        "--scale",
        str(SCALE),
        "--duckdb-file",
        "demo.duckdb",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert any(line.startswith("full sync: ") for line in lines), out
    assert any(line.startswith("incremental sync: ") for line in lines), out
    header = [
        i for i, line in enumerate(lines) if re.match(r"^run\s+tables\s+rows\s+requests", line)
    ]
    assert header, out
    full = lines[header[0] + 1].split()
    incremental = lines[header[0] + 2].split()
    assert full[0] == "full" and incremental[0] == "incremental", out
    full_rows = int(full[2].replace(",", ""))
    incremental_rows = int(incremental[2].replace(",", ""))
    assert full_rows > 1000 and 0 < incremental_rows < full_rows
    assert "-- open tickets per board" in out
    assert 'duckdb demo.duckdb -c "SELECT' in out
    database = tmp_path / "demo.duckdb"
    assert database.exists()
    assert _duckdb_count(database, "service_tickets") > 0


# -- 7. each bad input of a real setup: one line naming the fix, fast ---------------------
def _timed(tmp_path: Path, env: dict[str, str], *args: str):
    import time

    started = time.monotonic()
    result = _cwsync(tmp_path, env, *_run_args(tmp_path, "--resources", "service_tickets", *args))
    return result, time.monotonic() - started


def test_wrong_company_id_through_site_discovery(tenant: Sandbox, tmp_path: Path) -> None:
    env = _env(tmp_path, tenant, COMPANY_ID="notmycompany")
    del env["SOURCES__CONNECTWISE__BASE_URL"]
    env["SOURCES__CONNECTWISE__SITE"] = tenant.info["site"]
    result, seconds = _timed(tmp_path, env)
    line = _assert_one_line_failure(result, 2)
    assert "notmycompany" in line and "company_id" in line and seconds < 30


def test_wrong_site_that_is_not_connectwise(tmp_path: Path) -> None:
    import http.server
    import threading

    class NotConnectWise(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a web site, not a ConnectWise login server
            body = b"<html><body>Welcome to our web site</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotConnectWise)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = _clean_env(tmp_path)
        env.update(
            {
                "SOURCES__CONNECTWISE__SITE": f"127.0.0.1:{server.server_address[1]}",
                "SOURCES__CONNECTWISE__COMPANY_ID": "co",
                "SOURCES__CONNECTWISE__PUBLIC_KEY": "pub",
                "SOURCES__CONNECTWISE__PRIVATE_KEY": "SecretPrivateKey",
                "SOURCES__CONNECTWISE__CLIENT_ID": "cid",
            }
        )
        result, seconds = _timed(tmp_path, env)
    finally:
        server.shutdown()
    line = _assert_one_line_failure(result, 2)
    assert "ConnectWise site" in line and "check site" in line and seconds < 30
    assert "SecretPrivateKey" not in result.stderr + result.stdout


def test_unreachable_host_fails_within_seconds(tenant: Sandbox, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = _env(tmp_path, tenant, BASE_URL=f"http://127.0.0.1:{port}/v4_6_release/apis/3.0")
    result, seconds = _timed(tmp_path, env)
    line = _assert_one_line_failure(result, 2)
    assert "cannot reach" in line and "base_url" in line and seconds < 30
    env = _env(tmp_path, tenant, BASE_URL="https://cw.does-not-exist.invalid/v4_6_release/apis/3.0")
    result, seconds = _timed(tmp_path, env)
    line = _assert_one_line_failure(result, 2)
    assert "cannot resolve" in line and seconds < 30


def test_malformed_user_condition(tenant: Sandbox, tmp_path: Path) -> None:
    result, seconds = _timed(
        tmp_path, _env(tmp_path, tenant), "--condition", 'service_tickets=summary = "open'
    )
    line = _assert_one_line_failure(result, 1)
    assert "rejected" in line and "service/tickets" in line
    assert seconds < 30
    result, _ = _timed(tmp_path, _env(tmp_path, tenant), "--condition", "no equals sign")
    _assert_one_line_failure(result, 2)


# -- 8. cwsync verify ----------------------------------------------------------------------
def test_verify_exits_nonzero_on_a_mismatch(tenant: Sandbox, tmp_path: Path) -> None:
    env = _env(tmp_path, tenant)
    assert (
        _cwsync(tmp_path, env, *_run_args(tmp_path, "--resources", "service_tickets")).returncode
        == 0
    )
    verify = ["verify", "--duckdb-file", "x.duckdb", "--pipelines-dir", str(tmp_path / "pipelines")]
    ok = _cwsync(tmp_path, env, *verify)
    assert ok.returncode == 0, ok.stderr
    assert "1 of 1 tables match" in ok.stdout
    with duckdb.connect(str(tmp_path / "x.duckdb")) as db:
        db.execute(
            "DELETE FROM connectwise.service_tickets WHERE id IN "
            "(SELECT id FROM connectwise.service_tickets LIMIT 2)"
        )
    bad = _cwsync(tmp_path, env, *verify)
    assert bad.returncode == 1
    assert "DIFFER" in bad.stdout and "-2" in bad.stdout
