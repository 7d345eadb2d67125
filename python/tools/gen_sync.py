#!/usr/bin/env python3
"""Generates the sync SDK (``paddock/sandbox_sync/``) from the async one (``sandbox_async/``).

In the spirit of the ``unasync`` project, it rewrites tokens, never text at large:
``async def``/``async with``/``async for`` lose ``async``, ``await`` goes, and names follow
:data:`NAMES` and two prefix rules (``AsyncX`` -> ``X``, ``async_x`` -> ``x``). Docstrings and
comments get the same renames, so examples read right in both packages. Where the two SDKs
genuinely differ (tasks against threads, awaiting callbacks), the difference lives in small
hand-written modules outside both packages with an async half and a sync half
(``_background.py``, ``_callbacks.py``, ``_lazy_open.py``, ``async_upload_body`` and
``upload_body`` in ``_files_common.py``, ...), and the renames pick the right half.

    python3 python/tools/gen_sync.py            # rewrite sandbox_sync/
    python3 python/tools/gen_sync.py --check    # exit 1 naming each file that differs
"""

from __future__ import annotations

import io
import keyword
import re
import sys
import tokenize
from pathlib import Path
from typing import Optional

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "paddock"
SOURCE, TARGET = PACKAGE / "sandbox_async", PACKAGE / "sandbox_sync"

NAMES: dict[str, str] = {
    # Protocols and builtins.
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
    "asynccontextmanager": "contextmanager",
    # httpx's async spellings.
    "aclose": "close",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    # The package itself, and twins whose sync name is not the bare one.
    "sandbox_async": "sandbox_sync",
    "AsyncTransport": "SyncTransport",
    "AsyncStateMixin": "SyncStateMixin",
}
"""Explicit renames; anything else named ``AsyncX`` becomes ``X`` and ``async_x`` becomes ``x``."""

ASYNCIO_TWINS: dict[str, str] = {"Lock": "threading.Lock"}
"""The asyncio primitives a generated module may use, and their threading twins. Anything
else of asyncio belongs in a hand-written pair module (see ``_background.py``)."""

HEADER = "# Generated from sandbox_async/{name} by python/tools/gen_sync.py — do not edit\n"

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AWAITED_GROUP = re.compile(r"\(await\s+([A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\))\)(?=[.\[])")
_TEXT_KEYWORDS = re.compile(r"\bawait\s+|\basync\s+(?=(?:def|with|for)\b)")


class GenerationError(Exception):
    """The async source uses something that has no sync twin."""


def rename(name: str) -> str:
    """The sync name of an async name."""
    if name in NAMES:
        return NAMES[name]
    if re.fullmatch(r"Async[A-Z]\w*", name):
        return name[len("Async") :]
    if re.fullmatch(r"async_\w+", name):
        return name[len("async_") :]
    return name


def rewrite_text(text: str) -> str:
    """Docstrings, other strings and comments: the same renames, and no ``await``/``async``
    (``(await sbx.get_info()).state`` in an example becomes ``sbx.get_info().state``)."""
    text = _AWAITED_GROUP.sub(r"\1", text)
    return _WORD.sub(lambda m: rename(m.group(0)), _TEXT_KEYWORDS.sub("", text))


class _Source:
    """A module's tokens with their offsets in its text, and the edits made to it."""

    def __init__(self, text: str, where: str) -> None:
        self.text, self.where = text, where
        starts = [0]
        for line in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        self._line_starts = starts
        significant = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
        self.tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in significant]
        self.edits: list[tuple[int, int, str]] = []

    def offset(self, position: tuple[int, int]) -> int:
        return self._line_starts[position[0] - 1] + position[1]

    def replace(self, index: int, text: str) -> None:
        token = self.tokens[index]
        self.edits.append((self.offset(token.start), self.offset(token.end), text))

    def remove_with_space(self, index: int) -> None:
        """Removes a token and the blanks up to the next token on its line."""
        start, end = self.offset(self.tokens[index].start), self.offset(self.tokens[index].end)
        while end < len(self.text) and self.text[end] in " \t":
            end += 1
        self.edits.append((start, end, ""))

    def result(self) -> str:
        out = self.text
        for start, end, text in sorted(self.edits, reverse=True):
            out = out[:start] + text + out[end:]
        return out


def _matching_close(tokens: list[tokenize.TokenInfo], open_index: int) -> int:
    depth = 0
    for i in range(open_index, len(tokens)):
        if tokens[i].string in "([{" and tokens[i].type == tokenize.OP:
            depth += 1
        elif tokens[i].string in ")]}" and tokens[i].type == tokenize.OP:
            depth -= 1
            if depth == 0:
                return i
    raise GenerationError("unbalanced brackets")


def _redundant_parens(tokens: list[tokenize.TokenInfo], await_index: int) -> Optional[tuple[int, int]]:
    """For ``(await x.y(z))``: the parens' indexes when, without ``await``, they group only a
    name with its attributes, calls and subscripts (so dropping them changes nothing)."""
    if await_index < 1 or tokens[await_index - 1].string != "(":
        return None
    before = tokens[await_index - 2] if await_index >= 2 else None
    if before is not None and (
        before.string in (")", "]")
        or before.type == tokenize.STRING
        or (before.type == tokenize.NAME and not keyword.iskeyword(before.string))
    ):
        return None  # a call's parentheses, not a group
    close = _matching_close(tokens, await_index - 1)
    i = await_index + 1
    if tokens[i].type != tokenize.NAME:
        return None
    i += 1
    while i < close:
        if tokens[i].string == "." and tokens[i + 1].type == tokenize.NAME:
            i += 2
        elif tokens[i].string in ("(", "["):
            i = _matching_close(tokens, i) + 1
        else:
            return None
    return await_index - 1, close


def unasync(text: str, where: str) -> str:
    """The sync module for an async module's text."""
    source = _Source(text, where)
    tokens = source.tokens
    for i, token in enumerate(tokens):
        line = f"{where}:{token.start[0]}"
        following = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if token.type == tokenize.NAME and token.string == "async":
            if following not in ("def", "with", "for"):
                raise GenerationError(f"{line}: `async` before {following!r}")
            source.remove_with_space(i)
        elif token.type == tokenize.NAME and token.string == "await":
            source.remove_with_space(i)
            parens = _redundant_parens(tokens, i)
            if parens is not None:
                source.replace(parens[0], "")
                source.replace(parens[1], "")
        elif token.type == tokenize.NAME and token.string == "asyncio":
            previous = tokens[i - 1].string if i else ""
            if previous == "import" and following != ".":
                source.replace(i, "threading")
            elif following == "." and tokens[i + 2].string in ASYNCIO_TWINS:
                source.edits.append(
                    (source.offset(token.start), source.offset(tokens[i + 2].end), ASYNCIO_TWINS[tokens[i + 2].string])
                )
            else:
                what = tokens[i + 2].string if following == "." else "asyncio"
                raise GenerationError(
                    f"{line}: asyncio.{what} has no sync twin here; move it into a hand-written pair module"
                )
        elif token.type == tokenize.NAME:
            renamed = rename(token.string)
            if renamed != token.string:
                source.replace(i, renamed)
        elif token.type in (tokenize.STRING, tokenize.COMMENT) or token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            rewritten = rewrite_text(token.string)
            if rewritten != token.string:
                source.replace(i, rewritten)
    return source.result()


def generated() -> dict[Path, str]:
    """Each sync module's path and the text it must have."""
    out = {}
    for path in sorted(SOURCE.glob("*.py")):
        where = f"{path.relative_to(PACKAGE.parent.parent.parent)}"
        out[TARGET / path.name] = HEADER.format(name=path.name) + unasync(path.read_text(), where)
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    try:
        wanted = generated()
    except GenerationError as exc:
        print(f"gen_sync: {exc}", file=sys.stderr)
        return 2
    stale = [p for p in sorted(TARGET.glob("*.py")) if p not in wanted]
    differing = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if not check:
        for path in differing:
            path.write_text(wanted[path])
        for path in stale:
            path.unlink()
        return 0
    root = PACKAGE.parent.parent.parent
    for path in differing:
        print(f"{path.relative_to(root)}: differs from what python/tools/gen_sync.py generates", file=sys.stderr)
    for path in stale:
        print(f"{path.relative_to(root)}: has no source in sandbox_async/", file=sys.stderr)
    if differing or stale:
        print("gen_sync: the sync SDK is out of date; run `npm run gen:python`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
