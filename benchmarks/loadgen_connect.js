#!/usr/bin/env node
// Load generator for "connections": connection setup rate and idle memory.
//
// 1. warm-up: --warm clients connect and leave (so one-time allocations are
//    not counted per connection), then a pause; mark "baseline".
// 2. mark "connect-start"; N clients connect over WebSocket, at most
//    --concurrency handshakes in flight; each one is done when the Socket.IO
//    CONNECT reply (40{"sid":...}) arrives; mark "connect-end".
// 3. all N sit idle for --settle seconds (answering pings); mark "connected".
//    The runner reads the server's VmRSS at "baseline" and "connected".
// Clients are raw TCP sockets with a minimal WebSocket client (SioSocket in
// lib/common.js). Prints one JSON line on stdout; marks go to stderr.
"use strict";

const {
  parseArgs, checkLoopback, Latencies, Errors, CpuWindow, connectMany,
  mark, sleep, round3, emitResult, finish, crashHandler,
} = require("./lib/common");

const opts = parseArgs(process.argv, {
  url: "string", clients: "int", concurrency: "int", warm: "int", settle: "float",
  "connect-timeout": "float",
}, {
  url: "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket",
  clients: 5000, concurrency: 100, warm: 50, settle: 2, connectTimeout: 120,
});
if (!(opts.clients > 0) || !(opts.concurrency > 0) || !(opts.warm >= 0)) throw new Error("bad options");
opts.url = opts.url.replace(/^http/, "ws");
checkLoopback(opts.url);

const errors = new Errors();

async function main() {
  if (opts.warm > 0) {
    const w = await connectMany(opts.url, opts.warm, opts.concurrency, 30, errors);
    for (const s of w.sockets) s.close();
    if (w.connected < opts.warm) {
      emitResult({ ok: false, error: `warm-up: only ${w.connected}/${opts.warm} connected (${errors.messages[0] || "?"})`, errors });
      return finish(false);
    }
    await sleep(1500);
  }
  mark("baseline");
  await sleep(100);

  mark("connect-start");
  const cpu = new CpuWindow();
  cpu.start();
  const res = await connectMany(opts.url, opts.clients, opts.concurrency, opts.connectTimeout, errors);
  const cpuRes = cpu.stop();
  mark("connect-end");
  if (res.connected < opts.clients) {
    for (const s of res.sockets) s.terminate();
    emitResult({ ok: false, error: `only ${res.connected}/${opts.clients} clients connected${res.timedOut ? ` within ${opts.connectTimeout}s` : ""} (${errors.messages[0] || "?"})`, errors });
    return finish(false);
  }
  const lat = new Latencies();
  for (const s of res.sockets) lat.add(s.connectedAt - s.openedAt);

  await sleep(opts.settle * 1000);
  const alive = res.sockets.filter((s) => s.connected && !s.closed).length;
  mark("connected");
  await sleep(300);
  const mem = process.memoryUsage();
  for (const s of res.sockets) s.close();

  const ok = alive === opts.clients && errors.count("closed_early") === 0;
  emitResult({
    ok,
    error: ok ? null : `only ${alive}/${opts.clients} connections still open after ${opts.settle}s idle (${errors.messages[0] || "?"})`,
    url: opts.url,
    clients: opts.clients,
    concurrency: opts.concurrency,
    warm: opts.warm,
    settle_s: opts.settle,
    connect_s: cpuRes.wall_s,
    connections_per_s: round3(opts.clients / cpuRes.wall_s),
    handshake_ms: lat.summary(),
    alive_after_settle: alive,
    loadgen_cpu: cpuRes,
    loadgen_rss_mb: round3(mem.rss / 1048576),
    errors,
  });
  return finish(ok);
}

main().catch(crashHandler);
