"""A faithful ConnectWise Manage REST API simulator (see :class:`Sandbox`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["Sandbox"]


def __getattr__(name: str):
    if name == "Sandbox":
        from .server import Sandbox

        return Sandbox
    raise AttributeError(name)
