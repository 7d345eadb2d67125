import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { Agent, type ClientRequestArgs } from 'node:http';
import { connect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Linux's O_PATH (not in Node 20's fs.constants): an fd that names the inode without opening it. */
const O_PATH = 0o10000000;

/**
 * Connects to a sandbox's agent socket without following anything the sandbox can change.
 *
 * The socket's directory is bound read-write into the sandbox, so its root can replace the
 * socket file at any time, e.g. with a symlink to another sandbox's socket or to any host
 * socket, and a plain `connect(path)` made by host root would follow it. Here the last
 * component is opened with O_PATH|O_NOFOLLOW (a planted symlink is opened as itself), the fd
 * must be a socket, and the connection goes through `/proc/self/fd/N`, which is that very
 * inode. The directories above it are host-made and not visible to the sandbox.
 * A refused path fails like an unreachable agent (ENOTSOCK → UNAVAILABLE).
 */
export function connectAgentSocket(socketPath: string): Socket {
  let fd: number;
  try {
    fd = openSync(socketPath, O_PATH | constants.O_NOFOLLOW);
  } catch (err) {
    return failedSocket(err as Error);
  }
  let isSocket: boolean;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch (err) {
    closeSync(fd);
    return failedSocket(err as Error);
  }
  if (!isSocket) {
    closeSync(fd);
    const err: NodeJS.ErrnoException = new Error(
      `${socketPath} is not the agent's socket (the sandbox replaced it); not following it`,
    );
    err.code = 'ENOTSOCK';
    return failedSocket(err);
  }
  const socket = connect(`/proc/self/fd/${fd}`);
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  socket.once('connect', release);
  socket.once('error', release);
  socket.once('close', release);
  return socket;
}

/** A socket that fails on the next tick, the way a refused `connect` does. */
function failedSocket(err: Error): Socket {
  const socket = new Socket();
  process.nextTick(() => socket.destroy(err));
  return socket;
}

/** `createConnection` for `http.request` options: every connection through `connectAgentSocket`. */
export function agentSocketConnector(socketPath: string): NonNullable<ClientRequestArgs['createConnection']> {
  return () => connectAgentSocket(socketPath) as Duplex;
}

/**
 * A keep-alive pool whose connections all go through `connectAgentSocket`. Keep-alive saves a
 * connect per call; idle sockets are closed (30 s) before the agent would close them (65 s),
 * so a reused socket is never one the agent is closing.
 */
export class AgentSocketPool extends Agent {
  constructor(private readonly socketPath: string) {
    super({ keepAlive: true, timeout: 30_000 });
  }

  override createConnection(): Duplex {
    return connectAgentSocket(this.socketPath);
  }
}
