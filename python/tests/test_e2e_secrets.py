"""Secrets from Python (sync and async): the sandbox sees a placeholder, never the value."""

from __future__ import annotations

import asyncio
import re
from typing import Callable

import pytest

from paddock import AsyncSandbox, InvalidArgumentError, Sandbox
from paddock._wire import create_sandbox_body

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e

VALUE = "sk-python-secret-value-31337"
PLACEHOLDER = re.compile(r"^paddock-secret-[0-9a-f]{24}$")


def test_wire_body_carries_secrets() -> None:
    body = create_sandbox_body(secrets={"K": {"value": "v", "hosts": ("a.test", "*.b.test")}})
    assert body == {"secrets": {"K": {"value": "v", "hosts": ["a.test", "*.b.test"]}}}


def test_wire_body_carries_secret_options() -> None:
    body = create_sandbox_body(
        secrets={"K": {"value": "v", "hosts": ["a.test"], "headers": ("authorization",), "allow_insecure_http": True}}
    )
    assert body == {
        "secrets": {"K": {"value": "v", "hosts": ["a.test"], "headers": ["authorization"], "allowInsecureHttp": True}}
    }


def test_secrets_sync(server: dict[str, str], make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(secrets={"API_KEY": {"value": VALUE, "hosts": ["api.example.test"]}})
    seen = sbx.commands.run('printf %s "$API_KEY"').stdout
    assert PLACEHOLDER.match(seen), seen
    assert VALUE not in sbx.commands.run("env").stdout
    info = sbx.get_info()
    assert info.secrets == [{"name": "API_KEY", "hosts": ["api.example.test"]}]
    assert VALUE not in repr(info)


def test_secrets_async(server: dict[str, str]) -> None:
    async def main() -> None:
        sbx = await AsyncSandbox.create(
            secrets={"TOKEN": {"value": VALUE, "hosts": ["*.example.test"]}},
            metadata=suite_metadata(test="secrets-async"),
        )
        try:
            seen = (await sbx.commands.run('printf %s "$TOKEN"')).stdout
            assert PLACEHOLDER.match(seen), seen
            assert (await sbx.get_info()).secrets == [{"name": "TOKEN", "hosts": ["*.example.test"]}]
        finally:
            await sbx.kill()
            await sbx.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("secrets", "field"),
    [
        ({"K": {"value": "v", "hosts": []}}, "secrets.K.hosts"),
        ({"K": {"value": "v", "hosts": ["not a host"]}}, "secrets.K.hosts.0"),
        ({"BAD-NAME": {"value": "v", "hosts": ["a.test"]}}, "secrets.BAD-NAME"),
    ],
)
def test_secrets_bad_input(server: dict[str, str], secrets: dict[str, dict[str, object]], field: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Sandbox.create(secrets=secrets, metadata=suite_metadata(test="secrets-bad"))
    assert field in str(caught.value)
