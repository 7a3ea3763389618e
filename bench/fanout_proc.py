"""Child processes of the fan-out benchmark and their control channel.

Each child runs ``python -m bench.fanout_child <role> ...``. The parent writes one JSON request per
line on the child's stdin (``{"id": 1, "cmd": "stats", ...}``) and the child answers one JSON
line on its stdout (``{"id": 1, "ok": true, ...}``). A child exits when its stdin closes, when its
parent dies (``PR_SET_PDEATHSIG``) or on ``{"cmd": "quit"}``; the parent kills what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from bench.cpu import self_cpu_seconds

REPO = Path(__file__).resolve().parent.parent

Handler = Callable[..., Awaitable[dict[str, Any]]]


class ChildError(RuntimeError):
    pass


# -- child side --------------------------------------------------------------------------------


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this process when its parent exits."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # parent already gone
        os._exit(1)


async def serve(handlers: dict[str, Handler]) -> None:
    """Answer the parent's requests until stdin closes or ``quit``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    tasks: set[asyncio.Task[None]] = set()

    def reply(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    async def run(request: dict[str, Any]) -> None:
        rid = request.pop("id", None)
        cmd = request.pop("cmd", "")
        try:
            if cmd == "cpu":
                result: dict[str, Any] = {}
            else:
                result = await handlers[cmd](**request)
            result.setdefault("cpu", self_cpu_seconds())
            result.setdefault("wall", time.monotonic())
            reply({"id": rid, "ok": True, **result})
        except Exception as exc:
            traceback.print_exc()
            reply({"id": rid, "ok": False, "error": f"{type(exc).__name__}: {exc}"})

    while True:
        line = await reader.readline()
        if not line:
            break
        request = json.loads(line)
        if request.get("cmd") == "quit":
            reply({"id": request.get("id"), "ok": True})
            break
        task = asyncio.ensure_future(run(request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()


# -- parent side -------------------------------------------------------------------------------


class Child:
    """One child process and its request/answer channel."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls, name: str, args: list[str], logdir: Path, env: dict[str, str] | None = None
    ) -> Child:
        log = open(logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed in close()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fanout_child",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=str(REPO),
            env={**os.environ, **(env or {})},
            limit=1 << 20,
            # Its own session, hence its own scheduler autogroup (kernel.sched_autogroup_enabled):
            # otherwise the server, the publisher and every subscriber process would share the
            # one CPU share of the benchmark's session, like threads of one program, while on a
            # shared machine every other program has its own. The parent's death still ends it
            # (PR_SET_PDEATHSIG), and close() kills what is left.
            start_new_session=True,
        )
        return cls(name, proc, log)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                continue
            future = self._waiting.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ChildError(f"{self.name} exited ({self.tail()})"))
        self._waiting.clear()

    async def request(self, cmd: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        if self.proc.returncode is not None or self._reader.done():
            raise ChildError(f"{self.name} is not running ({self.tail()})")
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        self.proc.stdin.write((json.dumps({"id": rid, "cmd": cmd, **params}) + "\n").encode())
        try:
            answer = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._waiting.pop(rid, None)
            raise ChildError(f"{self.name}: {cmd} timed out after {timeout:.0f} s") from None
        if not answer.get("ok"):
            raise ChildError(f"{self.name}: {cmd} failed: {answer.get('error')}")
        return answer

    def tail(self, lines: int = 15) -> str:
        try:
            with open(self.log.name, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    async def close(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("quit", timeout=timeout), timeout)
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        self._reader.cancel()
        self.log.close()

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
