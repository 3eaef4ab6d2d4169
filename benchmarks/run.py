#!/usr/bin/env python3
"""Benchmarks: sockio-wsgi against its peers, every scenario, one command.

    python benchmarks/run.py                          # every scenario, every server
    python benchmarks/run.py --scenario broadcast --only sockio-wsgi,python-socketio
    python benchmarks/run.py --rounds 1 --duration 2  # a quick smoke run

It installs what it needs (the peers' Python packages into this environment when
missing, `npm ci` in benchmarks/ for the Node load generators and the Node
socket.io server), then for each scenario starts each server pinned to one core
and drives it from a Node load generator pinned to the other core. Rounds are
interleaved (round 1: A, B, C; round 2: A, B, C; ...) and the report gives
medians over rounds. Each scenario writes benchmarks/results/<scenario>.json
(everything, raw) and benchmarks/results/<scenario>.md (summary table);
benchmarks/RESULTS.md combines every scenario found in results/ with the
machine description and the targets.

This is run on demand only; it is not part of the test suite and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVERS_DIR = HERE / "servers"
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
REFERENCE = "python-socketio"
NODE_REF = "node-socket.io"
OURS = ("sockio-wsgi", "sockio-flask")

READY_TIMEOUT = 30.0
NPM_TIMEOUT = 300.0
PIP_TIMEOUT = 300.0
STOP_TIMEOUT = 5.0
NOFILE_WANTED = 65536
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def py(script: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, str(SERVERS_DIR / script), "--port", str(port)]


def node(script: str) -> Callable[[int], list[str]]:
    return lambda port: ["node", str(SERVERS_DIR / script), "--port", str(port)]


# name -> argv builder, description, pip requirements (distribution, specifier, major)
SERVERS: dict[str, dict[str, Any]] = {
    "sockio-wsgi": {
        "argv": py("sockio_plain.py"),
        "description": "ours: sockio_wsgi.Server + WSGIApp on sockio_wsgi.make_server "
        "(gevent pywsgi, our wsproto WebSocket handler)",
        "pip": [],
    },
    "sockio-flask": {
        "argv": py("sockio_flask.py"),
        "description": "ours through the Flask extension: flask_ext.SocketIO(app) on "
        "sockio_wsgi.make_server",
        "pip": [("Flask", "", None)],
    },
    "python-socketio": {
        "argv": py("python_socketio_gevent.py"),
        "description": "python-socketio Server(async_mode='gevent') + WSGIApp on gevent pywsgi "
        "with geventwebsocket's WebSocketHandler",
        "pip": [("python-socketio", ">=5,<6", 5), ("gevent-websocket", "", None)],
    },
    "flask-socketio": {
        "argv": py("flask_socketio_gevent.py"),
        "description": "Flask-SocketIO SocketIO(app, async_mode='gevent') on gevent pywsgi "
        "with geventwebsocket's WebSocketHandler",
        "pip": [
            ("Flask-SocketIO", ">=5,<6", 5),
            ("python-socketio", ">=5,<6", 5),
            ("gevent-websocket", "", None),
        ],
    },
    "node-socket.io": {
        "argv": node("node_socketio.js"),
        "description": "the official Node socket.io 4.x server (benchmarks/package-lock.json)",
        "pip": [],
    },
}
CALIBRATION: dict[str, Any] = {
    "name": "loadgen-ceiling",
    "argv": node("node_ws_stub.js"),
    "description": "calibration only: a minimal Node ws stub (not Socket.IO) that answers "
    "acks and relays broadcasts; shows the load generator's own ceiling",
}


# ---------------------------------------------------------------- scenarios


@dataclass
class Column:
    key: str
    header: str
    digits: int = 1


@dataclass
class Target:
    """A goal for our servers; reported, never asserted."""

    metric: str
    kind: str  # "ratio>=", "ratio<=" (vs python-socketio), "node>=" (ratio vs Node), "abs<="
    value: float
    text: str


@dataclass
class Scenario:
    name: str
    title: str
    loadgen: str
    argv: Callable[[dict[str, Any], int], list[str]]
    timeout: Callable[[dict[str, Any]], float]
    metrics: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    describe: Callable[[dict[str, Any]], str]
    columns: list[Column]
    ratio_keys: dict[str, str]  # metric -> column header of its ratio to python-socketio
    targets: list[Target] = field(default_factory=list)
    calibrate: bool = False
    cpu_window: tuple[str, str] = ("measure-start", "measure-end")
    lower_is_better: tuple[str, ...] = ()


def ws_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"


def _timed(cfg: dict[str, Any]) -> list[str]:
    return ["--duration", str(cfg["duration"]), "--warmup", str(cfg["warmup"])]


def _latency(lg: dict[str, Any], key: str = "latency_ms") -> dict[str, Any]:
    return {"p50_ms": lg[key]["p50"], "p99_ms": lg[key]["p99"]}


def echo_metrics(lg: dict[str, Any], _: dict[str, Any]) -> dict[str, Any]:
    return {"acks_per_s": lg["acks_per_s"], **_latency(lg)}


def binary_metrics(lg: dict[str, Any], _: dict[str, Any]) -> dict[str, Any]:
    return {"acks_per_s": lg["acks_per_s"], "mib_per_s": lg["mib_per_s"], **_latency(lg)}


def broadcast_metrics(lg: dict[str, Any], _: dict[str, Any]) -> dict[str, Any]:
    return {
        "deliveries_per_s": lg["deliveries_per_s"],
        "broadcasts_per_s": lg["broadcasts_per_s"],
        **_latency(lg),
    }


def polling_metrics(lg: dict[str, Any], _: dict[str, Any]) -> dict[str, Any]:
    return {
        "acks_per_s": lg["acks_per_s"],
        "http_requests_per_s": lg["http_requests_per_s"],
        **_latency(lg),
    }


def connection_metrics(lg: dict[str, Any], marks: dict[str, Any]) -> dict[str, Any]:
    base = (marks.get("baseline") or {}).get("rss_kib")
    full = (marks.get("connected") or {}).get("rss_kib")
    per_conn = None
    if base is not None and full is not None:
        per_conn = round((full - base) / lg["clients"], 2)
    return {
        "connections_per_s": lg["connections_per_s"],
        "p50_ms": lg["handshake_ms"]["p50"],
        "p99_ms": lg["handshake_ms"]["p99"],
        "kib_per_conn": per_conn,
        "rss_baseline_mb": round(base / 1024, 1) if base is not None else None,
        "rss_connected_mb": round(full / 1024, 1) if full is not None else None,
    }


CPU_COLUMNS = [Column("server_cpu_pct", "server CPU %"), Column("loadgen_cpu_pct", "loadgen CPU %")]

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            name="echo_ack",
            title="Echo with ack",
            loadgen="loadgen.js",
            argv=lambda c, port: [
                "--url",
                ws_url(port),
                "--clients",
                str(c["clients"]),
                *_timed(c),
                "--payload",
                c["payload"],
            ],
            timeout=lambda c: c["warmup"] + c["duration"] + 60,
            metrics=echo_metrics,
            describe=lambda c: (
                f"{c['clients']} WebSocket clients, each in a closed loop: emit `echo` with an "
                f"ack (payload `{c['payload']}`), wait for the ack, repeat. Measures the cost per "
                "message: parsing, dispatch, ack encoding, framing."
            ),
            columns=[
                Column("acks_per_s", "acks/s", 0),
                Column("p50_ms", "p50 ms", 2),
                Column("p99_ms", "p99 ms", 2),
                *CPU_COLUMNS,
            ],
            ratio_keys={"acks_per_s": "vs python-socketio"},
            targets=[Target("acks_per_s", "ratio>=", 3.0, "acks/s ≥ 3x python-socketio")],
            calibrate=True,
        ),
        Scenario(
            name="broadcast",
            title="Broadcast fan-out",
            loadgen="loadgen_broadcast.js",
            argv=lambda c, port: [
                "--url",
                ws_url(port),
                "--clients",
                str(c["clients"]),
                *_timed(c),
                "--window",
                str(c["window"]),
            ],
            timeout=lambda c: c["warmup"] + c["duration"] + 60 + 15,
            metrics=broadcast_metrics,
            describe=lambda c: (
                f"{c['clients']} WebSocket clients connected; one of them emits `bcast` and the "
                "server emits it to every client (the sender included). At most "
                f"{c['window']} broadcasts are in flight: the next is sent when a broadcast has "
                "reached all clients. Deliveries/s counts messages received by the clients; "
                "latency is from the sender's emit to each client's receipt."
            ),
            columns=[
                Column("deliveries_per_s", "deliveries/s", 0),
                Column("broadcasts_per_s", "broadcasts/s", 1),
                Column("p50_ms", "p50 ms", 2),
                Column("p99_ms", "p99 ms", 2),
                *CPU_COLUMNS,
            ],
            ratio_keys={"deliveries_per_s": "vs python-socketio"},
            targets=[
                Target("deliveries_per_s", "ratio>=", 2.0, "deliveries/s ≥ 2x python-socketio"),
                Target("deliveries_per_s", "node>=", 1 / 1.1, "deliveries/s within 1.1x of Node"),
            ],
            calibrate=True,
        ),
        Scenario(
            name="connections",
            title="Connection setup rate and idle memory",
            loadgen="loadgen_connect.js",
            argv=lambda c, port: [
                "--url",
                ws_url(port),
                "--clients",
                str(c["clients"]),
                "--concurrency",
                str(c["concurrency"]),
            ],
            timeout=lambda c: 30 + 120 + 15,
            metrics=connection_metrics,
            describe=lambda c: (
                f"{c['clients']} WebSocket clients connect, at most {c['concurrency']} "
                "handshakes in flight (after a warm-up of 50 that connect and leave). "
                "Connections/s: completed Socket.IO CONNECTs (TCP, upgrade, Engine.IO open, "
                "`40` -> `40{sid}`) per second; p50/p99 is one handshake's time. KiB/conn: the "
                "server's VmRSS once all are connected and idle for 2 s, minus VmRSS before, "
                "divided by the number of connections. Server CPU is over the connect phase."
            ),
            columns=[
                Column("connections_per_s", "connections/s", 0),
                Column("p50_ms", "p50 ms", 1),
                Column("p99_ms", "p99 ms", 1),
                Column("kib_per_conn", "KiB/conn", 1),
                Column("rss_baseline_mb", "RSS before MB", 1),
                Column("rss_connected_mb", "RSS connected MB", 1),
                *CPU_COLUMNS,
            ],
            ratio_keys={
                "connections_per_s": "setup vs python-socketio",
                "kib_per_conn": "memory vs python-socketio",
            },
            targets=[
                Target(
                    "kib_per_conn", "ratio<=", 0.3, "memory per connection ≤ 0.3x python-socketio"
                ),
                Target("kib_per_conn", "abs<=", 16.0, "memory per connection ≤ 16 KiB"),
                Target(
                    "connections_per_s", "ratio>=", 2.0, "connection setup ≥ 2x python-socketio"
                ),
            ],
            cpu_window=("connect-start", "connect-end"),
            lower_is_better=("kib_per_conn",),
        ),
        Scenario(
            name="polling_echo",
            title="Polling echo",
            loadgen="loadgen_polling.js",
            argv=lambda c, port: [
                "--url",
                f"http://127.0.0.1:{port}/socket.io/",
                "--clients",
                str(c["clients"]),
                *_timed(c),
                "--payload",
                c["payload"],
            ],
            timeout=lambda c: c["warmup"] + c["duration"] + 60,
            metrics=polling_metrics,
            describe=lambda c: (
                f"{c['clients']} clients on HTTP long-polling only (raw Engine.IO over keep-alive "
                "HTTP/1.1), each with one GET always pending, in a closed loop: POST "
                f'`42<id>["echo",{c["payload"]}]`, the pending GET returns the ack, repeat. '
                "Measures the per-request cost of the polling transport."
            ),
            columns=[
                Column("acks_per_s", "acks/s", 0),
                Column("http_requests_per_s", "HTTP req/s", 0),
                Column("p50_ms", "p50 ms", 2),
                Column("p99_ms", "p99 ms", 2),
                *CPU_COLUMNS,
            ],
            ratio_keys={"acks_per_s": "vs python-socketio"},
            targets=[Target("acks_per_s", "ratio>=", 10.0, "acks/s ≥ 10x python-socketio")],
        ),
        Scenario(
            name="binary_echo",
            title="64 KiB binary echo",
            loadgen="loadgen.js",
            argv=lambda c, port: [
                "--url",
                ws_url(port),
                "--clients",
                str(c["clients"]),
                *_timed(c),
                "--binary-size",
                str(c["binary_size"]),
            ],
            timeout=lambda c: c["warmup"] + c["duration"] + 60,
            metrics=binary_metrics,
            describe=lambda c: (
                f"{c['clients']} WebSocket clients, each in a closed loop: emit `echo` with one "
                f"{c['binary_size']}-byte binary attachment and an ack; the ack carries the bytes "
                "back (checked byte for byte). Measures WebSocket framing and binary packet cost."
            ),
            columns=[
                Column("acks_per_s", "acks/s", 0),
                Column("mib_per_s", "MiB/s each way", 1),
                Column("p50_ms", "p50 ms", 2),
                Column("p99_ms", "p99 ms", 2),
                *CPU_COLUMNS,
            ],
            ratio_keys={"acks_per_s": "vs python-socketio"},
        ),
    ]
}

DEFAULT_CLIENTS = {
    "echo_ack": 50,
    "broadcast": 1000,
    "connections": 5000,
    "polling_echo": 20,
    "binary_echo": 20,
}


def scenario_config(name: str, args: argparse.Namespace) -> dict[str, Any]:
    clients = getattr(args, f"{name}_clients", None) or args.clients or DEFAULT_CLIENTS[name]
    cfg: dict[str, Any] = {"clients": clients, "rounds": args.rounds}
    if name != "connections":
        cfg.update(duration=args.duration, warmup=args.warmup)
    if name in ("echo_ack", "polling_echo"):
        cfg["payload"] = args.payload
    if name == "broadcast":
        cfg["window"] = args.bcast_window
    if name == "connections":
        cfg["concurrency"] = args.connect_concurrency
    if name == "binary_echo":
        cfg["binary_size"] = args.binary_size
    return cfg


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; it is enclosed in parentheses
    fields = data[data.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 overall
    return (utime + stime) / CLK_TCK


def cores_steal_ticks() -> dict[int, int]:
    """Per-core 'steal' ticks from /proc/stat (time a VM's vCPU waited for the host)."""
    out: dict[int, int] = {}
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("cpu") and line[3:4].isdigit():
                f = line.split()
                out[int(f[0][3:])] = int(f[8]) if len(f) > 8 else 0
    except (OSError, ValueError):
        pass
    return out


def proc_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def run_text(argv: list[str], timeout: float = 20.0, cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def pin(core: int | None, argv: list[str]) -> list[str]:
    if core is None:
        return argv
    return ["taskset", "-c", str(core), *argv]


def raise_nofile_limit() -> tuple[int, int]:
    """Raise RLIMIT_NOFILE (inherited by every child) for the many-client scenarios."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, NOFILE_WANTED)
    if hard != resource.RLIM_INFINITY and hard < want:
        with contextlib.suppress(ValueError, OSError):  # raising the hard limit needs root
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want, want
        want = hard
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class LineReader(threading.Thread):
    """Drains a pipe line by line; calls on_line for each; keeps a tail."""

    def __init__(
        self, stream: IO[str] | None, on_line: Callable[[str], None] | None = None, keep: int = 200
    ) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.on_line = on_line
        self.keep = keep
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        if self.stream is None:
            return
        try:
            for raw in iter(self.stream.readline, ""):
                line = raw.rstrip("\n")
                with self.lock:
                    self.lines.append(line)
                    if len(self.lines) > self.keep:
                        del self.lines[: len(self.lines) - self.keep]
                if self.on_line is not None:
                    self.on_line(line)
        except (OSError, ValueError):
            pass

    def tail(self, n: int = 20) -> str:
        with self.lock:
            return "\n".join(self.lines[-n:])


# ---------------------------------------------------------------- server process


def child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


class ServerProcess:
    def __init__(self, argv: list[str], core: int | None) -> None:
        self.argv = pin(core, argv)
        self.ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        self.out: LineReader | None = None
        self.err: LineReader | None = None

    def _on_stdout(self, line: str) -> None:
        if line.startswith("READY"):
            self.ready.set()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=child_env(),
            start_new_session=True,  # its own process group, so we stop only what we started
        )
        self.out = LineReader(self.proc.stdout, self._on_stdout)
        self.err = LineReader(self.proc.stderr)
        self.out.start()
        self.err.start()

    def wait_ready(self, timeout: float) -> str | None:
        """None when READY was seen, else an error message."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.05):
                return None
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the readers collect the last output
                return f"server exited with code {self.proc.returncode} before READY"
        return f"server printed no READY within {timeout:.0f}s"

    def output_tail(self) -> str:
        parts = []
        if self.err and self.err.tail():
            parts.append(self.err.tail(25))
        if self.out and self.out.tail():
            parts.append("stdout: " + self.out.tail(5))
        return "\n".join(parts)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the group id is the child's pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                continue


# ---------------------------------------------------------------- one measurement


def run_one(
    scenario: Scenario,
    cfg: dict[str, Any],
    name: str,
    argv_for_port: Callable[[int], list[str]],
    server_core: int | None,
    loadgen_core: int | None,
) -> dict[str, Any]:
    port = free_port()
    result: dict[str, Any] = {"server": name, "ok": False, "error": None, "port": port}
    server = ServerProcess(argv_for_port(port), server_core)
    lg: subprocess.Popen[str] | None = None
    try:
        try:
            server.start()
        except OSError as exc:
            result["error"] = f"could not start server: {exc}"
            return result
        err = server.wait_ready(READY_TIMEOUT)
        if err is not None:
            tail = server.output_tail()
            last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "")
            result["error"] = f"{err}: {last}" if last else err
            result["server_output"] = tail
            return result

        lg_argv = pin(
            loadgen_core, ["node", str(HERE / scenario.loadgen), *scenario.argv(cfg, port)]
        )
        marks: dict[str, dict[str, Any]] = {}

        def on_loadgen_stderr(line: str) -> None:
            if line.startswith("# mark "):
                marks[line[7:].strip()] = {
                    "t": time.monotonic(),
                    "cpu_s": proc_cpu_seconds(server.pid),
                    "rss_kib": proc_rss_kib(server.pid),
                    "steal": cores_steal_ticks(),
                }

        timeout = scenario.timeout(cfg)
        lg = subprocess.Popen(
            lg_argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
            env=child_env(),
            start_new_session=True,
        )
        out_reader = LineReader(lg.stdout)
        err_reader = LineReader(lg.stderr, on_loadgen_stderr)
        out_reader.start()
        err_reader.start()
        try:
            lg.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(lg.pid, signal.SIGKILL)
            lg.wait(5)
            result["error"] = f"load generator did not finish within {timeout:.0f}s"
            return result
        out_reader.join(5)
        err_reader.join(5)

        lines = [ln for ln in out_reader.lines if ln.startswith("{")]
        if not lines:
            result["error"] = (
                f"load generator printed no result (exit {lg.returncode}): {err_reader.tail(10)}"
            )
            return result
        lgres = json.loads(lines[-1])
        result["loadgen"] = lgres
        result["marks"] = {
            k: {"rss_kib": v["rss_kib"], "cpu_s": v["cpu_s"]} for k, v in marks.items()
        }
        result["server_rss_mb_end"] = round((proc_rss_kib(server.pid) or 0) / 1024, 1) or None
        if server.proc is not None and server.proc.poll() is not None:
            result["error"] = f"server died during the run (exit {server.proc.returncode})"
            result["server_output"] = server.output_tail()
            return result
        if not lgres.get("ok"):
            result["error"] = f"load generator reported: {lgres.get('error')}"
            result["server_output"] = server.output_tail()
            return result

        start, end = marks.get(scenario.cpu_window[0]), marks.get(scenario.cpu_window[1])
        server_cpu_pct = None
        if start and end and end["t"] > start["t"]:
            wall = end["t"] - start["t"]
            if start["cpu_s"] is not None and end["cpu_s"] is not None:
                server_cpu_pct = round(100.0 * (end["cpu_s"] - start["cpu_s"]) / wall, 1)
            result["steal_pct_by_core"] = {
                str(c): round(100.0 * (end["steal"].get(c, 0) - n) / CLK_TCK / wall, 1)
                for c, n in start["steal"].items()
                if c in (server_core, loadgen_core)
            }
        result.update(
            ok=True,
            **scenario.metrics(lgres, marks),
            server_cpu_pct=server_cpu_pct,
            loadgen_cpu_pct=lgres["loadgen_cpu"]["percent"],
        )
        return result
    except Exception as exc:  # a harness bug must not lose the other servers' results
        result["error"] = f"harness error: {exc!r}"
        return result
    finally:
        if lg is not None and lg.poll() is None:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(lg.pid, signal.SIGKILL)
                lg.wait(5)
        server.stop()


# ---------------------------------------------------------------- environment


def pkg_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def ensure_python_packages(names: list[str]) -> None:
    """pip-install the peers' packages into this environment when missing."""
    specs: list[str] = []
    for name in names:
        for dist, spec, major in SERVERS[name]["pip"]:
            have = pkg_version(dist)
            ok = have is not None and (major is None or have.split(".")[0] == str(major))
            if not ok and dist + spec not in specs:
                specs.append(dist + spec)
    if not specs:
        return
    log(f"installing {' '.join(specs)} (pip)")
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *specs],
            check=True,
            timeout=PIP_TIMEOUT,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"WARNING: pip install failed ({exc}); the servers that need it will record errors")


def node_modules_current() -> bool:
    try:
        wanted = json.loads((HERE / "package.json").read_text())["dependencies"]
        for dep, version in wanted.items():
            installed = json.loads((HERE / "node_modules" / dep / "package.json").read_text())
            if installed["version"] != version:
                return False
    except (OSError, ValueError, KeyError):
        return False
    return True


def ensure_node_modules() -> None:
    if node_modules_current():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm not found: install Node.js 18+ with npm")
    log("installing the load generators' and the Node server's dependencies (npm ci)")
    try:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            check=True,
            timeout=NPM_TIMEOUT,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,  # keep our stdout for the report
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise SystemExit(f"npm ci failed: {exc}") from exc


def npm_version(dep: str) -> str | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return str(
            json.loads((HERE / "node_modules" / dep / "package.json").read_text())["version"]
        )
    return None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def json_backend() -> str:
    """What sockio_wsgi encodes JSON with in the servers run here (this Python's
    packages): orjson when installed (the ``fast`` extra), else the standard library."""
    version = pkg_version("orjson")
    return f"orjson {version}" if version else "json (standard library)"


def machine_description(server_core: int | None, loadgen_core: int | None) -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    git_rev = run_text(["git", "rev-parse", "--short", "HEAD"], cwd=REPO)
    git_dirty = run_text(["git", "status", "--porcelain"], cwd=REPO)
    return {
        "date": now_iso(),
        "nproc": os.cpu_count(),
        "usable_cores": sorted(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "os": run_text(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "server_core": server_core,
        "loadgen_core": loadgen_core,
        "nofile_limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "python": platform.python_version(),
        "node": run_text(["node", "--version"]),
        "json_backend": json_backend(),
        "git_commit": git_rev,
        "git_dirty": bool(git_dirty) if git_dirty is not None else None,
        "packages": {
            "sockio-wsgi": pkg_version("sockio-wsgi")
            or ("checkout" if (REPO / "sockio_wsgi").is_dir() else None),
            "python-socketio": pkg_version("python-socketio"),
            "python-engineio": pkg_version("python-engineio"),
            "Flask-SocketIO": pkg_version("Flask-SocketIO"),
            "Flask": pkg_version("Flask"),
            "gevent": pkg_version("gevent"),
            "gevent-websocket": pkg_version("gevent-websocket"),
            "wsproto": pkg_version("wsproto"),
            "orjson": pkg_version("orjson"),
            "socket.io (npm)": npm_version("socket.io"),
            "ws (npm)": npm_version("ws"),
        },
    }


# ---------------------------------------------------------------- report


def median(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def summarize(
    scenario: Scenario, name: str, description: str, runs: list[dict[str, Any]]
) -> dict[str, Any]:
    good = [r for r in runs if r.get("ok")]
    summary: dict[str, Any] = {
        "server": name,
        "description": description,
        "rounds_ok": len(good),
        "rounds_total": len(runs),
        "errors": [r["error"] for r in runs if r.get("error")],
    }
    for col in scenario.columns:
        summary[col.key] = median([r.get(col.key) for r in good])
    main_key = next(iter(scenario.ratio_keys))
    vals = [r[main_key] for r in good if r.get(main_key) is not None]
    if len(vals) > 1:
        summary[f"{main_key}_min"], summary[f"{main_key}_max"] = min(vals), max(vals)
    steals = [v for r in good for v in (r.get("steal_pct_by_core") or {}).values()]
    summary["max_steal_pct"] = max(steals) if steals else None
    return summary


def fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}"
    return str(v)


def by_server(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["server"]: s for s in doc["summary"]}


def ratio(doc: dict[str, Any], server: str, key: str, ref: str = REFERENCE) -> float | None:
    rows = by_server(doc)
    a, b = (rows.get(server) or {}).get(key), (rows.get(ref) or {}).get(key)
    if a is None or not b:
        return None
    return float(a) / float(b)


def scenario_table(scenario: Scenario, doc: dict[str, Any]) -> list[str]:
    header = ["server"] + [c.header for c in scenario.columns]
    header += list(scenario.ratio_keys.values())
    header.append("rounds ok")
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for s in doc["summary"]:
        cells = [s["server"]] + [fmt(s.get(c.key), c.digits) for c in scenario.columns]
        for key in scenario.ratio_keys:
            r = ratio(doc, s["server"], key)
            cells.append("(calibration)" if s["server"] == CALIBRATION["name"] else fmt_ratio(r))
        cells.append(f"{s['rounds_ok']}/{s['rounds_total']}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def error_lines(doc: dict[str, Any]) -> list[str]:
    errs = [(s["server"], e.splitlines()[0][:400]) for s in doc["summary"] for e in s["errors"]]
    out = []
    for (name, e), n in Counter(errs).items():
        out.append(f"- **{name}**: {e}" + (f" ({n} rounds)" if n > 1 else ""))
    return out


def general_notes(m: dict[str, Any]) -> list[str]:
    return [
        "CPU % is of one core (100 = one core busy) over the measured window. "
        f"Servers are pinned to core {m['server_core']}, the load generator to core "
        f"{m['loadgen_core']}; a load generator well below 100 % is not the bottleneck.",
        f"`{CALIBRATION['name']}` (where present) is a minimal Node stub, not a Socket.IO "
        "server: it shows how fast the load generator itself can go on this machine.",
    ]


def scenario_notes(doc: dict[str, Any]) -> list[str]:
    out = []
    cfg = doc["config"]
    if cfg["rounds"] < 3 or cfg.get("duration", 10) < 5:
        out.append(
            f"**Short run** ({cfg['rounds']} round(s)"
            + (f", {cfg['duration']} s measured" if "duration" in cfg else "")
            + "): good for checking the harness, not for comparing servers."
        )
    steal = [s["max_steal_pct"] for s in doc["summary"] if s.get("max_steal_pct") is not None]
    if steal and max(steal) >= 2:
        out.append(
            f"Up to {max(steal):.0f} % CPU steal (a VM waiting for its host) was seen on the "
            "pinned cores during measurement: expect extra noise between rounds."
        )
    busy = [
        s["server"]
        for s in doc["summary"]
        if (s.get("loadgen_cpu_pct") or 0) >= 85 and s["server"] != CALIBRATION["name"]
    ]
    if busy:
        out.append(
            f"The load generator was at 85 % CPU or more against {', '.join(busy)}: those "
            "numbers may be limited by the load generator, not the server."
        )
    return out


def notes(doc: dict[str, Any]) -> list[str]:
    return general_notes(doc["machine"]) + scenario_notes(doc)


def machine_lines(m: dict[str, Any]) -> list[str]:
    git = m["git_commit"] or "no commit"
    if m["git_dirty"]:
        git += " (dirty tree)"
    nofile = (m.get("nofile_limit") or ["?"])[0]
    return [
        f"- {m['date']}; {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM; "
        f"server on core {m['server_core']}, load generator on core {m['loadgen_core']}",
        f"- {m['os']}, kernel {m['kernel']}; open files limit {nofile}",
        f"- Python {m['python']}, Node {m['node']}; git {git}; "
        f"JSON backend {m.get('json_backend', 'not recorded')}",
        "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v),
    ]


def config_line(doc: dict[str, Any]) -> str:
    cfg = doc["config"]
    parts = [f"{cfg['rounds']} interleaved round(s), medians"]
    if "duration" in cfg:
        parts.insert(0, f"{cfg['warmup']} s warm-up, {cfg['duration']} s measured")
    return "; ".join(parts) + "."


def write_markdown(scenario: Scenario, path: Path, doc: dict[str, Any]) -> None:
    lines = [f"# {scenario.title}", "", scenario.describe(doc["config"]) + " " + config_line(doc)]
    lines += ["", *scenario_table(scenario, doc)]
    for note in notes(doc):
        lines += ["", note]
    errs = error_lines(doc)
    if errs:
        lines += ["", "## Errors", "", *errs]
    lines += ["", "## Machine", "", *machine_lines(doc["machine"]), ""]
    lines += [f"Raw rounds: `{scenario.name}.json`.", ""]
    path.write_text("\n".join(lines))


def target_rows(scenario: Scenario, doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    present = by_server(doc)
    for t in scenario.targets:
        for ours in OURS:
            s = present.get(ours)
            if s is None:
                continue
            value = s.get(t.metric)
            if t.kind == "abs<=":
                measured = None if value is None else float(value)
                shown = "n/a" if measured is None else f"{measured:.1f} KiB"
            elif t.kind == "node>=":
                measured = ratio(doc, ours, t.metric, NODE_REF)
                shown = "n/a" if measured is None else f"{measured:.2f}x of Node"
            else:
                measured = ratio(doc, ours, t.metric)
                shown = fmt_ratio(measured)
            rows.append([scenario.title, t.text, ours, shown, verdict(t, measured)])
    return rows


def verdict(t: Target, measured: float | None) -> str:
    if measured is None:
        return "not measured"
    if t.kind in ("ratio>=", "node>="):
        if measured >= t.value:
            return "met"
        if t.kind == "node>=":
            return f"missed: Node is {1 / measured:.2f}x ours (target ≤ {1 / t.value:.2f}x)"
        return (
            f"missed by {100 * (1 - measured / t.value):.0f} % "
            f"(needs {t.value / measured:.2f}x more)"
        )
    if measured <= t.value:
        return "met"
    unit = " KiB" if t.kind == "abs<=" else "x"
    return f"missed: {measured:.2f}{unit} vs ≤ {t.value:g}{unit} ({measured / t.value:.2f}x over)"


def write_combined(path: Path, results_dir: Path) -> None:
    docs: list[tuple[Scenario, dict[str, Any]]] = []
    for name, scenario in SCENARIOS.items():
        f = results_dir / f"{name}.json"
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(f.read_text())
            if doc.get("benchmark") == name and "title" in doc:  # skip older formats
                docs.append((scenario, doc))
    lines = [
        "# Benchmark results",
        "",
        "Produced by `python benchmarks/run.py` (see benchmarks/README.md); each section below "
        "comes from `benchmarks/results/<scenario>.json`. Compare only numbers from one "
        "machine and one run; ratios are against python-socketio measured in the same run.",
    ]
    if not docs:
        path.write_text("\n".join([*lines, "", "No results yet.", ""]))
        return
    latest = max(docs, key=lambda d: d[1]["machine"]["date"])[1]["machine"]
    lines += ["", "## Machine", "", *machine_lines(latest)]
    dates = sorted({d[1]["machine"]["date"] for d in docs})
    if len(dates) > 1:
        lines.append(
            "- scenarios were measured at different times: "
            + ", ".join(f"{s.name} {d['machine']['date']}" for s, d in docs)
        )
    rows = [r for s, d in docs for r in target_rows(s, d)]
    lines += ["", "## Targets", ""]
    lines += [
        "Goals for our servers, reported and never asserted.",
        "",
        "| scenario | target | server | measured | result |",
        "|---|---|---|---:|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows] or ["| (none measured) | | | | |"]
    for scenario, doc in docs:
        lines += ["", f"## {scenario.title}", "", scenario.describe(doc["config"])]
        lines += [config_line(doc) + f" Measured {doc['machine']['date']}.", ""]
        lines += scenario_table(scenario, doc)
        for note in scenario_notes(doc):
            lines += ["", note]
        errs = error_lines(doc)
        if errs:
            lines += ["", "Errors:", "", *errs]
    lines += ["", "## Notes", ""]
    lines += [f"- {n}" for n in general_notes(latest_doc(docs)["machine"])]
    lines += ["", KEEP_MARKER, kept_notes(path)]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


KEEP_MARKER = "<!-- Hand-written notes go below this line; run.py keeps them when it rewrites. -->"


def kept_notes(path: Path) -> str:
    """The hand-written part of an existing RESULTS.md (after KEEP_MARKER)."""
    with contextlib.suppress(OSError):
        text = path.read_text()
        if KEEP_MARKER in text:
            return text.split(KEEP_MARKER, 1)[1].strip("\n") + "\n"
    return ""


def latest_doc(docs: list[tuple[Scenario, dict[str, Any]]]) -> dict[str, Any]:
    return max(docs, key=lambda d: d[1]["machine"]["date"])[1]


# ---------------------------------------------------------------- main


def split_names(items: list[str]) -> list[str]:
    return [n.strip() for item in items for n in item.split(",") if n.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only this scenario (repeatable or comma separated): {', '.join(SCENARIOS)}",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SERVER",
        help=f"run only this server (repeatable or comma separated): {', '.join(SERVERS)}, "
        f"{CALIBRATION['name']}",
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before measuring")
    p.add_argument(
        "--clients", type=int, default=None, help="client count for every scenario (overrides)"
    )
    for name, n in DEFAULT_CLIENTS.items():
        p.add_argument(
            f"--{name.replace('_', '-')}-clients",
            dest=f"{name}_clients",
            type=int,
            default=None,
            help=f"clients in {name} (default {n})",
        )
    p.add_argument("--payload", default='"hello"', help='JSON payload of text echoes ("hello")')
    p.add_argument("--binary-size", type=int, default=65536, help="bytes per binary echo")
    p.add_argument("--bcast-window", type=int, default=16, help="broadcasts in flight")
    p.add_argument(
        "--connect-concurrency", type=int, default=100, help="handshakes in flight (connections)"
    )
    p.add_argument("--no-calibrate", action="store_true", help="skip the loadgen-ceiling runs")
    p.add_argument("--no-install", action="store_true", help="do not pip/npm install anything")
    p.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--rounds must be >= 1, --duration > 0, --warmup >= 0")
    counts = [args.clients] + [getattr(args, f"{n}_clients") for n in DEFAULT_CLIENTS]
    if any(c is not None and c < 1 for c in counts):
        p.error("client counts must be >= 1")
    if not 1 <= args.bcast_window <= 256 or args.binary_size < 1 or args.connect_concurrency < 1:
        p.error("--bcast-window 1..256, --binary-size >= 1, --connect-concurrency >= 1")
    args.scenario = split_names(args.scenario)
    bad = [n for n in args.scenario if n not in SCENARIOS]
    if bad:
        p.error(f"unknown scenario(s) {bad}; choose from {list(SCENARIOS)}")
    args.only = split_names(args.only)
    bad = [n for n in args.only if n not in SERVERS and n != CALIBRATION["name"]]
    if bad:
        p.error(f"unknown server(s) {bad}; choose from {list(SERVERS)} or {CALIBRATION['name']}")
    return args


def run_scenario(
    scenario: Scenario,
    args: argparse.Namespace,
    names: list[str],
    machine: dict[str, Any],
    cores: tuple[int | None, int | None],
) -> dict[str, Any]:
    cfg = scenario_config(scenario.name, args)
    raw: dict[str, list[dict[str, Any]]] = {n: [] for n in names}

    def one(name: str, argv: Callable[[int], list[str]], rnd: int) -> dict[str, Any]:
        log(f"{scenario.name} round {rnd}/{args.rounds}: {name}")
        res = run_one(scenario, cfg, name, argv, *cores)
        res["round"] = rnd
        if res["ok"]:
            shown = ", ".join(
                f"{c.header} {fmt(res.get(c.key), c.digits)}" for c in scenario.columns
            )
            log(f"  {shown}")
        else:
            log(f"  FAILED: {res['error']}")
        return res

    for rnd in range(1, args.rounds + 1):
        for name in names:
            raw[name].append(one(name, SERVERS[name]["argv"], rnd))
    summary = [summarize(scenario, n, SERVERS[n]["description"], raw[n]) for n in names]
    calibrate = scenario.calibrate and not args.no_calibrate
    if calibrate and (not args.only or CALIBRATION["name"] in args.only):
        name = CALIBRATION["name"]
        raw[name] = [one(name, CALIBRATION["argv"], 1)]
        summary.append(summarize(scenario, name, CALIBRATION["description"], raw[name]))
    return {
        "benchmark": scenario.name,
        "title": scenario.title,
        "config": cfg,
        "machine": {**machine, "date": now_iso()},
        "summary": summary,
        "rounds": raw,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n for n in SERVERS if not args.only or n in args.only]
    scenarios = [s for n, s in SCENARIOS.items() if not args.scenario or n in args.scenario]

    cores = sorted(os.sched_getaffinity(0))
    server_core: int | None
    loadgen_core: int | None
    if shutil.which("taskset") and len(cores) >= 2:
        server_core, loadgen_core = cores[0], cores[1]
    else:
        server_core = loadgen_core = None
        log("WARNING: taskset missing or fewer than 2 usable cores; processes are not pinned")
    if shutil.which("node") is None:
        raise SystemExit("node not found: install Node.js 18+")
    soft, _hard = raise_nofile_limit()
    biggest = max(scenario_config(s.name, args)["clients"] for s in scenarios)
    if soft < biggest + 200:
        log(f"WARNING: open files limit {soft} is low for {biggest} clients")
    if not args.no_install:
        ensure_node_modules()
        ensure_python_packages(names)

    machine = machine_description(server_core, loadgen_core)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    any_ok = False
    for scenario in scenarios:
        doc = run_scenario(scenario, args, names, machine, (server_core, loadgen_core))
        json_path = args.output_dir / f"{scenario.name}.json"
        md_path = args.output_dir / f"{scenario.name}.md"
        json_path.write_text(json.dumps(doc, indent=2) + "\n")
        write_markdown(scenario, md_path, doc)
        log(f"wrote {md_path} and {json_path.name}")
        print(md_path.read_text())
        any_ok = any_ok or any(s["rounds_ok"] for s in doc["summary"] if s["server"] in SERVERS)
    combined = RESULTS_MD if args.output_dir == RESULTS_DIR else args.output_dir / "RESULTS.md"
    write_combined(combined, args.output_dir)
    log(f"wrote {combined}")
    # success when at least one real server produced numbers
    return 0 if any_ok else 1


if __name__ == "__main__":
    sys.exit(main())
