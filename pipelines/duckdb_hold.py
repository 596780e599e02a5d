"""One DuckDB connection held open for a whole run.

dlt opens a DuckDB connection for each load job (and for each SQL client) and closes it
afterwards. When the last connection to a file closes, DuckDB checkpoints it and drops the
database; the next open reads the catalog and the write-ahead log again. With 75 load jobs
in a small incremental run that was most of the load step's time (~1.7 s of a 6 s run at
the benchmark's medium tenant). While one connection is held, every other
``duckdb.connect`` of the same file in this process gets DuckDB's cached database, and
closing it is cheap. The run checkpoints once, after the load (:meth:`HeldDuckDB.checkpoint`),
and the close at the end writes what the queries after it changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dlt


def duckdb_file(pipeline: dlt.Pipeline) -> str | None:
    """The database file of a DuckDB destination (None for other destinations or an
    in-memory/external connection)."""
    destination = pipeline.destination
    if destination is None or destination.destination_name != "duckdb":
        return None
    credentials = pipeline.destination_client().config.credentials
    if credentials.external_conn() is not None or credentials.read_only:
        return None
    database = credentials.database
    return database if isinstance(database, str) and database != ":memory:" else None


class HeldDuckDB:
    """The held connection: :meth:`checkpoint` writes what the load changed to the file."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def checkpoint(self) -> None:
        """Write the loaded data to the file and free the memory that holds it until then.
        dlt's per-job closes used to do this; held open, it is done once, after the load,
        so the queries after it (stale list rows, views) start with DuckDB's memory cap
        free, as they did in a database opened afresh."""
        self.connection.execute("CHECKPOINT")


@contextmanager
def duckdb_held_open(pipeline: dlt.Pipeline) -> Iterator[HeldDuckDB | None]:
    """Hold one connection to the pipeline's DuckDB file until the block ends (None for
    other destinations)."""
    path = duckdb_file(pipeline)
    if path is None:
        yield None
        return
    import duckdb

    # the same connect arguments as dlt's pool (no config, read-write): DuckDB refuses a
    # second open of one file with a different configuration
    connection = duckdb.connect(path)
    try:
        yield HeldDuckDB(connection)
    finally:
        connection.close()
