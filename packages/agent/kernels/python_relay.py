"""Relay between the Paddock agent and one ipykernel.

Run by the agent with the template's python3 (any template with python3, ipykernel and
jupyter_client works). Requests arrive as JSON lines on stdin:
  {"type": "execute", "code": "..."}   {"type": "interrupt"}
Events leave as JSON lines on fd 3 (stdout stays free for stray prints):
  ready | stdout | stderr | result | exception | end | died
The kernel is a real ipykernel (IPython semantics: magics, display(), last expression
shown), driven through jupyter_client over loopback ZMQ inside the sandbox.
"""

import json
import os
import queue
import re
import sys
import threading

from jupyter_client.manager import KernelManager

HERE = os.path.dirname(os.path.abspath(__file__))
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Jupyter MIME types → fields of Paddock's CodeResult.
MIME_FIELDS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
    "application/vnd.paddock.data+json": "data",
    "application/vnd.paddock.chart+json": "chart",
}
POLL_S = 0.2
# The kernel caps its own output (paddock_display.py); this is the relay's backstop.
OUTPUT_CAP = int(os.environ.get("PADDOCK_OUTPUT_CAP_BYTES", str(8 * 1048576))) + 65536

events_out = os.fdopen(3, "wb", buffering=0)
write_lock = threading.Lock()


def emit(event):
    line = (json.dumps(event, ensure_ascii=False, allow_nan=False, default=str) + "\n").encode()
    with write_lock:
        events_out.write(line)


def to_result(bundle, is_main):
    result = {"isMainResult": is_main}
    extra = {}
    for mime, value in bundle.items():
        field = MIME_FIELDS.get(mime)
        if field is None:
            extra[mime] = value
        elif field == "svg" and isinstance(value, list):
            result[field] = "".join(value)
        else:
            result[field] = value.strip() if field == "png" and isinstance(value, str) else value
    if extra:
        result["extra"] = extra
    return result


class Kernel:
    def __init__(self):
        self.km = None
        self.kc = None
        self.lock = threading.Lock()

    def start(self):
        km = KernelManager(kernel_name="python3")
        # The agent's env already names the user's HOME, PATH and MPLBACKEND; the kernel runs
        # in the relay's cwd. `--HistoryManager.enabled=False`: no sqlite history per kernel.
        km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"], cwd=os.getcwd())
        kc = km.blocking_client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        with self.lock:
            self.km, self.kc = km, kc
        # The kernel runs in its own session; the agent kills it by pid if the relay dies.
        process = getattr(getattr(km, "provisioner", None), "process", None) or km.kernel
        emit({"type": "pid", "pid": process.pid})
        startup = os.path.join(HERE, "paddock_display.py")
        self.run_silent(f"exec(compile(open({startup!r}).read(), {startup!r}, 'exec'))")

    def run_silent(self, code):
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        reply = self.kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=60)
        if reply["content"].get("status") != "ok":
            emit({"type": "log", "message": "kernel startup code failed: " + reply["content"].get("evalue", "")})

    def alive(self):
        return self.km is not None and self.km.is_alive()

    def interrupt(self):
        with self.lock:
            km = self.km
        if km is not None:
            try:
                km.interrupt_kernel()
            except Exception:
                pass

    def shutdown(self):
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass
        self.km = self.kc = None

    def execute(self, code, output_cap):
        """Runs one cell and emits its events; returns the end event."""
        kc = self.kc
        # Replies of earlier cells (their iopub `idle` ended them): dropped without waiting.
        while True:
            try:
                kc.get_shell_msg(timeout=0)
            except queue.Empty:
                break
        msg_id = kc.execute(code, store_history=True, allow_stdin=False)
        sent = 0
        truncated = False
        count = None
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=POLL_S)
            except queue.Empty:
                if not self.km.is_alive():
                    return self.died()
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "stream":
                text = content.get("text", "")
                if truncated:
                    continue
                size = len(text.encode("utf-8", "replace"))
                if sent + size > output_cap:
                    keep = text.encode("utf-8", "replace")[: max(0, output_cap - sent)].decode("utf-8", "ignore")
                    if keep:
                        emit({"type": content.get("name", "stdout"), "text": keep})
                    emit({"type": "stderr", "text": f"\n[paddock: output truncated after {output_cap} bytes]\n"})
                    truncated = True
                    continue
                sent += size
                if "[paddock: output truncated" in text:
                    truncated = True
                emit({"type": "stderr" if content.get("name") == "stderr" else "stdout", "text": text})
            elif kind in ("display_data", "update_display_data"):
                emit({"type": "result", "result": to_result(content.get("data", {}), False)})
            elif kind == "execute_result":
                emit({"type": "result", "result": to_result(content.get("data", {}), True)})
            elif kind == "error":
                traceback = "\n".join(ANSI.sub("", line) for line in content.get("traceback", []))
                emit(
                    {
                        "type": "exception",
                        "error": {"name": content.get("ename", ""), "value": content.get("evalue", ""), "traceback": traceback},
                    }
                )
            elif kind == "execute_input":
                count = content.get("execution_count", count)
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        end = {"type": "end", "executionCount": count}
        if truncated:
            end["truncated"] = True
        return end

    def died(self):
        code = None
        try:
            process = getattr(getattr(self.km, "provisioner", None), "process", None) or self.km.kernel
            code = process.poll()
        except Exception:
            pass
        why = "killed by SIGKILL (out of memory?)" if code == -9 else f"exit status {code}"
        emit(
            {
                "type": "exception",
                "error": {
                    "name": "KernelDied",
                    "value": f"the Python kernel died ({why}); its state is lost and a new kernel starts on the next run",
                    "traceback": "",
                },
            }
        )
        self.shutdown()
        return {"type": "end", "executionCount": None}


def main():
    kernel = Kernel()
    requests = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            try:
                request = json.loads(line)
            except ValueError:
                continue
            if request.get("type") == "interrupt":
                kernel.interrupt()
            else:
                requests.put(request)
        requests.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        kernel.start()
    except Exception as err:  # noqa: BLE001 - any start failure is reported to the agent
        emit({"type": "failed", "message": f"{type(err).__name__}: {err}"})
        return
    emit({"type": "ready"})
    while True:
        request = requests.get()
        if request is None:
            break
        if not kernel.alive():
            kernel.shutdown()
            kernel.start()
        emit(kernel.execute(request.get("code", ""), OUTPUT_CAP))
    kernel.shutdown()


if __name__ == "__main__":
    main()
