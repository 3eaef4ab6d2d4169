// Shared helpers for the load generators (loadgen*.js). Not a Socket.IO
// client: each load generator speaks the wire protocol itself.
"use strict";

const path = require("path");
const WebSocket = require(path.join(__dirname, "..", "node_modules", "ws"));

// Options of the form --name value or --name=value; `spec` maps each name to
// "int" | "float" | "string" and gives defaults in `defaults`.
function parseArgs(argv, spec, defaults) {
  const opts = { ...defaults };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const key = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--/, "");
    const val = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (!(key in spec)) throw new Error(`unknown option ${a}`);
    if (val === undefined) throw new Error(`missing value for ${a}`);
    const name = key.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const kind = spec[key];
    opts[name] = kind === "int" ? parseInt(val, 10) : kind === "float" ? parseFloat(val) : val;
    if ((kind === "int" || kind === "float") && !Number.isFinite(opts[name])) {
      throw new Error(`bad number for ${a}: ${val}`);
    }
  }
  return opts;
}

// Only loopback traffic: the benchmarks never talk to another host.
function checkLoopback(url) {
  const u = new URL(url);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) {
    throw new Error(`refusing non-loopback target ${u.hostname}`);
  }
  return u;
}

// A zero masking key is legal (RFC 6455 lets the client pick it) and makes
// ws skip the XOR pass, so client-side masking costs the load generator
// nothing. Servers still run their full unmasking code.
function zeroMask(mask) {
  mask[0] = 0; mask[1] = 0; mask[2] = 0; mask[3] = 0;
}

function openWebSocket(url, handshakeTimeoutS) {
  return new WebSocket(url, {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handshakeTimeout: handshakeTimeoutS * 1000,
    generateMask: zeroMask,
  });
}

const TEXT = { binary: false, compress: false, fin: true, mask: true };
const BINARY = { binary: true, compress: false, fin: true, mask: true };

class Latencies {
  constructor() { this.buf = new Float64Array(1 << 16); this.n = 0; }
  add(ms) {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }
  summary() {
    const n = this.n;
    const s = this.buf.subarray(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += s[i];
    const pct = (p) => (n === 0 ? null : s[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]);
    return {
      count: n,
      p50: round3(pct(50)), p90: round3(pct(90)), p99: round3(pct(99)),
      max: round3(n ? s[n - 1] : null), mean: round3(n ? sum / n : null),
    };
  }
}

class Errors {
  constructor() { this.counts = {}; this.messages = []; }
  note(kind, msg) {
    this.counts[kind] = (this.counts[kind] || 0) + 1;
    if (this.messages.length < 10) this.messages.push(`${kind}: ${msg}`);
  }
  count(kind) { return this.counts[kind] || 0; }
  toJSON() { return { ...this.counts, messages: this.messages }; }
}

// CPU of this process over a window, as a percentage of one core.
class CpuWindow {
  start() { this.cpu0 = process.cpuUsage(); this.t0 = performance.now(); }
  stop() {
    const cpu = process.cpuUsage(this.cpu0);
    const wall = (performance.now() - this.t0) / 1000;
    return {
      wall_s: round3(wall),
      user_s: round3(cpu.user / 1e6),
      system_s: round3(cpu.system / 1e6),
      percent: round3((100 * (cpu.user + cpu.system)) / 1e6 / wall),
    };
  }
}

// The runner samples the server (CPU, RSS) when it sees these lines.
function mark(name) { process.stderr.write(`# mark ${name}\n`); }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
const now = () => performance.now();

function emitResult(result) { process.stdout.write(JSON.stringify(result) + "\n"); }

// Exit soon after printing, even with sockets still closing.
async function finish(ok) {
  setTimeout(() => process.exit(ok ? 0 : 1), 300).unref();
  await sleep(400);
  process.exit(ok ? 0 : 1);
}

function crashHandler(err) {
  emitResult({ ok: false, error: `loadgen crashed: ${err && err.stack ? err.stack : err}` });
  process.exit(2);
}

module.exports = {
  WebSocket, parseArgs, checkLoopback, openWebSocket, zeroMask, TEXT, BINARY,
  Latencies, Errors, CpuWindow, mark, sleep, round3, now, emitResult, finish, crashHandler,
};

// A minimal Socket.IO-over-WebSocket connection for the many-client scenarios,
// on a raw TCP socket (no ws library): it writes a fixed upgrade request, checks
// for "101", then scans frames itself. That costs the load generator far less
// per received message than a full WebSocket client, which matters when 1000
// clients receive a broadcast. Client frames are masked with a zero key and
// precomputed (see maskedText). Flow: Engine.IO open -> send "40" -> wait for
// "40{...}"; pings are answered; other Socket.IO packets go to onEvent(buf)
// (the text payload), binary messages to onBinary(buf).
const net = require("net");
const CRLF2 = Buffer.from("\r\n\r\n");

function maskedFrame(opcode, payload) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
  let head;
  if (p.length < 126) head = Buffer.from([0x80 | opcode, 0x80 | p.length]);
  else if (p.length < 65536) { head = Buffer.alloc(4); head[0] = 0x80 | opcode; head[1] = 0x80 | 126; head.writeUInt16BE(p.length, 2); }
  else { head = Buffer.alloc(10); head[0] = 0x80 | opcode; head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(p.length), 2); }
  return Buffer.concat([head, Buffer.alloc(4) /* zero masking key */, p]);
}
const maskedText = (text) => maskedFrame(0x1, text);
const PONG_FRAME = maskedText("3");
const CONNECT_FRAME = maskedText("40");
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const CLOSE_FRAME = maskedFrame(0x8, Buffer.from([0x03, 0xe8]));

class SioSocket {
  constructor(url, timeoutS, errors) {
    const u = url instanceof URL ? url : new URL(url);
    this.connected = false;
    this.closed = false;
    this.closingOnPurpose = false;
    this.upgraded = false;
    this.onEvent = null;
    this.onBinary = null;
    this.errors = errors;
    this.acc = null;
    this.openedAt = now();
    this.connectedAt = 0;
    this.ready = new Promise((resolve) => { this._resolve = resolve; });
    this.timer = setTimeout(() => {
      if (!this.connected) { errors.note("connect", `no Socket.IO CONNECT within ${timeoutS}s`); this.terminate(); }
    }, timeoutS * 1000);
    const port = parseInt(u.port || "80", 10);
    const host = u.hostname.replace(/^\[|\]$/g, "");
    // onread: reads land in one shared buffer and skip the stream machinery
    // (no allocation, no "data" event); leftovers of a partial frame are copied.
    this.sock = net.connect({
      host, port,
      onread: { buffer: READ_BUFFER, callback: (nread, b) => { this._onData(b.subarray(0, nread)); } },
    });
    this.sock.setNoDelay(true);
    this.sock.on("connect", () => {
      this.sock.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.hostname}:${port}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: c29ja2lvLWJlbmNobWFyaw==\r\n\r\n", "latin1");
    });
    this.sock.on("error", (err) => { if (!this.connected) errors.note("connect", err.message); });
    this.sock.on("close", () => {
      this.closed = true;
      clearTimeout(this.timer);
      if (this.connected && !this.closingOnPurpose) errors.note("closed_early", "connection closed by the server");
      this._done(false);
    });
  }

  // `chunk` is only valid during this call (it is the shared READ_BUFFER);
  // so are the payloads handed to onEvent/onBinary.
  _onData(chunk) {
    let buf = this.acc ? Buffer.concat([this.acc, chunk]) : chunk;
    this.acc = null;
    let i = 0;
    if (!this.upgraded) {
      const end = buf.indexOf(CRLF2);
      if (end < 0) { this.acc = Buffer.from(buf); return; }
      if (buf.toString("latin1", 9, 12) !== "101") {
        this.errors.note("connect", `upgrade refused: ${buf.toString("latin1", 0, Math.min(end, 80))}`);
        this.terminate();
        return;
      }
      this.upgraded = true;
      i = end + 4;
    }
    const n = buf.length;
    while (i + 2 <= n) {
      const b1 = buf[i + 1];
      let len = b1 & 0x7f, h = 2;
      if (len === 126) { if (i + 4 > n) break; len = buf.readUInt16BE(i + 2); h = 4; }
      else if (len === 127) { if (i + 10 > n) break; len = Number(buf.readBigUInt64BE(i + 2)); h = 10; }
      if (b1 & 0x80) { this.errors.note("unexpected", "masked frame from the server"); this.terminate(); return; }
      if (i + h + len > n) break;
      const op = buf[i] & 0x0f;
      const payload = buf.subarray(i + h, i + h + len);
      i += h + len;
      if (op === 0x1) this._onText(payload);
      else if (op === 0x2) { if (this.onBinary) this.onBinary(payload); }
      else if (op === 0x9) this.sock.write(maskedFrame(0xa, payload));
      else if (op === 0x8) { this.closingOnPurpose = this.closingOnPurpose || !this.connected; this.sock.end(); return; }
      else if (op !== 0xa) this.errors.note("unexpected", `frame opcode ${op}`);
    }
    if (i < n) this.acc = Buffer.from(buf.subarray(i)); // a copy: READ_BUFFER is reused
  }

  _onText(buf) {
    const t0 = buf[0];
    if (t0 === 0x34) { // Engine.IO message
      if (buf[1] === 0x30 && !this.connected) { // Socket.IO CONNECT reply
        this.connected = true;
        this.connectedAt = now();
        clearTimeout(this.timer);
        this._done(true);
        return;
      }
      if (buf[1] === 0x34) { this.errors.note("connect", `CONNECT_ERROR ${buf.toString("utf8", 0, 80)}`); this.terminate(); return; }
      if (this.onEvent) this.onEvent(buf);
      return;
    }
    if (t0 === 0x32) { this.sock.write(PONG_FRAME); return; } // ping
    if (t0 === 0x30) { this.sock.write(CONNECT_FRAME); return; } // open
    if (t0 === 0x31 || t0 === 0x36) return; // close, noop
    this.errors.note("unexpected", buf.toString("utf8", 0, 80));
  }

  send(frame) { this.sock.write(frame); } // a frame from maskedText()
  _done(ok) { if (this._resolve) { const f = this._resolve; this._resolve = null; f(ok); } }
  close() {
    this.closingOnPurpose = true;
    if (this.closed) return;
    try { this.sock.write(CLOSE_FRAME); this.sock.end(); } catch (_) { /* ignore */ }
    setTimeout(() => this.sock.destroy(), 1000).unref();
  }
  terminate() { this.closingOnPurpose = true; this.sock.destroy(); }
}

// Open n SioSockets with at most `concurrency` handshakes in flight.
// Resolves to {sockets, connected, timedOut}; never waits past timeoutS.
async function connectMany(url, n, concurrency, timeoutS, errors, onEach) {
  const target = new URL(url);
  const sockets = [];
  let next = 0, connected = 0, failed = 0;
  let resolveAll;
  const all = new Promise((r) => { resolveAll = r; });
  const launch = () => {
    if (next >= n) return;
    const s = new SioSocket(target, timeoutS, errors);
    const index = next++;
    sockets.push(s);
    if (onEach) onEach(s, index);
    s.ready.then((ok) => {
      if (ok) connected++; else failed++;
      if (connected + failed === n) resolveAll();
      else launch();
    });
  };
  for (let i = 0; i < Math.min(concurrency, n); i++) launch();
  const outcome = await Promise.race([all.then(() => "done"), sleep(timeoutS * 1000).then(() => "timeout")]);
  return { sockets, connected, failed, timedOut: outcome === "timeout" };
}

module.exports.SioSocket = SioSocket;
module.exports.maskedText = maskedText;
module.exports.connectMany = connectMany;
