"""The code interpreter through the Python SDK (sync and async), on real sandboxes from the
``code-interpreter`` template; skipped with the reason when set-up has not built it."""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest

from paddock import AsyncSandbox, Execution, InvalidArgumentError, NotFoundError, Result, Sandbox, Template
from paddock.errors import SandboxError

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def code_template(server: dict[str, str]) -> str:
    try:
        Template.get("code-interpreter")
    except SandboxError as err:
        pytest.skip(f"the code-interpreter template is not built ({err}); run scripts/setup.sh")
    return "code-interpreter"


def test_run_code_sync(code_template: str, make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(template=code_template, memory_mib=1024)
    sbx.run_code("x = 41")
    ex = sbx.run_code("x + 1")
    assert ex.text == "42" and ex.execution_count is not None

    seen: list[str] = []
    ex = sbx.run_code(
        "import pandas as pd\nprint('hi')\npd.DataFrame({'a': [1, None]})",
        on_stdout=lambda t: seen.append(t),
        on_result=lambda r: seen.append(",".join(r.formats)),
    )
    assert seen == ["hi\n", "text,html,data"]
    assert ex.results[0].data["rows"] == [[1.0], [None]]

    ex = sbx.run_code("import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\nplt.show()")
    chart = next(r.chart for r in ex.results if r.chart)
    assert chart["type"] == "bar"
    assert [e["value"] for e in chart["elements"]] == [1, 2]

    ex = sbx.run_code("1/0")
    assert ex.error is not None and ex.error.name == "ZeroDivisionError"
    ex = sbx.run_code("import time; time.sleep(30)", timeout=1)
    assert ex.timed_out and ex.error is not None and ex.error.name == "KeyboardInterrupt"
    assert sbx.run_code("x").text == "41"

    ctx = sbx.code_contexts.create(cwd="/tmp")
    assert sbx.run_code("import os; os.getcwd()", context=ctx).text == "'/tmp'"
    assert ctx.id in [c.id for c in sbx.code_contexts.list()]
    sbx.code_contexts.restart(ctx)
    sbx.code_contexts.remove(ctx)
    with pytest.raises(NotFoundError):
        sbx.run_code("1", context=ctx)
    with pytest.raises(InvalidArgumentError):
        sbx.run_code("1", language="cobol")

    assert sbx.run_code("[1, 2].map(x => x * 3)", language="javascript").text == "[ 3, 6 ]"
    assert sbx.run_code("echo $((6 * 7))", language="bash").logs.stdout == ["42\n"]


def test_run_code_env(code_template: str, make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(template=code_template, memory_mib=1024, env={"SBX_VAR": "from create"})
    assert sbx.run_code("import os; os.environ['SBX_VAR']").text == "'from create'"
    assert sbx.run_code("os.environ['RUN_VAR']", env={"RUN_VAR": "once"}).text == "'once'"
    assert sbx.run_code("str(os.environ.get('RUN_VAR'))").text == "'None'"


def test_run_code_async(code_template: str, server: dict[str, str]) -> None:
    async def main() -> None:
        sbx = await AsyncSandbox.create(
            template=code_template, memory_mib=1024, metadata=suite_metadata(test="code-async")
        )
        async with sbx:
            results: list[Result] = []

            async def on_result(r: Result) -> None:
                results.append(r)

            await sbx.run_code("y = 2")
            ex: Execution = await sbx.run_code("y * 21", on_result=on_result)
            assert ex.text == "42" and results[0].is_main_result
            a, b = await asyncio.gather(sbx.code_contexts.create(), sbx.code_contexts.create())
            await sbx.run_code("v = 'a'", context=a)
            assert (await sbx.run_code("v", context=b)).error.name == "NameError"  # type: ignore[union-attr]
            await sbx.code_contexts.remove(a)
            await sbx.code_contexts.remove(b)

    asyncio.run(main())
