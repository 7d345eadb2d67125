# Generated from sandbox_async/sandbox.py by python/tools/gen_sync.py — do not edit
"""The sandbox handle: ``Sandbox``."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

from .._code_common import DEFAULT_CODE_TIMEOUT, Execution
from .._hybrid import class_or_instance_method
from .._state_common import PAUSED_STATES
from .._transport import SyncTransport, wait_for
from .._wire import create_sandbox_body, list_sandboxes_query, set_timeout_body
from ..connection_config import ConnectionConfig
from ..errors import NotFoundError
from ..models import SandboxInfo, parse_list
from .code_interpreter import CodeContexts
from .code_interpreter import run_code as _run_code
from .commands import Commands
from .files import Files
from .network import SandboxNetwork
from .one_off import one_off_call
from .ports import Ports
from .pty import Pty
from .state import SyncStateMixin, fork_sandboxes


def _kill(transport: SyncTransport, sandbox_id: str, request_timeout: Optional[float]) -> bool:
    # Kill waits for the teardown by default (request_timeout 0), as the TS SDK does.
    wait = wait_for(transport.config, 0 if request_timeout is None else request_timeout)
    try:
        transport.call("DELETE", f"/v1/sandboxes/{sandbox_id}", wait)
        return True
    except NotFoundError:
        return False


class Sandbox(SyncStateMixin):
    """A live sandbox. Use it as a context manager, or call :meth:`kill` when done.

    Example::

        from paddock import Sandbox
        with Sandbox.create(template="base", memory_mib=512) as sbx:
            r = sbx.commands.run("python3 -c 'print(6*7)'")
            print(r.stdout)  # 42
    """

    id: str
    """The sandbox id (20 lowercase letters and digits)."""
    commands: Commands
    """Runs commands in the sandbox."""
    files: Files
    """Reads and writes files in the sandbox."""
    pty: Pty
    """Interactive terminals (PTY sessions) in the sandbox."""
    ports: Ports
    """Exposed ports: preview URLs with scoped, expiring tokens; public ports; what listens."""
    network: SandboxNetwork
    """Egress policy (live updates), address and refused attempts."""
    code_contexts: CodeContexts
    """Code contexts of the code interpreter (see :meth:`run_code`)."""

    def __init__(self, sandbox_id: str, transport: SyncTransport) -> None:
        """Wraps an existing sandbox; use :meth:`create` or :meth:`connect` instead."""
        self.id = sandbox_id
        self._transport = transport
        self.commands = Commands(transport, sandbox_id)
        self.files = Files(transport, sandbox_id)
        self.pty = Pty(transport, sandbox_id)
        self.ports = Ports(transport, sandbox_id)
        self.network = SandboxNetwork(transport, sandbox_id)
        self.code_contexts = CodeContexts(transport, sandbox_id)

    @property
    def sandbox_id(self) -> str:
        """The sandbox id (same as :attr:`id`, the name E2B users know)."""
        return self.id

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r})"

    def run_code(
        self,
        code: str,
        *,
        language: Optional[str] = None,
        context: Any = None,
        timeout: float = DEFAULT_CODE_TIMEOUT,
        env: Optional[dict[str, str]] = None,
        on_stdout: Any = None,
        on_stderr: Any = None,
        on_result: Any = None,
        on_error: Any = None,
        request_timeout: Optional[float] = None,
    ) -> Execution:
        """Runs a cell in a stateful kernel (Python by default; the ``code-interpreter``
        template has it) and returns its results, output and exception.

        Args:
            code: the cell.
            language: ``python`` (default), ``javascript`` or ``bash``: that language's default context.
            context: a context from :attr:`code_contexts` (or its id).
            timeout: seconds before the cell is interrupted (KeyboardInterrupt); the context keeps
                its state. 0 means no limit. Default 300.
            env: environment variables for this cell only, over the sandbox's ``env`` (which
                every kernel has); the next cell without them sees the sandbox's values again.
            on_stdout, on_stderr: called with output text as it arrives.
            on_result: called with each :class:`~paddock.Result` as it is displayed.
            on_error: called with the :class:`~paddock.ExecutionError` the cell raised.
            request_timeout: seconds to wait for the server to accept the run.

        Example::

            sbx.run_code("x = 41")
            sbx.run_code("x + 1").text   # "42"
        """
        return _run_code(
            self._transport,
            self.id,
            code,
            language=language,
            context=context,
            timeout=timeout,
            env=env,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            on_result=on_result,
            on_error=on_error,
            request_timeout=request_timeout,
        )

    @classmethod
    def create(
        cls,
        template: Optional[str] = None,
        *,
        timeout: Optional[float] = None,
        memory_mib: Optional[int] = None,
        cpus: Optional[float] = None,
        disk_mib: Optional[int] = None,
        pids: Optional[int] = None,
        isolation: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        metadata: Optional[Mapping[str, str]] = None,
        on_timeout: Optional[str] = None,
        auto_resume: Optional[bool] = None,
        retention: Optional[float] = None,
        volumes: Optional[Sequence[Mapping[str, Any]]] = None,
        secrets: Optional[Mapping[str, Mapping[str, Any]]] = None,
        network: Optional[Mapping[str, Any]] = None,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> Sandbox:
        """Creates a sandbox (claimed from the warm pool when one of the same shape is ready).

        Args:
            template: template name; default ``base``.
            timeout: seconds until the sandbox is killed unless extended with
                :meth:`set_timeout`; default 300.
            memory_mib: memory limit in MiB (default 512).
            cpus: CPU limit (default 1).
            disk_mib: cap of the writable disk in MiB (default 2048).
            pids: maximum number of processes and threads.
            isolation: ``container`` (default) or ``gvisor``.
            env: environment of every command in the sandbox.
            metadata: your labels; filter :meth:`list` by them.
            on_timeout: ``kill`` (default), ``pause`` or ``hibernate`` (gVisor) at expiry.
            auto_resume: calls that need a running sandbox resume a paused or hibernated one.
            retention: seconds a paused or hibernated sandbox is kept (default 7 days).
            volumes: ``[{"name": "cache", "path": "/mnt/cache", "read_only": False}]``.
            secrets: ``{"NAME": {"value": "sk-…", "hosts": ["api.example.com", "*.example.org"]}}``:
                the sandbox sees a placeholder in ``$NAME``; the host's egress proxy puts the
                value in request headers sent to those hosts only, over TLS only. Never stored in
                the sandbox. ``"headers": ["authorization"]`` pins it to those request headers;
                ``"allow_insecure_http": True`` also sends it over plain HTTP.
            network: ``{"egress": "none"|"open"|"allowlist", "allow": ["api.example.com",
                "*.example.org", "203.0.113.0/24:443"], "bandwidth_mbit": 100}``; default egress
                is the server's (``none`` unless configured).
            api_url: server URL; default ``PADDOCK_URL`` or ``http://127.0.0.1:7070``.
            api_key: API key; default ``PADDOCK_API_KEY``.
            request_timeout: seconds to wait for each request to the server (default 30,
                0 waits forever); separate from ``timeout``, the sandbox's lifetime.

        Raises:
            InvalidArgumentError: a limit is out of range; the message names the field.
            NotFoundError: the template does not exist.
        """
        transport = SyncTransport(ConnectionConfig.resolve(api_url, api_key, request_timeout))
        try:
            body = create_sandbox_body(
                template, timeout, memory_mib, cpus, disk_mib, pids, isolation, env, metadata,
                on_timeout=on_timeout, auto_resume=auto_resume, retention=retention, volumes=volumes,
                secrets=secrets, network=network,
            )
            raw = transport.call("POST", "/v1/sandboxes", wait_for(transport.config, None), json=body)
            info = SandboxInfo.from_wire(raw)
        except BaseException:
            transport.close()
            raise
        return cls(info.id, transport)

    @classmethod
    def connect(
        cls,
        sandbox_id: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> Sandbox:
        """Attaches to an existing sandbox by id.

        Raises:
            NotFoundError: no sandbox has this id.
        """
        transport = SyncTransport(ConnectionConfig.resolve(api_url, api_key, request_timeout))
        sandbox = cls(sandbox_id, transport)
        try:
            # Connecting resumes a paused or hibernated sandbox.
            if sandbox.get_info().state in PAUSED_STATES:
                sandbox.resume()
        except BaseException:
            transport.close()
            raise
        return sandbox

    @classmethod
    def fork(
        cls,
        sandbox_id: str,
        *,
        count: int,
        metadata: Optional[Mapping[str, str]] = None,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> builtins.list[Sandbox]:
        """Starts ``count`` sandboxes from one checkpoint of a running gVisor sandbox: same memory,
        each with its own copy of the filesystem. Random generators are copied too: reseed them
        where forks must differ.

        Raises:
            InvalidArgumentError: ``count`` is 0 or above the server's maximum, or the sandbox is
                not gVisor (the message names the field).
        """
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        infos = fork_sandboxes(sandbox_id, count, metadata, config, request_timeout)
        return [cls(info.id, SyncTransport(config)) for info in infos]

    @staticmethod
    def list(
        *,
        metadata: Optional[Mapping[str, str]] = None,
        state: Union[str, Sequence[str], None] = None,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> builtins.list[SandboxInfo]:
        """Lists sandboxes whose metadata has all the given pairs, in the given states
        (default the live ones: starting, running, stopping).

        Example::

            mine = Sandbox.list(metadata={"agent": "a1"}, state=["running"])
        """
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        body = one_off_call(config, "GET", "/v1/sandboxes", params=tuple(list_sandboxes_query(metadata, state)))
        return parse_list(body, "sandboxes", SandboxInfo.from_wire)

    @class_or_instance_method
    def kill(  # type: ignore[misc]
        cls: Any,
        sandbox_id: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> bool:
        """Kills a sandbox and frees its resources: ``Sandbox.kill(id)`` or ``sbx.kill()``.

        Returns True when it was killed (or was already dead), False when no sandbox has
        this id. Killing twice is fine. Waits for the teardown unless ``request_timeout``
        is given.
        """
        transport = SyncTransport(ConnectionConfig.resolve(api_url, api_key, request_timeout))
        try:
            return _kill(transport, sandbox_id, request_timeout)
        finally:
            transport.close()

    @kill.instance
    def _kill_instance(self, *, request_timeout: Optional[float] = None) -> bool:
        return _kill(self._transport, self.id, request_timeout)

    def get_host(self, port: int) -> str:
        """The Host that reaches ``port`` of this sandbox: ``{port}-{id}.{domain}``."""
        return self.ports.host(port)

    def get_info(self, *, request_timeout: Optional[float] = None) -> SandboxInfo:
        """The sandbox's current state, limits, metadata and expiry."""
        wait = wait_for(self._transport.config, request_timeout)
        return SandboxInfo.from_wire(self._transport.call("GET", f"/v1/sandboxes/{self.id}", wait))

    def is_running(self, *, request_timeout: Optional[float] = None) -> bool:
        """True while the sandbox is running."""
        return self.get_info(request_timeout=request_timeout).state == "running"

    def set_timeout(self, timeout: float, *, request_timeout: Optional[float] = None) -> SandboxInfo:
        """Makes the sandbox expire ``timeout`` seconds from now (extends or shortens its life).

        Example::

            sbx.set_timeout(600)  # ten more minutes from now
        """
        body = self._transport.call(
            "POST",
            f"/v1/sandboxes/{self.id}/timeout",
            wait_for(self._transport.config, request_timeout),
            json=set_timeout_body(timeout),
        )
        return SandboxInfo.from_wire(body)

    def close(self) -> None:
        """Closes this handle's connections; the sandbox keeps running (see :meth:`kill`)."""
        self._transport.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.kill()
        finally:
            self.close()
