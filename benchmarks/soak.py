#!/usr/bin/env python3
"""Soak: does the server return to its baseline after a long mixed, partly hostile load?

    python benchmarks/soak.py                  # 10 minutes
    python benchmarks/soak.py --duration 60    # a quick run

Starts benchmarks/servers/sockio_soak.py (sockio_wsgi.Server on make_server, in-memory
adapter, gevent, small limits) in a subprocess on an ephemeral port of 127.0.0.1 and
drives it from this process: steady clients that receive a broadcast every 100 ms, churn
(connect, acked round trips, disconnect, on each transport), slow readers, WebSockets
that stop reading (kept open, vanishing, answering pings blindly, asking for a flood),
polling sessions that are never polled again and polling GETs abandoned mid-wait.

The server's RSS, open fds, live greenlets and Engine.IO sessions are read from its
``/soak-stats`` route after the warm-up (start), every ``--sample-interval`` seconds, and
after every churn and misbehaving client has stopped and the server has settled (end).
Writes benchmarks/results/soak.json and the "## Soak" section of benchmarks/RESULTS.md.
Growth is reported in the verdict, never raised: the exit status is non-zero only when
the harness itself fails. Run on demand only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # sockio_wsgi from this checkout

from run import (  # noqa: E402
    READY_TIMEOUT,
    RESULTS_DIR,
    RESULTS_MD,
    ServerProcess,
    machine_description,
    now_iso,
    pkg_version,
    raise_nofile_limit,
)
from soak_clients import (  # noqa: E402
    HOST,
    Context,
    SteadyClient,
    Tally,
    Worker,
    churn,
    polling_abandoned_get,
    polling_silent,
    silent_websocket,
    slow_reader,
)
from soak_params import add_server_options, server_flags, server_values  # noqa: E402

log = logging.getLogger("soak")

SERVER_SCRIPT = HERE / "servers" / "sockio_soak.py"
STATS_PATH = "/soak-stats"
SECTION = "## Soak"
MAX_ROUNDS = 100_000  # per worker: a bound on top of the duration
JOIN_TIMEOUT = 20.0  # per worker, once the run stops

# What "back to baseline" allows. fds and sessions must be exactly back; a few greenlets
# may be mid-exit or be the stats request's own; RSS may stay higher because CPython's
# allocator and glibc keep freed arenas, so only a margin is checked (growth over the
# samples is reported as well).
GREENLET_SLACK = 5
# the disconnect reasons of sessions the server ended itself (a limit, a dead peer)
CUT_REASONS = ("ping timeout", "transport error")
RSS_MARGIN_KIB = 20 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds of mixed load")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before the baseline")
    p.add_argument("--sample-interval", type=float, default=30.0)
    p.add_argument("--settle", type=float, default=30.0, help="at most, after the load")
    p.add_argument("--steady", type=int, default=9, help="clients connected throughout")
    add_server_options(p)
    p.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--results-md", type=Path, default=RESULTS_MD)
    return p.parse_args(argv)


# -- the server -------------------------------------------------------------------------


def server_argv(args: argparse.Namespace) -> list[str]:
    return [sys.executable, str(SERVER_SCRIPT), "--port=0", *server_flags(args)]


def start_server(args: argparse.Namespace) -> tuple[ServerProcess, int]:
    server = ServerProcess(server_argv(args), core=None)  # unpinned: a long, light run
    server.start()
    error = server.wait_ready(READY_TIMEOUT)
    if error is not None:
        server.stop()
        raise RuntimeError(f"{error}\n{server.output_tail()}")
    assert server.out is not None
    ready = next(line for line in server.out.lines if line.startswith("READY"))
    return server, int(ready.split()[1])


def fetch_stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", STATS_PATH)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"stats answered {response.status}")
        stats: dict[str, Any] = json.loads(body)
        return stats
    finally:
        conn.close()


# -- the load ---------------------------------------------------------------------------


def steady_transports(i: int) -> list[str] | None:
    return (["websocket"], ["polling"], None)[i % 3]


def misbehaving_workers(ctx: Context, limit: float) -> list[Worker]:
    """Every churn and misbehaving client, one worker each; ``limit`` is the server's
    longest cut-off (ping interval + timeout + send_timeout), which the checked holds
    exceed."""
    hold = (limit + 6, limit + 10)
    # the kernel takes up to tcp_wmem's maximum (4 MiB here) before a write waits, so
    # the blind ponger asks for 250 KB every ping interval and is held long enough
    blind_hold = (limit + 30, limit + 40)
    spec: list[tuple[str, Any, float]] = [
        ("churn.websocket", churn(["websocket"]), 0.1),
        ("churn.polling", churn(["polling"]), 0.1),
        ("churn.upgrade", churn(None), 0.1),
        ("slow.512B_per_200ms", slow_reader(512, 0.2), 0.5),
        ("slow.4KiB_per_100ms", slow_reader(4096, 0.1), 0.5),
        ("silent_keep", silent_websocket("silent_keep", hold, check=True), 0.2),
        ("silent_keep", silent_websocket("silent_keep", hold, check=True), 0.2),
        ("silent_vanish", silent_websocket("silent_vanish", (0.5, 3.0)), 0.2),
        (
            "blind_pong",
            silent_websocket(
                "blind_pong",
                blind_hold,
                check=True,
                blind_pong=True,
                flood=(50_000, 5),
                flood_again=True,
            ),
            0.2,
        ),
        ("flood", silent_websocket("flood", hold, check=True, flood=(100_000, 20)), 0.2),
        ("polling_silent", polling_silent, 0.5),
        ("polling_abandoned_get", polling_abandoned_get, 0.3),
    ]
    return [Worker(name, behaviour, ctx, gap, MAX_ROUNDS) for name, behaviour, gap in spec]


def wait_settled(
    port: int, start: dict[str, Any], steady: int, limit: float
) -> tuple[dict[str, Any], float]:
    """Poll the stats until the server is back to its baseline counts, or ``limit``
    seconds pass; the last reading and how long it took."""
    began = time.monotonic()
    while True:
        stats = fetch_stats(port)
        waited = time.monotonic() - began
        back = (
            stats["sessions"] == steady
            and stats["fds"] <= start["fds"]
            and stats["greenlets"] <= start["greenlets"] + GREENLET_SLACK
        )
        if back or waited >= limit:
            return stats, round(waited, 1)
        time.sleep(1.0)


def sample(port: int, began: float, tally: Tally) -> dict[str, Any]:
    stats = fetch_stats(port)
    stats["elapsed"] = round(time.monotonic() - began, 1)
    stats["clients"] = tally.snapshot()
    log.info(
        "t=%5.0fs rss=%.1f MiB fds=%d greenlets=%d sessions=%d",
        stats["elapsed"],
        stats["rss_kib"] / 1024,
        stats["fds"],
        stats["greenlets"],
        stats["sessions"],
    )
    return stats


def run_load(args: argparse.Namespace, port: int, server: ServerProcess) -> dict[str, Any]:
    """Warm up, take the baseline, run the mixed load, stop it, settle, measure."""
    stop = threading.Event()
    tally = Tally()
    ctx = Context(port=port, stop=stop, tally=tally, ping_interval=args.ping_interval)
    steady = [SteadyClient(ctx, steady_transports(i)) for i in range(args.steady)]
    for client in steady:
        client.connect()
    for transports in (["websocket"], ["polling"], None):  # each code path once
        churn(transports)(ctx)
    time.sleep(args.warmup)
    start, _ = wait_settled(port, {"fds": 1 << 30, "greenlets": 1 << 30}, args.steady, 30)
    log.info("baseline: %s", {k: start[k] for k in ("rss_kib", "fds", "greenlets", "sessions")})
    began = time.monotonic()
    limit = args.ping_interval + args.ping_timeout + args.send_timeout
    workers = misbehaving_workers(ctx, limit)
    for worker in workers:
        worker.start()
    samples = []
    server_exit = None
    next_sample = began + args.sample_interval
    while time.monotonic() < began + args.duration:
        time.sleep(max(0.0, min(next_sample, began + args.duration) - time.monotonic()))
        if server.proc is not None and server.proc.poll() is not None:
            server_exit = server.proc.returncode
            break
        if time.monotonic() >= next_sample:
            try:
                samples.append(sample(port, began, tally))
            except (OSError, ValueError, RuntimeError) as exc:  # reported, the run goes on
                elapsed = round(time.monotonic() - began, 1)
                samples.append({"elapsed": elapsed, "error": repr(exc)})
            next_sample += args.sample_interval
    stop.set()
    stop_began = time.monotonic()
    for worker in workers:
        worker.join(JOIN_TIMEOUT)
    stuck = [w.name for w in workers if w.is_alive()]
    stopped_after = round(time.monotonic() - stop_began, 1)
    result: dict[str, Any] = {
        "start": start,
        "samples": samples,
        "load_seconds": round(stop_began - began, 1),
        "workers_stopped_after_s": stopped_after,
        "workers": [w.label for w in workers],
        "workers_still_running": stuck,
        "server_exit": server_exit,
    }
    if server_exit is None:
        end, settle_s = wait_settled(port, start, args.steady, args.settle)
        end["clients"] = tally.snapshot()
        result.update(end=end, settle_seconds=settle_s)
    for client in steady:
        client.close()
    result["clients"] = tally.snapshot()
    return result


# -- verdict and report -----------------------------------------------------------------


def checks(start: dict[str, Any], end: dict[str, Any], steady: int) -> list[dict[str, Any]]:
    """One row per measure: start, end, change, the tolerance and whether it held."""
    rows = []
    for key, label, allowed, tolerance in (
        ("rss_kib", "RSS", RSS_MARGIN_KIB, f"≤ +{RSS_MARGIN_KIB // 1024} MiB"),
        ("fds", "open file descriptors", 0, "exactly back"),
        ("greenlets", "live greenlets", GREENLET_SLACK, f"≤ +{GREENLET_SLACK}"),
        ("sessions", "Engine.IO sessions", 0, f"exactly back ({steady} steady clients)"),
    ):
        change = end[key] - start[key]
        rows.append(
            {
                "measure": label,
                "key": key,
                "start": start[key],
                "end": end[key],
                "change": change,
                "tolerance": tolerance,
                "ok": change <= allowed and (key != "sessions" or end[key] == steady),
            }
        )
    return rows


def verdict_line(doc: dict[str, Any]) -> str:
    if doc["result"].get("server_exit") is not None:
        return (
            f"**Verdict: the server exited during the run (code {doc['result']['server_exit']}).**"
        )
    rows = doc["checks"]
    tolerance = (
        f"fds and sessions exactly back, greenlets within +{GREENLET_SLACK}, "
        f"RSS within +{RSS_MARGIN_KIB // 1024} MiB"
    )
    if all(r["ok"] for r in rows):
        return f"**Verdict: returned to baseline** ({tolerance})."
    missed = ", ".join(f"{r['measure']} {r['change']:+}" for r in rows if not r["ok"])
    return f"**Verdict: did NOT return to baseline**: {missed} ({tolerance})."


def rss_trend(samples: list[dict[str, Any]]) -> int | None:
    """RSS change (KiB) over the second half of the samples: a leak keeps climbing
    there, while arena reuse flattens out after the first minutes."""
    good = [s for s in samples if "error" not in s]
    if len(good) < 4:
        return None
    half = good[len(good) // 2 :]
    return int(half[-1]["rss_kib"] - half[0]["rss_kib"])


def versions() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "gevent": pkg_version("gevent"),
        "greenlet": pkg_version("greenlet"),
        "wsproto": pkg_version("wsproto"),
        "sockio-wsgi": pkg_version("sockio-wsgi"),
    }


def fmt_kib(kib: int) -> str:
    return f"{kib / 1024:+.1f}" if kib else "0"


def section(doc: dict[str, Any]) -> list[str]:
    """The "## Soak" section of RESULTS.md."""
    res, m, v = doc["result"], doc["machine"], doc["versions"]
    lines = [
        SECTION,
        "",
        "Produced by `python benchmarks/soak.py` (see benchmarks/README.md); raw data in "
        "`benchmarks/results/soak.json`.",
        "",
        f"Measured {doc['date']}: {res['load_seconds']:.0f} s of mixed load, commit "
        f"{m['git_commit']}{' (dirty tree)' if m['git_dirty'] else ''}, Python {v['python']}, "
        f"gevent {v['gevent']}, greenlet {v['greenlet']}, wsproto {v['wsproto']}; "
        f"{m['nproc']} CPUs ({m['cpu_model']}), kernel {m['kernel']}, shared with other work.",
        "",
        verdict_line(doc),
    ]
    if "end" in res:
        lines += [
            "",
            f"End measured {res['settle_seconds']} s after the load stopped "
            f"(workers stopped in {res['workers_stopped_after_s']} s).",
            "",
            "| measure | start | end | change | tolerance | result |",
            "|---|---:|---:|---:|---|---|",
        ]
        for r in doc["checks"]:
            if r["key"] == "rss_kib":
                shown = [f"{r['start'] / 1024:.1f} MiB", f"{r['end'] / 1024:.1f} MiB"]
                change = f"{fmt_kib(r['change'])} MiB"
            else:
                shown, change = [str(r["start"]), str(r["end"])], f"{r['change']:+}"
            ok = "ok" if r["ok"] else "**not back**"
            lines.append(
                f"| {r['measure']} | {' | '.join(shown)} | {change} | {r['tolerance']} | {ok} |"
            )
    trend = rss_trend(res["samples"])
    if trend is not None:
        lines += ["", f"RSS over the second half of the samples: {fmt_kib(trend)} MiB."]
    lines += ["", "Samples during the load (every client running):", ""]
    lines += ["| t (s) | RSS MiB | fds | greenlets | sessions |", "|---:|---:|---:|---:|---:|"]
    for s in res["samples"]:
        if "error" in s:
            lines.append(f"| {s['elapsed']:.0f} | stats failed: {s['error']} | | | |")
            continue
        lines.append(
            f"| {s['elapsed']:.0f} | {s['rss_kib'] / 1024:.1f} | {s['fds']} | "
            f"{s['greenlets']} | {s['sessions']} |"
        )
    lines += ["", "Parameters: " + ", ".join(f"`{k}={v}`" for k, v in doc["parameters"].items())]
    lines += ["", *happenings(doc)]
    return lines


def happenings(doc: dict[str, Any]) -> list[str]:
    """Counts of what happened, from both ends."""
    res = doc["result"]
    measured = [s for s in res["samples"] if "error" not in s]
    last = res.get("end") or (measured[-1] if measured else {})
    events = last.get("events", {})
    reasons = last.get("disconnect_reasons", {})
    cut = sum(reasons.get(r, 0) for r in CUT_REASONS)
    lines = [
        "What happened (server side): "
        f"{events.get('connects', 0):,} Socket.IO connections, "
        f"{events.get('broadcasts', 0):,} broadcasts, {events.get('echoes', 0):,} echoes, "
        f"{events.get('floods', 0):,} floods; {cut:,} clients cut by the server "
        f"({' or '.join(CUT_REASONS)}).",
        "",
        "| disconnect reason (server) | count |",
        "|---|---:|",
    ]
    for reason, n in sorted(reasons.items()):
        lines.append(f"| {reason} | {n:,} |")
    logged = last.get("log_records", {})
    if logged:
        lines += ["", "| logged by the server | count |", "|---|---:|"]
        lines += [f"| {msg.replace('|', '/')} | {n:,} |" for msg, n in sorted(logged.items())]
    errors = last.get("greenlet_errors", {})
    lines += ["", f"Greenlet errors in the server: {sum(errors.values()) if errors else 'none'}."]
    lines += [f"- {msg} ({n})" for msg, n in sorted(errors.items())]
    lines += ["", "| client side | count |", "|---|---:|"]
    lines += [f"| {key} | {n:,} |" for key, n in res["clients"].items()]
    if res["workers_still_running"]:
        lines += [
            "",
            f"Workers still running at the end: {', '.join(res['workers_still_running'])}.",
        ]
    return lines


def replace_section(text: str, new: list[str]) -> str:
    """``text`` with its "## Soak" section (up to the next "## " heading) replaced by
    ``new``, or ``new`` appended. Appended after run.py's hand-written-notes marker, so
    run.py keeps it when it rewrites its own sections."""
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    if SECTION in lines:
        first = lines.index(SECTION)
        after = next(
            (i for i in range(first + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[first:after] = [*new, ""] if after < len(lines) else new
    else:
        lines += ["", *new] if lines else new
    return "\n".join(lines).rstrip("\n") + "\n"


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("duration", "warmup", "sample_interval", "settle", "steady")
    return {k: getattr(args, k) for k in keys} | server_values(args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[soak] %(message)s", stream=sys.stderr)
    logging.getLogger("sockio_wsgi").setLevel(logging.CRITICAL)  # clients cut on purpose
    raise_nofile_limit()
    server, port = start_server(args)
    log.info("server pid %d on %s:%d; %.0f s of load", server.pid, HOST, port, args.duration)
    try:
        result = run_load(args, port, server)
    finally:
        server.stop()
    doc: dict[str, Any] = {
        "benchmark": "soak",
        "date": now_iso(),
        "parameters": parameters(args),
        "config": {"server_argv": server_argv(args), "max_rounds_per_worker": MAX_ROUNDS},
        "machine": machine_description(None, None),
        "versions": versions(),
        "tolerance": {"greenlets": GREENLET_SLACK, "rss_kib": RSS_MARGIN_KIB},
        "result": result,
        "server_stderr_tail": server.output_tail(),
    }
    if "end" in result:
        doc["checks"] = checks(result["start"], result["end"], args.steady)
    doc["verdict"] = verdict_line(doc)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "soak.json").write_text(json.dumps(doc, indent=2) + "\n")
    old = args.results_md.read_text() if args.results_md.exists() else ""
    args.results_md.write_text(replace_section(old, section(doc)))
    log.info("%s", doc["verdict"])
    log.info("wrote %s and %s", args.output_dir / "soak.json", args.results_md)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"[soak] harness failed: {exc}", file=sys.stderr)
        sys.exit(1)
