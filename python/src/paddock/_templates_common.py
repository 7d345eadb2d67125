"""Pieces of ``Template`` shared by the sync and async SDKs."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

from .models import TemplateBuildEvent

BuildEventCallback = Callable[[TemplateBuildEvent], Any]
"""Called with each progress, log and done event of a build."""


def build_body(
    name: str,
    spec: Mapping[str, Any],
    context_files: Optional[Mapping[str, bytes]],
    registry_auth: Optional[Mapping[str, str]] = None,
) -> dict[str, Any]:
    """The ``BuildTemplateRequest`` body; context files are sent base64-encoded."""
    files = {src: base64.b64encode(bytes(data)).decode("ascii") for src, data in (context_files or {}).items()}
    body: dict[str, Any] = {"name": name, "spec": dict(spec), "contextFiles": files}
    if registry_auth is not None:
        body["registryAuth"] = {"username": registry_auth["username"], "password": registry_auth["password"]}
    return body


def template_path(name: str) -> str:
    """The URL path of one template (names are URL-safe by the protocol's pattern)."""
    from urllib.parse import quote

    return f"/v1/templates/{quote(name, safe='')}"


ContextFile = Union[bytes, tuple[bytes, int]]
"""A Dockerfile build-context file: its bytes, or ``(bytes, mode)`` (e.g. ``0o755``)."""


def dockerfile_body(
    name: str,
    dockerfile: str,
    *,
    context: Optional[Mapping[str, ContextFile]],
    build_args: Optional[Mapping[str, str]],
    registry_auth: Optional[Mapping[str, str]],
    insecure_registry: bool,
) -> dict[str, Any]:
    """The ``BuildTemplateRequest`` body of a Dockerfile build."""
    files: dict[str, Any] = {}
    for path, file in (context or {}).items():
        data, mode = file if isinstance(file, tuple) else (file, None)
        entry: dict[str, Any] = {"data": base64.b64encode(bytes(data)).decode("ascii")}
        if mode is not None:
            entry["mode"] = mode
        files[path] = entry
    body: dict[str, Any] = {"name": name, "dockerfile": dockerfile, "context": files}
    if build_args:
        body["buildArgs"] = dict(build_args)
    if registry_auth is not None:
        body["registryAuth"] = {"username": registry_auth["username"], "password": registry_auth["password"]}
    if insecure_registry:
        body["insecureRegistry"] = True
    return body


def import_path(name: str) -> str:
    """The URL path of an image-archive import."""
    from urllib.parse import quote

    return f"/v1/templates/import?name={quote(name, safe='')}"
