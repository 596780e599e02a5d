"""What dlt works out again and again within one run, worked out once per run.

All of it is on dlt's main thread, which every page of the extract waits for (it writes
the items) and which runs the load's bookkeeping; none of it changes within a run.

* **File writers' configuration.** dlt resolves the configuration of every file writer
  it makes (``BufferedDataWriter``: buffer and file sizes; ``ParquetDataWriter``: the
  parquet format): each field looked up in every config provider under every section,
  ~4 ms per table and step. The medium benchmark tenant's full sync went 13.8-14.5 s ->
  12.55-12.7 s without it, an incremental run 2.25 s -> 1.9-2.0 s (37 tables). The
  first resolution per writer kind, config section and explicit arguments is kept and
  handed to the next writers the way dlt's ``with_config`` would (resolved values for
  the parameters the spec names, the spec itself for a parameter typed by it).
* **The destination's capabilities.** Asked without a configuration (the pipeline
  asks at every step, the load for its storage), dlt resolves a partial configuration
  of the destination each time, ~10 ms; they are worked out once per destination and
  naming convention, and each caller gets a copy.
* **The schema's version hash.** dlt tells whether a schema changed by hashing all of
  it (serialised, sorted) on every access to a pipeline's schema, every step and every
  commit: ~360 times in a run of the 112 tables, 0.42 s, whatever the run loads. Its
  ``Schema.version_hash`` hashes twice (``to_dict`` bumps the version, hashing, and the
  result is hashed again); once gives the same hash and the same side effects. At the
  end of a load dlt describes the dataset once per resource that wrote rows, each time
  with the schema's hash (~0.35 s of the medium tenant's first sync): the schema does
  not change meanwhile, it is hashed once for them all.
* **The capabilities injected into two of dlt's table helpers.** ``prepare_load_table``
  and ``resolve_merge_strategy`` take the destination's capabilities as their one
  injected argument, and dlt resolves a configuration for every call to get them, even
  when they are passed: ~600 calls a run (the schema normalizer asks for the merge
  strategy of every table at every schema update), ~0.2 s of the large benchmark
  tenant's incremental run. Called with the capabilities, or with capabilities in dlt's
  context (where the injection takes them from), the helpers run directly; otherwise as
  dlt decorated them.

:func:`run_caches` holds these for a block (one run). Where dlt is not built this way
(another dlt version) nothing is changed and dlt works as before.
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
_restore: list[tuple[Any, str, Any]] = []


def _writer_classes() -> list[type]:
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


def _hashed_once(compute_outputs: Callable[..., Any]) -> Callable[..., Any]:
    """``Load._compute_outputs`` with the schema's version hash computed once per call."""

    def _compute_outputs(self: Any, schema: Any, *args: Any, **kwargs: Any) -> Any:
        kind = type(schema)
        if not isinstance(getattr(kind, "version_hash", None), property):
            return compute_outputs(self, schema, *args, **kwargs)
        digest = schema.version_hash
        frozen = type(kind.__name__, (kind,), {"version_hash": property(lambda _: digest)})
        schema.__class__ = frozen
        try:
            return compute_outputs(self, schema, *args, **kwargs)
        finally:
            schema.__class__ = kind

    _compute_outputs.__wrapped__ = compute_outputs  # type: ignore[attr-defined]
    return _compute_outputs


def _capabilities_once(capabilities: Callable[..., Any]) -> Callable[..., Any]:
    """``Destination.capabilities`` worked out once per destination and naming when no
    configuration is given (then dlt resolves a partial configuration of the destination
    each time); each caller gets its own copy, as it got its own object before."""
    cache: dict[tuple[int, int], tuple[Any, Any, Any]] = {}

    def caps(self: Any, config: Any = None, naming: Any = None) -> Any:
        if config is not None:
            return capabilities(self, config, naming)
        key = (id(self), id(naming))
        hit = cache.get(key)
        # the destination and naming are held with the result: their ids are not reused
        if hit is None or hit[0] is not self or hit[1] is not naming:
            with _lock:
                hit = cache[key] = (self, naming, capabilities(self, None, naming))
        return copy.copy(hit[2])

    caps.__wrapped__ = capabilities  # type: ignore[attr-defined]
    caps.__doc__ = capabilities.__doc__
    return caps


def _capabilities_direct(decorated: Callable[..., Any]) -> Callable[..., Any] | None:
    """``decorated`` (a dlt ``with_config`` helper taking ``tables, table,
    destination_capabilities``) called without the configuration resolution when the
    capabilities are given or in dlt's context; None when it is not such a helper."""
    from dlt.common.configuration.container import Container
    from dlt.common.destination.capabilities import DestinationCapabilitiesContext

    unwrapped = inspect.unwrap(decorated)
    if unwrapped is decorated or list(inspect.signature(unwrapped).parameters) != [
        "tables",
        "table",
        "destination_capabilities",
    ]:
        return None

    def helper(tables: Any, table: Any, destination_capabilities: Any = None) -> Any:
        caps = destination_capabilities
        if not isinstance(caps, DestinationCapabilitiesContext):
            try:  # what the injection gives: the context's, when there is one
                caps = Container()[DestinationCapabilitiesContext]
            except (KeyError, TypeError):
                return decorated(tables, table)
        return unwrapped(tables, table, caps)

    helper.__wrapped__ = decorated  # type: ignore[attr-defined]
    helper.__doc__ = decorated.__doc__
    return helper


def _version_hash(schema: Any) -> str:
    """``Schema.version_hash``: the hash ``to_dict`` bumped the version with."""
    return schema.to_dict()["version_hash"]  # type: ignore[no-any-return]


def _replace(owner: Any, name: str, replacement: Any) -> None:
    """Put ``replacement`` in ``owner``'s ``name`` until the outermost block ends."""
    _restore.append((owner, name, owner.__dict__[name]))
    setattr(owner, name, replacement)


def _install() -> None:
    from dlt.common.destination.reference import Destination
    from dlt.common.schema import Schema
    from dlt.load.load import Load

    capabilities = Destination.__dict__.get("capabilities")
    if callable(capabilities):
        _replace(Destination, "capabilities", _capabilities_once(capabilities))
    version_hash = Schema.__dict__.get("version_hash")
    if isinstance(version_hash, property) and callable(getattr(Schema, "to_dict", None)):
        _replace(Schema, "version_hash", property(_version_hash, doc=version_hash.__doc__))
    for cls in _writer_classes():
        decorated = cls.__dict__.get("__init__")
        replacement = _resolving_once(decorated) if decorated is not None else None
        if replacement is not None:
            _replace(cls, "__init__", replacement)
    compute_outputs = Load.__dict__.get("_compute_outputs")
    if callable(compute_outputs):
        _replace(Load, "_compute_outputs", _hashed_once(compute_outputs))
    _install_capabilities_direct()


def _install_capabilities_direct() -> None:
    """Every module of dlt that holds ``prepare_load_table`` or ``resolve_merge_strategy``
    (imported by name) gets the direct helper instead."""
    import sys

    from dlt.common.destination import utils

    for name in ("prepare_load_table", "resolve_merge_strategy"):
        original = utils.__dict__.get(name)
        helper = _capabilities_direct(original) if callable(original) else None
        if helper is None:
            continue
        for module in list(sys.modules.values()):
            held = getattr(module, "__dict__", None)
            if (
                held is not None
                and held.get(name) is original
                and module.__name__.startswith("dlt")
            ):
                _replace(module, name, helper)


@contextmanager
def run_caches() -> Iterator[None]:
    """Within the block, dlt's file writers resolve their configuration once per kind
    and config section, a destination's capabilities are worked out once per naming, a
    schema's version hash is one hash of it, and a load's outputs hash the schema once
    (nested blocks share the outermost one's caches)."""
    global _active
    with _lock:
        _active += 1
        if _active == 1:
            _install()
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                while _restore:
                    owner, name, original = _restore.pop()
                    setattr(owner, name, original)
