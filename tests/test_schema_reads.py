"""A pipeline reads its stored schema again only when the file changed
(``pipelines.schema_reads``), and still sees every change made by anyone else."""

from __future__ import annotations

import dlt
import pytest
from dlt.common.storages.exceptions import SchemaNotFoundError
from dlt.common.storages.schema_storage import SchemaStorage

from pipelines.schema_reads import SchemaReadsWhenChanged

from .conftest import duckdb_pipeline


@pytest.fixture()
def loaded(tmp_path):
    """A pipeline (made as the project makes them) that has loaded one table."""
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run([{"id": 1, "name": "a"}], table_name="things", schema=dlt.Schema("connectwise"))
    return pipeline


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = SchemaStorage.load_schema

    def load_schema(self, name):  # type: ignore[no-untyped-def]
        reads.append(name)
        return real(self, name)

    monkeypatch.setattr(SchemaStorage, "load_schema", load_schema)
    return reads


def test_a_schema_in_step_with_its_file_is_not_read_again(loaded, monkeypatch) -> None:
    assert isinstance(loaded._schema_storage, SchemaReadsWhenChanged)
    reads = _count_reads(monkeypatch)
    first = loaded.schemas["connectwise"]
    for _ in range(5):
        assert loaded.schemas["connectwise"] is first
        assert loaded.default_schema is first
    with loaded.sql_client() as sql:
        assert sql.execute_sql("SELECT count(*) FROM things") == [(1,)]
    assert reads == []  # what it loaded and saved is what the file holds

    # plain dlt reads the file on every one of those accesses
    loaded._schema_storage.__class__ = SchemaReadsWhenChanged.__mro__[1]
    assert loaded.schemas["connectwise"] is loaded.default_schema
    assert reads == ["connectwise", "connectwise"]


def test_a_schema_file_changed_by_another_writer_is_read(loaded, monkeypatch) -> None:
    schema = loaded.schemas["connectwise"]
    assert "added_elsewhere" not in schema.tables
    # another process (or another storage) saves a new version of the file
    other = SchemaStorage(loaded._schema_storage.config)
    stored = other.load_schema("connectwise")
    stored.update_table(
        {"name": "added_elsewhere", "columns": {"id": {"name": "id", "data_type": "bigint"}}}
    )
    other.save_schema(stored)
    reads = _count_reads(monkeypatch)
    assert "added_elsewhere" in loaded.schemas["connectwise"].tables
    assert "added_elsewhere" in loaded.default_schema.tables
    assert reads == ["connectwise"]  # read once, then in step again


def test_a_schema_changed_in_memory_is_handed_out_as_it_is(loaded, monkeypatch) -> None:
    schema = loaded.default_schema
    schema.update_table(
        {"name": "not_saved_yet", "columns": {"id": {"name": "id", "data_type": "bigint"}}}
    )
    reads = _count_reads(monkeypatch)
    assert loaded.default_schema is schema and "not_saved_yet" in schema.tables
    assert reads == []
    # and a run after it loads with it, as dlt does
    loaded.run([{"id": 2, "name": "b"}], table_name="things", schema=schema)
    assert "not_saved_yet" in loaded.schemas["connectwise"].tables


def test_a_removed_schema_is_gone(loaded) -> None:
    loaded._schema_storage.remove_schema("connectwise")
    assert "connectwise" not in loaded._schema_storage.list_schemas()
    with pytest.raises(SchemaNotFoundError):
        loaded._schema_storage["connectwise"]
