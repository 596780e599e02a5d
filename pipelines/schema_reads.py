"""Reading a pipeline's stored schema again only when the file changed.

dlt hands out a pipeline's schemas through a "live" schema storage. Every access to a
schema without unsaved changes (``pipeline.default_schema``, ``pipeline.schemas[name]``,
each SQL client, each step of a run) reads the schema file again, checks its hash and
copies its content into the live instance, in case another process changed it: ~17 ms
at the ConnectWise schema's 130 tables and 2,500 columns, about 20 times in an
incremental run (0.35 s of the large benchmark tenant's 8 s).

:func:`read_schemas_when_changed` gives a pipeline a storage that does the same, except
when the file is the one this storage last read or wrote (same size, modification time
and inode: dlt writes a schema to a new file and renames it into place): then the live
instance already holds what the file holds. A file changed by anyone else is read as
before; a schema changed in memory and not saved is handed out as it is (dlt's rule).
"""

from __future__ import annotations

import os
from typing import Any

import dlt
from dlt.common.schema import Schema
from dlt.common.storages.exceptions import SchemaNotFoundError
from dlt.common.storages.live_schema_storage import LiveSchemaStorage

Stamp = tuple[int, int, int]


class SchemaReadsWhenChanged(LiveSchemaStorage):
    """dlt's live schema storage that skips reading a schema file it is in step with."""

    _in_step: dict[str, Stamp]

    def _stamp(self, name: str) -> Stamp | None:
        """The size, modification time and inode of schema ``name``'s file (None: none)."""
        path = self.storage.make_full_path(self._file_name_in_store(name, "json"))
        try:
            info = os.stat(path)
        except OSError:
            return None
        return (info.st_size, info.st_mtime_ns, info.st_ino)

    def _steps(self) -> dict[str, Stamp]:
        steps = self.__dict__.get("_in_step")
        if steps is None:
            steps = self._in_step = {}
        return steps

    def __getitem__(self, name: str) -> Schema:
        if self.config.import_schema_path:  # an import file may change it too: dlt's way
            return super().__getitem__(name)
        live = self.live_schemas.get(name)
        stamp = self._stamp(name)
        if live is not None and stamp is not None and self._steps().get(name) == stamp:
            # the file is the one the live instance was read from or saved to: the live
            # instance it is, changed in memory or not (asked first, the change check
            # hashes the whole schema: ~1 ms at 112 tables, on every access)
            return live
        if live is not None and not self.is_live_schema_committed(name):
            return live  # changed in memory, not saved yet: as dlt does
        try:
            schema = self.load_schema(name)
        except SchemaNotFoundError:
            if live is not None:  # saved to no file yet (dlt's rule)
                return live
            raise
        schema = self.set_live_schema(schema)
        if stamp is not None and stamp == self._stamp(name):  # not replaced meanwhile
            self._steps()[name] = stamp
        return schema

    def _save_schema(self, schema: Schema) -> str:
        path = super()._save_schema(schema)
        steps = self._steps()
        if self.live_schemas.get(schema.name) is schema:
            stamp = self._stamp(schema.name)
            if stamp is not None:
                steps[schema.name] = stamp
        else:
            steps.pop(schema.name, None)
        return path

    def remove_schema(self, name: str) -> None:
        self._steps().pop(name, None)
        super().remove_schema(name)


def read_schemas_when_changed(pipeline: dlt.Pipeline) -> bool:
    """Give ``pipeline`` the storage above (True), unless its schema storage is not dlt's
    live storage (another dlt version): then it is left as it is (False)."""
    storage: Any = getattr(pipeline, "_schema_storage", None)
    if type(storage) is LiveSchemaStorage:
        storage.__class__ = SchemaReadsWhenChanged
        return True
    return isinstance(storage, SchemaReadsWhenChanged)
