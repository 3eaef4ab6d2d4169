#!/usr/bin/env node
// Calibration stub, NOT a Socket.IO server: the least a server can do to
// satisfy the load generators (Engine.IO open, Socket.IO CONNECT reply, echo acks,
// "bcast" relayed to every client).
// Running the load generator against it shows the load generator's own ceiling
// on this machine, so real servers' results can be judged against it.
//
// Usage: node node_ws_stub.js --port 5000   (prints "READY <port>")
"use strict";

const path = require("path");
const WebSocket = require(path.join(__dirname, "..", "node_modules", "ws"));

const i = process.argv.indexOf("--port");
const port = i >= 0 ? parseInt(process.argv[i + 1], 10) : 0;

const OPEN = '0{"sid":"stub","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}';
const CONNECTED = '40{"sid":"stub-sio"}';

const wss = new WebSocket.WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.send(OPEN);
  ws.on("message", (buf) => {
    if (buf[0] !== 0x34) return; // only Engine.IO "message" packets matter here
    if (buf[1] === 0x30) { ws.send(CONNECTED); return; }
    if (buf[1] !== 0x32) return;
    if (buf[2] === 0x5b) { // 42["bcast",<x>]: the same frame to every client
      for (const c of wss.clients) c.send(buf, { binary: false });
      return;
    }
    // 42<id>["echo",<payload>]  ->  43<id>[<payload>]
    let j = 2;
    while (j < buf.length && buf[j] >= 0x30 && buf[j] <= 0x39) j++;
    const rest = buf.toString("utf8", j);
    const comma = rest.indexOf(",");
    ws.send("43" + buf.toString("latin1", 2, j) + "[" + rest.slice(comma + 1, -1) + "]");
  });
});
wss.on("listening", () => console.log(`READY ${wss.address().port}`));
process.on("SIGTERM", () => process.exit(0));
