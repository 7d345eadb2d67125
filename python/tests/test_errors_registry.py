"""The Python error classes match the protocol's registry and the TypeScript SDK's names."""

from __future__ import annotations

import builtins
import re
from pathlib import Path

import pytest

import paddock
from paddock import errors

REPO = Path(__file__).resolve().parents[2]


def _object_body(source: str, start_pattern: str) -> str:
    """The text between the `{` after `start_pattern` and its matching `}`."""
    match = re.search(start_pattern, source)
    assert match, f"{start_pattern!r} not found"
    i = source.index("{", match.end() - 1)
    depth = 0
    for j in range(i, len(source)):
        depth += {"{": 1, "}": -1}.get(source[j], 0)
        if depth == 0:
            return source[i + 1 : j]
    raise AssertionError("unbalanced braces")


def registry_codes() -> dict:
    """code -> status, parsed from packages/protocol/src/errors.ts."""
    body = _object_body((REPO / "packages/protocol/src/errors.ts").read_text(), r"export const ERROR_CODES = \{")
    # Top-level keys only: `CODE: {` followed, somewhere before the next key, by `status: N`.
    codes = {}
    for m in re.finditer(r"^\s{2}([A-Z_]+):\s*\{(.*?)\}", body, re.S | re.M):
        status = re.search(r"status:\s*(\d+)", m.group(2))
        assert status, m.group(1)
        codes[m.group(1)] = int(status.group(1))
    return codes


def ts_error_classes() -> dict:
    """code -> class name, parsed from packages/sdk/src/errors.ts's ERROR_CLASSES."""
    body = _object_body((REPO / "packages/sdk/src/errors.ts").read_text(), r"export const ERROR_CLASSES = \{")
    return dict(re.findall(r"([A-Z_]+):\s*([A-Za-z]+)", body))


def test_registry_was_parsed() -> None:
    codes = registry_codes()
    assert len(codes) >= 10 and codes["NOT_FOUND"] == 404 and codes["DISK_FULL"] == 507


def test_every_registry_code_has_a_python_class() -> None:
    missing = sorted(set(registry_codes()) - set(errors.ERROR_CLASSES))
    assert not missing, f"codes without a Python error class: {missing} (add them to paddock/errors.py)"
    extra = sorted(set(errors.ERROR_CLASSES) - set(registry_codes()))
    assert not extra, f"Python classes for codes not in the registry: {extra}"


def test_class_names_match_the_typescript_sdk() -> None:
    ts = ts_error_classes()
    assert set(ts) == set(registry_codes())
    py = {code: cls.__name__ for code, cls in errors.ERROR_CLASSES.items()}
    assert py == ts


def test_classes_are_exported_and_documented() -> None:
    for cls in errors.ERROR_CLASSES.values():
        assert getattr(paddock, cls.__name__) is cls
        assert issubclass(cls, paddock.SandboxError)
        assert cls.__doc__


@pytest.mark.parametrize("code", sorted(registry_codes()))
def test_error_from_body_maps_each_code(code: str) -> None:
    status = registry_codes()[code]
    err = errors.error_from_body({"code": code, "message": "m", "details": {"field": "x"}}, status)
    assert type(err) is errors.ERROR_CLASSES[code]
    assert (err.code, err.message, str(err), err.details, err.status) == (code, "m", "m", {"field": "x"}, status)


def test_unknown_or_missing_codes() -> None:
    assert isinstance(errors.error_from_body({"code": "NOPE", "message": "x"}, 500), paddock.InternalError)
    assert isinstance(errors.error_from_body(None, 401), paddock.AuthenticationError)
    err = errors.error_from_body("not an object", 502)
    assert isinstance(err, paddock.InternalError) and "HTTP 502" in str(err) and err.details == {}


def test_timeout_error_is_also_the_builtin() -> None:
    err = paddock.TimeoutError("TIMEOUT", "slow")
    assert isinstance(err, builtins.TimeoutError) and isinstance(err, paddock.SandboxError)
    assert str(err) == "slow"
    with pytest.raises(builtins.TimeoutError):
        raise err


def test_command_exit_error_carries_the_result() -> None:
    err = paddock.CommandExitError(3, "out", "boom", None)
    assert (err.exit_code, err.stdout, err.stderr, err.signal) == (3, "out", "boom", None)
    assert "code 3" in str(err) and "boom" in str(err)
    assert not isinstance(err, paddock.SandboxError)
