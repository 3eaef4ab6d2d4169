#!/usr/bin/env node
// Load generator for the "echo with ack" benchmark.
//
// Speaks Engine.IO v4 / Socket.IO v5 over a raw WebSocket (the `ws` package),
// with precomputed frames, so that it stays much cheaper than the server it
// measures. Each client runs a closed loop:
//
//   send  42<id>["echo",<payload>]      (EIO message "4" + SIO EVENT "2" + ack id)
//   wait  43<id>[<payload>]             (EIO message "4" + SIO ACK "3" + same id)
//
// Engine.IO pings ("2") are answered with pongs ("3").
// Prints exactly one JSON line on stdout; diagnostics go to stderr.
"use strict";

const WebSocket = require("ws");

function parseArgs(argv) {
  const opts = {
    url: "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket",
    clients: 50,
    duration: 10,
    warmup: 2,
    payload: '"hello"',
    connectTimeout: 20,
    drainTimeout: 5,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const key = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--/, "");
    const val = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (val === undefined) throw new Error(`missing value for ${a}`);
    switch (key) {
      case "url": opts.url = val; break;
      case "clients": opts.clients = parseInt(val, 10); break;
      case "duration": opts.duration = parseFloat(val); break;
      case "warmup": opts.warmup = parseFloat(val); break;
      case "payload": opts.payload = val; break;
      case "connect-timeout": opts.connectTimeout = parseFloat(val); break;
      case "drain-timeout": opts.drainTimeout = parseFloat(val); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!(opts.clients > 0)) throw new Error("--clients must be > 0");
  if (!(opts.duration > 0)) throw new Error("--duration must be > 0");
  if (!(opts.warmup >= 0)) throw new Error("--warmup must be >= 0");
  // The payload is JSON text; a bare word is taken as a string.
  try {
    JSON.parse(opts.payload);
  } catch (_) {
    opts.payload = JSON.stringify(opts.payload);
  }
  if (!/^https?:|^wss?:/.test(opts.url)) throw new Error("--url must be ws:// or http://");
  opts.url = opts.url.replace(/^http/, "ws");
  return opts;
}

const opts = parseArgs(process.argv);

// ---- precomputed frames ---------------------------------------------------
// Ack ids cycle through [0, ID_RING) so every outgoing frame is a prebuilt
// Buffer; only one ack per client is ever outstanding, so ids never collide.
const ID_RING = 1024;
const EVENT_FRAMES = new Array(ID_RING);
for (let id = 0; id < ID_RING; id++) {
  EVENT_FRAMES[id] = Buffer.from(`42${id}["echo",${opts.payload}]`, "utf8");
}
const ACK_TAIL = Buffer.from(`[${opts.payload}]`, "utf8"); // bytes after "43<id>"
const PONG = Buffer.from("3");
const CONNECT = Buffer.from("40");
const SEND_OPTS = { binary: false, compress: false, fin: true, mask: true };

const CH_0 = 0x30, CH_9 = 0x39, CH_1 = 0x31, CH_2 = 0x32, CH_3 = 0x33, CH_4 = 0x34;

// ---- measurement state ----------------------------------------------------
let phase = "connect"; // connect -> warmup -> measure -> drain -> done
let latencies = new Float64Array(1 << 16);
let nLat = 0;
let acksTotal = 0;
const errors = { connect: 0, closed_early: 0, bad_ack: 0, unexpected: 0, messages: [] };
function noteError(kind, msg) {
  errors[kind]++;
  if (errors.messages.length < 10) errors.messages.push(`${kind}: ${msg}`);
}
function recordLatency(ms) {
  if (nLat === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[nLat++] = ms;
}

const now = () => performance.now();

// ---- one client -------------------------------------------------------------
class Client {
  constructor(index) {
    this.index = index;
    this.id = 0;
    this.sentAt = 0;
    this.waiting = false;
    this.connected = false;
    this.closed = false;
    this.sioSid = null;
    this.onReady = null;
    this.ws = new WebSocket(opts.url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: opts.connectTimeout * 1000,
    });
    this.ws.on("message", (data) => this.onMessage(data));
    this.ws.on("error", (err) => {
      if (!this.connected) noteError("connect", `client ${index}: ${err.message}`);
      else if (phase !== "done" && phase !== "drain") noteError("unexpected", `client ${index}: ${err.message}`);
    });
    this.ws.on("close", (code) => {
      this.closed = true;
      if (this.connected && phase !== "done" && phase !== "drain" && !this.closingOnPurpose) {
        noteError("closed_early", `client ${index} closed with code ${code}`);
      }
      if (this.onReady) { const f = this.onReady; this.onReady = null; f(false); }
      checkDrained();
    });
  }

  sendNext() {
    if (phase === "drain" || phase === "done" || this.closed) { this.waiting = false; checkDrained(); return; }
    this.id = (this.id + 1) % ID_RING;
    this.waiting = true;
    this.sentAt = now();
    this.ws.send(EVENT_FRAMES[this.id], SEND_OPTS);
  }

  onMessage(buf) {
    // buf is a Buffer (text frames arrive as Buffers in ws 8).
    const t0 = buf[0];
    if (t0 === CH_4) {
      const t1 = buf[1];
      if (t1 === CH_3) { this.onAck(buf); return; }
      if (t1 === CH_0) {
        // Socket.IO CONNECT reply: 40{"sid":"..."}
        if (!this.connected) {
          this.connected = true;
          try { this.sioSid = JSON.parse(buf.toString("utf8", 2)).sid; } catch (_) { /* ignore */ }
          if (this.onReady) { const f = this.onReady; this.onReady = null; f(true); }
        }
        return;
      }
      if (t1 === CH_4) { noteError("connect", `client ${this.index}: CONNECT_ERROR ${buf.toString()}`); this.ws.terminate(); return; }
      if (t1 === CH_1) { noteError("unexpected", `client ${this.index}: server disconnected the namespace`); return; }
      noteError("unexpected", `client ${this.index}: ${buf.toString("utf8", 0, 80)}`);
      return;
    }
    if (t0 === CH_2) { this.ws.send(PONG, SEND_OPTS); return; } // Engine.IO ping
    if (t0 === CH_0) { this.ws.send(CONNECT, SEND_OPTS); return; } // Engine.IO open -> SIO CONNECT
    if (t0 === CH_1) return; // Engine.IO close
    if (t0 === 0x36) return; // Engine.IO noop
    noteError("unexpected", `client ${this.index}: ${buf.toString("utf8", 0, 80)}`);
  }

  onAck(buf) {
    const t = now();
    // parse the ack id: digits after "43", then the payload array
    let i = 2, id = 0;
    const n = buf.length;
    while (i < n) {
      const c = buf[i];
      if (c < CH_0 || c > CH_9) break;
      id = id * 10 + (c - CH_0);
      i++;
    }
    if (!this.waiting || id !== this.id || n - i !== ACK_TAIL.length ||
        buf.compare(ACK_TAIL, 0, ACK_TAIL.length, i, n) !== 0) {
      noteError("bad_ack", `client ${this.index}: expected id ${this.id}, got ${buf.toString("utf8", 0, 80)}`);
      if (this.waiting && id !== this.id) return; // keep waiting for the right one
    }
    this.waiting = false;
    if (phase === "measure") {
      acksTotal++;
      recordLatency(t - this.sentAt);
    }
    this.sendNext();
  }

  ready() {
    return new Promise((resolve) => {
      if (this.connected) return resolve(true);
      if (this.closed) return resolve(false);
      this.onReady = resolve;
    });
  }

  close() {
    this.closingOnPurpose = true;
    try { this.ws.close(1000); } catch (_) { /* ignore */ }
  }
}

// ---- orchestration ------------------------------------------------------------
let clients = [];
let drainResolve = null;
function checkDrained() {
  if (drainResolve && clients.every((c) => !c.waiting || c.closed)) {
    const f = drainResolve; drainResolve = null; f();
  }
}

function percentile(sorted, n, p) {
  if (n === 0) return null;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

function emit(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

async function main() {
  const tStart = now();
  for (let i = 0; i < opts.clients; i++) clients.push(new Client(i));

  const connectDeadline = sleep(opts.connectTimeout * 1000).then(() => "timeout");
  const allReady = Promise.all(clients.map((c) => c.ready())).then((oks) => oks);
  const outcome = await Promise.race([allReady, connectDeadline]);
  const nConnected = clients.filter((c) => c.connected && !c.closed).length;
  const connectMs = now() - tStart;
  if (outcome === "timeout" || nConnected < opts.clients) {
    phase = "done";
    for (const c of clients) c.ws.terminate();
    emit({
      ok: false,
      error: outcome === "timeout"
        ? `only ${nConnected}/${opts.clients} clients connected within ${opts.connectTimeout}s`
        : `only ${nConnected}/${opts.clients} clients connected (${errors.messages[0] || "connection closed"})`,
      clients: opts.clients, connected: nConnected, errors,
    });
    process.exit(1);
  }

  phase = "warmup";
  for (const c of clients) c.sendNext();
  await sleep(opts.warmup * 1000);

  // Markers on stderr let the runner sample the server's CPU over exactly
  // the measurement window.
  process.stderr.write("# measure-start\n");
  phase = "measure";
  const cpu0 = process.cpuUsage();
  const m0 = now();
  await sleep(opts.duration * 1000);
  phase = "drain";
  const m1 = now();
  const cpu = process.cpuUsage(cpu0);
  process.stderr.write("# measure-end\n");
  const mem = process.memoryUsage();

  // let in-flight acks come back so the server is not left with work
  await Promise.race([new Promise((r) => { drainResolve = r; checkDrained(); }), sleep(opts.drainTimeout * 1000)]);
  phase = "done";
  const stillWaiting = clients.filter((c) => c.waiting && !c.closed).length;
  for (const c of clients) c.close();

  const wall = (m1 - m0) / 1000;
  const sorted = latencies.subarray(0, nLat).sort();
  let sum = 0;
  for (let i = 0; i < nLat; i++) sum += sorted[i];
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const ok = nLat > 0 && errors.closed_early === 0 && errors.bad_ack === 0;

  emit({
    ok,
    error: ok ? null : (nLat === 0 ? "no acks received during the measurement window" : "errors during run"),
    url: opts.url,
    clients: opts.clients,
    connected: nConnected,
    payload: opts.payload,
    warmup_s: opts.warmup,
    duration_s: round3(wall),
    connect_ms: round3(connectMs),
    acks: acksTotal,
    acks_per_s: round3(acksTotal / wall),
    latency_ms: {
      p50: round3(percentile(sorted, nLat, 50)),
      p90: round3(percentile(sorted, nLat, 90)),
      p99: round3(percentile(sorted, nLat, 99)),
      max: round3(nLat ? sorted[nLat - 1] : null),
      mean: round3(nLat ? sum / nLat : null),
    },
    loadgen_cpu: {
      user_s: round3(cpu.user / 1e6),
      system_s: round3(cpu.system / 1e6),
      percent: round3((100 * cpuSec) / wall), // of one core
    },
    loadgen_rss_mb: round3(mem.rss / 1048576),
    unanswered_at_end: stillWaiting,
    errors,
  });
  // give close frames a moment, then leave regardless
  setTimeout(() => process.exit(ok ? 0 : 1), 200).unref();
  await sleep(300);
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  emit({ ok: false, error: `loadgen crashed: ${err && err.stack ? err.stack : err}` });
  process.exit(2);
});
