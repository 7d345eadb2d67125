# Generated from sandbox_async/templates.py by python/tools/gen_sync.py — do not edit
"""Templates: read-only root filesystems that sandboxes start from."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .._callbacks import settle
from .._templates_common import BuildEventCallback, build_body, template_path
from .._transport import SyncTransport, wait_for
from .._wire import NdjsonSplitter
from ..connection_config import ConnectionConfig
from ..errors import InternalError
from ..models import TemplateBuildResult, TemplateInfo, decode_template_event, parse_list
from .one_off import one_off_call


def _lines(chunks: Iterator[bytes]) -> Iterator[Any]:
    splitter = NdjsonSplitter()
    for chunk in chunks:
        for raw in splitter.feed(chunk):
            yield raw
    for raw in splitter.close():
        yield raw


class Template:
    """Builds, lists and removes templates.

    Example::

        from paddock import Template
        Template.build("py-tools", {"packages": ["python3-requests"]}, on_event=print)
        names = [t.name for t in Template.list()]
    """

    @staticmethod
    def build(
        name: str,
        spec: Mapping[str, Any],
        *,
        context_files: Optional[Mapping[str, bytes]] = None,
        registry_auth: Optional[Mapping[str, str]] = None,
        on_event: Optional[BuildEventCallback] = None,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> TemplateBuildResult:
        """Builds (or finds cached) a template from a spec and names it; returns when ready.

        Args:
            name: lowercase letters, digits, ``.``, ``_`` or ``-``.
            spec: the template spec (``from``, ``packages``, ``run``, ``files``, ``env``,
                ``workdir``, ``user``, ``start``), as in a template YAML file; ``{"from":
                {"image": "python:3.12-slim"}}`` makes a template from an OCI image.
            context_files: bytes of the files named by ``src`` in the spec, keyed by ``src``.
            registry_auth: ``{"username": ..., "password": ...}`` for the registry of
                ``spec["from"]["image"]``; used for this build only, never stored.
            on_event: called with each progress, log and done event (in the async SDK it may
                be a coroutine function).
            request_timeout: seconds to wait for the server to accept the build; the build
                itself may take as long as it needs.

        Raises:
            TemplateBuildError: the build failed; the message names the package or step.
        """
        transport = SyncTransport(ConnectionConfig.resolve(api_url, api_key, request_timeout))
        wait = wait_for(transport.config, None, None)
        try:
            body = build_body(name, spec, context_files, registry_auth)
            response = transport.open("POST", "/v1/templates", wait, json=body)
            for raw in _lines(transport.iter_body(response, wait)):
                event = decode_template_event(raw)
                if on_event is not None:
                    settle(on_event(event))
                if isinstance(event, TemplateBuildResult):
                    return event
        finally:
            transport.close()
        raise InternalError("INTERNAL", "the template build stream ended without a result")

    @staticmethod
    def list(
        *, api_url: Optional[str] = None, api_key: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> builtins.list[TemplateInfo]:
        """The templates on the server."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return parse_list(one_off_call(config, "GET", "/v1/templates"), "templates", TemplateInfo.from_wire)

    @staticmethod
    def get(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> TemplateInfo:
        """One template by name; raises ``NotFoundError`` when there is none."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return TemplateInfo.from_wire(one_off_call(config, "GET", template_path(name)))

    @staticmethod
    def remove(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """Deletes a template; raises ``ConflictError`` while sandboxes use it."""
        one_off_call(ConnectionConfig.resolve(api_url, api_key, request_timeout), "DELETE", template_path(name))
