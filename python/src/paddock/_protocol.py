# Generated from packages/protocol/src by scripts/gen-python-models.ts — do not edit
"""The wire contract of the Paddock API, generated from the protocol's zod schemas.

Enums are ``Literal`` types; objects are ``TypedDict`` types with the wire's camelCase keys
(the SDK's dataclasses in :mod:`paddock.models` are the snake_case view of them); a tagged
union has one ``TypedDict`` per ``type``. Regenerate with ``npm run gen:python``.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

CodeLanguage = Literal["python", "javascript", "bash"]
"""Languages the code interpreter runs: Python on ipykernel, JavaScript on Node, bash.

``CodeLanguage`` in packages/protocol/src/code.ts."""


EgressMode = Literal["none", "open", "allowlist"]
"""A sandbox's egress: ``none`` (loopback only), ``open`` (the internet, but never the host,
other sandboxes, private, link-local or metadata ranges) or ``allowlist`` (only ``allow``).

``EgressMode`` in packages/protocol/src/network.ts."""


FileType = Literal["file", "dir", "symlink", "other"]
"""Kinds of directory entries.

``FileType`` in packages/protocol/src/files.ts."""


Isolation = Literal["container", "gvisor"]
"""How a sandbox is isolated: an OCI container run by ``crun``, or a gVisor sandbox run by ``runsc``.

``Isolation`` in packages/protocol/src/sandbox.ts."""


OnTimeout = Literal["kill", "pause", "hibernate"]
"""What happens when a sandbox's ``timeoutMs`` runs out.

``OnTimeout`` in packages/protocol/src/sandbox.ts."""


ReasonCode = Literal[
    "api",
    "timeout",
    "retention",
    "oom",
    "agent_lost",
    "restart",
    "host_reboot",
    "start_failed",
    "internal",
]
"""Why a sandbox is in its state, as a stable code beside the free-text ``reason`` (which may
change wording between versions: match on this, show that). Set when a caller or the platform
stopped, paused or lost the sandbox; cleared when it runs again. The list is closed: SDKs
treat an unknown code from a newer server as a string.

``ReasonCode`` in packages/protocol/src/sandbox.ts."""


SandboxState = Literal[
    "starting",
    "running",
    "stopping",
    "killed",
    "error",
    "pausing",
    "paused",
    "hibernating",
    "hibernated",
    "resuming",
]
"""Lifecycle states. ``killed`` and ``error`` are final. ``paused`` keeps processes frozen in RAM;
``hibernated`` keeps them on disk (or only the filesystem, see ``capabilities``);
``pausing``, ``hibernating`` and ``resuming`` are the transitions between them.

``SandboxState`` in packages/protocol/src/sandbox.ts."""


SignalName = Literal[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGKILL",
    "SIGUSR1",
    "SIGUSR2",
    "SIGTERM",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGWINCH",
]
"""``SignalName`` in packages/protocol/src/processes.ts."""


SignalScope = Literal["process", "group", "tree"]
"""Whom a signal reaches: ``process`` the command's own process, ``group`` its process group,
``tree`` (default) everything it started, daemons that left the group included.

``SignalScope`` in packages/protocol/src/processes.ts."""


WatchEventType = Literal["create", "write", "remove", "rename"]
"""What happened to a path.

``WatchEventType`` in packages/protocol/src/watch.ts."""


ErrorCode = Literal[
    "INVALID_ARGUMENT",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "CONFLICT",
    "SANDBOX_NOT_RUNNING",
    "SANDBOX_PAUSED",
    "NOT_A_DIRECTORY",
    "IS_A_DIRECTORY",
    "DISK_FULL",
    "PAYLOAD_TOO_LARGE",
    "TIMEOUT",
    "RESOURCE_EXHAUSTED",
    "TEMPLATE_BUILD_FAILED",
    "PORT_NOT_OPEN",
    "UNAVAILABLE",
    "INTERNAL",
]
"""The error-code registry (``ERROR_CODES``): every error that crosses the wire has one of these codes.
Each code carries its HTTP status and whether retrying the same call can help, so
adding a code without them does not compile. Both SDKs turn codes into typed errors.

@example
````ts
const { status, retryable } = ERROR_CODES.NOT_FOUND;
````

``ERROR_CODES`` in packages/protocol/src/errors.ts."""


ERROR_HTTP_STATUS: dict[ErrorCode, int] = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "SANDBOX_NOT_RUNNING": 409,
    "SANDBOX_PAUSED": 409,
    "NOT_A_DIRECTORY": 400,
    "IS_A_DIRECTORY": 400,
    "DISK_FULL": 507,
    "PAYLOAD_TOO_LARGE": 413,
    "TIMEOUT": 504,
    "RESOURCE_EXHAUSTED": 429,
    "TEMPLATE_BUILD_FAILED": 422,
    "PORT_NOT_OPEN": 502,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}
"""The HTTP status of each error code."""


class _AgentHealthRequired(TypedDict):
    ok: Literal[True]
    pid: float
    uptimeMs: float


class AgentHealth(_AgentHealthRequired, total=False):
    """The agent's ``GET /health`` answer. ``version`` and ``features`` are absent from agents older
    than the handshake (a sandbox paused across a server upgrade): those have the minimal set.

    ``AgentHealth`` in packages/protocol/src/agent-health.ts."""

    version: str
    features: list[str]


class _BuildTemplateRequestRequired(TypedDict):
    name: str


class BuildTemplateRequest(_BuildTemplateRequestRequired, total=False):
    """Body of ``POST /v1/templates`` (the build streams ``TemplateBuildEvent``s as NDJSON): give
    exactly one of ``spec`` (Debian packages) or ``dockerfile``.

    ``BuildTemplateRequest`` in packages/protocol/src/templates.ts."""

    spec: TemplateSpec
    contextFiles: dict[str, str]
    dockerfile: str
    buildArgs: dict[str, str]
    context: dict[str, ContextFile]


class _ChartRequired(TypedDict):
    type: str
    elements: list[Any]


class Chart(_ChartRequired, total=False):
    """A matplotlib chart as data: one axes' type, labels and element values.

    ``Chart`` in packages/protocol/src/code.ts."""

    title: str
    xLabel: str
    yLabel: str


class CodeContext(TypedDict):
    """A code context: one kernel with its own variables and working directory.

    ``CodeContext`` in packages/protocol/src/code.ts."""

    id: str
    language: CodeLanguage
    cwd: str
    user: str
    running: bool


class CodeContextList(TypedDict):
    """Body of ``GET /v1/sandboxes/:id/code/contexts``.

    ``CodeContextList`` in packages/protocol/src/code.ts."""

    contexts: list[CodeContext]


class CodeContextRef(TypedDict):
    """Body of the agent's context calls that name one context.

    ``CodeContextRef`` in packages/protocol/src/code.ts."""

    contextId: str


class CodeEventStart(TypedDict):
    """The ``start`` variant of :data:`CodeEvent`."""

    type: Literal["start"]
    contextId: str


class CodeEventStdout(TypedDict):
    """The ``stdout`` variant of :data:`CodeEvent`."""

    type: Literal["stdout"]
    text: str


class CodeEventStderr(TypedDict):
    """The ``stderr`` variant of :data:`CodeEvent`."""

    type: Literal["stderr"]
    text: str


class CodeEventResult(TypedDict):
    """The ``result`` variant of :data:`CodeEvent`."""

    type: Literal["result"]
    result: CodeResult


class CodeEventException(TypedDict):
    """The ``exception`` variant of :data:`CodeEvent`."""

    type: Literal["exception"]
    error: ExecutionError


class _CodeEventEndRequired(TypedDict):
    type: Literal["end"]
    executionCount: Any


class CodeEventEnd(_CodeEventEndRequired, total=False):
    """The ``end`` variant of :data:`CodeEvent`."""

    timedOut: bool
    truncated: bool


class CodeEventError(TypedDict):
    """The ``error`` variant of :data:`CodeEvent`."""

    type: Literal["error"]
    error: dict[str, Any]


class _CodeResultRequired(TypedDict):
    isMainResult: bool


class CodeResult(_CodeResultRequired, total=False):
    """One displayed object with every representation it offers. Images are base64; ``data`` is
    a table (``{ columns, index, rows }``, JSON-safe); ``chart`` is a figure's data.

    ``CodeResult`` in packages/protocol/src/code.ts."""

    text: str
    html: str
    markdown: str
    svg: str
    png: str
    jpeg: str
    pdf: str
    latex: str
    json: Any
    javascript: str
    data: Any
    chart: Chart
    extra: dict[str, Any]


class CommandEventStart(TypedDict):
    """The ``start`` variant of :data:`CommandEvent`."""

    type: Literal["start"]
    pid: float


class CommandEventStdout(TypedDict):
    """The ``stdout`` variant of :data:`CommandEvent`."""

    type: Literal["stdout"]
    data: str
    offset: float


class CommandEventStderr(TypedDict):
    """The ``stderr`` variant of :data:`CommandEvent`."""

    type: Literal["stderr"]
    data: str
    offset: float


class _CommandEventExitRequired(TypedDict):
    type: Literal["exit"]
    exitCode: float


class CommandEventExit(_CommandEventExitRequired, total=False):
    """The ``exit`` variant of :data:`CommandEvent`."""

    signal: str
    timedOut: bool
    oomKilled: bool


class CommandEventError(TypedDict):
    """The ``error`` variant of :data:`CommandEvent`."""

    type: Literal["error"]
    error: dict[str, Any]


class _ContextFileRequired(TypedDict):
    data: str


class ContextFile(_ContextFileRequired, total=False):
    """One file of a Dockerfile build context: base64 bytes and the file mode (e.g. 0o755).

    ``ContextFile`` in packages/protocol/src/templates.ts."""

    mode: int


class CreateCodeContextRequest(TypedDict, total=False):
    """Body of ``POST /v1/sandboxes/:id/code/contexts``.

    ``CreateCodeContextRequest`` in packages/protocol/src/code.ts."""

    language: CodeLanguage
    cwd: str
    user: str


class _CreatePtyRequestRequired(TypedDict):
    cols: int
    rows: int


class CreatePtyRequest(_CreatePtyRequestRequired, total=False):
    """Body of ``POST /v1/sandboxes/:id/pty`` (and of the agent's ``POST /pty``): starts a program on a
    new pseudo-terminal with ``TERM=xterm-256color``. Without ``cmd`` it runs the user's login shell.

    ``CreatePtyRequest`` in packages/protocol/src/pty.ts."""

    cmd: str
    cwd: str
    env: EnvVars
    user: str


class CreateSandboxRequest(TypedDict, total=False):
    """Body of ``POST /v1/sandboxes``. Every field is optional; defaults come from ``LIMITS``.

    ``CreateSandboxRequest`` in packages/protocol/src/sandbox.ts."""

    template: str
    timeoutMs: int
    memoryMiB: int
    cpus: float
    diskMiB: int
    pids: int
    isolation: Isolation
    env: EnvVars
    metadata: dict[str, str]
    onTimeout: OnTimeout
    autoResume: bool
    retentionMs: int
    volumes: list[VolumeMount]
    secrets: SecretsRequest
    network: NetworkRequest


class CreateVolumeRequest(TypedDict):
    """Body of ``POST /v1/volumes``.

    ``CreateVolumeRequest`` in packages/protocol/src/state.ts."""

    name: str
    sizeMiB: int


class _DeniedAttemptInfoRequired(TypedDict):
    at: str
    layer: Literal["dns", "proxy", "firewall"]
    target: str
    reason: str


class DeniedAttemptInfo(_DeniedAttemptInfoRequired, total=False):
    """One refused connection or lookup.

    ``DeniedAttemptInfo`` in packages/protocol/src/network.ts."""

    port: float


class ExecutionError(TypedDict):
    """An exception raised by the cell (a cell error, not an API error).

    ``ExecutionError`` in packages/protocol/src/code.ts."""

    name: str
    value: str
    traceback: str


class _FileInfoRequired(TypedDict):
    name: str
    path: str
    type: FileType
    sizeBytes: float
    mode: float
    owner: str
    group: str
    modifiedAt: str


class FileInfo(_FileInfoRequired, total=False):
    """What ``stat``, ``list`` and ``write`` report about a path inside the sandbox.

    ``FileInfo`` in packages/protocol/src/files.ts."""

    symlinkTarget: str


class FileList(TypedDict):
    """Body of ``GET /v1/sandboxes/:id/files/list``.

    ``FileList`` in packages/protocol/src/files.ts."""

    entries: list[FileInfo]


class _ForkRequestRequired(TypedDict):
    count: int


class ForkRequest(_ForkRequestRequired, total=False):
    """Body of ``POST /v1/sandboxes/:id/fork``.

    ``ForkRequest`` in packages/protocol/src/state.ts."""

    metadata: dict[str, str]


class ForkResult(TypedDict):
    """Answer of a fork: the new sandboxes.

    ``ForkResult`` in packages/protocol/src/state.ts."""

    sandboxes: list[SandboxInfo]


class HibernateRequest(TypedDict, total=False):
    """Body of ``POST /v1/sandboxes/:id/hibernate``.

    ``HibernateRequest`` in packages/protocol/src/state.ts."""

    keepMemory: bool


class ListeningPort(TypedDict):
    """One listening socket as the agent reports it (``GET /ports``).

    ``ListeningPort`` in packages/protocol/src/ports.ts."""

    port: float
    address: str


class ListeningPorts(TypedDict):
    """Body of the agent's ``GET /ports``.

    ``ListeningPorts`` in packages/protocol/src/ports.ts."""

    listening: list[ListeningPort]


class _MkdirRequestRequired(TypedDict):
    path: SandboxPath


class MkdirRequest(_MkdirRequestRequired, total=False):
    """Body of ``POST /v1/sandboxes/:id/files/mkdir``.

    ``MkdirRequest`` in packages/protocol/src/files.ts."""

    user: str


class _NetworkInfoRequired(TypedDict):
    egress: EgressMode
    allow: list[str]


class NetworkInfo(_NetworkInfoRequired, total=False):
    """A sandbox's network as ``SandboxInfo.network`` shows it.

    ``NetworkInfo`` in packages/protocol/src/network.ts."""

    address: str


class NetworkRequest(TypedDict, total=False):
    """The ``network`` field of a create request.

    @example
    ````ts
    await Sandbox.create({ network: { egress: 'allowlist', allow: ['api.example.com', '*.example.org', '203.0.113.0/24:443'] } })
    ````

    ``NetworkRequest`` in packages/protocol/src/network.ts."""

    egress: EgressMode
    allow: AllowList
    bandwidthMbit: int


class _NetworkStatusRequired(TypedDict):
    egress: EgressMode
    allow: list[str]
    bandwidthMbit: float
    deniedTotal: float
    recentDenied: list[DeniedAttemptInfo]


class NetworkStatus(_NetworkStatusRequired, total=False):
    """Body of ``GET /v1/sandboxes/:id/network`` (and of the PUT's reply).

    ``NetworkStatus`` in packages/protocol/src/network.ts."""

    address: str


class PortAccess(TypedDict):
    """Answer of ``POST /v1/sandboxes/:id/ports/:port/url``: a preview URL whose token opens only
    this port of this sandbox until ``expiresAt``.

    @example
    ````ts
    // Browser: open ``url``. Clients without wildcard DNS: send ``headers`` to the server's own URL.
    await fetch(apiUrl, { headers: access.headers });
    ````

    ``PortAccess`` in packages/protocol/src/ports.ts."""

    url: str
    token: str
    expiresAt: str
    host: str
    headers: dict[str, str]


class PortInfo(TypedDict):
    """One port of a sandbox: listening inside, made public, or both.

    ``PortInfo`` in packages/protocol/src/ports.ts."""

    port: float
    listening: bool
    addresses: list[str]
    public: bool


class PortList(TypedDict):
    """Body of ``GET /v1/sandboxes/:id/ports``.

    ``PortList`` in packages/protocol/src/ports.ts."""

    ports: list[PortInfo]


class PortSettings(TypedDict):
    """Answer of ``PUT /v1/sandboxes/:id/ports/:port``.

    ``PortSettings`` in packages/protocol/src/ports.ts."""

    port: float
    public: bool


class PortSettingsRequest(TypedDict):
    """Body of ``PUT /v1/sandboxes/:id/ports/:port``.

    ``PortSettingsRequest`` in packages/protocol/src/ports.ts."""

    public: bool


class PortUrlRequest(TypedDict, total=False):
    """Body of ``POST /v1/sandboxes/:id/ports/:port/url``.

    ``PortUrlRequest`` in packages/protocol/src/ports.ts."""

    expiresInMs: int


class ProcessEventStart(TypedDict):
    """The ``start`` variant of :data:`ProcessEvent`."""

    type: Literal["start"]
    id: str
    pid: float


class ProcessEventStdout(TypedDict):
    """The ``stdout`` variant of :data:`ProcessEvent`."""

    type: Literal["stdout"]
    data: str
    offset: float


class ProcessEventStderr(TypedDict):
    """The ``stderr`` variant of :data:`ProcessEvent`."""

    type: Literal["stderr"]
    data: str
    offset: float


class ProcessEventTruncated(TypedDict):
    """The ``truncated`` variant of :data:`ProcessEvent`."""

    type: Literal["truncated"]
    fromOffset: float
    toOffset: float


class _ProcessEventExitRequired(TypedDict):
    type: Literal["exit"]
    exitCode: float
    offset: float


class ProcessEventExit(_ProcessEventExitRequired, total=False):
    """The ``exit`` variant of :data:`ProcessEvent`."""

    signal: str
    timedOut: bool
    oomKilled: bool


class ProcessEventError(TypedDict):
    """The ``error`` variant of :data:`ProcessEvent`."""

    type: Literal["error"]
    error: dict[str, Any]


class _ProcessInfoRequired(TypedDict):
    id: str
    pid: float
    cmd: str
    cwd: str
    user: str
    startedAt: str
    background: bool
    running: bool
    endOffset: float


class ProcessInfo(_ProcessInfoRequired, total=False):
    """A process the agent started (listed until removed from the bounded list of finished
    ones). ``endOffset`` is the combined-output offset the next byte will get.

    ``ProcessInfo`` in packages/protocol/src/processes.ts."""

    exitCode: float
    signal: str
    timedOut: bool


class ProcessList(TypedDict):
    """``ProcessList`` in packages/protocol/src/processes.ts."""

    processes: list[ProcessInfo]


class ProcessStdinRequest(TypedDict, total=False):
    """JSON body of ``POST …/processes/:pid/stdin`` (a raw ``application/octet-stream`` body also works).

    ``ProcessStdinRequest`` in packages/protocol/src/processes.ts."""

    dataBase64: str
    eof: bool


class PtyCreated(TypedDict):
    """Answer of ``POST …/pty``.

    ``PtyCreated`` in packages/protocol/src/pty.ts."""

    id: str
    pid: float


class PtyEventStart(TypedDict):
    """The ``start`` variant of :data:`PtyEvent`."""

    type: Literal["start"]
    pid: float
    offset: float


class PtyEventData(TypedDict):
    """The ``data`` variant of :data:`PtyEvent`."""

    type: Literal["data"]
    data: str
    offset: float


class _PtyEventExitRequired(TypedDict):
    type: Literal["exit"]
    exitCode: float


class PtyEventExit(_PtyEventExitRequired, total=False):
    """The ``exit`` variant of :data:`PtyEvent`."""

    signal: str


class PtyEventError(TypedDict):
    """The ``error`` variant of :data:`PtyEvent`."""

    type: Literal["error"]
    error: dict[str, Any]


class _PtyInfoRequired(TypedDict):
    id: str
    pid: float
    cols: float
    rows: float
    user: str
    createdAt: str
    outputBytes: float


class PtyInfo(_PtyInfoRequired, total=False):
    """A PTY session as ``GET …/pty`` lists it. Exited sessions stay listed for a while with their exit code.

    ``PtyInfo`` in packages/protocol/src/pty.ts."""

    cmd: str
    exitCode: float


class PtyList(TypedDict):
    """Body of ``GET …/pty``.

    ``PtyList`` in packages/protocol/src/pty.ts."""

    sessions: list[PtyInfo]


class PtyOutputQuery(TypedDict, total=False):
    """Query of ``GET …/pty/:ptyId/output``. Without ``fromOffset`` the stream starts at the oldest
    output still kept (the recent screen), which is what a reconnecting terminal wants.

    ``PtyOutputQuery`` in packages/protocol/src/pty.ts."""

    fromOffset: int


class PtySize(TypedDict):
    """A terminal size in character cells; both 1 to 1000.

    ``PtySize`` in packages/protocol/src/pty.ts."""

    cols: int
    rows: int


class ReadyCheck(TypedDict, total=False):
    """How a sandbox knows that its template's start command is ready; give exactly one of
    ``command`` (exits 0), ``port`` (accepts TCP connections inside the sandbox) or ``url`` (answers
    HTTP 2xx/3xx inside the sandbox).

    ``ReadyCheck`` in packages/protocol/src/templates.ts."""

    command: str
    port: int
    url: str
    timeoutMs: int


class _RemoveRequestRequired(TypedDict):
    path: SandboxPath


class RemoveRequest(_RemoveRequestRequired, total=False):
    """Body of ``POST /v1/sandboxes/:id/files/remove``. Directories are removed with their contents.

    ``RemoveRequest`` in packages/protocol/src/files.ts."""

    user: str


_RenameRequestRequired = TypedDict(
    "_RenameRequestRequired",
    {
        "from": "SandboxPath",
        "to": "SandboxPath",
    },
)


class RenameRequest(_RenameRequestRequired, total=False):
    """Body of ``POST /v1/sandboxes/:id/files/rename``.

    ``RenameRequest`` in packages/protocol/src/files.ts."""

    user: str


class _RunCodeRequestRequired(TypedDict):
    code: str


class RunCodeRequest(_RunCodeRequestRequired, total=False):
    """Body of ``POST /v1/sandboxes/:id/code`` (and of the agent's ``POST /code/run``). Without
    ``contextId`` the code runs in the default context of ``language`` (default ``python``).

    ``RunCodeRequest`` in packages/protocol/src/code.ts."""

    language: CodeLanguage
    contextId: str
    timeoutMs: int
    env: EnvVars


class RunCommandRequest(TypedDict, total=False):
    """Body of ``POST /v1/sandboxes/:id/commands`` (and of the agent's ``POST /exec``).
    Give either ``cmd`` (a shell line) or ``argv`` (run directly).

    ``RunCommandRequest`` in packages/protocol/src/commands.ts."""

    cmd: str
    argv: list[str]
    cwd: str
    env: EnvVars
    user: str
    timeoutMs: int
    stdinBase64: str


class SandboxCapabilities(TypedDict):
    """What a sandbox's isolation supports; fixed at create.

    ``SandboxCapabilities`` in packages/protocol/src/sandbox.ts."""

    pause: bool
    hibernateWithMemory: bool
    fork: bool
    perProcessOom: bool


class _SandboxInfoRequired(TypedDict):
    id: str
    template: str
    isolation: Isolation
    state: SandboxState
    createdAt: str
    expiresAt: str
    memoryMiB: float
    cpus: float
    diskMiB: float
    pids: float
    metadata: dict[str, str]


class SandboxInfo(_SandboxInfoRequired, total=False):
    """A sandbox as the API reports it. Times are ISO-8601 strings.

    ``SandboxInfo`` in packages/protocol/src/sandbox.ts."""

    reason: str
    reasonCode: str
    onTimeout: OnTimeout
    autoResume: bool
    retentionMs: float
    capabilities: SandboxCapabilities
    processesRestarted: bool
    volumes: list[VolumeMount]
    secrets: list[SecretInfo]
    network: NetworkInfo


class SandboxList(TypedDict):
    """Body of ``GET /v1/sandboxes``.

    ``SandboxList`` in packages/protocol/src/sandbox.ts."""

    sandboxes: list[SandboxInfo]


class _SecretInfoRequired(TypedDict):
    name: str
    hosts: list[str]


class SecretInfo(_SecretInfoRequired, total=False):
    """A secret as the API shows it: its name, hosts and options, never its value or placeholder.

    ``SecretInfo`` in packages/protocol/src/secrets.ts."""

    headers: list[str]
    allowInsecureHttp: bool


class _SecretSpecRequired(TypedDict):
    value: str
    hosts: list[str]


class SecretSpec(_SecretSpecRequired, total=False):
    """One secret of a create request.

    The value is sent only over TLS (the proxy terminates it with the sandbox's CA), so it never
    crosses a network in cleartext; ``allowInsecureHttp: true`` also sends it over plain HTTP.
    Any allowed host that reflects request headers (an echo endpoint, an error page quoting the
    request) hands the value back to the sandbox: list only hosts that use the secret, and pin it
    with ``headers`` to the header(s) it belongs in, so that a placeholder the sandbox puts in any
    other header goes out as it is.

    @example
    ````ts
    { value: 'sk-…', hosts: ['api.openai.com'], headers: ['authorization'] }
    ````

    ``SecretSpec`` in packages/protocol/src/secrets.ts."""

    headers: list[str]
    allowInsecureHttp: bool


class SetTimeoutRequest(TypedDict):
    """Body of ``POST /v1/sandboxes/:id/timeout``.

    ``SetTimeoutRequest`` in packages/protocol/src/sandbox.ts."""

    timeoutMs: int


class SignalProcessRequest(TypedDict, total=False):
    """Body of ``POST …/processes/:pid/signal``. Defaults: ``SIGKILL`` to the ``tree``.

    ``SignalProcessRequest`` in packages/protocol/src/processes.ts."""

    signal: SignalName
    scope: SignalScope


class SnapshotInfo(TypedDict):
    """A snapshot: a sandbox's filesystem, usable as ``template`` in create.

    ``SnapshotInfo`` in packages/protocol/src/state.ts."""

    name: str
    sandboxId: str
    baseTemplate: str
    sizeBytes: float
    createdAt: str


class SnapshotList(TypedDict):
    """Body of ``GET /v1/snapshots``.

    ``SnapshotList`` in packages/protocol/src/state.ts."""

    snapshots: list[SnapshotInfo]


class SnapshotRequest(TypedDict):
    """Body of ``POST /v1/sandboxes/:id/snapshot``.

    ``SnapshotRequest`` in packages/protocol/src/state.ts."""

    name: str


class StartProcessRequest(TypedDict, total=False):
    """Body of ``POST /v1/sandboxes/:id/processes`` (and the agent's ``POST /processes``): a
    command request plus ``background``. A background process answers at once with its
    ``ProcessInfo``, keeps running when clients disconnect, keeps its stdin open (until
    ``POST …/stdin`` with ``eof``), and has no time limit unless ``timeoutMs`` is given. A
    foreground one streams ``ProcessEvent``s and is killed when that stream is closed.

    ``StartProcessRequest`` in packages/protocol/src/processes.ts."""

    cmd: str
    argv: list[str]
    cwd: str
    env: EnvVars
    user: str
    timeoutMs: int
    stdinBase64: str
    background: bool
    follow: bool
    closeStdin: bool


class TemplateBuildEventProgress(TypedDict):
    """The ``progress`` variant of :data:`TemplateBuildEvent`."""

    type: Literal["progress"]
    message: str
    step: str


class TemplateBuildEventLog(TypedDict):
    """The ``log`` variant of :data:`TemplateBuildEvent`."""

    type: Literal["log"]
    line: str


class TemplateBuildEventDone(TypedDict):
    """The ``done`` variant of :data:`TemplateBuildEvent`."""

    type: Literal["done"]
    template: TemplateInfo
    cached: bool


class TemplateBuildEventError(TypedDict):
    """The ``error`` variant of :data:`TemplateBuildEvent`."""

    type: Literal["error"]
    error: dict[str, Any]


class _TemplateFileRequired(TypedDict):
    dest: str


class TemplateFile(_TemplateFileRequired, total=False):
    """A file to put into a template: inline ``content`` or a ``src`` path relative to the spec file.

    ``TemplateFile`` in packages/protocol/src/templates.ts."""

    content: str
    src: str
    mode: int


class _TemplateInfoRequired(TypedDict):
    name: str
    specHash: str
    sizeBytes: float
    createdAt: str
    env: dict[str, str]
    workdir: str
    user: str


class TemplateInfo(_TemplateInfoRequired, total=False):
    """A template as listed by the API.

    ``TemplateInfo`` in packages/protocol/src/templates.ts."""

    source: TemplateSource
    entrypoint: list[str]
    cmd: list[str]
    start: TemplateStart


class TemplateList(TypedDict):
    """Body of ``GET /v1/templates``.

    ``TemplateList`` in packages/protocol/src/templates.ts."""

    templates: list[TemplateInfo]


class _TemplateSourceRequired(TypedDict):
    kind: Literal["debian", "image", "dockerfile", "e2b"]


class TemplateSource(_TemplateSourceRequired, total=False):
    """Where a template's files came from.

    ``TemplateSource`` in packages/protocol/src/templates.ts."""

    ref: str
    digest: str


TemplateSpec = TypedDict(
    "TemplateSpec",
    {
        "from": "Literal[\"debian:bookworm\"]",
        "packages": "list[str]",
        "run": "list[str]",
        "files": "list[TemplateFile]",
        "env": "EnvVars",
        "workdir": "str",
        "user": "str",
    },
)


class _TemplateStartRequired(TypedDict):
    command: str


class TemplateStart(_TemplateStartRequired, total=False):
    """A process a template starts when a sandbox boots (e.g. a dev server), and how to tell it is
    ready. Sandboxes (pooled spares included) are handed out only once it is ready.

    ``TemplateStart`` in packages/protocol/src/templates.ts."""

    ready: ReadyCheck


class UpdateNetworkRequest(TypedDict, total=False):
    """Body of ``PUT /v1/sandboxes/:id/network``: a live change, no restart.

    ``UpdateNetworkRequest`` in packages/protocol/src/network.ts."""

    egress: EgressMode
    allow: AllowList


class VolumeInfo(TypedDict):
    """A named persistent volume.

    ``VolumeInfo`` in packages/protocol/src/state.ts."""

    name: str
    sizeMiB: float
    createdAt: str
    usedBy: list[str]


class VolumeList(TypedDict):
    """Body of ``GET /v1/volumes``.

    ``VolumeList`` in packages/protocol/src/state.ts."""

    volumes: list[VolumeInfo]


class _VolumeMountRequired(TypedDict):
    name: str
    path: str


class VolumeMount(_VolumeMountRequired, total=False):
    """A volume mounted into a sandbox at create.

    ``VolumeMount`` in packages/protocol/src/sandbox.ts."""

    readOnly: bool


class _WatchEventRequired(TypedDict):
    type: WatchEventType
    path: str
    fileType: FileType


class WatchEvent(_WatchEventRequired, total=False):
    """One change under a watched directory. Events may be coalesced (a file created and then
    written shows as one ``create``; one created and removed between two looks may not show
    at all), but the events always add up to the directory's current state. A removed
    directory reports its contents removed first; a renamed directory is one ``rename``, and
    its contents move with it.

    ``WatchEvent`` in packages/protocol/src/watch.ts."""

    oldPath: str


class WatchLineReady(TypedDict):
    """The ``ready`` variant of :data:`WatchLine`."""

    type: Literal["ready"]


class WatchLineKeepalive(TypedDict):
    """The ``keepalive`` variant of :data:`WatchLine`."""

    type: Literal["keepalive"]


class WatchLineError(TypedDict):
    """The ``error`` variant of :data:`WatchLine`."""

    type: Literal["error"]
    error: dict[str, Any]


class _WatchLineCreateRequired(TypedDict):
    type: Literal["create"]
    path: str
    fileType: FileType


class WatchLineCreate(_WatchLineCreateRequired, total=False):
    """The ``create`` variant of :data:`WatchLine`."""

    oldPath: str


class _WatchLineWriteRequired(TypedDict):
    type: Literal["write"]
    path: str
    fileType: FileType


class WatchLineWrite(_WatchLineWriteRequired, total=False):
    """The ``write`` variant of :data:`WatchLine`."""

    oldPath: str


class _WatchLineRemoveRequired(TypedDict):
    type: Literal["remove"]
    path: str
    fileType: FileType


class WatchLineRemove(_WatchLineRemoveRequired, total=False):
    """The ``remove`` variant of :data:`WatchLine`."""

    oldPath: str


class _WatchLineRenameRequired(TypedDict):
    type: Literal["rename"]
    path: str
    fileType: FileType


class WatchLineRename(_WatchLineRenameRequired, total=False):
    """The ``rename`` variant of :data:`WatchLine`."""

    oldPath: str


class _WatchQueryRequired(TypedDict):
    path: SandboxPath


class WatchQuery(_WatchQueryRequired, total=False):
    """\\/*.ts
    ```

    ``WatchQuery`` in packages/protocol/src/watch.ts."""

    recursive: Any
    filter: str


AllowList = list[str]
"""The ``allow`` list: each entry checked by ``parseAllowEntry``; the issue names ``allow[i]``.

``AllowList`` in packages/protocol/src/network.ts."""


CodeEvent = Union[
    CodeEventStart,
    CodeEventStdout,
    CodeEventStderr,
    CodeEventResult,
    CodeEventException,
    CodeEventEnd,
    CodeEventError,
]
"""One line of the NDJSON stream a code run answers with, in the order produced: output,
results and at most one ``exception``, then exactly one ``end`` (or an API ``error``).

``CodeEvent`` in packages/protocol/src/code.ts."""


CommandEnv = dict[str, str]
"""The ``env`` of a command, PTY or code run: variables set for it, over the sandbox's.

``CommandEnv`` in packages/protocol/src/env.ts."""


CommandEvent = Union[
    CommandEventStart,
    CommandEventStdout,
    CommandEventStderr,
    CommandEventExit,
    CommandEventError,
]
"""One line of the NDJSON stream a command answers with. Output chunks are base64 so that
any bytes survive; ``offset`` counts the bytes of that stream sent before this chunk.

``CommandEvent`` in packages/protocol/src/commands.ts."""


EnvVars = dict[str, str]
"""Environment variables, as every request that takes them accepts them (sandbox create, commands,
processes, PTYs, code runs, the E2B facade): names by ``ENV_NAME``, values without NUL. A
bad entry is an issue at its own key, whose message names the key.

@example
````ts
EnvVars.parse({ PATH: '/usr/bin', TOKEN: 'abc' })
````

``EnvVars`` in packages/protocol/src/env.ts."""


PortNumber = int
"""A TCP port number inside a sandbox, 1–65535 (e.g. a path segment ``:port``).

``PortNumber`` in packages/protocol/src/ports.ts."""


ProcessEvent = Union[
    ProcessEventStart,
    ProcessEventStdout,
    ProcessEventStderr,
    ProcessEventTruncated,
    ProcessEventExit,
    ProcessEventError,
]
"""One line of a process's NDJSON event stream. Offsets count bytes of the process's
combined output (stdout and stderr interleaved in arrival order, one sequence from 0):
a chunk's ``offset`` is that of its first byte; ``exit.offset`` is the total output size.
``truncated`` says the bytes ``[fromOffset, toOffset)`` fell out of the retained buffer
before this reader got them. The stream opens with ``start`` and ends with ``exit`` or ``error``.

``ProcessEvent`` in packages/protocol/src/processes.ts."""


PtyEvent = Union[PtyEventStart, PtyEventData, PtyEventExit, PtyEventError]
"""One line of the NDJSON stream of ``GET …/pty/:ptyId/output``: one ``start`` (sent at once, so
a client attached to a quiet program knows the stream is open), ``data`` chunks, one ``exit``.
``data`` is base64 (a terminal speaks bytes, not text); ``offset`` counts the session's output
bytes before this chunk, so a gap between chunks means older output was no longer kept.

``PtyEvent`` in packages/protocol/src/pty.ts."""


SandboxPath = str
"""Query of every file call: an absolute path inside the sandbox, without NUL bytes.

``SandboxPath`` in packages/protocol/src/files.ts."""


SecretsRequest = dict[str, SecretSpec]
"""The ``secrets`` field of a create request: env name → value and hosts.

``SecretsRequest`` in packages/protocol/src/secrets.ts."""


TemplateBuildEvent = Union[
    TemplateBuildEventProgress,
    TemplateBuildEventLog,
    TemplateBuildEventDone,
    TemplateBuildEventError,
]
"""One line of a template build's progress stream.

``TemplateBuildEvent`` in packages/protocol/src/templates.ts."""


WatchLine = Union[
    WatchLineReady,
    WatchLineKeepalive,
    WatchLineError,
    WatchLineCreate,
    WatchLineWrite,
    WatchLineRemove,
    WatchLineRename,
]
"""One line of a watch's NDJSON stream: a ``ready`` once the directory is being watched (every
change after it is reported), then events; ``keepalive`` lines while nothing changes; an
``error`` ends the stream (e.g. NOT_FOUND when the watched directory itself is removed).

``WatchLine`` in packages/protocol/src/watch.ts."""
