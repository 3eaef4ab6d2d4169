#!/usr/bin/env python3
"""Cross-node broadcast: what the Redis bus costs a broadcast.

    python benchmarks/cluster_broadcast.py [--rounds 3] [--duration 10] [--clients 1000]

Three set-ups of sockio-wsgi (benchmarks/servers/sockio_plain.py), interleaved over rounds,
medians reported, the servers pinned to core 0 and the load generator
(loadgen_broadcast.js) to core 1; one client emits ``bcast`` and the server emits it to
every client:

- ``one process``: all clients on one server, the in-memory adapter;
- ``one process + Redis``: the same with a RedisAdapter (publish and read back its own bus);
- ``two processes + Redis``: half the clients on each of two servers sharing the Redis at
  ``--redis`` (the sender on the first): every broadcast crosses the bus.

Results: benchmarks/results/cluster_broadcast.{md,json}. Needs a Redis (default
redis://127.0.0.1:6379); each run uses its own key prefix. Run on demand only.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import (  # noqa: E402
    READY_TIMEOUT,
    RESULTS_DIR,
    ServerProcess,
    ensure_node_modules,
    free_port,
    machine_description,
    now_iso,
    pin,
    raise_nofile_limit,
    ws_url,
)

SETUPS = ("one process", "one process + Redis", "two processes + Redis")


def servers_for(setup: str, redis: str) -> list[ServerProcess]:
    prefix = f"sockio-bench-{secrets.token_hex(4)}"
    count = 2 if setup.startswith("two") else 1
    extra = ["--redis", redis, "--prefix", prefix] if "Redis" in setup else []
    script = str(HERE / "servers" / "sockio_plain.py")
    return [
        ServerProcess([sys.executable, script, "--port", str(free_port()), *extra], core=0)
        for _ in range(count)
    ]


def run_setup(setup: str, args: argparse.Namespace) -> dict[str, Any]:
    servers = servers_for(setup, args.redis)
    try:
        ports = []
        for server in servers:
            server.start()
            error = server.wait_ready(READY_TIMEOUT)
            if error is not None:
                return {"ok": False, "error": f"{error}: {server.output_tail()[-300:]}"}
            ports.append(int(server.argv[server.argv.index("--port") + 1]))
        argv = [
            "node",
            str(HERE / "loadgen_broadcast.js"),
            "--url",
            ws_url(ports[0]),
            "--clients",
            str(args.clients),
            "--duration",
            str(args.duration),
            "--warmup",
            str(args.warmup),
        ]
        if len(ports) > 1:
            argv += ["--url2", ws_url(ports[1])]
        done = subprocess.run(
            pin(1, argv),
            capture_output=True,
            text=True,
            cwd=HERE,
            timeout=args.warmup + args.duration + 120,
        )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            return {
                "ok": False,
                "error": f"no result from the load generator: {done.stderr[-300:]}",
            }
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "the load generator timed out"}
    finally:
        for server in servers:
            server.stop()


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    raise_nofile_limit()
    ensure_node_modules()
    runs: dict[str, list[dict[str, Any]]] = {setup: [] for setup in SETUPS}
    for round_no in range(1, args.rounds + 1):
        for setup in SETUPS:
            result = run_setup(setup, args)
            runs[setup].append(result)
            shown = result.get("deliveries_per_s") if result.get("ok") else result.get("error")
            print(f"[cluster] round {round_no}/{args.rounds} {setup}: {shown}", flush=True)
    summary = []
    for setup in SETUPS:
        ok = [r for r in runs[setup] if r.get("ok")]
        summary.append(
            {
                "setup": setup,
                "rounds_ok": f"{len(ok)}/{len(runs[setup])}",
                "deliveries_per_s": median([r["deliveries_per_s"] for r in ok]),
                "p50_ms": median([r["latency_ms"]["p50"] for r in ok]),
                "p99_ms": median([r["latency_ms"]["p99"] for r in ok]),
                "loadgen_cpu_pct": median([r["loadgen_cpu"]["percent"] for r in ok]),
            }
        )
    base = summary[0]["deliveries_per_s"]
    doc = {
        "date": now_iso(),
        "config": vars(args) | {"output_dir": str(args.output_dir)},
        "machine": machine_description(0, 1),
        "summary": summary,
        "runs": runs,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "cluster_broadcast.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Cross-node broadcast",
        "",
        f"{args.clients} WebSocket clients; one emits `bcast`, the server emits it to every "
        "client. Servers pinned to core 0 (both of them in the two-process set-up), the load "
        f"generator to core 1, Redis unpinned; {args.warmup} s warm-up, {args.duration} s "
        f"measured, medians over {args.rounds} interleaved rounds. Measured {doc['date']}.",
        "",
        "| set-up | deliveries/s | p50 ms | p99 ms | loadgen CPU % | vs one process | rounds ok |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        d = row["deliveries_per_s"]
        rel = f"{d / base:.2f}x" if d and base else "n/a"
        fmt = lambda v, n=1: "n/a" if v is None else f"{v:,.{n}f}"  # noqa: E731
        lines.append(
            f"| {row['setup']} | {fmt(d, 0)} | {fmt(row['p50_ms'], 2)} | {fmt(row['p99_ms'], 2)}"
            f" | {fmt(row['loadgen_cpu_pct'])} | {rel} | {row['rounds_ok']} |"
        )
    (args.output_dir / "cluster_broadcast.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
