"""The boundary's keeping between runs: small in the state, large in a content-named file."""

from __future__ import annotations

from sources.connectwise.boundary_store import INLINE_MAX, BoundaryStore, pack_seen, unpack_seen
from sources.connectwise.watermark import content_digest

CURSOR = "2026-06-01T12:00:00Z"


def _seen(count: int, start: int = 1) -> dict[str, bytes]:
    return {str(i): content_digest({"id": i, "n": i}) for i in range(start, start + count)}


def test_a_few_records_stay_in_the_state_packed(tmp_path) -> None:
    store = BoundaryStore(tmp_path)
    seen = _seen(3)
    state = store.write("service_tickets", CURSOR, seen, None)
    assert set(state) == {"cursor", "ids", "digests"} and not list(tmp_path.iterdir())
    assert store.read("service_tickets", state, CURSOR) == seen
    assert store.read("service_tickets", state, "2026-06-01T12:00:01Z") == {}  # other cursor
    assert BoundaryStore(None).write("t", CURSOR, {}, None) == {}  # nothing to remember


def test_many_records_go_to_a_file_the_state_names(tmp_path) -> None:
    store = BoundaryStore(tmp_path)
    seen = _seen(INLINE_MAX + 1)
    state = store.write("time_entries", CURSOR, seen, None)
    assert set(state) == {"cursor", "file", "count"} and state["count"] == INLINE_MAX + 1
    assert [p.name for p in tmp_path.iterdir()] == [state["file"]]
    assert store.read("time_entries", state, CURSOR) == seen
    # without a folder (the source used on its own) everything stays in the state
    inline = BoundaryStore(None).write("time_entries", CURSOR, seen, None)
    assert "file" not in inline and unpack_seen(inline) == seen


def test_the_file_a_failed_run_started_from_is_kept(tmp_path) -> None:
    """Run 2 fails after writing its file: run 3 starts from run 1's state again, so run
    1's file must be there; run 3 then removes run 2's orphan (not run 1's, until a run
    after it). Each run has a store of its own, as each run of the source does."""

    def run() -> BoundaryStore:
        return BoundaryStore(tmp_path)

    first = run().write("time_entries", CURSOR, _seen(500), None)
    failed = run().write("time_entries", "2026-06-01T12:05:00Z", _seen(500, 1000), first)
    assert {first["file"], failed["file"]} == {p.name for p in tmp_path.iterdir()}
    assert run().read("time_entries", first, CURSOR) == _seen(500)  # run 3 reads run 1's
    third = run().write("time_entries", "2026-06-01T12:06:00Z", _seen(400, 5000), first)
    assert {p.name for p in tmp_path.iterdir()} == {first["file"], third["file"]}
    # another table's files are never touched
    other = run().write("time_entries_x", CURSOR, _seen(300), None)
    run().write("time_entries", "2026-06-01T12:07:00Z", _seen(200, 9000), third)
    assert (tmp_path / other["file"]).exists() and not (tmp_path / first["file"]).exists()


def test_a_missing_or_damaged_file_reads_as_nothing_remembered(tmp_path) -> None:
    store = BoundaryStore(tmp_path)
    state = store.write("time_entries", CURSOR, _seen(300), None)
    path = tmp_path / state["file"]
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
    assert store.read("time_entries", state, CURSOR) == {}
    path.unlink()
    assert store.read("time_entries", state, CURSOR) == {}  # a new machine
    assert store.read("time_entries", {**state, "file": "../elsewhere.boundary"}, CURSOR) == {}


def test_earlier_state_forms_still_read() -> None:
    seen = _seen(2)
    hexed = {"cursor": CURSOR, "seen": {rid: d.hex() for rid, d in seen.items()}}
    assert BoundaryStore(None).read("t", hexed, CURSOR) == seen
    # ids that are not integers as written keep the hex form
    odd = {"07": seen["1"], "a": seen["2"]}
    assert "seen" in pack_seen(odd) and unpack_seen(pack_seen(odd)) == odd
    assert unpack_seen({"ids": "!!", "digests": ""}) == {}
    assert unpack_seen({"ids": "AAAAAAAAAAA=", "digests": ""}) == {}  # lengths disagree
