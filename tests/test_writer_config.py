"""dlt's file writers resolve their configuration once per run (``pipelines.writer_config``):
the same values as dlt's own resolution, per config section, and dlt untouched after."""

from __future__ import annotations

import io

import pytest
from dlt.common.configuration import inject
from dlt.common.configuration.resolve import inject_section
from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
from dlt.common.data_writers.buffered import BufferedDataWriter
from dlt.common.data_writers.writers import DataWriter, ParquetDataWriter

from pipelines.writer_config import writer_config_once

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
    with writer_config_once():
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
    with writer_config_once():
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
    with writer_config_once():
        with writer_config_once():  # nested: the outer block's cache stays in place
            _writer(tmp_path, "a")
        assert BufferedDataWriter.__init__ is not before[0]
    assert (BufferedDataWriter.__init__, ParquetDataWriter.__init__) == before
    seen = _count_resolutions(monkeypatch)
    monkeypatch.setenv("DATA_WRITER__BUFFER_MAX_ITEMS", "9")
    assert _writer(tmp_path, "b").buffer_max_items == 9
    assert _writer(tmp_path, "c").buffer_max_items == 9
    assert seen.count("BufferedDataWriterConfiguration") == 2
