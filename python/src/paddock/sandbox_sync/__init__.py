# Generated from sandbox_async/__init__.py by python/tools/gen_sync.py — do not edit
"""The SDK of package ``sandbox_sync``: :class:`Sandbox` and its parts (``commands``, ``files``,
``pty``, ``ports``, ``network``, ``code_contexts``, watch handles), :class:`Template` and
:class:`Volume`. Its ``__all__`` is also what ``paddock`` exports of it."""

from .code_interpreter import CodeContexts
from .commands import Commands, CommandStream
from .files import Files, FileStream
from .network import SandboxNetwork
from .ports import Ports
from .pty import Pty, PtyHandle
from .sandbox import Sandbox
from .templates import Template
from .volume import Volume
from .watch import WatchHandle

__all__ = [
    "CodeContexts",
    "CommandStream",
    "Commands",
    "FileStream",
    "Files",
    "Ports",
    "Pty",
    "PtyHandle",
    "Sandbox",
    "SandboxNetwork",
    "Template",
    "Volume",
    "WatchHandle",
]
