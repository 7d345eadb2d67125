"""Test fixtures: a real Paddock server for the e2e tests, and sandboxes that are always killed.

The server is started once per session, only when an e2e test asks for it:
``node packages/sdk/bin/paddock.js serve`` on a free loopback port with a fresh API key and
a data dir under ``${PADDOCK_TEST_ROOT:-/var/tmp/paddock-test}``. The first start builds
the base template, so the health wait is generous but bounded. At the end the server gets
SIGTERM by PID, and the run fails if any sandbox made by this run is still alive.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from paddock import Sandbox

REPO = Path(__file__).resolve().parents[2]
TEST_ROOT = Path(os.environ.get("PADDOCK_TEST_ROOT", "/var/tmp/paddock-test"))
HEALTH_WAIT_S = float(os.environ.get("PADDOCK_TEST_HEALTH_WAIT_S", "600"))
RUN_ID = secrets.token_hex(4)
"""Metadata value that marks every sandbox of this run (``suite=python-<RUN_ID>``)."""


def suite_metadata(**extra: str) -> dict[str, str]:
    """Metadata for a sandbox made by this run."""
    return {"suite": f"python-{RUN_ID}", **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


@pytest.fixture(scope="session")
def server() -> Iterator[dict[str, str]]:
    """A running server; sets ``PADDOCK_URL`` / ``PADDOCK_API_KEY`` for the SDK."""
    port, key = _free_port(), f"pdk_test_{secrets.token_hex(12)}"
    TEST_ROOT.mkdir(parents=True, exist_ok=True)
    log_path = TEST_ROOT / "python-e2e-server.log"
    env = {
        **os.environ,
        "PADDOCK_CGROUP_PARENT": os.environ.get("PADDOCK_TEST_CGROUP_PARENT", "paddock-test"),
        "PADDOCK_GVISOR_POOL_SIZE": "0",
        "PADDOCK_CODE_POOL_SIZE": "0",
    }
    # Sandbox traffic never leaves the machine: no uplink, DNS asked of loopback only.
    env.setdefault("PADDOCK_EGRESS_UPLINK", "none")
    env.setdefault("PADDOCK_EGRESS_DNS", "127.0.0.1")
    # The suite's own subnet (test/support/env.ts), never a dev server's default 10.88.0.0/16.
    env["PADDOCK_SANDBOX_SUBNET"] = os.environ.get("PADDOCK_TEST_SUBNET", "10.89.0.0/16")
    argv = [
        "node", str(REPO / "packages/sdk/bin/paddock.js"), "serve",
        "--port", str(port),
        "--data-dir", str(TEST_ROOT / "data"),
        "--api-key", key,
        "--pool-size", "0",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("PADDOCK_URL", "PADDOCK_API_KEY")}
    try:
        deadline = time.monotonic() + HEALTH_WAIT_S
        while _health(url) != 200:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}; log:\n{log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not healthy within {HEALTH_WAIT_S:g} s; log: {log_path}")
            time.sleep(0.5)
        os.environ["PADDOCK_URL"], os.environ["PADDOCK_API_KEY"] = url, key
        yield {"url": url, "api_key": key}
        leaked = Sandbox.list(metadata=suite_metadata())
        for info in leaked:
            Sandbox.kill(info.id)
        assert not leaked, f"sandboxes left alive by the tests: {[i.id for i in leaked]}"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def make_sandbox(server: dict[str, str], request: pytest.FixtureRequest) -> Iterator[Callable[..., Sandbox]]:
    """Creates sandboxes (tagged with this run's metadata) and kills them all afterwards."""
    made: list[Sandbox] = []

    def make(**options: object) -> Sandbox:
        metadata = suite_metadata(test=request.node.name[:200], **dict(options.pop("metadata", {}) or {}))  # type: ignore[arg-type]
        sbx = Sandbox.create(metadata=metadata, **options)  # type: ignore[arg-type]
        made.append(sbx)
        return sbx

    yield make
    for sbx in made:
        try:
            sbx.kill()
        finally:
            sbx.close()


@pytest.fixture(scope="module")
def shared_sandbox(server: dict[str, str]) -> Iterator[Sandbox]:
    """One sandbox for a module's tests that only run commands and touch files."""
    sbx = Sandbox.create(env={"FOO": "bar"}, metadata=suite_metadata(test="shared"), timeout=1800)
    with sbx:
        yield sbx
