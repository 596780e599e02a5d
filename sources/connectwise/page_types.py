"""The Arrow type of each table's pages, kept between runs in a local folder.

The body reader (:mod:`.body_reader`) parses a page straight into Arrow only when it is
given the type of the records, which a run learns from its first page of a table: that
page is decoded into Python and converted the slow way. An incremental run reads one or
two pages of most tables, so nearly all of its records took the slow way. Starting from
the type the previous run ended with, the first page is read like the others. A type
that no longer fits (a new field, a value of another kind) makes the reader refuse the
page, which is then decoded and widens the type, as within a run.

The types live next to the pipeline's local state (``<working dir>/page_types``), one
small file per table; a new machine without them only reads its first pages the slow way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pyarrow as pa

log = logging.getLogger("cwsync.connectwise")

_FIELD = "records"


class PageTypes:
    """``load``/``save`` of one Arrow struct type per table in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, table: str) -> Path:
        return self.directory / f"{table}.arrow-schema"

    def load(self, table: str) -> pa.DataType | None:
        """The type saved for ``table``; None when there is none or it does not read."""
        path = self._path(table)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            kind = pa.ipc.read_schema(pa.py_buffer(data)).field(_FIELD).type
        except (pa.ArrowInvalid, KeyError, ValueError, TypeError) as exc:
            log.debug("ignoring the unreadable page type of %s: %s", table, exc)
            return None
        return kind if pa.types.is_struct(kind) else None

    def save(self, table: str, kind: pa.DataType) -> None:
        """Keep ``kind`` for the next run (written aside, then moved: never half a file).
        A folder that cannot be written only costs the next run its fast first page."""
        path = self._path(table)
        spare = path.with_name(path.name + f".{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            spare.write_bytes(pa.schema([(_FIELD, kind)]).serialize().to_pybytes())
            os.replace(spare, path)
        except OSError as exc:
            log.debug("could not keep the page type of %s: %s", table, exc)
            spare.unlink(missing_ok=True)
