# Generated from sandbox_async/__init__.py by python/tools/gen_sync.py — do not edit
"""The SDK of package ``sandbox_sync``: :class:`Sandbox`, its ``commands`` and ``files``,
:class:`Template` and :class:`Volume`."""

from .code_interpreter import CodeContexts
from .commands import Commands, CommandStream
from .files import Files, FileStream
from .sandbox import Sandbox
from .templates import Template
from .volume import Volume

__all__ = [
    "CodeContexts",
    "CommandStream",
    "Commands",
    "FileStream",
    "Files",
    "Sandbox",
    "Template",
    "Volume",
]
