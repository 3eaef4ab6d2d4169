#!/usr/bin/env python3
"""Run the "echo with ack" benchmark against each server and write the results.

    python benchmarks/run.py [--rounds 3] [--duration 10] [--clients 50] [--only NAME]

Each server runs pinned to one core, the Node load generator (loadgen.js) to
another. Rounds are interleaved (round 1: A, B; round 2: A, B; ...) and the
report gives medians over rounds. Results go to benchmarks/results/echo_ack.json
(everything, raw) and benchmarks/results/echo_ack.md (summary table).

This is run on demand only; it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
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
from importlib import metadata
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVERS_DIR = HERE / "servers"
RESULTS_DIR = HERE / "results"
REFERENCE = "python-socketio"

# name -> (command builder, description)
SERVERS: dict[str, dict[str, Any]] = {
    "sockio-wsgi": {
        "argv": lambda port: [
            sys.executable,
            str(SERVERS_DIR / "sockio_plain.py"),
            "--port",
            str(port),
        ],
        "description": (
            "sockio_wsgi.Server + WSGIApp on sockio_wsgi.make_server "
            "(gevent pywsgi, our WebSocket handler)"
        ),
    },
    "python-socketio": {
        "argv": lambda port: [
            sys.executable,
            str(SERVERS_DIR / "python_socketio_gevent.py"),
            "--port",
            str(port),
        ],
        "description": (
            "python-socketio Server(async_mode='gevent') + WSGIApp on gevent pywsgi "
            "with geventwebsocket WebSocketHandler"
        ),
    },
}
CALIBRATION: dict[str, Any] = {
    "name": "loadgen-ceiling",
    "argv": lambda port: ["node", str(SERVERS_DIR / "node_ws_stub.js"), "--port", str(port)],
    "description": (
        "calibration only: a minimal Node ws stub that echoes acks; "
        "shows the load generator's own ceiling"
    ),
}

READY_TIMEOUT = 30.0
NPM_TIMEOUT = 300.0
STOP_TIMEOUT = 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc/<pid>/stat, in seconds."""
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


def proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
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
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
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
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


# ---------------------------------------------------------------- one measurement


def run_one(
    name: str,
    argv_for_port: Callable[[int], list[str]],
    args: argparse.Namespace,
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

        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        lg_argv = pin(
            loadgen_core,
            [
                "node",
                str(HERE / "loadgen.js"),
                "--url",
                url,
                "--clients",
                str(args.clients),
                "--duration",
                str(args.duration),
                "--warmup",
                str(args.warmup),
                "--payload",
                args.payload,
            ],
        )
        marks: dict[str, tuple[float, float | None, dict[int, int]]] = {}

        def on_loadgen_stderr(line: str) -> None:
            if line.startswith("# measure-"):
                marks[line[2:]] = (
                    time.monotonic(),
                    proc_cpu_seconds(server.pid),
                    cores_steal_ticks(),
                )

        timeout = args.warmup + args.duration + 20 + 5 + 30  # connect + drain + slack
        lg = subprocess.Popen(
            lg_argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
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
        result["server_rss_mb"] = proc_rss_mb(server.pid)
        if server.proc is not None and server.proc.poll() is not None:
            result["error"] = f"server died during the run (exit {server.proc.returncode})"
            result["server_output"] = server.output_tail()
            return result
        if not lgres.get("ok"):
            result["error"] = f"load generator reported: {lgres.get('error')}"
            result["server_output"] = server.output_tail()
            return result

        start, end = marks.get("measure-start"), marks.get("measure-end")
        server_cpu_pct = None
        if start and end and start[1] is not None and end[1] is not None and end[0] > start[0]:
            server_cpu_pct = round(100.0 * (end[1] - start[1]) / (end[0] - start[0]), 1)
        if start and end:
            wall = end[0] - start[0]
            result["steal_pct_by_core"] = {
                str(c): round(100.0 * (end[2].get(c, 0) - start[2][c]) / CLK_TCK / wall, 1)
                for c in start[2]
                if c in (server_core, loadgen_core)
            }
        result.update(
            ok=True,
            acks_per_s=lgres["acks_per_s"],
            p50_ms=lgres["latency_ms"]["p50"],
            p99_ms=lgres["latency_ms"]["p99"],
            server_cpu_pct=server_cpu_pct,
            loadgen_cpu_pct=lgres["loadgen_cpu"]["percent"],
        )
        return result
    finally:
        if lg is not None and lg.poll() is None:
            try:
                os.killpg(lg.pid, signal.SIGKILL)
                lg.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        server.stop()


# ---------------------------------------------------------------- environment


def ensure_node_modules() -> None:
    if (HERE / "node_modules" / "ws" / "package.json").exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm not found: install Node.js 18+ with npm")
    log("installing the load generator's dependencies (npm ci)")
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


def pkg_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_description(server_core: int | None, loadgen_core: int | None) -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    ws_version = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        ws_version = json.loads((HERE / "node_modules" / "ws" / "package.json").read_text())[
            "version"
        ]
    git_rev = run_text(["git", "rev-parse", "--short", "HEAD"], cwd=REPO)
    git_dirty = run_text(["git", "status", "--porcelain"], cwd=REPO)
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "usable_cores": sorted(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "os": run_text(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "server_core": server_core,
        "loadgen_core": loadgen_core,
        "python": platform.python_version(),
        "node": run_text(["node", "--version"]),
        "git_commit": git_rev,
        "git_dirty": bool(git_dirty) if git_dirty is not None else None,
        "packages": {
            "sockio-wsgi": pkg_version("sockio-wsgi")
            or ("checkout" if (REPO / "sockio_wsgi").is_dir() else None),
            "python-socketio": pkg_version("python-socketio"),
            "python-engineio": pkg_version("python-engineio"),
            "gevent": pkg_version("gevent"),
            "gevent-websocket": pkg_version("gevent-websocket"),
            "wsproto": pkg_version("wsproto"),
            "ws (npm)": ws_version,
        },
    }


# ---------------------------------------------------------------- report


def median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def summarize(name: str, description: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r.get("ok")]
    summary: dict[str, Any] = {
        "server": name,
        "description": description,
        "rounds_ok": len(good),
        "rounds_total": len(runs),
        "errors": [r["error"] for r in runs if r.get("error")],
    }
    for key in ("acks_per_s", "p50_ms", "p99_ms", "server_cpu_pct", "loadgen_cpu_pct"):
        summary[key] = median([r.get(key) for r in good])
    if len(good) > 1:
        rates = [r["acks_per_s"] for r in good]
        summary["acks_per_s_min"], summary["acks_per_s_max"] = min(rates), max(rates)
    steals = [v for r in good for v in (r.get("steal_pct_by_core") or {}).values()]
    summary["max_steal_pct"] = max(steals) if steals else None
    return summary


def fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def write_markdown(path: Path, doc: dict[str, Any]) -> None:
    m, cfg = doc["machine"], doc["config"]
    ref = next((s for s in doc["summary"] if s["server"] == REFERENCE), None)
    ref_rate = ref["acks_per_s"] if ref else None
    header = [
        "server",
        "acks/s",
        "p50 ms",
        "p99 ms",
        "server CPU %",
        "loadgen CPU %",
        "vs python-socketio",
        "rounds ok",
    ]
    lines = [
        "# Echo with ack",
        "",
        f"{cfg['clients']} WebSocket clients, each in a closed loop: emit `echo` with ack, "
        f"wait for the ack, repeat. {cfg['warmup']} s warm-up, {cfg['duration']} s measured, "
        f"payload `{cfg['payload']}`, medians over {cfg['rounds']} interleaved round(s).",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for s in doc["summary"]:
        ratio = "n/a"
        if s["acks_per_s"] and ref_rate:
            ratio = f"{s['acks_per_s'] / ref_rate:.2f}x"
        if s["server"] == CALIBRATION["name"]:
            ratio = "(calibration)"
        cells = [
            s["server"],
            fmt(s["acks_per_s"], 0),
            fmt(s["p50_ms"], 2),
            fmt(s["p99_ms"], 2),
            fmt(s["server_cpu_pct"]),
            fmt(s["loadgen_cpu_pct"]),
            ratio,
            f"{s['rounds_ok']}/{s['rounds_total']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "CPU % is of one core (100 = one core busy) over the measured window. "
        f"The server is pinned to core {m['server_core']}, the load generator to core "
        f"{m['loadgen_core']}; a load generator far below 100 % is not the bottleneck.",
    ]
    steal = [s["max_steal_pct"] for s in doc["summary"] if s.get("max_steal_pct") is not None]
    if steal and max(steal) >= 2:
        lines.append(
            f"Up to {max(steal):.0f} % CPU steal (a VM waiting for its host) was seen on the "
            "pinned cores during measurement: expect extra noise between rounds."
        )
    if any(s["server"] == CALIBRATION["name"] for s in doc["summary"]):
        lines.append(
            f"`{CALIBRATION['name']}` is a minimal Node stub, not a Socket.IO server: it shows "
            "how many acks/s the load generator itself can drive on this machine."
        )
    errs = [(s["server"], e) for s in doc["summary"] for e in s["errors"]]
    if errs:
        lines += ["", "## Errors", ""]
        for (name, e), n in Counter(errs).items():
            lines.append(f"- **{name}**: {e}" + (f" ({n} rounds)" if n > 1 else ""))
    pk = m["packages"]
    git = m["git_commit"] or "no commit"
    if m["git_dirty"]:
        git += " (dirty tree)"
    lines += [
        "",
        "## Machine",
        "",
        f"- {m['date']}; {m['nproc']} CPUs, {m['cpu_model']}; {m['memory_gb']} GB",
        f"- {m['os']}, kernel {m['kernel']}",
        f"- Python {m['python']}, Node {m['node']}; git {git}",
        "- " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
        "",
        "Raw rounds: `echo_ack.json`.",
        "",
    ]
    path.write_text("\n".join(lines))


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before measuring")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument(
        "--payload", default='"hello"', help='JSON payload of each event (default: "hello")'
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only this server (repeatable or comma separated): {', '.join(SERVERS)}",
    )
    p.add_argument(
        "--no-calibrate",
        action="store_true",
        help=f"skip the single '{CALIBRATION['name']}' run (the load generator's ceiling)",
    )
    p.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.rounds < 1 or args.clients < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--rounds and --clients must be >= 1, --duration > 0, --warmup >= 0")
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in only if n not in SERVERS and n != CALIBRATION["name"]]
    if unknown:
        p.error(
            f"unknown server(s) {unknown}; choose from {list(SERVERS)} or {CALIBRATION['name']}"
        )
    args.only = only
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n for n in SERVERS if not args.only or n in args.only]
    calibrate = (not args.no_calibrate) and (not args.only or CALIBRATION["name"] in args.only)

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
    ensure_node_modules()

    machine = machine_description(server_core, loadgen_core)
    raw: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for rnd in range(1, args.rounds + 1):
        for name in names:
            log(f"round {rnd}/{args.rounds}: {name}")
            res = run_one(name, SERVERS[name]["argv"], args, server_core, loadgen_core)
            res["round"] = rnd
            raw[name].append(res)
            if res["ok"]:
                log(
                    f"  {res['acks_per_s']:.0f} acks/s, p50 {res['p50_ms']} ms, "
                    f"p99 {res['p99_ms']} ms, server CPU {res['server_cpu_pct']}%, "
                    f"loadgen CPU {res['loadgen_cpu_pct']}%"
                )
            else:
                log(f"  FAILED: {res['error']}")
    summary = [summarize(n, SERVERS[n]["description"], raw[n]) for n in names]
    if calibrate:
        name = CALIBRATION["name"]
        log(f"calibration: {name}")
        res = run_one(name, CALIBRATION["argv"], args, server_core, loadgen_core)
        res["round"] = 1
        raw[name] = [res]
        log(
            f"  {res.get('acks_per_s')} acks/s, loadgen CPU {res.get('loadgen_cpu_pct')}%"
            if res["ok"]
            else f"  FAILED: {res['error']}"
        )
        summary.append(summarize(name, CALIBRATION["description"], [res]))

    doc = {
        "benchmark": "echo_ack",
        "config": {
            "rounds": args.rounds,
            "duration": args.duration,
            "warmup": args.warmup,
            "clients": args.clients,
            "payload": args.payload,
        },
        "machine": machine,
        "summary": summary,
        "rounds": raw,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.output_dir / "echo_ack.json"
    md_path = args.output_dir / "echo_ack.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    write_markdown(md_path, doc)
    log(f"wrote {json_path.relative_to(REPO) if json_path.is_relative_to(REPO) else json_path}")
    print(md_path.read_text())
    # success when at least one real server produced numbers
    return 0 if any(s["rounds_ok"] for s in summary if s["server"] in SERVERS) else 1


if __name__ == "__main__":
    sys.exit(main())
