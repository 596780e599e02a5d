"""Sync benchmark: cwsync against simpler ways to copy a ConnectWise tenant into DuckDB.

    python bench/run.py --scale medium
    python bench/run.py --scale small --latency both --contenders naive,cwsync,limit

1. Seeds a sandbox tenant once (``bench/.cache/tenant-SCALE.sqlite``, seed 1) and, per
   latency model, serves a fresh copy of it from a ``cwsync sandbox`` process:
   ``zero`` (no added latency) and/or ``realistic`` (150 ms per response + 0.5 ms per
   record in a list response).
2. Loads the same tables (default: every top-level table with a ``lastUpdated`` cursor)
   with each contender of ``bench/contenders.py``, each in its own process and into its
   own DuckDB file, measuring wall seconds, CPU seconds (user+sys, ``os.wait4``) and peak
   RSS of that process (its own ``VmHWM``: ``ru_maxrss`` would carry this process's).
3. ``incremental``: after the cwsync full run, a second, zero-latency sandbox process on
   the same tenant file changes 1% of the records of every table with at least 100 records
   (PATCH); then cwsync runs again on the same pipeline state and DuckDB file.
4. Prints a markdown table and appends it to ``bench/RESULTS.md`` under
   "## Sync benchmark".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / ".cache"
RESULTS = BENCH / "RESULTS.md"
CONTENDERS_PY = BENCH / "contenders.py"
sys.path.insert(0, str(BENCH))

from tenant import SandboxProcess, churn, seed, working_copy  # noqa: E402

ALL_CONTENDERS = ("naive", "rest_api", "cwsync", "incremental", "limit", "limit_arrow")
LATENCY = {
    "zero": {"latency_ms": 0.0, "per_record_ms": 0.0},
    "realistic": {"latency_ms": 150.0, "per_record_ms": 0.5},
}
SECTION = "## Sync benchmark"
SECTION_INTRO = """\
`python bench/run.py --scale SCALE` — the same tables (every top-level table with a
`lastUpdated` cursor) loaded from a `cwsync sandbox` process into a fresh DuckDB file per
contender, each contender in its own process (wall, CPU user+sys and peak RSS of that
process, interpreter start and imports included). Latency models: `zero`, and `realistic`
= 150 ms per response + 0.5 ms per record of a list response. Contenders: `naive` (a
sequential `requests` loop, navigable paging, rows inserted as JSON text), `rest_api`
(dlt's generic REST source, page-number paging, default settings), `cwsync` (full sync),
`incremental` (cwsync again after 1% of the records of every table with >= 100 records
changed), `limit` (cwsync's pages fetched and decoded with the source's requests-in-flight
budget, no normalize or load: the floor), `limit_arrow` (the same, each page parsed the way
cwsync parses it: read from its body into Arrow outside the GIL). The sandbox is `cwsync
sandbox` in its own process; its CPU seconds over each contender's run are shown too.
"""


@dataclass
class Result:
    contender: str
    model: str
    wall: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    rows: int = 0
    requests: int = 0
    server_cpu: float | None = None  # CPU seconds the sandbox process spent meanwhile
    extra: dict = field(default_factory=dict)
    error: str | None = None


def _scale(text: str) -> str:
    if text in ("small", "medium", "large") or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError("use small, medium, large or a record count")


def _contenders(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in ALL_CONTENDERS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown contender(s) {', '.join(bad) or '(none)'}: choose from "
            + ",".join(ALL_CONTENDERS)
        )
    return names


def default_tables() -> list[str]:
    from sources.connectwise.settings import ENDPOINTS

    return [e.table for e in ENDPOINTS if not e.is_child and e.cursor]


def _peak_rss_mb(maxrss: int) -> float:
    # Linux reports KiB, macOS bytes
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def process_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds (user+sys) a running process has used so far (None: unknown)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # the command name (field 2) may hold spaces: count fields after its ')'
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    name: str,
    model: str,
    connect: dict[str, str],
    *,
    duckdb_path: Path,
    tables: list[str],
    state_dir: Path,
    rps: float,
    logs: Path,
    server_pid: int | None = None,
) -> Result:
    """Run one contender process; wall and CPU come from ``os.wait4``, peak RSS from the
    contender itself (``VmHWM``; ``ru_maxrss`` where it cannot say), the sandbox's CPU
    over the same time from ``/proc`` (Linux; None elsewhere)."""
    # credentials travel in the environment, never on a command line (ps shows those)
    cmd = [sys.executable, str(CONTENDERS_PY), name]
    cmd += [
        "--duckdb",
        str(duckdb_path),
        "--tables",
        ",".join(tables),
        "--state-dir",
        str(state_dir),
        "--rps",
        str(rps),
    ]
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    env.update({f"CWBENCH_{key.upper()}": value for key, value in connect.items()})
    out_path, err_path = logs / f"{name}.out", logs / f"{name}.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        server_before = process_cpu_seconds(server_pid)
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        server_after = process_cpu_seconds(server_pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Result(
        name,
        model,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mb=_peak_rss_mb(usage.ru_maxrss),
    )
    if server_before is not None and server_after is not None:
        result.server_cpu = server_after - server_before
    lines = [ln for ln in out_path.read_text().splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = err_path.read_text().strip().splitlines()[-3:]
        result.error = f"exit {proc.returncode}: " + " | ".join(tail)
        return result
    data = json.loads(lines[-1])
    own_peak = data.pop("peak_rss_mb", None)
    if own_peak is not None:  # the contender's own (ru_maxrss holds at least this process's)
        result.rss_mb = float(own_peak)
    result.rows = int(data.pop("rows", 0))
    result.requests = int(data.pop("requests", 0))
    result.extra = data
    return result


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_model(
    model: str,
    *,
    scale: str,
    seed_value: int,
    cache: Path,
    contenders: list[str],
    tables: list[str],
    rps: float,
    keep: bool,
    repeat: int = 1,
) -> tuple[list[Result], list[str]]:
    """Every contender ``repeat`` times against one sandbox process; each result carries
    its round (``extra["round"]``). Rounds alternate the order of the full contenders, so
    none always runs first on a sandbox that has just started; ``incremental`` continues
    the ``cwsync`` run of its round after 1% of the records changed."""
    from sources.connectwise.settings import BY_TABLE

    notes: list[str] = []
    results: list[Result] = []
    work = CACHE / f"work-{scale}.sqlite"
    working_copy(cache, work)
    os.sync()  # the copy's dirty pages written now, not during the first contender
    run_dir = CACHE / f"run-{scale}-{model}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    lat = LATENCY[model]
    full = [
        n for n in ("cwsync", "limit", "limit_arrow", "naive", "rest_api") if n in contenders
    ]  # quick first
    try:
        with SandboxProcess(work, scale=scale, seed=seed_value, **lat) as sandbox:
            connect = sandbox.connect

            def one(name: str, tag: str, *, db: str | None = None, state: str) -> Result:
                _say(f"[{model}{tag}] {name} …")
                result = measure(
                    name,
                    model,
                    connect,
                    duckdb_path=run_dir / f"{db or name}{tag}.duckdb",
                    tables=tables,
                    state_dir=run_dir / f"{state}{tag}",
                    rps=rps,
                    logs=run_dir,
                    server_pid=sandbox.proc.pid if sandbox.proc else None,
                )
                status = f"FAILED {result.error}" if result.error else f"{result.rows:,} rows"
                _say(f"[{model}{tag}] {name}: {result.wall:.2f}s, {status}")
                return result

            for round_no in range(1, repeat + 1):
                tag = f"-{round_no}" if repeat > 1 else ""
                order = full if round_no % 2 else full[::-1]
                got = [one(name, tag, state="state-cwsync") for name in order]
                if "incremental" in contenders:
                    if "cwsync" not in contenders:  # the full run the incremental continues
                        base = one("cwsync", tag, state="state-cwsync")
                        if base.error:
                            notes.append(
                                f"incremental ({model}): the full run failed: {base.error}"
                            )
                    _say(f"[{model}{tag}] changing records through a second sandbox …")
                    with SandboxProcess(work, scale=scale, seed=seed_value) as churner:
                        changes = churn(churner.connect, [BY_TABLE[t] for t in tables])
                    notes.append(f"incremental ({model}{tag}): {changes.line()}")
                    inc = one("incremental", tag, db="cwsync", state="state-cwsync")
                    inc.extra["changes"] = changes.total
                    got.append(inc)
                for result in got:
                    result.extra["round"] = round_no
                results += got
                if not keep:  # a large tenant's DuckDB files take GBs a round
                    for path in run_dir.glob(f"*{tag}.duckdb*"):
                        path.unlink(missing_ok=True)
                    for path in run_dir.glob(f"state-*{tag}"):
                        shutil.rmtree(path, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
            for f in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
                f.unlink(missing_ok=True)
    return results, notes


def median_runs(results: list[Result]) -> list[Result]:
    """One result per (latency, contender): the run with the median wall time (of an even
    count, the faster of the middle two); failed runs win, so a failure always shows."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.model, r.contender), []).append(r)
    picked = []
    for runs in groups.values():
        failed = [r for r in runs if r.error]
        if failed:
            picked.append(failed[0])
            continue
        ordered = sorted(runs, key=lambda r: r.wall)
        picked.append(ordered[(len(ordered) - 1) // 2])
    return picked


def round_notes(results: list[Result]) -> list[str]:
    """With several rounds: every wall time, and cwsync against the others round by round
    (a ratio within one round shares that round's machine load), with their median (of
    an even count, the mean of the middle two)."""
    rounds = {r.extra.get("round", 1) for r in results}
    if len(rounds) < 2:
        return []
    notes = []
    for model in dict.fromkeys(r.model for r in results):
        runs = [r for r in results if r.model == model and not r.error]
        for name in dict.fromkeys(r.contender for r in runs):
            walls = ", ".join(f"{r.wall:.2f}" for r in runs if r.contender == name)
            notes.append(f"{name} ({model}) wall s by round: {walls}")
        by_round: dict[int, dict[str, Result]] = {}
        for r in runs:
            by_round.setdefault(r.extra.get("round", 1), {})[r.contender] = r
        others = [n for n in ALL_CONTENDERS if n not in ("cwsync", "incremental")]
        pairs = [("cwsync", other, ".2f") for other in others]
        for top, bottom, fmt in [*pairs, ("incremental", "cwsync", ".1%")]:
            ratios = [
                got[top].wall / got[bottom].wall
                for got in by_round.values()
                if top in got and bottom in got and got[bottom].wall
            ]
            if ratios:
                shown = ", ".join(format(x, fmt) for x in ratios)
                mid = format(statistics.median(ratios), fmt)
                notes.append(f"{top} / {bottom} ({model}) by round: {shown} (median {mid})")
    return notes


def _versions() -> str:
    """The versions that decide the figures (a new DuckDB or pyarrow moves them)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("dlt", "duckdb", "pyarrow", "orjson"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def render(results: list[Result]) -> list[str]:
    order = {n: i for i, n in enumerate(ALL_CONTENDERS)}
    models = list(dict.fromkeys(r.model for r in results))
    results = sorted(results, key=lambda r: (models.index(r.model), order[r.contender]))
    base = {r.model: r.wall for r in results if r.contender == "cwsync" and not r.error}
    lines = [
        "| contender | latency | wall s | rows | rows/s | requests | CPU s | sandbox CPU s "
        "| peak RSS MB | × cwsync wall |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.contender} | {r.model} | FAILED | | | | | | | |")
            continue
        rate = r.rows / r.wall if r.wall else 0.0
        ratio = f"{r.wall / base[r.model]:.2f}" if r.model in base else "–"
        server = "–" if r.server_cpu is None else f"{r.server_cpu:.2f}"
        lines.append(
            f"| {r.contender} | {r.model} | {r.wall:.2f} | {r.rows:,} | {rate:,.0f} "
            f"| {r.requests:,} | {r.cpu:.2f} | {server} | {r.rss_mb:.0f} | {ratio} |"
        )
    return lines


def detail_notes(results: list[Result]) -> list[str]:
    notes = []
    for r in results:
        if r.error:
            notes.append(f"{r.contender} ({r.model}) failed: {r.error}")
            continue
        steps = r.extra.get("steps")
        if r.contender in ("cwsync", "incremental") and steps:
            parts = ", ".join(f"{k} {v:.2f}s" for k, v in steps.items())
            notes.append(
                f"{r.contender} ({r.model}) dlt steps: {parts}; in-process work "
                f"{r.extra.get('work_s', 0):.2f}s of {r.wall:.2f}s wall"
            )
    work = [
        f"{r.contender} {r.extra['work_s']:.2f}s"
        for r in results
        if not r.error and "work_s" in r.extra and r.model == results[0].model
    ]
    if work:
        notes.append(
            f"in-process work after imports ({results[0].model}): "
            + ", ".join(work)
            + " — the rest of wall is interpreter start and imports"
        )
    return notes


def compile_project() -> None:
    """Byte-compile the project's modules, as installing a package does, so no contender
    compiles them at its start: with ``PYTHONDONTWRITEBYTECODE`` set (some CI images set
    it) a checkout is compiled again by every process, ~0.15 s for cwsync's imports.
    Python reads the compiled files even when it is told not to write them."""
    import compileall

    for package in ("sources", "pipelines", "cwsync", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


def append_results(block: list[str]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{SECTION_INTRO}"
    lines = text.rstrip("\n").split("\n")
    start = lines.index(SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    lines[end:end] = ["", *block]
    RESULTS.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=_scale, default="small", help="small | medium | large | N time entries"
    )
    parser.add_argument(
        "--latency", choices=("zero", "realistic", "both"), default="both", help="default both"
    )
    parser.add_argument(
        "--contenders",
        type=_contenders,
        default=list(ALL_CONTENDERS),
        help="comma list of " + ",".join(ALL_CONTENDERS) + " (default all)",
    )
    parser.add_argument(
        "--tables", default=None, help="comma list of top-level tables (default: all with a cursor)"
    )
    parser.add_argument("--seed", type=int, default=1, help="sandbox seed (default 1)")
    parser.add_argument(
        "--rps",
        type=float,
        default=0.0,
        help="cwsync/limit requests_per_second (default 0 = no cap, as `cwsync run "
        "--sandbox` does; the source's own default for real tenants is 10)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every contender on one sandbox (default 1); the table shows each "
        "contender's median run and the notes every round",
    )
    parser.add_argument("--keep", action="store_true", help="keep DuckDB files and logs")
    parser.add_argument(
        "--no-append", action="store_true", help="print only; do not append to RESULTS.md"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")

    from sources.connectwise.settings import BY_TABLE
    from sources.connectwise.throttle import DEFAULT_MAX_IN_FLIGHT

    if args.tables:
        tables = [t.strip() for t in args.tables.split(",") if t.strip()]
        bad = [t for t in tables if t not in BY_TABLE or BY_TABLE[t].is_child]
        if bad:
            parser.error(f"not a top-level table: {', '.join(bad)}")
    else:
        tables = default_tables()
    models = ["zero", "realistic"] if args.latency == "both" else [args.latency]

    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / (
        f"tenant-{args.scale}.sqlite"
        if args.seed == 1
        else f"tenant-{args.scale}-seed{args.seed}.sqlite"
    )
    compile_project()
    _say(f"tenant {cache.relative_to(REPO)} …")
    seeded = seed(cache, scale=args.scale, seed_value=args.seed)
    if seeded:
        _say(f"seeded in {seeded:.1f}s")

    results: list[Result] = []
    notes: list[str] = []
    for model in models:
        got, extra = run_model(
            model,
            scale=args.scale,
            seed_value=args.seed,
            cache=cache,
            contenders=args.contenders,
            tables=tables,
            rps=args.rps,
            keep=args.keep,
            repeat=args.repeat,
        )
        results += got
        notes += extra
    every_round = results
    results = median_runs(results)
    notes = detail_notes(results) + round_notes(every_round) + notes
    if "rest_api" in args.contenders:
        notes.append(
            "rest_api: the obvious config (bench/contenders.py `rest_api_config`) plus one "
            "hint, custom_fields.value as text; without it dlt's normalize fails on the "
            "mixed-type custom field values (Cannot coerce `text` to `timestamp`)"
        )

    now = datetime.now(timezone.utc)
    command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    latency_text = " + ".join(models)
    heading = (
        f"### sync benchmark — {now:%Y-%m-%d}, {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, scale {args.scale} (seed {args.seed}), "
        f"latency {latency_text}"
    )
    records = next((r.rows for r in results if r.contender == "limit" and not r.error), None)
    tenant = f"{len(tables)} tables" + (f", {records:,} records" if records is not None else "")
    rps = "no request-rate cap" if not args.rps else f"{args.rps:g} requests/s cap"
    rounds = f"; {args.repeat} rounds, each contender's median run shown" if args.repeat > 1 else ""
    server = "`cwsync sandbox`"
    block = [
        heading,
        "",
        f"`{command.strip()}` — {tenant}; {server}; cwsync/limit: {DEFAULT_MAX_IN_FLIGHT} "
        f"requests in flight, {rps}{rounds}; {_versions()}.",
        "",
        *render(results),
        "",
        *[f"- {n}" for n in notes],
    ]
    print("\n".join(block))
    if not args.no_append:
        append_results(block)
        _say(f"appended to {RESULTS.relative_to(REPO)}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
