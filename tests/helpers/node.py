"""Run Node scripts from tests/node and talk to them in JSON lines.

``NodeClient`` scripts the official ``socket.io-client`` through ``client_runner.js`` so the
integration tests can prove interoperability with the real thing. Only ``subprocess`` and
``threading`` are used: under ``gevent.monkey.patch_all()`` both become cooperative, so a
test blocked in ``wait_for`` still lets the server under test run in the same process.
Every wait has a deadline and ``close()`` always ends the child process.
"""

from __future__ import annotations

import base64
import collections
import fcntl
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import pytest

from tests.helpers.requirements import missing

NODE_DIR = Path(__file__).resolve().parent.parent / "node"

Message = dict[str, Any]
Match = str | Callable[[Message], bool]

_NPM_CI_TIMEOUT = 600.0
_HISTORY_IN_ERRORS = 20


class NodeProcessError(RuntimeError):
    """The Node process died, refused a command, or could not be started."""


def _modules_current() -> bool:
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    return marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime


def ensure_node_modules() -> str:
    """Return the ``node`` executable after making sure tests/node/node_modules is installed.

    ``npm ci`` runs under an exclusive file lock so parallel test processes do not race.
    """
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    if _modules_current():
        return node
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed and tests/node/node_modules is missing")
    with open(NODE_DIR / ".npm-install.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if not _modules_current():
                try:
                    result = subprocess.run(
                        [npm, "ci", "--no-audit", "--no-fund"],
                        cwd=NODE_DIR,
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        text=True,
                        timeout=_NPM_CI_TIMEOUT,
                    )
                except subprocess.TimeoutExpired:
                    pytest.fail(f"npm ci in {NODE_DIR} took over {_NPM_CI_TIMEOUT:.0f}s")
                if result.returncode != 0:
                    pytest.fail(
                        f"npm ci in {NODE_DIR} failed ({result.returncode}):\n"
                        f"{result.stdout}\n{result.stderr}",
                        pytrace=False,
                    )
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    return node


def encode_binary(value: Any) -> Any:
    """bytes-like values become ``{"$bin": base64}``, the runner's JSON form of a Buffer."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, list | tuple):
        return [encode_binary(v) for v in value]
    if isinstance(value, Mapping):
        return {k: encode_binary(v) for k, v in value.items()}
    return value


def decode_binary(value: Any) -> Any:
    """Inverse of ``encode_binary``: ``{"$bin": base64}`` becomes ``bytes``."""
    if isinstance(value, list):
        return [decode_binary(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("$bin"), str):
            return base64.b64decode(value["$bin"])
        return {k: decode_binary(v) for k, v in value.items()}
    return value


class NodeProcess:
    """A Node script in tests/node that reads and writes one JSON object per line.

    A reader thread collects every line; ``wait_for`` takes (and removes) the first message
    not yet taken that matches, so tests can wait for things in any order. ``messages``
    keeps the full history for assertions and error reports. ``env`` adds variables to
    the inherited environment (``DEBUG="socket.io-client:*"`` sends client logs to stderr).
    """

    def __init__(self, script: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        node = ensure_node_modules()
        self.script = script
        self.messages: list[Message] = []
        self._pending: list[Message] = []
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=200)
        self._eof = False
        self._closed = False
        self._proc = subprocess.Popen(
            [node, script, *args],
            cwd=NODE_DIR,
            env={**os.environ, **env} if env is not None else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    @property
    def stderr_text(self) -> str:
        return "".join(self._stderr)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    message = decode_binary(json.loads(line))
                except ValueError:
                    message = {"type": "_raw", "line": line}
                if not isinstance(message, dict):
                    message = {"type": "_raw", "line": line}
                with self._cond:
                    self.messages.append(message)
                    self._pending.append(message)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass  # the pipe was closed under us by close()
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                self._stderr.append(raw.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass

    def send(self, message: Mapping[str, Any]) -> None:
        """Write one JSON line; bytes anywhere in ``message`` are sent as ``$bin``."""
        data = (json.dumps(encode_binary(message)) + "\n").encode("utf-8")
        stdin = self._proc.stdin
        if self._closed or stdin is None:
            raise NodeProcessError(f"{self.script} is closed")
        with self._write_lock:
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as exc:
                detail = f"{self.script} is gone: {exc}{self._diagnostics()}"
                raise NodeProcessError(detail) from exc

    def wait_for(
        self,
        match: Match,
        id: str | None = None,
        timeout: float = 10.0,
        **fields: Any,
    ) -> Message:
        """Take the first unconsumed message matching ``match`` and return it.

        ``match`` is a message type (``"connect"``) or a predicate. ``id`` and ``fields``
        narrow it further by equality (``seq=3``). Raises ``TimeoutError`` after ``timeout``
        seconds and ``NodeProcessError`` once the process has exited with nothing matching.
        """

        def matches(message: Message) -> bool:
            if isinstance(match, str):
                if message.get("type") != match:
                    return False
            elif not match(message):
                return False
            if id is not None and message.get("id") != id:
                return False
            return all(message.get(key) == value for key, value in fields.items())

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index, message in enumerate(self._pending):
                    if matches(message):
                        del self._pending[index]
                        return message
                if self._eof:
                    raise NodeProcessError(
                        f"{self.script} exited (code {self._proc.poll()}) before a message "
                        f"matching {match!r} id={id!r} {fields}{self._diagnostics()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no message matching {match!r} id={id!r} {fields} from {self.script} "
                        f"within {timeout}s{self._diagnostics()}"
                    )
                self._cond.wait(remaining)

    def _diagnostics(self) -> str:
        recent = "\n  ".join(
            json.dumps(m, default=repr) for m in self.messages[-_HISTORY_IN_ERRORS:]
        )
        stderr = "".join(list(self._stderr)[-40:])
        return f"\nlast messages:\n  {recent}\nstderr:\n{stderr}"

    def close(self, timeout: float = 5.0) -> None:
        """Close stdin (the script's cue to exit), then kill it if it lingers. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._write_lock:
            try:
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NodeClient(NodeProcess):
    """The official socket.io-client, scripted through tests/node/client_runner.js.

    Each helper sends one command and waits until the runner has carried it out (its
    ``done`` line), raising ``NodeProcessError`` if the runner reports an error. Socket.IO
    occurrences (``connect``, ``event``, ``ack``, ``disconnect``, ``upgrade``, ...) are read
    with ``wait_for``; see client_runner.js for every message shape.
    """

    def __init__(self, start_timeout: float = 30.0, env: Mapping[str, str] | None = None) -> None:
        super().__init__("client_runner.js", env=env)
        self._seq = itertools.count(1)
        try:
            self.ready = self.wait_for("ready", timeout=start_timeout)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> NodeClient:
        return self

    def command(
        self, cmd: str, *, wait: bool = True, wait_timeout: float = 10.0, **fields: Any
    ) -> int:
        """Send ``{"cmd": cmd, "seq": N, **fields}`` and return N.

        With ``wait`` it also waits up to ``wait_timeout`` seconds for the runner's ``done``
        (or raises on its ``error``). ``fields`` go to the runner as they are.
        """
        seq = next(self._seq)
        self.send({"cmd": cmd, "seq": seq, **fields})
        if wait:
            reply = self.wait_for(
                lambda m: m.get("type") in ("done", "error") and m.get("seq") == seq,
                timeout=wait_timeout,
            )
            if reply["type"] == "error":
                raise NodeProcessError(f"{cmd} failed: {reply.get('message')}")
        return seq

    def connect(
        self,
        url: str,
        id: str = "c1",
        nsp: str = "/",
        *,
        any: bool = True,
        any_outgoing: bool = False,
        **opts: Any,
    ) -> int:
        """Create a socket (``io(url + nsp, opts)``); wait for ``connect``/``connect_error``.

        ``opts`` are socket.io-client options (transports, auth, forceNew, multiplex,
        reconnection, parser="msgpack", ...).
        """
        return self.command(
            "connect", id=id, url=url, nsp=nsp, opts=opts, any=any, any_outgoing=any_outgoing
        )

    def emit(
        self,
        id: str,
        event: str,
        *args: Any,
        ack: bool = False,
        timeout_ms: int | None = None,
        volatile: bool = False,
        compress: bool = True,
    ) -> int:
        """Emit from socket ``id``; with ``ack`` an ``ack``/``ack_error`` carrying the
        returned seq follows."""
        return self.command(
            "emit",
            id=id,
            event=event,
            args=list(args),
            ack=ack,
            timeout=timeout_ms,
            volatile=volatile,
            compress=compress,
        )

    def call(self, id: str, event: str, *args: Any, timeout: float = 10.0) -> list[Any]:
        """Emit with an ack and return the ack's args (raises on a client-side ack timeout)."""
        seq = self.emit(id, event, *args, ack=True, timeout_ms=int(timeout * 1000))
        reply = self.wait_for(
            lambda m: m.get("type") in ("ack", "ack_error"), id=id, seq=seq, timeout=timeout + 5
        )
        if reply["type"] == "ack_error":
            raise TimeoutError(f"ack for {event!r} failed: {reply.get('message')}")
        args_: list[Any] = reply["args"]
        return args_

    def on(self, id: str, event: str) -> int:
        """Report ``event`` for a socket connected with ``any=False``."""
        return self.command("on", id=id, event=event)

    def auto_ack(self, id: str, event: str, reply: list[Any] | Literal["echo"]) -> int:
        """Answer every ack request of ``event`` with ``reply`` args (or echo its args)."""
        return self.command("auto_ack", id=id, event=event, reply=reply)

    def ack_reply(self, id: str, ack_ref: int, *args: Any) -> int:
        """Answer one reported ``event`` whose message carried ``ack_ref``."""
        return self.command("ack_reply", id=id, ack_ref=ack_ref, args=list(args))

    def open(self, id: str) -> int:
        """``socket.connect()`` again after a disconnect."""
        return self.command("open", id=id)

    def disconnect(self, id: str) -> int:
        return self.command("disconnect", id=id)

    def drop(self, id: str) -> int:
        """Close the engine under the socket, as a lost transport (reconnection follows)."""
        return self.command("drop", id=id)

    def state(self, id: str, timeout: float = 10.0) -> Message:
        """``{"connected", "sid", "transport", "recovered"}`` of socket ``id``."""
        seq = self.command("state", id=id, wait=False)
        reply = self.wait_for(
            lambda m: m.get("type") in ("state", "error") and m.get("seq") == seq, timeout=timeout
        )
        if reply["type"] == "error":
            raise NodeProcessError(f"state failed: {reply.get('message')}")
        return reply

    def ping(self, timeout: float = 10.0) -> None:
        """Barrier: every command sent before has been handled by the runner."""
        seq = self.command("ping", wait=False)
        self.wait_for("pong", seq=seq, timeout=timeout)

    def close_all(self, timeout: float = 10.0) -> None:
        """Disconnect every socket but keep the runner."""
        seq = self.command("close_all", wait=False)
        self.wait_for("closed_all", seq=seq, timeout=timeout)


def start_node_script(
    script: str, *args: str, ready_type: str = "listening", timeout: float = 30.0
) -> tuple[NodeProcess, Message]:
    """Start a server script from tests/node and wait for its first ``ready_type`` line."""
    process = NodeProcess(script, *args)
    try:
        ready = process.wait_for(ready_type, timeout=timeout)
    except BaseException:
        process.close()
        raise
    return process, ready
