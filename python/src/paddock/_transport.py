"""HTTP for the sync and async SDKs: auth header, timeouts, and typed errors.

A non-2xx answer becomes the registry's typed error; an httpx timeout becomes
:class:`~paddock.errors.TimeoutError` naming ``request_timeout``; any other transport
failure becomes :class:`~paddock.errors.UnavailableError` naming the server URL.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
from collections.abc import AsyncGenerator, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar, Union

import httpx

from .connection_config import ConnectionConfig
from .errors import InternalError, SandboxError, TimeoutError, UnavailableError, error_from_body

USER_AGENT = "paddock-python/0.1.0"

Params = Union[tuple[tuple[str, str], ...], Mapping[str, str], None]
"""A query: pairs (a key may repeat) or a mapping."""

@dataclass(frozen=True)
class Wait:
    """How long one call may wait: ``request`` bounds connecting, sending and each read;
    ``read`` overrides the read bound for streams whose silences are legitimately longer
    (a quiet command may print nothing until it ends). None means no bound."""

    request: Optional[float]
    read: Optional[float]

    def httpx_timeout(self) -> httpx.Timeout:
        """The equivalent ``httpx.Timeout``."""
        return httpx.Timeout(self.request, read=self.read)


def wait_for(config: ConnectionConfig, request_timeout: Optional[float], stream_silence: Any = "same") -> Wait:
    """The :class:`Wait` of a call: ``request_timeout`` (seconds; None = the connection's,
    0 = forever); ``stream_silence`` replaces the read bound when given (None = forever)."""
    request = ConnectionConfig.request_timeout_of(request_timeout, config.request_timeout)
    return Wait(request, request if stream_silence == "same" else stream_silence)


def client_headers(config: ConnectionConfig) -> dict:
    """Headers every request carries."""
    headers = {"user-agent": USER_AGENT, "accept": "application/json, application/x-ndjson"}
    if config.api_key:
        headers["authorization"] = f"Bearer {config.api_key}"
    return headers


def transport_error(config: ConnectionConfig, wait: Wait, exc: Exception) -> SandboxError:
    """The typed error for an httpx exception."""
    if isinstance(exc, httpx.TimeoutException):
        bound = wait.read if isinstance(exc, httpx.ReadTimeout) else wait.request
        return TimeoutError(
            "TIMEOUT",
            f"no answer from the Paddock server at {config.api_url} within {bound:g} s; "
            "pass a larger request_timeout (0 waits forever)",
        )
    return UnavailableError("UNAVAILABLE", f"cannot reach the Paddock server at {config.api_url}: {exc}")


def error_of_response(response: httpx.Response, body: bytes) -> SandboxError:
    """The typed error for a non-2xx response and its body."""
    try:
        parsed = jsonlib.loads(body) if body else None
    except ValueError:
        parsed = None
    return error_from_body(parsed, response.status_code)


def json_of(response: httpx.Response, body: bytes) -> Any:
    """The parsed JSON body of a 2xx response; None for 204 or an empty body."""
    if response.status_code == 204 or not body:
        return None
    try:
        return jsonlib.loads(body)
    except ValueError:
        raise InternalError(
            "INTERNAL", f"the server sent a response that is not JSON (HTTP {response.status_code})"
        ) from None


ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)


class _Transport(Generic[ClientT]):
    """What both transports share: the connection, request building and error mapping."""

    def __init__(self, config: ConnectionConfig, client: ClientT) -> None:
        self.config = config
        self._client = client

    @contextlib.contextmanager
    def _mapped(self, wait: Wait) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            raise transport_error(self.config, wait, exc) from exc

    def _request(self, method: str, path: str, wait: Wait, *, params: Params, json: Any, content: Any) -> httpx.Request:
        """The request that ``open`` sends: an upload body (``content``) goes as octet-stream."""
        headers = {"content-type": "application/octet-stream"} if content is not None else None
        return self._client.build_request(
            method,
            self.config.api_url + path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            timeout=wait.httpx_timeout(),
        )


class SyncTransport(_Transport[httpx.Client]):
    """One ``httpx.Client`` for a sandbox (or a one-off class-level call)."""

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config, httpx.Client(headers=client_headers(config), follow_redirects=False))

    def close(self) -> None:
        """Closes the pooled connections."""
        self._client.close()

    def open(
        self,
        method: str,
        path: str,
        wait: Wait,
        *,
        params: Params = None,
        json: Any = None,
        content: Any = None,
    ) -> httpx.Response:
        """Sends a request; returns the 2xx response with its body still unread.

        The caller must close it (``iter_body`` does so when the body ends).
        """
        request = self._request(method, path, wait, params=params, json=json, content=content)
        with self._mapped(wait):
            response = self._client.send(request, stream=True)
            if response.status_code >= 400:
                try:
                    body = response.read()
                finally:
                    response.close()
                raise error_of_response(response, body)
        return response

    def iter_body(self, response: httpx.Response, wait: Wait) -> Generator[bytes, None, None]:
        """The body's chunks as they arrive; the response is closed when this ends."""
        try:
            with self._mapped(wait):
                yield from response.iter_bytes()
        finally:
            response.close()

    def read_json(self, response: httpx.Response, wait: Wait) -> Any:
        """Reads and parses a 2xx response's JSON body (None for 204)."""
        return json_of(response, b"".join(self.iter_body(response, wait)))

    def call(self, method: str, path: str, wait: Wait, *, params: Params = None, json: Any = None) -> Any:
        """A JSON call: returns the parsed body (None for 204)."""
        return self.read_json(self.open(method, path, wait, params=params, json=json), wait)


class AsyncTransport(_Transport[httpx.AsyncClient]):
    """One ``httpx.AsyncClient`` for a sandbox (or a one-off class-level call)."""

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config, httpx.AsyncClient(headers=client_headers(config), follow_redirects=False))

    async def close(self) -> None:
        """Closes the pooled connections."""
        await self._client.aclose()

    async def open(
        self,
        method: str,
        path: str,
        wait: Wait,
        *,
        params: Params = None,
        json: Any = None,
        content: Any = None,
    ) -> httpx.Response:
        """Sends a request; returns the 2xx response with its body still unread."""
        request = self._request(method, path, wait, params=params, json=json, content=content)
        with self._mapped(wait):
            response = await self._client.send(request, stream=True)
            if response.status_code >= 400:
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
                raise error_of_response(response, body)
        return response

    async def iter_body(self, response: httpx.Response, wait: Wait) -> AsyncGenerator[bytes, None]:
        """The body's chunks as they arrive; the response is closed when this ends."""
        try:
            with self._mapped(wait):
                async for chunk in response.aiter_bytes():
                    yield chunk
        finally:
            await response.aclose()

    async def read_json(self, response: httpx.Response, wait: Wait) -> Any:
        """Reads and parses a 2xx response's JSON body (None for 204)."""
        chunks = [chunk async for chunk in self.iter_body(response, wait)]
        return json_of(response, b"".join(chunks))

    async def call(self, method: str, path: str, wait: Wait, *, params: Params = None, json: Any = None) -> Any:
        """A JSON call: returns the parsed body (None for 204)."""
        return await self.read_json(await self.open(method, path, wait, params=params, json=json), wait)
