"""Finding your way: ``cwsync endpoints``, ``--help`` of every command, config-declared
endpoints and errors that name the key to fix.

Covers: the endpoint listing (every built-in endpoint with path, table, how it is synced,
parent, enabled) in text and JSON; every option of every command has help text; an
endpoint declared in ``.dlt/config.toml`` (``[[sources.connectwise.extra_endpoints]]``) is
synced and count-checked without code changes, and ``disabled_tables`` switches a table
off; bad declarations and unknown or unconfigured destinations are one line naming the
config key, exit 2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cwsync.sandbox import Sandbox
from pipelines.cli import build_parser
from sources.connectwise.settings import ENDPOINTS

from .test_cli_run import _assert_one_line_failure, _clean_env, _cwsync, _env, _run_args


def test_endpoints_lists_every_endpoint(tmp_path: Path) -> None:
    result = _cwsync(tmp_path, _clean_env(tmp_path), "endpoints")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["path", "table", "sync", "parent", "enabled", "declared"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert len(rows) == len(ENDPOINTS)
    assert rows["service/tickets"][1:] == ["service_tickets", "incremental", "yes", "built-in"]
    assert rows["company/entityTypes"][2] == "full"
    notes = rows["service/tickets/{id}/notes"]
    assert notes[1:4] == ["service_tickets_notes", "per-parent", "service_tickets"]
    assert lines[-1] == f"{len(ENDPOINTS)} endpoints (0 from configuration, 0 disabled)"

    as_json = _cwsync(tmp_path, _clean_env(tmp_path), "endpoints", "--json")
    items = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(items) == len(ENDPOINTS)
    assert items[0] == {
        "path": "service/tickets",
        "table": "service_tickets",
        "kind": "incremental",
        "parent": "",
        "enabled": True,
        "declared": "built-in",
    }


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_and_option_has_help() -> None:
    parser = build_parser()
    commands = _subcommands(parser)
    assert {"run", "verify", "views", "status", "report", "endpoints", "demo", "sandbox"} <= set(
        commands
    )
    for name, sub in commands.items():
        assert sub.description and len(sub.description) > 40, name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
        text = sub.format_help()
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, (name, flag)


@pytest.mark.parametrize("command", ["run", "views", "status", "report", "endpoints"])
def test_help_runs_for_each_command(command: str, tmp_path: Path) -> None:
    result = _cwsync(tmp_path, _clean_env(tmp_path), command, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: cwsync " + command)


EXTRA = """
[sources.connectwise]
disabled_tables = ["company_companies"]

[[sources.connectwise.extra_endpoints]]
path = "configurations/types/info"
table = "configuration_type_info"

[[sources.connectwise.extra_endpoints]]
path = "service/priorities"
table = "priorities_snapshot"
incremental = false
"""


def test_endpoints_declared_in_config_are_synced(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(EXTRA)
    listing = _cwsync(tmp_path, _clean_env(tmp_path), "endpoints")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[1]: line.split() for line in listing.stdout.splitlines()[1:-1]}
    assert rows["configuration_type_info"][2:] == ["incremental", "yes", "config"]
    assert rows["priorities_snapshot"][2:] == ["full", "yes", "config"]
    assert rows["company_companies"][3] == "no"
    assert listing.stdout.splitlines()[-1].endswith("(2 from configuration, 1 disabled)")

    with Sandbox(scale=100, seed=6) as sb:
        env = _env(tmp_path, sb)
        tables = "configuration_type_info,priorities_snapshot,service_priorities"
        run = _cwsync(tmp_path, env, *_run_args(tmp_path, "--resources", tables))
        assert run.returncode == 0, run.stderr
        assert "configuration_type_info" in run.stdout
        expected = {
            "configuration_type_info": sb.count("configurations/types/info"),
            "priorities_snapshot": sb.count("service/priorities"),
        }
    with duckdb.connect(str(tmp_path / "x.duckdb"), read_only=True) as db:
        for table, count in expected.items():
            assert db.execute(f"SELECT count(*) FROM connectwise.{table}").fetchone()[0] == count
    # the count check covered the declared endpoint too
    assert "counts: 3 of 3 tables match the API" in run.stdout


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        (
            '[[sources.connectwise.extra_endpoints]]\npath = "not a path"\n',
            "extra_endpoints[0].path",
        ),
        (
            '[[sources.connectwise.extra_endpoints]]\npath = "service/tickets"\n'
            "incremental = false\n",
            "extra_endpoints[0]: table service_tickets already exists",
        ),
        (
            '[[sources.connectwise.extra_endpoints]]\npath = "a/b"\ncolour = "red"\n',
            "extra_endpoints[0]: unknown key 'colour'",
        ),
        (
            '[[sources.connectwise.extra_endpoints]]\npath = "nope/{id}/things"\n',
            "parent collection nope",
        ),
        ('[sources.connectwise]\ndisabled_tables = ["no_such"]\n', "disabled_tables"),
    ],
    ids=["bad-path", "taken-table", "unknown-key", "unknown-parent", "unknown-disabled"],
)
def test_bad_config_names_the_key(toml: str, named: str, tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(toml)
    for args in (["endpoints"], _run_args(tmp_path, "--sandbox", "--scale", "50")):
        result = _cwsync(tmp_path, _clean_env(tmp_path), *args)
        line = _assert_one_line_failure(result, 2)
        assert named in line and "sources.connectwise." in line, line


@pytest.mark.parametrize(
    ("destination", "named"),
    [("postgres", "destination.postgres.credentials"), ("nosuch", "unknown destination 'nosuch'")],
)
def test_destination_errors_name_the_key(destination: str, named: str, tmp_path: Path) -> None:
    args = _run_args(tmp_path, "--sandbox", "--scale", "50", "--destination", destination)
    result = _cwsync(tmp_path, _clean_env(tmp_path), *args)
    line = _assert_one_line_failure(result, 2)
    assert named in line


def test_help_of_the_cli_module_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cwsync", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "endpoints" in result.stdout and "report" in result.stdout
