"""dlt's file writers configured once per run instead of once per file.

dlt resolves the configuration of every file writer it makes (``BufferedDataWriter``:
buffer and file sizes; ``ParquetDataWriter``: the parquet format): each field is looked
up in every config provider under every section, ~4 ms of dlt's main thread per table
and step. An incremental run pays it for every table with a changed record and for each
of its child tables (medium benchmark tenant: 0.16 s of a 2.1 s run, 37 tables), while
the answer is the same every time within a run.

:func:`writer_config_once` keeps, for the block (one run), the first resolution per
writer, config section and explicit arguments, and hands it to the next writers of the
same kind the way dlt's ``with_config`` would (resolved values for the parameters the
spec names, the spec itself for a parameter typed by it). Where dlt's writers are not
made this way (another dlt version), nothing is changed and they resolve as before.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.RLock()
_active = 0
_restore: list[tuple[type, Any]] = []


def _targets() -> list[type]:
    from dlt.common.data_writers.buffered import BufferedDataWriter
    from dlt.common.data_writers.writers import ParquetDataWriter

    return [BufferedDataWriter, ParquetDataWriter]


def _context_key() -> tuple[Any, ...]:
    """What the resolution depends on besides the arguments: the config section of the
    calling thread and the destination capabilities in the container."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
    from dlt.common.destination.capabilities import DestinationCapabilitiesContext

    container = Container()
    section = container.get(ConfigSectionContext)
    caps = container.get(DestinationCapabilitiesContext)
    return (
        None
        if section is None
        else (section.pipeline_name, tuple(section.sections or ()), section.source_state_key),
        id(caps) if caps is not None else None,
    )


def _key_value(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else ("id", id(value))


def _resolving_once(decorated: Callable[..., None]) -> Callable[..., None] | None:
    """An ``__init__`` that resolves like ``decorated`` (a ``with_config`` method) the
    first time per context and arguments, then reuses that configuration; None when
    ``decorated`` is not such a method."""
    from dlt.common.configuration.inject import get_fun_last_config, get_fun_spec

    spec = get_fun_spec(decorated)
    unwrapped = inspect.unwrap(decorated)
    if spec is None or unwrapped is decorated:
        return None
    signature = inspect.signature(unwrapped)
    fields = set(spec.get_resolvable_fields())
    takes_spec = [
        name
        for name, param in signature.parameters.items()
        if param.annotation is spec or param.annotation == spec.__name__
    ]
    cache: dict[tuple[Any, ...], Any] = {}

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        key = (
            _context_key(),
            tuple(sorted((k, _key_value(v)) for k, v in kwargs.items() if k in fields)),
        )
        config = cache.get(key)
        if config is None:
            with _lock:  # dlt keeps the last resolution on the function: one at a time
                decorated(self, *args, **kwargs)
                cache[key] = get_fun_last_config(decorated)
            return
        bound = signature.bind_partial(self, *args, **kwargs)
        resolved = dict(config)
        for name in signature.parameters:
            if name in resolved:
                bound.arguments[name] = resolved[name]
        for name in takes_spec:
            bound.arguments[name] = copy.copy(config)
        unwrapped(*bound.args, **bound.kwargs)

    __init__.__wrapped__ = decorated  # type: ignore[attr-defined]
    return __init__


@contextmanager
def writer_config_once() -> Iterator[None]:
    """Within the block, each kind of dlt file writer resolves its configuration once
    per config section (nested blocks share the outermost one's)."""
    global _active
    with _lock:
        _active += 1
        if _active == 1:
            for cls in _targets():
                decorated = cls.__dict__.get("__init__")
                replacement = _resolving_once(decorated) if decorated is not None else None
                if replacement is not None:
                    _restore.append((cls, decorated))
                    cls.__init__ = replacement  # type: ignore[misc]
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                while _restore:
                    cls, decorated = _restore.pop()
                    cls.__init__ = decorated  # type: ignore[misc]
