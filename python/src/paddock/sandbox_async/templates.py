"""Templates: read-only root filesystems that sandboxes start from."""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Optional, Union

from .._callbacks import async_settle
from .._templates_common import (
    BuildEventCallback,
    ContextFile,
    build_body,
    dockerfile_body,
    import_path,
    template_path,
)
from .._transport import AsyncTransport, wait_for
from .._wire import NdjsonSplitter
from ..connection_config import ConnectionConfig
from ..errors import InternalError
from ..models import TemplateBuildResult, TemplateInfo, decode_template_event, parse_list
from .one_off import one_off_call


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    splitter = NdjsonSplitter()
    async for chunk in chunks:
        for raw in splitter.feed(chunk):
            yield raw
    for raw in splitter.close():
        yield raw


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    """A file's bytes in 1 MiB pieces, for an upload that never holds the file in memory."""
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            yield chunk


async def _follow_build(
    config: ConnectionConfig,
    body: Optional[dict[str, Any]],
    on_event: Optional[BuildEventCallback],
    upload: Optional[tuple[str, Any]] = None,
) -> TemplateBuildResult:
    """Starts a build (a JSON body, or an upload to a path) and follows its events to the result."""
    transport = AsyncTransport(config)
    wait = wait_for(transport.config, None, None)
    try:
        if upload is None:
            response = await transport.open("POST", "/v1/templates", wait, json=body)
        else:
            response = await transport.open("POST", upload[0], wait, content=upload[1])
        async for raw in _lines(transport.iter_body(response, wait)):
            event = decode_template_event(raw)
            if on_event is not None:
                await async_settle(on_event(event))
            if isinstance(event, TemplateBuildResult):
                return event
    finally:
        await transport.close()
    raise InternalError("INTERNAL", "the template build stream ended without a result")


class AsyncTemplate:
    """Builds, lists and removes templates.

    Example::

        from paddock import AsyncTemplate
        await AsyncTemplate.build("py-tools", {"packages": ["python3-requests"]}, on_event=print)
        names = [t.name for t in await AsyncTemplate.list()]
    """

    @staticmethod
    async def build(
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
        body = build_body(name, spec, context_files, registry_auth)
        return await _follow_build(ConnectionConfig.resolve(api_url, api_key, request_timeout), body, on_event)

    @staticmethod
    async def build_dockerfile(
        name: str,
        dockerfile: str,
        *,
        context: Optional[Mapping[str, ContextFile]] = None,
        build_args: Optional[Mapping[str, str]] = None,
        registry_auth: Optional[Mapping[str, str]] = None,
        insecure_registry: bool = False,
        on_event: Optional[BuildEventCallback] = None,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> TemplateBuildResult:
        """Builds a template from a Dockerfile; each step is cached, so a rebuild after editing a
        late line reruns only what follows it. ``FROM base`` starts from the template ``base``.

        Args:
            dockerfile: the Dockerfile's text.
            context: the build context by relative path: bytes, or ``(bytes, mode)``; a
                ``.dockerignore`` in it is honoured.
            build_args: values for the Dockerfile's ``ARG``s.
            registry_auth: ``{"username": ..., "password": ...}`` for the registry of ``FROM``
                images; used for this build only, never stored.
            insecure_registry: allow a plain-HTTP or self-signed registry for ``FROM`` images.

        Example::

            dockerfile = "FROM base\\nCOPY app.py /app/\\n"
            await AsyncTemplate.build_dockerfile("web", dockerfile, context={"app.py": b"print(1)"})
        """
        body = dockerfile_body(
            name,
            dockerfile,
            context=context,
            build_args=build_args,
            registry_auth=registry_auth,
            insecure_registry=insecure_registry,
        )
        return await _follow_build(ConnectionConfig.resolve(api_url, api_key, request_timeout), body, on_event)

    @staticmethod
    async def import_archive(
        name: str,
        archive: Union[bytes, str, os.PathLike[str]],
        *,
        on_event: Optional[BuildEventCallback] = None,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> TemplateBuildResult:
        """Makes a template from an image archive without a registry: a ``docker save``
        tarball or an OCI layout packed as a tar, given as bytes or as a path (streamed)."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        body = bytes(archive) if isinstance(archive, (bytes, bytearray)) else _file_chunks(os.fspath(archive))
        return await _follow_build(config, None, on_event, upload=(import_path(name), body))

    @staticmethod
    async def list(
        *, api_url: Optional[str] = None, api_key: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> builtins.list[TemplateInfo]:
        """The templates on the server."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return parse_list(await one_off_call(config, "GET", "/v1/templates"), "templates", TemplateInfo.from_wire)

    @staticmethod
    async def get(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> TemplateInfo:
        """One template by name; raises ``NotFoundError`` when there is none."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return TemplateInfo.from_wire(await one_off_call(config, "GET", template_path(name)))

    @staticmethod
    async def remove(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """Deletes a template; raises ``ConflictError`` while sandboxes use it."""
        await one_off_call(ConnectionConfig.resolve(api_url, api_key, request_timeout), "DELETE", template_path(name))
