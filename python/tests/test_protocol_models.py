"""The hand-written parts of the SDK against the generated wire contract (paddock._protocol):
request bodies use only the schema's keys, and each dataclass reads every key of its
protocol object. No server needed; `npm run lint:python` checks that _protocol.py is current."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, get_args

import pytest

from paddock import _protocol, models
from paddock._wire import create_sandbox_body, run_command_body


def _keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__) | set(typed_dict.__optional_keys__)


def _snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel.replace("MiB", "Mib")).lower()


def test_create_body_uses_only_the_schema_keys() -> None:
    body = create_sandbox_body(
        "base", 60, 512, 1.0, 1024, 256, "gvisor", {"A": "b"}, {"k": "v"},
        on_timeout="pause", auto_resume=True, retention=3600,
        volumes=[{"name": "cache", "path": "/mnt/cache", "read_only": True}],
        secrets={"TOKEN": {"value": "x", "hosts": ["api.example.com"]}},
        network={"egress": "allowlist", "allow": ["api.example.com"]},
    )  # fmt: skip
    assert set(body) == _keys(_protocol.CreateSandboxRequest)
    volumes = body.get("volumes") or []
    assert volumes and set(volumes[0]) <= _keys(_protocol.VolumeMount)


def test_command_body_uses_only_the_schema_keys() -> None:
    body = run_command_body(["ls"], cwd="/tmp", envs={"A": "b"}, user="root", timeout=5, stdin="x")
    assert set(body) <= _keys(_protocol.RunCommandRequest)


@pytest.mark.parametrize(
    ("dataclass", "typed_dict", "not_read"),
    [
        # A sandbox's volumes are given at create; the SDKs do not report them back (yet).
        (models.SandboxInfo, _protocol.SandboxInfo, {"volumes"}),
        (models.FileInfo, _protocol.FileInfo, set()),
        (models.TemplateInfo, _protocol.TemplateInfo, set()),
    ],
)
def test_dataclasses_read_every_protocol_key(dataclass: Any, typed_dict: Any, not_read: set[str]) -> None:
    fields = {f.name for f in dataclasses.fields(dataclass)}
    wire = {_snake(key): key for key in _keys(typed_dict)}
    missing = sorted(wire[name] for name in set(wire) - fields if wire[name] not in not_read)
    assert not missing, f"{dataclass.__name__} does not read {missing} of the protocol's {typed_dict.__name__}"
    assert fields <= set(wire), f"{dataclass.__name__} has fields the protocol lacks: {sorted(fields - set(wire))}"


def test_literals_are_the_protocols() -> None:
    assert get_args(models.SandboxState) == get_args(_protocol.SandboxState)
    assert {"paused", "hibernated", "resuming"} <= set(get_args(models.SandboxState))
    assert set(get_args(_protocol.ErrorCode)) == set(_protocol.ERROR_HTTP_STATUS)
