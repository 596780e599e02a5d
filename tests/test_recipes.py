"""The README's backfill recipe, run as written: a date range loaded beside the main sync
under its own pipeline name, leaving the main cursors alone."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cwsync.sandbox import Sandbox

from .test_cli_run import _cwsync, _env, _run_args


def _updated(sb: Sandbox, lo: str, hi: str | None = None) -> set[int]:
    out = set()
    for rid in sb.ids("service/tickets"):
        stamp = sb.get("service/tickets", rid)["_info"]["lastUpdated"]
        if stamp >= lo and (hi is None or stamp < hi):
            out.add(rid)
    return out


def _ids(path: Path) -> set[int]:
    with duckdb.connect(str(path), read_only=True) as db:
        return {r[0] for r in db.execute("SELECT id FROM connectwise.service_tickets").fetchall()}


def test_backfill_a_date_range_beside_the_main_sync(tmp_path: Path) -> None:
    with Sandbox(scale=300, seed=12) as sb:
        env = _env(tmp_path, sb)
        recent, year = "2025-07-01T00:00:00Z", ("2024-07-01T00:00:00Z", "2025-07-01T00:00:00Z")
        main = _run_args(tmp_path, "--resources", "service_tickets", "--quiet")
        first = _cwsync(tmp_path, env, *main, "--start-date", recent)
        assert first.returncode == 0, first.stderr
        assert _ids(tmp_path / "x.duckdb") == _updated(sb, recent)

        backfill = _cwsync(
            tmp_path,
            env,
            *_run_args(
                tmp_path,
                "--pipeline-name",
                "cwsync_backfill_2024",
                "--resources",
                "service_tickets",
                "--start-date",
                year[0],
                "--condition",
                f"service_tickets=lastUpdated < [{year[1]}]",
                "--no-deletes",
                "--no-verify",
                "--quiet",
            ),
        )
        assert backfill.returncode == 0, backfill.stderr
        expected = _updated(sb, recent) | _updated(sb, *year)
        assert _ids(tmp_path / "x.duckdb") == expected
        assert len(expected) > len(_updated(sb, recent))  # the backfill added rows

        # the main pipeline goes on from its own cursor
        changed = sorted(_updated(sb, *year))[0]
        sb.update("service/tickets", changed, {"summary": "after the backfill"})
        again = _cwsync(tmp_path, env, *main, "--no-verify")
        assert again.returncode == 0, again.stderr
        with duckdb.connect(str(tmp_path / "x.duckdb"), read_only=True) as db:
            summary = db.execute(
                "SELECT summary FROM connectwise.service_tickets WHERE id = ?", [changed]
            ).fetchone()[0]
            total = db.execute("SELECT count(*) FROM connectwise.service_tickets").fetchone()[0]
        assert summary == "after the backfill"
        assert total == len(expected)
