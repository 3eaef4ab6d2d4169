#!/usr/bin/env node
// Load generator for "broadcast fan-out".
//
// N WebSocket clients join "/" (Engine.IO v4 / Socket.IO v5, raw frames on
// raw TCP sockets, see SioSocket in lib/common.js).
// Client 0 is also the sender: it emits 42["bcast",<seq>] and the server
// emits "bcast" with the same argument to every client (the sender too).
// At most --window broadcasts are in flight; a broadcast is done when all N
// clients have received it, and the sender then emits the next one, so the
// server runs flat out without an unbounded queue. Delivery latency is the time
// from the sender's emit to each client's receipt (one process, one clock).
// Prints one JSON line on stdout; marks go to stderr.
"use strict";

const {
  parseArgs, checkLoopback, maskedText, Latencies, Errors, CpuWindow, connectMany,
  mark, sleep, round3, now, emitResult, finish, crashHandler,
} = require("./lib/common");

const opts = parseArgs(process.argv, {
  url: "string", url2: "string", clients: "int", duration: "float", warmup: "float", window: "int",
  "connect-concurrency": "int", "connect-timeout": "float", "stall-timeout": "float",
}, {
  url: "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket", url2: "",
  clients: 1000, duration: 10, warmup: 2, window: 16, connectConcurrency: 100,
  connectTimeout: 60, stallTimeout: 5,
});
if (!(opts.clients > 0) || !(opts.duration > 0) || !(opts.warmup >= 0)) throw new Error("bad --clients/--duration/--warmup");
if (!(opts.window >= 1 && opts.window <= 256)) throw new Error("--window must be 1..256");
opts.url = opts.url.replace(/^http/, "ws");
checkLoopback(opts.url);
// --url2: a second server of the same cluster; the second half of the clients (never the
// sender, client 0) connect there, so every broadcast crosses the cluster's bus
if (opts.url2) { opts.url2 = opts.url2.replace(/^http/, "ws"); checkLoopback(opts.url2); }

const RING = 4096; // seq numbers cycle; far more than the window
const FRAMES = new Array(RING);
for (let s = 0; s < RING; s++) FRAMES[s] = maskedText(`42["bcast",${s}]`);
const sentAt = new Float64Array(RING);
const remaining = new Int32Array(RING);
const inMeasure = new Uint8Array(RING);

const errors = new Errors();
const lat = new Latencies();
let phase = "connect";
let seq = 0, inFlight = 0, sender = null;
let deliveries = 0, completed = 0, expired = 0;

function sendOne() {
  seq = (seq + 1) % RING;
  sentAt[seq] = now();
  remaining[seq] = opts.clients;
  inMeasure[seq] = phase === "measure" ? 1 : 0;
  inFlight++;
  sender.send(FRAMES[seq]);
}

function fill() {
  if (phase !== "warmup" && phase !== "measure") return;
  while (inFlight < opts.window) sendOne();
}

// 42["bcast",<seq>] (JSON spacing varies by server): read the trailing integer
function onEvent(buf) {
  const t = now();
  const n = buf.length;
  if (buf[1] !== 0x32 || buf[4] !== 0x62 /* b */ || buf[n - 1] !== 0x5d /* ] */) {
    errors.note("unexpected", buf.toString("utf8", 0, 80));
    return;
  }
  let i = n - 2, s = 0, mul = 1;
  while (i > 0 && buf[i] >= 0x30 && buf[i] <= 0x39) { s += (buf[i] - 0x30) * mul; mul *= 10; i--; }
  if (remaining[s] <= 0) { errors.note("unexpected", `late or duplicate delivery of ${s}`); return; }
  if (phase === "measure") { deliveries++; lat.add(t - sentAt[s]); }
  if (--remaining[s] === 0) {
    inFlight--;
    completed++;
    fill();
  }
}

// A broadcast some client never received would hold its window slot forever.
function expireStale() {
  const t = now();
  for (let s = 0; s < RING; s++) {
    if (remaining[s] > 0 && t - sentAt[s] > opts.stallTimeout * 1000) {
      errors.note("incomplete", `broadcast ${s} reached ${opts.clients - remaining[s]}/${opts.clients} clients in ${opts.stallTimeout}s`);
      remaining[s] = 0;
      inFlight--;
      expired++;
    }
  }
  fill();
}

async function main() {
  const t0 = now();
  const onEach = (s) => { s.onEvent = onEvent; };
  const first = opts.url2 ? Math.ceil(opts.clients / 2) : opts.clients;
  const res = await connectMany(opts.url, first, opts.connectConcurrency, opts.connectTimeout, errors, onEach);
  if (opts.url2 && res.connected === first) {
    const more = await connectMany(opts.url2, opts.clients - first, opts.connectConcurrency, opts.connectTimeout, errors, onEach);
    res.sockets = res.sockets.concat(more.sockets);
    res.connected += more.connected;
    res.timedOut = res.timedOut || more.timedOut;
  }
  const connectMs = now() - t0;
  if (res.connected < opts.clients) {
    for (const s of res.sockets) s.terminate();
    emitResult({ ok: false, error: `only ${res.connected}/${opts.clients} clients connected${res.timedOut ? ` within ${opts.connectTimeout}s` : ""} (${errors.messages[0] || "?"})`, errors });
    return finish(false);
  }
  sender = res.sockets[0];
  await sleep(200); // let the last CONNECT replies settle

  phase = "warmup";
  const stale = setInterval(expireStale, 500);
  fill();
  await sleep(opts.warmup * 1000);

  mark("measure-start");
  phase = "measure";
  const completed0 = completed;
  const cpu = new CpuWindow();
  cpu.start();
  await sleep(opts.duration * 1000);
  phase = "drain";
  const cpuRes = cpu.stop();
  mark("measure-end");
  const bcasts = completed - completed0;
  const mem = process.memoryUsage();
  // wait for the in-flight broadcasts so the server is idle when we leave
  const drainUntil = now() + 5000;
  while (inFlight > 0 && now() < drainUntil) await sleep(20);
  clearInterval(stale);
  phase = "done";
  const closedEarly = errors.count("closed_early");
  for (const s of res.sockets) s.close();

  const wall = cpuRes.wall_s;
  const ok = deliveries > 0 && closedEarly === 0 && expired === 0;
  emitResult({
    ok,
    error: ok ? null : (deliveries === 0 ? "no deliveries during the measurement window" : `errors during run: ${errors.messages[0]}`),
    url: opts.url,
    url2: opts.url2 || null,
    clients: opts.clients,
    window: opts.window,
    warmup_s: opts.warmup,
    duration_s: wall,
    connect_ms: round3(connectMs),
    deliveries,
    deliveries_per_s: round3(deliveries / wall),
    broadcasts_completed: bcasts,
    broadcasts_per_s: round3(bcasts / wall),
    latency_ms: lat.summary(),
    loadgen_cpu: cpuRes,
    loadgen_rss_mb: round3(mem.rss / 1048576),
    in_flight_at_end: inFlight,
    errors,
  });
  return finish(ok);
}

main().catch(crashHandler);
