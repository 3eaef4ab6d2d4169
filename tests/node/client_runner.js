#!/usr/bin/env node
// Drives the official socket.io-client for the Python tests (tests/helpers/node.py).
//
// Protocol: one JSON object per line in both directions. Commands arrive on stdin, every
// occurrence is reported on stdout. Binary values travel as {"$bin": "<base64>"} both ways.
// Nothing else is written to stdout; diagnostics go to stderr.
//
// Commands (all may carry "seq", echoed in the reply or the error they cause):
//   {"cmd":"connect","id":"c1","url":"http://127.0.0.1:PORT","nsp":"/","opts":{...},
//    "any":true,"any_outgoing":false}
//       opts are socket.io-client options; opts.parser = "msgpack" selects
//       socket.io-msgpack-parser. any=true (default) reports every incoming event via onAny.
//   {"cmd":"on","id":"c1","event":"x"}                 report one event (when any=false)
//   {"cmd":"emit","id":"c1","event":"x","args":[...],"ack":true,"timeout":ms,
//    "volatile":false,"compress":true}
//   {"cmd":"auto_ack","id":"c1","event":"ask","reply":[...] | "echo"}
//   {"cmd":"ack_reply","id":"c1","ack_ref":N,"args":[...]}  answer one reported event
//   {"cmd":"open","id":"c1"}                           socket.connect() again
//   {"cmd":"disconnect","id":"c1"}                     socket.disconnect()
//   {"cmd":"drop","id":"c1"}                           close the engine: a transport loss
//   {"cmd":"state","id":"c1"}                          report connected/sid/transport
//   {"cmd":"ping"}                                     reply {"type":"pong"}; a barrier
//   {"cmd":"close_all"}                                disconnect every socket
//   {"cmd":"exit"}                                     disconnect every socket and exit
//
// Reports: ready, engine_open, connect, connect_error, disconnect, event, outgoing, ack, ack_error,
// upgrade, upgrade_error, reconnect_attempt, reconnect, reconnect_error, reconnect_failed,
// manager_error, state, pong, done, closed_all, error.
"use strict";

const readline = require("node:readline");
const { io } = require("socket.io-client");

const clients = new Map(); // id -> { socket, autoAcks: Map, listened: Set, any: bool }
const pendingAcks = new Map(); // ack_ref -> ack function handed to us by the client
let nextAckRef = 1;

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

// Buffers, ArrayBuffers and typed arrays become {"$bin": base64}; Errors become plain
// objects; functions are dropped (an ack function is reported separately).
function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (value instanceof Error) {
    const out = { message: value.message, name: value.name };
    for (const key of Object.keys(value)) out[key] = encode(value[key]);
    return out;
  }
  if (Array.isArray(value)) return value.filter((v) => typeof v !== "function").map(encode);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [key, v] of Object.entries(value)) {
      if (typeof v !== "function") out[key] = encode(v);
    }
    return out;
  }
  if (value === undefined || typeof value === "function") return null;
  return value;
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [key, v] of Object.entries(value)) out[key] = decode(v);
    return out;
  }
  return value;
}

function transportOf(socket) {
  const engine = socket.io.engine;
  return engine && engine.transport ? engine.transport.name : null;
}

function getClient(command) {
  const client = clients.get(command.id);
  if (!client) throw new Error(`unknown client id ${JSON.stringify(command.id)}`);
  return client;
}

// One path for every incoming event, whether it came through onAny or a single listener.
function handleEvent(id, client, event, rawArgs) {
  const args = rawArgs.slice();
  const ackFn = args.length && typeof args[args.length - 1] === "function" ? args.pop() : null;
  const report = { type: "event", id, event, args: encode(args), ack_requested: ackFn !== null };
  if (ackFn && client.autoAcks.has(event)) {
    const reply = client.autoAcks.get(event);
    ackFn(...(reply === "echo" ? args : decode(reply)));
    report.auto_acked = true;
  } else if (ackFn) {
    const ref = nextAckRef++;
    pendingAcks.set(ref, ackFn);
    report.ack_ref = ref;
  }
  send(report);
}

function listen(id, client, event) {
  if (client.any || client.listened.has(event)) return;
  client.listened.add(event);
  client.socket.on(event, (...args) => handleEvent(id, client, event, args));
}

// The engine is replaced on every reconnection, so hook each one once per client id.
function watchEngine(id, socket, seen) {
  const engine = socket.io.engine;
  if (!engine || seen.has(engine)) return;
  seen.add(engine);
  engine.on("upgrade", (transport) => send({ type: "upgrade", id, transport: transport.name }));
  engine.on("upgradeError", (err) => send({ type: "upgrade_error", id, error: encode(err) }));
}

function connect(command) {
  const { id } = command;
  if (clients.has(id)) throw new Error(`client id ${JSON.stringify(id)} already exists`);
  const opts = Object.assign({}, command.opts || {});
  if (opts.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
  const nsp = command.nsp || "/";
  const base = String(command.url).replace(/\/+$/, "");
  const socket = io(nsp === "/" ? base : base + nsp, opts);
  const client = { socket, autoAcks: new Map(), listened: new Set(), any: command.any !== false };
  clients.set(id, client);

  const seenEngines = new WeakSet();
  const manager = socket.io;
  manager.on("open", () => {
    // The transport the engine opened on; "connect" may already see the upgraded one.
    send({ type: "engine_open", id, engine_sid: manager.engine.id, transport: transportOf(socket) });
    watchEngine(id, socket, seenEngines);
  });
  watchEngine(id, socket, seenEngines);
  manager.on("reconnect_attempt", (attempt) => send({ type: "reconnect_attempt", id, attempt }));
  manager.on("reconnect", (attempt) => send({ type: "reconnect", id, attempt }));
  manager.on("reconnect_error", (err) => send({ type: "reconnect_error", id, error: encode(err) }));
  manager.on("reconnect_failed", () => send({ type: "reconnect_failed", id }));
  manager.on("error", (err) => send({ type: "manager_error", id, error: encode(err) }));

  socket.on("connect", () => {
    watchEngine(id, socket, seenEngines);
    send({
      type: "connect",
      id,
      sid: socket.id,
      engine_sid: manager.engine ? manager.engine.id : null,
      transport: transportOf(socket),
      recovered: Boolean(socket.recovered),
    });
  });
  socket.on("connect_error", (err) => {
    send({
      type: "connect_error",
      id,
      message: err && err.message,
      data: err && err.data !== undefined ? encode(err.data) : null,
      error: encode(err),
    });
  });
  socket.on("disconnect", (reason, details) => {
    send({ type: "disconnect", id, reason, details: details === undefined ? null : encode(details) });
  });
  if (client.any) socket.onAny((event, ...args) => handleEvent(id, client, event, args));
  if (command.any_outgoing) {
    socket.onAnyOutgoing((event, ...args) => send({ type: "outgoing", id, event, args: encode(args) }));
  }
}

function emit(command) {
  const { id, seq } = command;
  const { socket } = getClient(command);
  let target = socket;
  if (command.volatile) target = target.volatile;
  if (command.compress === false) target = target.compress(false);
  const args = decode(command.args || []);
  if (!command.ack) {
    target.emit(command.event, ...args);
    return;
  }
  if (command.timeout !== undefined && command.timeout !== null) {
    target.timeout(command.timeout).emit(command.event, ...args, (err, ...reply) => {
      if (err) send({ type: "ack_error", id, seq, message: err.message });
      else send({ type: "ack", id, seq, args: encode(reply) });
    });
  } else {
    target.emit(command.event, ...args, (...reply) => send({ type: "ack", id, seq, args: encode(reply) }));
  }
}

function closeAll() {
  for (const { socket } of clients.values()) socket.disconnect();
  clients.clear();
  pendingAcks.clear();
}

const handlers = {
  connect,
  emit,
  on(command) {
    const client = getClient(command);
    listen(command.id, client, command.event);
  },
  auto_ack(command) {
    const client = getClient(command);
    client.autoAcks.set(command.event, command.reply === undefined ? [] : command.reply);
    listen(command.id, client, command.event);
  },
  ack_reply(command) {
    const ackFn = pendingAcks.get(command.ack_ref);
    if (!ackFn) throw new Error(`unknown ack_ref ${command.ack_ref}`);
    pendingAcks.delete(command.ack_ref);
    ackFn(...decode(command.args || []));
  },
  open(command) {
    getClient(command).socket.connect();
  },
  disconnect(command) {
    getClient(command).socket.disconnect();
  },
  drop(command) {
    const { socket } = getClient(command);
    if (socket.io.engine) socket.io.engine.close();
  },
  state(command) {
    const { socket } = getClient(command);
    send({
      type: "state",
      id: command.id,
      seq: command.seq,
      connected: socket.connected,
      sid: socket.id === undefined ? null : socket.id,
      transport: transportOf(socket),
      recovered: Boolean(socket.recovered),
    });
  },
  ping(command) {
    send({ type: "pong", seq: command.seq });
  },
  close_all(command) {
    closeAll();
    send({ type: "closed_all", seq: command.seq });
  },
  exit() {
    closeAll();
    process.exit(0);
  },
};

// Commands that already answer for themselves do not get an extra "done" line.
const selfReporting = new Set(["state", "ping", "close_all", "exit"]);

function handleLine(line) {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    send({ type: "error", message: `invalid JSON: ${err.message}`, line });
    return;
  }
  const handler = handlers[command.cmd];
  try {
    if (!handler) throw new Error(`unknown cmd ${JSON.stringify(command.cmd)}`);
    handler(command);
    if (!selfReporting.has(command.cmd)) {
      send({ type: "done", cmd: command.cmd, id: command.id, seq: command.seq });
    }
  } catch (err) {
    send({ type: "error", cmd: command.cmd, id: command.id, seq: command.seq, message: err.message });
  }
}

process.on("uncaughtException", (err) => {
  send({ type: "error", message: `uncaught: ${err && err.stack ? err.stack : err}` });
});

// Python closing our stdin means the test is over: leave without waiting for timers.
const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", handleLine);
input.on("close", () => {
  closeAll();
  process.exit(0);
});

send({
  type: "ready",
  pid: process.pid,
  node: process.version,
  client_version: require("socket.io-client/package.json").version,
});
