"""A method callable on the class (``Sandbox.kill(id)``) and on an instance (``sbx.kill()``),
as in E2B's Python SDK, with a different function for each."""

from __future__ import annotations

import types
from typing import Any, Callable, Optional


class class_or_instance_method:  # noqa: N801 - used like @classmethod
    """Descriptor: ``on_class`` runs for ``Cls.name(...)``; the function given to
    :meth:`instance` runs for ``obj.name(...)``."""

    def __init__(self, on_class: Callable[..., Any]) -> None:
        self._on_class = on_class
        self._on_instance: Optional[Callable[..., Any]] = None
        self.__doc__ = on_class.__doc__
        self.__name__ = on_class.__name__

    def instance(self, on_instance: Callable[..., Any]) -> class_or_instance_method:
        """Registers the function that runs when called on an instance."""
        self._on_instance = on_instance
        return self

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None or self._on_instance is None:
            return types.MethodType(self._on_class, objtype if objtype is not None else type(obj))
        return types.MethodType(self._on_instance, obj)
