"""Progress and the closing per-table summary of ``cwsync run``, as a user sees them.

Covers: API paths map to their tables; without a terminal a run prints periodic progress
lines with totals from ``/count``; on a terminal (a real pty) it draws bars; ``--quiet``
prints no progress; the closing table gives, per table, new/updated/deleted rows, the
live total, requests, retries and seconds, and they match what happened in the tenant.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cwsync.sandbox import Sandbox
from pipelines.progress import table_of_path

from .test_cli_run import _cwsync, _env, _run_args

HEADER = re.compile(r"^table\s+new\s+updated\s+deleted\s+total\s+requests\s+retries\s+seconds$")


def _table(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if HEADER.match(line))
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = [c.replace(",", "") for c in cells[1:]]
    return rows


def test_paths_map_to_tables() -> None:
    assert table_of_path("service/tickets") == "service_tickets"
    assert table_of_path("/service/tickets/count") == "service_tickets"
    assert table_of_path("service/tickets/42/notes") == "service_tickets_notes"
    assert table_of_path("service/SLAs") == "service_slas"
    assert table_of_path("sales/opportunities/7/forecast") == "sales_opportunities_forecast"
    assert table_of_path("system/info") is None
    assert table_of_path("login/companyinfo/cwsync") is None


@pytest.fixture(scope="module")
def slow_tenant():
    """A tenant slow enough (per record) that a run lasts a few seconds."""
    with Sandbox(scale=400, seed=9, per_record_ms=3) as sb:
        yield sb


def test_log_lines_totals_and_the_closing_table(slow_tenant: Sandbox, tmp_path: Path) -> None:
    sb = slow_tenant
    env = _env(tmp_path, sb)
    tables = "service_tickets,service_tickets_notes,company_companies"
    args = _run_args(tmp_path, "--resources", tables, "--progress-every", "0.1")
    # pages of 10: the tickets take ten requests, so the progress lines show their total
    # (fetched once the first page answered) while they are still coming, on any machine
    first = _cwsync(tmp_path, dict(env, SOURCES__CONNECTWISE__PAGE_SIZE="10"), *args)
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.startswith("progress: ")]
    assert len(lines) >= 2, first.stderr
    # a total from /count shows as done/total
    assert re.search(r"(service_tickets|company_companies) [\d,]+/[\d,]+", first.stderr)
    tickets, companies = sb.count("service/tickets"), sb.count("company/companies")
    rows = _table(first.stdout)
    assert rows["service_tickets"][:4] == [str(tickets), "0", "0", str(tickets)]
    assert rows["company_companies"][:4] == [str(companies), "0", "0", str(companies)]
    requests = int(rows["service_tickets"][4])
    assert requests >= 1 and float(rows["service_tickets"][6]) > 0

    # change the tenant: 3 tickets edited, 1 created, 1 deleted
    ids = sb.ids("service/tickets")
    for tid in ids[:3]:
        sb.update("service/tickets", tid, {"summary": "edited for the summary"})
    board = sb.get("service/tickets", ids[0])["board"]
    company = sb.get("service/tickets", ids[0])["company"]
    sb.create(
        "service/tickets",
        {
            "summary": "new for the summary",
            "board": {"id": board["id"]},
            "company": {"id": company["id"]},
        },
    )
    sb.delete("service/tickets", ids[-1])
    second = _cwsync(
        tmp_path, env, *_run_args(tmp_path, "--resources", tables, "--reconcile-deletes")
    )
    assert second.returncode == 0, second.stderr
    rows = _table(second.stdout)
    new, updated, deleted, total = (int(x) for x in rows["service_tickets"][:4])
    assert new == 1 and deleted == 1 and total == sb.count("service/tickets")
    assert 3 <= updated <= 4  # the watermark may read one unchanged record again
    assert "company_companies" not in rows  # nothing changed there


def test_quiet_prints_no_progress(slow_tenant: Sandbox, tmp_path: Path) -> None:
    env = _env(tmp_path, slow_tenant)
    args = _run_args(
        tmp_path, "--resources", "company_companies", "--quiet", "--progress-every", "0.1"
    )
    result = _cwsync(tmp_path, env, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _table(result.stdout)["company_companies"][0] == str(
        slow_tenant.count("company/companies")
    )


def test_a_terminal_gets_progress_bars(slow_tenant: Sandbox, tmp_path: Path) -> None:
    env = _env(tmp_path, slow_tenant)
    env["COLUMNS"], env["TERM"] = "120", "xterm"
    command = " ".join(
        shlex.quote(a)
        for a in [
            sys.executable,
            "-m",
            "cwsync",
            *_run_args(tmp_path, "--resources", "service_tickets"),
        ]
    )
    # `script` runs the command on a real pseudo-terminal and records what it drew
    result = subprocess.run(
        ["script", "-qefc", command, str(tmp_path / "typescript")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    drawn = (tmp_path / "typescript").read_text(errors="replace")
    assert "service_tickets" in drawn and "━" in drawn  # a rich bar was drawn
    assert re.search(r"\d+/s", drawn)  # records per second
    assert not re.search(r"^progress: ", drawn, re.M)  # bars, not log lines
