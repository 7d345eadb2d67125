"""The synchronous SDK: :class:`Sandbox`, its ``commands`` and ``files``, and :class:`Template`."""

from .commands import Commands, CommandStream
from .files import Files, FileStream
from .sandbox import Sandbox
from .templates import Template

__all__ = ["Commands", "CommandStream", "Files", "FileStream", "Sandbox", "Template"]
