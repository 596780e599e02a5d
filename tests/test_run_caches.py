"""What dlt works out again and again within a run, once per run (``pipelines.run_caches``):
the file writers' configuration (the same values as dlt's own resolution, per config
section) and the schema's version hash in a load's outputs; dlt untouched after the run."""

from __future__ import annotations

import io

import pytest
from dlt.common.configuration import inject
from dlt.common.configuration.resolve import inject_section
from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
from dlt.common.data_writers.buffered import BufferedDataWriter
from dlt.common.data_writers.writers import DataWriter, ParquetDataWriter

from cwsync.sandbox import Sandbox
from pipelines.run_caches import run_caches
from pipelines.sync import run_sync

from .conftest import duckdb_pipeline, source_args

SPEC = DataWriter.writer_spec_from_file_format("parquet", "arrow")


def _count_resolutions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the resolution ``with_config`` runs: one entry (the spec's name) per call."""
    real = inject.resolve_configuration
    seen: list[str] = []

    def resolve(config, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(type(config).__name__)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(inject, "resolve_configuration", resolve)
    return seen


def _writer(tmp_path, name: str, **kwargs) -> BufferedDataWriter:  # type: ignore[no-untyped-def]
    return BufferedDataWriter(SPEC, str(tmp_path / f"{name}.%s.parquet"), **kwargs)


def test_writers_resolve_once_and_get_the_configured_values(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATA_WRITER__BUFFER_MAX_ITEMS", "123")
    monkeypatch.setenv("DATA_WRITER__ROW_GROUP_SIZE", "777")
    seen = _count_resolutions(monkeypatch)
    with run_caches():
        writers = [_writer(tmp_path, f"t{i}") for i in range(5)]
        formats = [ParquetDataWriter(io.BytesIO()) for _ in range(5)]
    assert seen.count("BufferedDataWriterConfiguration") == 1
    assert seen.count("ParquetFormatConfiguration") == 1
    assert {w.buffer_max_items for w in writers} == {123}
    assert {f.parquet_format.row_group_size for f in formats} == {777}
    # each writer has its own copy of the format: a change to one is not seen by another
    formats[0].parquet_format.row_group_size = 1
    assert formats[1].parquet_format.row_group_size == 777


def test_explicit_arguments_and_sections_resolve_apart(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATA_WRITER__BUFFER_MAX_ITEMS", "123")
    monkeypatch.setenv("NORMALIZE__DATA_WRITER__BUFFER_MAX_ITEMS", "45")
    with run_caches():
        plain = _writer(tmp_path, "a")
        capped = _writer(tmp_path, "b", file_max_items=10)
        with inject_section(ConfigSectionContext(sections=("normalize",))):
            in_normalize = _writer(tmp_path, "c")
        plain_again = _writer(tmp_path, "d")
    assert plain.buffer_max_items == plain_again.buffer_max_items == 123
    assert capped.buffer_max_items == 10 and capped.file_max_items == 10
    assert in_normalize.buffer_max_items == 45


def test_dlt_resolves_as_before_outside_the_block(tmp_path, monkeypatch) -> None:
    before = BufferedDataWriter.__init__, ParquetDataWriter.__init__
    with run_caches():
        with run_caches():  # nested: the outer block's cache stays in place
            _writer(tmp_path, "a")
        assert BufferedDataWriter.__init__ is not before[0]
    assert (BufferedDataWriter.__init__, ParquetDataWriter.__init__) == before
    seen = _count_resolutions(monkeypatch)
    monkeypatch.setenv("DATA_WRITER__BUFFER_MAX_ITEMS", "9")
    assert _writer(tmp_path, "b").buffer_max_items == 9
    assert _writer(tmp_path, "c").buffer_max_items == 9
    assert seen.count("BufferedDataWriterConfiguration") == 2


def test_a_run_hashes_its_schema_a_few_times(tmp_path, monkeypatch) -> None:
    from dlt.common.schema import utils

    tables = ["service_tickets", "company_companies", "company_contacts", "time_entries"]
    real = utils.generate_version_hash
    hashed: list[str] = []

    def spy(stored_schema):  # type: ignore[no-untyped-def]
        digest = real(stored_schema)
        hashed.append(digest)
        return digest

    monkeypatch.setattr(utils, "generate_version_hash", spy)
    with Sandbox(scale=50, seed=3) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=tables, **source_args(sb))
        counts = {}
        for name, run in (("cached", run_sync), ("dlt's way", run_sync.__wrapped__)):
            ticket = sb.ids("service/tickets")[0]
            sb.update("service/tickets", ticket, {"summary": f"changed for {name}"})
            hashed.clear()
            summary = run(pipeline, tables=tables, **source_args(sb))
            counts[name] = len(hashed)
            assert summary.changed["service_tickets"] == 1
            if name == "cached":
                info = summary.load_info
    # the same run hashed the whole schema less often (66 against 88 times here)
    assert counts["cached"] < counts["dlt's way"] * 0.85, counts
    # and the load's outputs name the schema as it was loaded
    assert info is not None
    outputs = [o for m in info.metrics.values() for step in m for o in step.get("outputs", [])]
    assert "service_tickets" in {o["resource_name"] for o in outputs}
    loaded_as = {package.schema_hash for package in info.load_packages}
    assert {s["version_hash"] for o in outputs for s in o["schemas"]} == loaded_as
    schema = pipeline.schemas["connectwise"]
    assert type(schema).__name__ == "Schema" and type(schema).__module__.startswith("dlt.")


def test_a_version_hash_is_one_hash_of_the_schema(monkeypatch) -> None:
    from dlt.common.schema import Schema, utils

    real = utils.generate_version_hash
    hashed: list[str] = []
    monkeypatch.setattr(utils, "generate_version_hash", lambda s: hashed.append("") or real(s))
    schema = Schema("hashed")
    schema.update_table({"name": "t", "columns": {"id": {"name": "id", "data_type": "bigint"}}})
    outside = schema.version_hash
    assert len(hashed) == 2  # dlt's own: to_dict bumps the version, then the hash again
    hashed.clear()
    with run_caches():
        assert schema.version_hash == outside and schema.is_modified
        assert len(hashed) == 2  # one each
        schema.update_table({"name": "t", "columns": {"x": {"name": "x", "data_type": "text"}}})
        changed = schema.version_hash
    assert changed != outside and schema.version_hash == changed


def test_capabilities_are_worked_out_once_per_destination_and_naming(monkeypatch) -> None:
    import dlt
    from dlt.common.destination.reference import Destination
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    seen = _count_resolutions(monkeypatch)
    monkeypatch.setattr(
        Destination, "configuration", _spy_configuration(Destination.configuration, seen)
    )
    destination = dlt.destinations.duckdb(":memory:")
    naming = NamingConvention()
    outside = destination.capabilities(naming=naming)
    seen.clear()
    with run_caches():
        first = destination.capabilities(naming=naming)
        again = destination.capabilities(naming=naming)
        other_naming = destination.capabilities()
    assert seen.count("partial") == 2  # one per naming, not one per call
    assert first is not again  # each caller its own copy
    for caps in (first, again):
        assert dict(caps) == dict(outside)
    assert other_naming.supported_loader_file_formats == outside.supported_loader_file_formats
    seen.clear()
    destination.capabilities(naming=naming)  # after the block: dlt's own way again
    assert seen.count("partial") == 1


def _spy_configuration(real, seen: list[str]):  # type: ignore[no-untyped-def]
    def configuration(self, initial_config, accept_partial=False):  # type: ignore[no-untyped-def]
        if accept_partial:
            seen.append("partial")
        return real(self, initial_config, accept_partial=accept_partial)

    return configuration


def test_table_helpers_take_the_capabilities_without_resolving_a_configuration(
    monkeypatch,
) -> None:
    """dlt's ``prepare_load_table`` and ``resolve_merge_strategy`` resolve a configuration
    on every call to get the destination's capabilities; within a run they take them from
    the call or from dlt's context, with the same results, and the modules that imported
    them by name get the same; outside, dlt's own functions are back."""
    import dlt
    from dlt.common.configuration.container import Container
    from dlt.common.destination import utils
    from dlt.common.destination.capabilities import DestinationCapabilitiesContext
    from dlt.common.normalizers.json import helpers

    tables = {
        "t": {"name": "t", "write_disposition": "merge", "columns": {"id": {"name": "id"}}},
        "a": {"name": "a", "write_disposition": "append", "columns": {}},
    }
    caps = dlt.destinations.duckdb(":memory:").capabilities()
    expected = {
        name: (
            utils.prepare_load_table(tables, tables[name], caps),
            utils.resolve_merge_strategy(tables, tables[name], caps),
        )
        for name in tables
    }
    originals = (utils.prepare_load_table, helpers.resolve_merge_strategy)
    seen = _count_resolutions(monkeypatch)
    with run_caches(), Container().injectable_context(caps):
        assert helpers.resolve_merge_strategy is not originals[1]  # imported by name: too
        for name, (prepared, strategy) in expected.items():
            assert utils.prepare_load_table(tables, tables[name], caps) == prepared
            assert utils.prepare_load_table(tables, tables[name]) == prepared  # from context
            assert helpers.resolve_merge_strategy(tables, tables[name]) == strategy
    assert seen == []
    assert (utils.prepare_load_table, helpers.resolve_merge_strategy) == originals
    assert expected["t"][1] == "delete-insert" and expected["a"][1] is None
    assert isinstance(caps, DestinationCapabilitiesContext)
