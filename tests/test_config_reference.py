"""The configuration reference stays true: README, config files and code agree.

Covers: the README's configuration table is exactly the one generated from
``pipelines/config_reference.py``; every key shown in ``.dlt/config.toml`` and
``.dlt/secrets.toml.example`` is in the reference; every ``sources.connectwise`` key of the
reference is read by the code (a parameter of the source, or read by the pipelines); and a
run with every key set through the environment to its documented example succeeds.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pipelines.config_reference import (
    BY_NAME,
    END,
    KEYS,
    START,
    config_file_keys,
    markdown_table,
)
from sources.connectwise import connectwise_source

from .test_cli_run import _clean_env, _cwsync, _run_args

ROOT = Path(__file__).resolve().parent.parent
CW = "sources.connectwise."


def test_readme_holds_the_generated_table() -> None:
    text = (ROOT / "README.md").read_text()
    body = text[text.index(START) + len(START) : text.index(END)].strip()
    assert body == markdown_table(), "run: python -m pipelines.config_reference --write"
    for key in KEYS:
        assert f"`{key.name}`" in body


def test_every_key_in_the_config_files_is_documented() -> None:
    shown = config_file_keys((ROOT / ".dlt" / "config.toml").read_text())
    shown |= config_file_keys((ROOT / ".dlt" / "secrets.toml.example").read_text())
    assert {CW + "site", CW + "extra_endpoints", CW + "private_key"} <= shown  # parsed at all
    undocumented = sorted(shown - set(BY_NAME))
    assert not undocumented, f"add to pipelines/config_reference.py: {undocumented}"


def _read_by_pipelines() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "pipelines").glob("*.py"))
    text = text.replace("config_reference.py", "")
    found = set(re.findall(r'"sources\.connectwise\.(\w+)"', text))
    return {k for k in found}


def test_every_source_key_is_read_by_the_code() -> None:
    source = inspect.signature(connectwise_source).parameters
    internal = {
        "tables",
        "client",
        "stats",
        "advance_cursors",
        "page_types_dir",
        "boundary_dir",
        "first_look",
    }  # of code
    read = (set(source) - internal) | _read_by_pipelines()
    for key in KEYS:
        if key.name.startswith(CW):
            assert key.name[len(CW) :] in read, f"{key.name} is documented but not read"
    for name in set(source) - internal:
        assert CW + name in BY_NAME, f"source argument {name} is not documented"


def test_a_run_accepts_every_documented_example(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    for key in KEYS:
        if key.example:
            env[key.env] = key.example
    result = _cwsync(
        tmp_path,
        env,
        *_run_args(tmp_path, "--sandbox", "--scale", "60", "--resources", "service_priorities"),
    )
    assert result.returncode == 0, result.stderr
    assert "service_priorities" in result.stdout
