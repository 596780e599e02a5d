"""One DuckDB connection held open for a whole run.

dlt opens a DuckDB connection for each load job (and for each SQL client) and closes it
afterwards. When the last connection to a file closes, DuckDB checkpoints it and drops the
database; the next open reads the catalog and the write-ahead log again. With 75 load jobs
in a small incremental run that was most of the load step's time (~1.7 s of a 6 s run at
the benchmark's medium tenant). While one connection is held, every other
``duckdb.connect`` of the same file in this process gets DuckDB's cached database, and
closing it is cheap. The run checkpoints once, after the load, and the close at the end
writes what the queries after it changed.

The checkpoint after the load (~1 s of the large benchmark tenant's incremental run: DuckDB
rewrites the last row group of every table that got rows) runs in a thread of its own
(:meth:`HeldDuckDB.start_checkpoint`) while the run reads what it needs next (stale list
rows, the views' captions) on the other core; DuckDB lets reads run beside a checkpoint
and holds a write's commit until it is done.

A load that runs out of DuckDB's memory cap lets the database go (:meth:`HeldDuckDB.close`)
and finishes one job at a time, each job opening and closing it as dlt does by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dlt


def is_local_duckdb(pipeline: dlt.Pipeline) -> bool:
    """Whether the pipeline loads into DuckDB on this machine (not MotherDuck)."""
    destination = pipeline.destination
    return destination is not None and destination.destination_name == "duckdb"


def _duckdb_credentials(pipeline: dlt.Pipeline) -> Any | None:
    """The credentials of a DuckDB destination that names a database file (None for other
    destinations or an in-memory/external connection)."""
    if not is_local_duckdb(pipeline):
        return None
    credentials = pipeline.destination_client().config.credentials
    if credentials.external_conn() is not None or credentials.read_only:
        return None
    database = credentials.database
    return credentials if isinstance(database, str) and database != ":memory:" else None


class HeldDuckDB:
    """The held connection: :meth:`start_checkpoint` writes what the load changed to the
    file (dlt's per-job closes used to) and frees the memory holding it."""

    def __init__(
        self, connection: Any, path: str | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        self.connection = connection
        self.path = path
        # the destination's DuckDB settings: dlt applies them at each load job's first
        # connection, and every job client of the pipeline shares this dict
        self.settings = settings if settings is not None else {}
        self._checkpoint: threading.Thread | None = None
        self._error: BaseException | None = None

    def close(self, *, quiet: bool = False) -> None:
        """Let the database go (after the checkpoint running, if any): dlt's job
        connections then open and close it per job again, and each close checkpoints
        what the job loaded and frees the memory holding it.

        Also what clears a delete that ran out of DuckDB's memory cap: the rows it had
        marked stay marked by its aborted transaction until the database is opened again,
        and every later delete of those rows fails ("Conflict on tuple deletion"), so
        dlt's retries of a merge job cannot succeed in the same database (DuckDB 2.0.1;
        the rows themselves are intact). ``quiet``: a failed checkpoint is not raised (the
        run is failing already); the connection is closed either way."""
        try:
            self.finish_checkpoint()
        except Exception:
            if not quiet:
                raise
        finally:
            if self.connection is not None:
                self.connection.close()
                self.connection = None

    def open(self) -> None:
        """Hold the database again after :meth:`close`."""
        import duckdb

        if self.connection is None:
            self.connection = duckdb.connect(self.path)

    def set_memory_limit(self, limit: str) -> None:
        """DuckDB's memory cap, for the held database and the load jobs that connect
        after this (dlt would set the configured one again on their first connection)."""
        self.settings["memory_limit"] = limit
        if self.connection is not None:
            self.connection.execute(f"SET memory_limit = '{limit}'")

    def start_checkpoint(self) -> None:
        """Checkpoint in a thread of its own; :meth:`finish_checkpoint` waits for it (and
        raises what it raised). Reads go on meanwhile; a commit that writes waits."""
        self.finish_checkpoint()
        cursor = self.connection.cursor()  # a connection of its own: one per thread

        def run() -> None:
            try:
                cursor.execute("CHECKPOINT")
            except BaseException as exc:  # handed to finish_checkpoint
                self._error = exc
            finally:
                cursor.close()

        self._checkpoint = threading.Thread(target=run, name="cw-checkpoint", daemon=True)
        self._checkpoint.start()

    def finish_checkpoint(self) -> None:
        """Wait for the checkpoint :meth:`start_checkpoint` began; raise its error."""
        thread, self._checkpoint = self._checkpoint, None
        if thread is not None:
            thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


@contextmanager
def duckdb_held_open(pipeline: dlt.Pipeline) -> Iterator[HeldDuckDB | None]:
    """Hold one connection to the pipeline's DuckDB file until the block ends (None for
    other destinations)."""
    credentials = _duckdb_credentials(pipeline)
    if credentials is None:
        yield None
        return
    import duckdb

    # the same connect arguments as dlt's pool (no config, read-write): DuckDB refuses a
    # second open of one file with a different configuration
    path = credentials.database
    connection = duckdb.connect(path)
    held = HeldDuckDB(connection, path, credentials.global_config)
    try:
        yield held
    except BaseException:
        held.close(quiet=True)  # never under a running checkpoint; the first error is raised
        raise
    held.close()
