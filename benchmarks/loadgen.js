#!/usr/bin/env node
// Load generator for "echo with ack" and "binary echo".
//
// Speaks Engine.IO v4 / Socket.IO v5 over a raw WebSocket (the `ws` package)
// with precomputed frames, so that it stays much cheaper than the server it
// measures. Each client runs a closed loop:
//
//   text:    send 42<id>["echo",<payload>]                  wait 43<id>[<payload>]
//   binary:  send 451-<id>["echo",{"_placeholder":true,"num":0}] + <N bytes>
//            wait 461-<id>[{"_placeholder":true,"num":0}] + the same N bytes
//
// Engine.IO pings ("2") are answered with pongs ("3").
// Prints exactly one JSON line on stdout; diagnostics and marks go to stderr.
"use strict";

const {
  parseArgs, checkLoopback, openWebSocket, TEXT, BINARY, Latencies, Errors, CpuWindow,
  mark, sleep, round3, now, emitResult, finish, crashHandler,
} = require("./lib/common");

const opts = parseArgs(process.argv, {
  url: "string", clients: "int", duration: "float", warmup: "float", payload: "string",
  "binary-size": "int", "connect-timeout": "float", "drain-timeout": "float",
}, {
  url: "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket",
  clients: 50, duration: 10, warmup: 2, payload: '"hello"', binarySize: 0,
  connectTimeout: 20, drainTimeout: 5,
});
if (!(opts.clients > 0)) throw new Error("--clients must be > 0");
if (!(opts.duration > 0)) throw new Error("--duration must be > 0");
if (!(opts.warmup >= 0)) throw new Error("--warmup must be >= 0");
if (!(opts.binarySize >= 0)) throw new Error("--binary-size must be >= 0");
try { JSON.parse(opts.payload); } catch (_) { opts.payload = JSON.stringify(opts.payload); }
opts.url = opts.url.replace(/^http/, "ws");
checkLoopback(opts.url);
const BIN = opts.binarySize > 0;

// ---- precomputed frames ---------------------------------------------------
// Ack ids cycle through [0, ID_RING) so every outgoing frame is a prebuilt
// Buffer; only one ack per client is ever outstanding, so ids never collide.
const ID_RING = 1024;
const EVENT_FRAMES = new Array(ID_RING);
for (let id = 0; id < ID_RING; id++) {
  EVENT_FRAMES[id] = BIN
    ? Buffer.from(`451-${id}["echo",{"_placeholder":true,"num":0}]`, "utf8")
    : Buffer.from(`42${id}["echo",${opts.payload}]`, "utf8");
}
// The exact bytes are checked first; other spacing of the same JSON is fine too.
const ACK_JSON = JSON.stringify(JSON.parse(`[${opts.payload}]`));
const sameJson = (text) => { try { return JSON.stringify(JSON.parse(text)) === ACK_JSON; } catch (_) { return false; } };
const ACK_TAIL = Buffer.from(`[${opts.payload}]`, "utf8"); // bytes after "43<id>"
const BLOB = Buffer.alloc(opts.binarySize);
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 131 + 7) & 0xff;
const PONG = Buffer.from("3");
const CONNECT = Buffer.from("40");

const CH_0 = 0x30, CH_9 = 0x39, CH_1 = 0x31, CH_2 = 0x32, CH_3 = 0x33, CH_4 = 0x34, CH_6 = 0x36;
const DASH = 0x2d;

let phase = "connect"; // connect -> warmup -> measure -> drain -> done
const lat = new Latencies();
let acksTotal = 0;
let bytesEchoed = 0;
const errors = new Errors();
const quiet = () => phase === "done" || phase === "drain";

function readInt(buf, i) {
  let v = 0;
  const start = i;
  while (i < buf.length && buf[i] >= CH_0 && buf[i] <= CH_9) { v = v * 10 + (buf[i] - CH_0); i++; }
  return [i === start ? -1 : v, i];
}

class Client {
  constructor(index) {
    this.index = index;
    this.id = 0;
    this.sentAt = 0;
    this.waiting = false;
    this.awaitingBlob = false;
    this.connected = false;
    this.closed = false;
    this.onReady = null;
    this.ws = openWebSocket(opts.url, opts.connectTimeout);
    this.ws.on("message", (data, isBinary) => (isBinary ? this.onBinary(data) : this.onText(data)));
    this.ws.on("error", (err) => {
      if (!this.connected) errors.note("connect", `client ${index}: ${err.message}`);
      else if (!quiet()) errors.note("unexpected", `client ${index}: ${err.message}`);
    });
    this.ws.on("close", (code) => {
      this.closed = true;
      if (this.connected && !quiet() && !this.closingOnPurpose) {
        errors.note("closed_early", `client ${index} closed with code ${code}`);
      }
      this.resolveReady(false);
      checkDrained();
    });
  }

  resolveReady(ok) { if (this.onReady) { const f = this.onReady; this.onReady = null; f(ok); } }

  sendNext() {
    if (quiet() || this.closed) { this.waiting = false; checkDrained(); return; }
    this.id = (this.id + 1) % ID_RING;
    this.waiting = true;
    this.sentAt = now();
    this.ws.send(EVENT_FRAMES[this.id], TEXT);
    if (BIN) this.ws.send(BLOB, BINARY);
  }

  onText(buf) {
    const t0 = buf[0];
    if (t0 === CH_4) {
      const t1 = buf[1];
      if (t1 === CH_3 && !BIN) { this.onAck(buf); return; }
      if (t1 === CH_6 && BIN) { this.onBinaryAckHeader(buf); return; }
      if (t1 === CH_0) { // Socket.IO CONNECT reply: 40{"sid":"..."}
        if (!this.connected) { this.connected = true; this.resolveReady(true); }
        return;
      }
      if (t1 === CH_4) { errors.note("connect", `client ${this.index}: CONNECT_ERROR ${buf.toString()}`); this.ws.terminate(); return; }
      if (t1 === CH_1) { errors.note("unexpected", `client ${this.index}: server disconnected the namespace`); return; }
      errors.note("unexpected", `client ${this.index}: ${buf.toString("utf8", 0, 80)}`);
      return;
    }
    if (t0 === CH_2) { this.ws.send(PONG, TEXT); return; } // Engine.IO ping
    if (t0 === CH_0) { this.ws.send(CONNECT, TEXT); return; } // Engine.IO open -> SIO CONNECT
    if (t0 === CH_1 || t0 === CH_6) return; // Engine.IO close / noop
    errors.note("unexpected", `client ${this.index}: ${buf.toString("utf8", 0, 80)}`);
  }

  onAck(buf) {
    const t = now();
    const [id, i] = readInt(buf, 2);
    const n = buf.length;
    if (!this.waiting || id !== this.id || ((n - i !== ACK_TAIL.length ||
        buf.compare(ACK_TAIL, 0, ACK_TAIL.length, i, n) !== 0) && !sameJson(buf.toString("utf8", i)))) {
      errors.note("bad_ack", `client ${this.index}: expected id ${this.id}, got ${buf.toString("utf8", 0, 80)}`);
      if (this.waiting && id !== this.id) return; // keep waiting for the right one
    }
    this.complete(t);
  }

  onBinaryAckHeader(buf) {
    // 46<attachments>-<id>[...placeholder...]
    const [count, i] = readInt(buf, 2);
    const [id] = buf[i] === DASH ? readInt(buf, i + 1) : [-1];
    if (!this.waiting || count !== 1 || id !== this.id) {
      errors.note("bad_ack", `client ${this.index}: expected binary ack id ${this.id}, got ${buf.toString("utf8", 0, 80)}`);
      return;
    }
    this.awaitingBlob = true;
  }

  onBinary(buf) {
    const t = now();
    if (!this.awaitingBlob) { errors.note("unexpected", `client ${this.index}: stray binary frame`); return; }
    this.awaitingBlob = false;
    if (buf.length !== BLOB.length || !buf.equals(BLOB)) {
      errors.note("bad_ack", `client ${this.index}: echoed ${buf.length} bytes differ from the ${BLOB.length} sent`);
    } else if (phase === "measure") {
      bytesEchoed += buf.length;
    }
    this.complete(t);
  }

  complete(t) {
    this.waiting = false;
    if (phase === "measure") { acksTotal++; lat.add(t - this.sentAt); }
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

let clients = [];
let drainResolve = null;
function checkDrained() {
  if (drainResolve && clients.every((c) => !c.waiting || c.closed)) {
    const f = drainResolve; drainResolve = null; f();
  }
}

async function main() {
  const tStart = now();
  for (let i = 0; i < opts.clients; i++) clients.push(new Client(i));

  const deadline = sleep(opts.connectTimeout * 1000).then(() => "timeout");
  const outcome = await Promise.race([Promise.all(clients.map((c) => c.ready())), deadline]);
  const nConnected = clients.filter((c) => c.connected && !c.closed).length;
  const connectMs = now() - tStart;
  if (outcome === "timeout" || nConnected < opts.clients) {
    phase = "done";
    for (const c of clients) c.ws.terminate();
    const why = outcome === "timeout" ? `within ${opts.connectTimeout}s` : `(${errors.messages[0] || "connection closed"})`;
    emitResult({ ok: false, error: `only ${nConnected}/${opts.clients} clients connected ${why}`, connected: nConnected, errors });
    return finish(false);
  }

  phase = "warmup";
  for (const c of clients) c.sendNext();
  await sleep(opts.warmup * 1000);

  mark("measure-start");
  phase = "measure";
  const cpu = new CpuWindow();
  cpu.start();
  await sleep(opts.duration * 1000);
  phase = "drain";
  const cpuRes = cpu.stop();
  mark("measure-end");
  const mem = process.memoryUsage();

  // let in-flight acks come back so the server is not left with work
  await Promise.race([new Promise((r) => { drainResolve = r; checkDrained(); }), sleep(opts.drainTimeout * 1000)]);
  phase = "done";
  const stillWaiting = clients.filter((c) => c.waiting && !c.closed).length;
  for (const c of clients) c.close();

  const wall = cpuRes.wall_s;
  const ok = lat.n > 0 && errors.count("closed_early") === 0 && errors.count("bad_ack") === 0;
  emitResult({
    ok,
    error: ok ? null : (lat.n === 0 ? "no acks received during the measurement window" : `errors during run: ${errors.messages[0]}`),
    url: opts.url,
    clients: opts.clients,
    connected: nConnected,
    payload: BIN ? `${opts.binarySize} bytes binary` : opts.payload,
    binary_size: opts.binarySize,
    warmup_s: opts.warmup,
    duration_s: round3(wall),
    connect_ms: round3(connectMs),
    acks: acksTotal,
    acks_per_s: round3(acksTotal / wall),
    mib_per_s: BIN ? round3(bytesEchoed / wall / 1048576) : null,
    latency_ms: lat.summary(),
    loadgen_cpu: cpuRes,
    loadgen_rss_mb: round3(mem.rss / 1048576),
    unanswered_at_end: stillWaiting,
    errors,
  });
  return finish(ok);
}

main().catch(crashHandler);
