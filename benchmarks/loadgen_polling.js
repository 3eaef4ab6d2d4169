#!/usr/bin/env node
// Load generator for "polling echo": HTTP long-polling only, raw protocol.
//
// Each client does the Engine.IO v4 polling handshake (GET -> 0{"sid"...}),
// joins "/" (POST 40, GET -> 40{...}), then keeps one long-poll GET pending
// at all times, as real clients do, and runs a closed loop:
//   POST 42<id>["echo",<payload>]  ->  the pending GET returns 43<id>[<payload>]
// Requests are precomputed bytes written on two keep-alive TCP connections per
// client (one for GETs, one for POSTs) by a minimal HTTP/1.1 client below
// (Content-Length or chunked responses). Pings ("2") are answered with POST "3".
// Prints one JSON line on stdout; marks go to stderr.
"use strict";

const net = require("net");
const {
  parseArgs, checkLoopback, Latencies, Errors, CpuWindow,
  mark, sleep, round3, now, emitResult, finish, crashHandler,
} = require("./lib/common");

const opts = parseArgs(process.argv, {
  url: "string", clients: "int", duration: "float", warmup: "float", payload: "string",
  "connect-timeout": "float",
}, {
  url: "http://127.0.0.1:5000/socket.io/", clients: 20, duration: 10, warmup: 2,
  payload: '"hello"', connectTimeout: 20,
});
if (!(opts.clients > 0) || !(opts.duration > 0) || !(opts.warmup >= 0)) throw new Error("bad --clients/--duration/--warmup");
try { JSON.parse(opts.payload); } catch (_) { opts.payload = JSON.stringify(opts.payload); }
const URL_ = checkLoopback(opts.url.replace(/^ws/, "http"));
const HOST = URL_.hostname.replace(/^\[|\]$/g, "");
const PORT = parseInt(URL_.port || "80", 10);
const PATH = URL_.pathname.endsWith("/") ? URL_.pathname : URL_.pathname + "/";
const HOST_HDR = `${URL_.hostname}:${PORT}`;

const errors = new Errors();
const lat = new Latencies();
let phase = "connect";
let acksTotal = 0, requests = 0, reconnects = 0;
const quiet = () => phase === "done" || phase === "drain";

// ---- a minimal HTTP/1.1 keep-alive client -----------------------------------
const CRLF2 = Buffer.from("\r\n\r\n");
class HttpConn {
  constructor() { this.queue = []; this.current = null; this.sock = null; this.acc = null; }
  _open() {
    const sock = net.connect({ host: HOST, port: PORT });
    sock.setNoDelay(true);
    sock.on("data", (d) => { this.acc = this.acc ? Buffer.concat([this.acc, d]) : d; this._parse(); });
    sock.on("error", (e) => { if (!quiet()) errors.note("http", e.message); });
    sock.on("close", () => {
      if (this.sock !== sock) return;
      this.sock = null; this.acc = null;
      if (this.current && !quiet()) {
        const cb = this.current.cb;
        this.current = null;
        cb(new Error("connection closed during a request"));
      }
      if (!quiet() && this.queue.length) this._next();
    });
    this.sock = sock;
  }
  // cb(err, status, bodyBuffer)
  request(buf, cb) { this.queue.push({ buf, cb }); if (!this.current) this._next(); }
  _next() {
    if (this.current || !this.queue.length) return;
    if (!this.sock) { if (this.opened) reconnects++; this.opened = true; this._open(); }
    this.current = this.queue.shift();
    this.current.hdr = -1;
    requests++;
    this.sock.write(this.current.buf);
  }
  _parse() {
    while (this.current && this.acc) {
      const acc = this.acc;
      const cur = this.current;
      if (cur.hdr < 0) {
        const end = acc.indexOf(CRLF2);
        if (end < 0) return;
        const head = acc.toString("latin1", 0, end).toLowerCase();
        cur.status = parseInt(head.slice(9, 12), 10);
        const m = /\r\ncontent-length:\s*(\d+)/.exec(head);
        cur.len = m ? parseInt(m[1], 10) : -1;
        cur.chunked = /\r\ntransfer-encoding:[^\r]*chunked/.test(head);
        cur.close = /\r\nconnection:\s*close/.test(head);
        cur.hdr = end + 4;
        if (cur.len < 0 && !cur.chunked) cur.len = 0;
      }
      let body, used;
      if (!cur.chunked) {
        if (acc.length < cur.hdr + cur.len) return;
        body = acc.subarray(cur.hdr, cur.hdr + cur.len);
        used = cur.hdr + cur.len;
      } else {
        const parts = [];
        let i = cur.hdr;
        for (;;) {
          const eol = acc.indexOf("\r\n", i);
          if (eol < 0) return;
          const size = parseInt(acc.toString("latin1", i, eol), 16);
          if (size === 0) {
            if (acc.length < eol + 4) return; // final CRLF (no trailers expected)
            used = eol + 4;
            break;
          }
          if (acc.length < eol + 2 + size + 2) return;
          parts.push(acc.subarray(eol + 2, eol + 2 + size));
          i = eol + 2 + size + 2;
        }
        body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      }
      this.acc = used < acc.length ? acc.subarray(used) : null;
      this.current = null;
      if (cur.close && this.sock) { const s = this.sock; this.sock = null; s.destroy(); }
      cur.cb(null, cur.status, body);
      this._next();
    }
  }
  destroy() { if (this.sock) { const s = this.sock; this.sock = null; s.destroy(); } }
}

function buildGet(query) {
  return Buffer.from(`GET ${PATH}?${query} HTTP/1.1\r\nHost: ${HOST_HDR}\r\nAccept: */*\r\n\r\n`, "latin1");
}
function buildPost(query, body) {
  const b = Buffer.from(body, "utf8");
  return Buffer.concat([Buffer.from(
    `POST ${PATH}?${query} HTTP/1.1\r\nHost: ${HOST_HDR}\r\nAccept: */*\r\n` +
    `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${b.length}\r\n\r\n`, "latin1"), b]);
}

const ID_RING = 256;
// The exact bytes are checked first; other spacing of the same JSON is fine too.
const ACK_JSON = JSON.stringify(JSON.parse(`[${opts.payload}]`));
const sameJson = (text) => { try { return JSON.stringify(JSON.parse(text)) === ACK_JSON; } catch (_) { return false; } };
const ACK_TAIL = `[${opts.payload}]`;

class PollingClient {
  constructor(index) {
    this.index = index;
    this.get = new HttpConn();
    this.post = new HttpConn();
    this.id = 0; this.waiting = false; this.sentAt = 0; this.connected = false; this.failed = false;
  }
  fail(msg) {
    if (!this.failed && !quiet()) errors.note("client", `client ${this.index}: ${msg}`);
    this.failed = true;
    if (this._ready) { const f = this._ready; this._ready = null; f(false); }
  }
  start() {
    return new Promise((resolve) => {
      this._ready = resolve;
      this.get.request(buildGet(`EIO=4&transport=polling`), (err, status, body) => {
        if (err || status !== 200) return this.fail(`handshake: ${err ? err.message : `HTTP ${status} ${body}`}`);
        const text = body.toString("utf8");
        let sid;
        try { sid = JSON.parse(text.slice(text.indexOf("0") + 1).split("\x1e")[0]).sid; } catch (_) { /* below */ }
        if (!sid) return this.fail(`bad handshake ${text.slice(0, 80)}`);
        const q = `EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
        this.GET = buildGet(q);
        this.PONG = buildPost(q, "3");
        this.EVENTS = [];
        for (let id = 0; id < ID_RING; id++) this.EVENTS.push(buildPost(q, `42${id}["echo",${opts.payload}]`));
        this.postRaw(buildPost(q, "40"));
        this.poll();
      });
    });
  }
  postRaw(buf) {
    this.post.request(buf, (err, status, body) => {
      if (err || status !== 200) this.fail(`POST: ${err ? err.message : `HTTP ${status} ${body}`}`);
    });
  }
  poll() {
    if (phase === "done" || this.failed) return;
    this.get.request(this.GET, (err, status, body) => {
      if (err || status !== 200) return this.fail(`GET: ${err ? err.message : `HTTP ${status} ${body}`}`);
      const t = now();
      for (const pkt of body.toString("utf8").split("\x1e")) this.onPacket(pkt, t);
      this.poll();
    });
  }
  onPacket(pkt, t) {
    const c = pkt.charCodeAt(0);
    if (c === 0x34) { // message
      const s = pkt.charCodeAt(1);
      if (s === 0x33) return this.onAck(pkt, t);
      if (s === 0x30) {
        if (!this.connected) {
          this.connected = true;
          if (this._ready) { const f = this._ready; this._ready = null; f(true); }
        }
        return;
      }
      if (s === 0x34) return this.fail(`CONNECT_ERROR ${pkt.slice(0, 80)}`);
      errors.note("unexpected", `client ${this.index}: ${pkt.slice(0, 80)}`);
      return;
    }
    if (c === 0x32) { this.postRaw(this.PONG); return; } // ping
    if (c === 0x36) return; // noop
    if (c === 0x31) return this.fail("server closed the session");
    errors.note("unexpected", `client ${this.index}: ${pkt.slice(0, 80)}`);
  }
  onAck(pkt, t) {
    let i = 2, id = 0;
    while (i < pkt.length && pkt.charCodeAt(i) >= 0x30 && pkt.charCodeAt(i) <= 0x39) { id = id * 10 + pkt.charCodeAt(i) - 0x30; i++; }
    if (!this.waiting || id !== this.id || (pkt.slice(i) !== ACK_TAIL && !sameJson(pkt.slice(i)))) {
      errors.note("bad_ack", `client ${this.index}: expected id ${this.id}, got ${pkt.slice(0, 80)}`);
      if (this.waiting && id !== this.id) return;
    }
    this.waiting = false;
    if (phase === "measure") { acksTotal++; lat.add(t - this.sentAt); }
    this.sendNext();
  }
  sendNext() {
    if (quiet() || this.failed) return;
    this.id = (this.id + 1) % ID_RING;
    this.waiting = true;
    this.sentAt = now();
    this.postRaw(this.EVENTS[this.id]);
  }
  destroy() { this.get.destroy(); this.post.destroy(); }
}

async function main() {
  const t0 = now();
  const clients = [];
  for (let i = 0; i < opts.clients; i++) clients.push(new PollingClient(i));
  const outcome = await Promise.race([
    Promise.all(clients.map((c) => c.start())),
    sleep(opts.connectTimeout * 1000).then(() => "timeout"),
  ]);
  const nConnected = clients.filter((c) => c.connected && !c.failed).length;
  const connectMs = now() - t0;
  if (outcome === "timeout" || nConnected < opts.clients) {
    phase = "done";
    for (const c of clients) c.destroy();
    emitResult({ ok: false, error: `only ${nConnected}/${opts.clients} polling clients connected (${errors.messages[0] || "timeout"})`, errors });
    return finish(false);
  }

  phase = "warmup";
  for (const c of clients) c.sendNext();
  await sleep(opts.warmup * 1000);

  mark("measure-start");
  phase = "measure";
  const req0 = requests;
  const cpu = new CpuWindow();
  cpu.start();
  await sleep(opts.duration * 1000);
  phase = "drain";
  const cpuRes = cpu.stop();
  mark("measure-end");
  const reqs = requests - req0;
  const mem = process.memoryUsage();
  await sleep(300); // let in-flight acks land
  phase = "done";
  const failed = clients.filter((c) => c.failed).length;
  for (const c of clients) c.destroy();

  const wall = cpuRes.wall_s;
  const ok = lat.n > 0 && failed === 0 && errors.count("bad_ack") === 0;
  emitResult({
    ok,
    error: ok ? null : (lat.n === 0 ? "no acks received during the measurement window" : `errors during run: ${errors.messages[0]}`),
    url: opts.url,
    clients: opts.clients,
    payload: opts.payload,
    warmup_s: opts.warmup,
    duration_s: wall,
    connect_ms: round3(connectMs),
    acks: acksTotal,
    acks_per_s: round3(acksTotal / wall),
    http_requests_per_s: round3(reqs / wall),
    reconnects,
    latency_ms: lat.summary(),
    loadgen_cpu: cpuRes,
    loadgen_rss_mb: round3(mem.rss / 1048576),
    failed_clients: failed,
    errors,
  });
  return finish(ok);
}

main().catch(crashHandler);
