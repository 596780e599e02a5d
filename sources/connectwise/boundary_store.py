"""Where a table's boundary (:class:`.watermark.Boundary`) is kept between runs.

The boundary is ``{id: digest}`` of the records a run saw at or after the next cursor,
valid only for the run that starts from that cursor. A handful of records (the usual
case: the last minute's edits) stay in the resource state, packed (:func:`pack_seen`):
restored with the state on a new machine. More than :data:`INLINE_MAX` (a run right after
a bulk change remembers up to 20k) go to a file in a local folder next to the pipeline's
state; the state names the file. dlt writes the pipeline state into every load package,
rewrites the package's state file after each finished load job, and stores the state,
compressed, in the destination with every load: 20k records inline made that 530 KB each
time, 66 times in one incremental run of the large benchmark tenant (0.28 s of its load
step), and a 530 KB row in ``_dlt_pipeline_state`` per run.

A file is named by a hash of its content and never changed, and it is written before
the state that names it is committed; the file the state named before is kept until a
later run replaces it, so a run that fails leaves a state whose file is still there. A
missing or damaged file (a new machine, a cleaned folder) reads as an empty boundary:
those records are loaded once more, which is harmless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import sys
from array import array
from pathlib import Path
from typing import Any

from .watermark import DIGEST_BYTES

log = logging.getLogger("cwsync.connectwise")

INLINE_MAX = 100  # records kept in the state itself (~2.4 KB packed)
_MAGIC = b"CWB1"
_SUFFIX = ".boundary"


def pack_seen(seen: dict[str, bytes]) -> dict[str, Any]:
    """``{id: digest}`` as the state keeps it: ``ids`` (int64, little-endian) and
    ``digests`` (:data:`.watermark.DIGEST_BYTES` each, in the same order), each one base64
    string; ``seen`` (id -> hex digest) when an id is not an integer."""
    packed = _pack(seen)
    if packed is None:
        return {"seen": {rid: digest.hex() for rid, digest in seen.items()}}
    ids, digests = packed
    return {
        "ids": base64.b64encode(ids).decode("ascii"),
        "digests": base64.b64encode(digests).decode("ascii"),
    }


def unpack_seen(state: dict) -> dict[str, bytes]:
    """The ``{id: digest}`` of :func:`pack_seen` (or of the ``seen`` dict of hex digests
    that earlier versions kept); what cannot be read is forgotten."""
    if state.get("seen"):
        try:
            return {str(rid): bytes.fromhex(hexed) for rid, hexed in state["seen"].items()}
        except (AttributeError, TypeError, ValueError):
            return {}
    try:
        ids = base64.b64decode(state.get("ids") or "", validate=True)
        digests = base64.b64decode(state.get("digests") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return {}
    return _unpack(ids, digests)


def _pack(seen: dict[str, bytes]) -> tuple[bytes, bytes] | None:
    """The ids as int64 little-endian bytes and the digests joined; None when an id is
    not an integer as written (``"7"`` packs, ``"07"`` or ``"a"`` does not)."""
    try:
        ids = array("q", (int(rid) for rid in seen))
    except (ValueError, OverflowError):
        return None
    if any(str(number) != rid for number, rid in zip(ids, seen, strict=True)):
        return None
    if any(len(digest) != DIGEST_BYTES for digest in seen.values()):
        return None
    if sys.byteorder != "little":  # pragma: no cover - big-endian machines
        ids.byteswap()
    return ids.tobytes(), b"".join(seen.values())


def _unpack(raw_ids: bytes, digests: bytes) -> dict[str, bytes]:
    ids = array("q")
    count, rest = divmod(len(raw_ids), ids.itemsize)
    if rest or len(digests) != count * DIGEST_BYTES:
        return {}
    ids.frombytes(raw_ids)
    if sys.byteorder != "little":  # pragma: no cover - big-endian machines
        ids.byteswap()
    return {
        str(rid): digests[at : at + DIGEST_BYTES]
        for rid, at in zip(ids, range(0, len(digests), DIGEST_BYTES), strict=True)
    }


class BoundaryStore:
    """:meth:`read` and :meth:`write` of one table's boundary state; ``directory`` holds
    the large ones (None: everything stays in the state)."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._listed: list[str] | None = None  # the folder's files, listed once a run

    def read(self, table: str, state: dict | None, cursor: str | None) -> dict[str, bytes]:
        """What the previous run remembered, when this run starts from the cursor it was
        kept for (``{}`` otherwise, or when its file is gone or damaged)."""
        state = state or {}
        if not cursor or state.get("cursor") != cursor:
            return {}
        name = state.get("file")
        if not name:
            return unpack_seen(state)
        return self._read_file(table, str(name))

    def write(
        self, table: str, cursor: str, seen: dict[str, bytes] | None, kept: dict | None
    ) -> dict:
        """The state to keep for the run that starts from ``cursor`` (``seen``: the
        records to remember, None: none); ``kept``: the state this run started from,
        whose file stays until a later run replaces this one."""
        keep = {str((kept or {}).get("file") or "")}
        if not seen:
            state: dict[str, Any] = {}
        elif len(seen) <= INLINE_MAX or self.directory is None:
            state = {"cursor": cursor, **pack_seen(seen)}
        else:
            name = self._write_file(table, seen)
            state = (
                {"cursor": cursor, "file": name, "count": len(seen)}
                if name
                else {"cursor": cursor, **pack_seen(seen)}  # the folder cannot be written
            )
            keep.add(name or "")
        self._remove_others(table, keep)
        return state

    # -- files -----------------------------------------------------------------------------
    def _read_file(self, table: str, name: str) -> dict[str, bytes]:
        if self.directory is None or not _is_name_of(table, name):
            return {}
        try:
            data = (self.directory / name).read_bytes()
        except OSError as exc:
            log.info("the boundary of %s is not here (%s): its records load once more", table, exc)
            return {}
        if not data.startswith(_MAGIC) or f"{table}.{_hash(data)}{_SUFFIX}" != name:
            log.warning("ignoring the damaged boundary file %s", name)
            return {}
        body = data[len(_MAGIC) :]
        count = len(body) // (8 + DIGEST_BYTES)
        return _unpack(body[: count * 8], body[count * 8 :])

    def _write_file(self, table: str, seen: dict[str, bytes]) -> str | None:
        packed = _pack(seen)
        if packed is None or self.directory is None:
            return None
        data = _MAGIC + packed[0] + packed[1]
        name = f"{table}.{_hash(data)}{_SUFFIX}"
        path = self.directory / name
        spare = path.with_name(f"{name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            spare.write_bytes(data)
            os.replace(spare, path)  # never half a file under the name
        except OSError as exc:
            log.warning("could not write the boundary of %s (%s): kept in the state", table, exc)
            spare.unlink(missing_ok=True)
            return None
        return name

    def _remove_others(self, table: str, keep: set[str]) -> None:
        """Remove the table's files but ``keep`` (the folder is listed once per store: a
        run's tables each look at it, and only files of earlier runs are to go)."""
        if self.directory is None:
            return
        if self._listed is None:
            try:
                self._listed = os.listdir(self.directory)
            except OSError:
                self._listed = []
        for name in self._listed:
            if name not in keep and _is_name_of(table, name):
                (self.directory / name).unlink(missing_ok=True)


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _is_name_of(table: str, name: str) -> bool:
    """``<table>.<16 hex digits>.boundary`` (not another table's whose name starts alike)."""
    middle = name[len(table) + 1 : -len(_SUFFIX)] if name.endswith(_SUFFIX) else ""
    return (
        name.startswith(table + ".")
        and len(middle) == 16
        and all(c in "0123456789abcdef" for c in middle)
    )
