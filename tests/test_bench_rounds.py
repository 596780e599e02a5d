"""``bench/run.py --repeat N``: each contender's median run goes in the table, every round
in the notes, and cwsync is compared with the others round by round."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from run import Result, median_runs, render, round_notes  # noqa: E402


def _run(name: str, wall: float, round_no: int, error: str | None = None) -> Result:
    return Result(name, "zero", wall=wall, rows=100, extra={"round": round_no}, error=error)


def _rounds(*walls: dict[str, float]) -> list[Result]:
    """One run per contender and round: ``walls[i]`` gives round ``i + 1``'s."""
    return [_run(name, wall, i) for i, got in enumerate(walls, 1) for name, wall in got.items()]


def test_the_table_shows_each_contenders_median_run() -> None:
    runs = _rounds(
        {"cwsync": 12.0, "limit": 6.5},
        {"cwsync": 15.0, "limit": 6.0},
        {"cwsync": 11.0, "limit": 9.0},
    )
    picked = {r.contender: r.wall for r in median_runs(runs)}
    assert picked == {"cwsync": 12.0, "limit": 6.5}
    table = "\n".join(render(median_runs(runs)))
    assert "| cwsync | zero | 12.00 |" in table
    assert "| limit | zero | 6.50 |" in table and "| 0.54 |" in table  # 6.5 / 12


def test_of_an_even_count_the_faster_middle_run_and_a_failure_always_shows() -> None:
    runs = [_run("cwsync", w, i) for i, w in enumerate([14.0, 12.0, 13.0, 20.0], 1)]
    assert [r.wall for r in median_runs(runs)] == [13.0]
    runs.append(_run("cwsync", 1.0, 5, error="exit 1: boom"))
    (picked,) = median_runs(runs)
    assert picked.error == "exit 1: boom"


def test_notes_give_every_round_and_the_ratios_within_each_round() -> None:
    runs = _rounds(
        {"cwsync": 12.0, "limit": 6.0, "incremental": 0.6},
        {"cwsync": 15.0, "limit": 5.0, "incremental": 0.3},
    )
    notes = round_notes(runs)
    assert "cwsync (zero) wall s by round: 12.00, 15.00" in notes
    assert "cwsync / limit (zero) by round: 2.00, 3.00 (median 2.50)" in notes
    assert "incremental / cwsync (zero) by round: 5.0%, 2.0% (median 3.5%)" in notes
    assert round_notes(runs[:3]) == []  # one round: nothing to add
