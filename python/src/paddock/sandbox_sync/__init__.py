"""The synchronous SDK: :class:`Sandbox`, its ``commands`` and ``files``, and :class:`Template`."""

from .code_interpreter import CodeContexts
from .commands import Commands, CommandStream
from .files import Files, FileStream
from .sandbox import Sandbox
from .templates import Template

__all__ = ["CodeContexts", "Commands", "CommandStream", "Files", "FileStream", "Sandbox", "Template"]
