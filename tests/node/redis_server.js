#!/usr/bin/env node
// The official socket.io server with the official @socket.io/redis-adapter, for the Redis
// interop tests. Usage: node redis_server.js PREFIX [REDIS_URL]. Prints
// {"type":"listening","port":N} once bound and subscribed, one {"type":"connection","id"}
// per socket (which joins the rooms in its auth.rooms and gets data {"server":"node"}).
// Exits when stdin closes. Commands on stdin, one JSON object a line, each answered with
// {"type":"done","seq",...} (or {"type":"error","seq","message"}):
//   {"cmd":"emit","seq","rooms":[],"except":[],"event","args"}  io.to(rooms).except(..).emit
//   {"cmd":"fetch","seq","rooms":[]}   -> sockets: [{id, rooms, data}] from every server
//   {"cmd":"count","seq"}              -> count: io.of("/").adapter.serverCount()
// A server-side emit "hello" (arg, ack) is answered with ["node", arg].
"use strict";

const http = require("node:http");
const readline = require("node:readline");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const prefix = process.argv[2] || "socket.io";
const url = process.argv[3] || process.env.REDIS_URL || "redis://127.0.0.1:6379";

function out(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

async function main() {
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  pubClient.on("error", (err) => process.stderr.write(`redis pub: ${err}\n`));
  subClient.on("error", (err) => process.stderr.write(`redis sub: ${err}\n`));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const requestChannel = `${prefix}-request#/#`;
  const numSub = async () => Number((await pubClient.pubSubNumSub(requestChannel))[requestChannel]);
  const before = await numSub();

  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pubClient, subClient, { key: prefix }) });

  io.on("connection", (socket) => {
    socket.data = { server: "node" };
    const rooms = (socket.handshake.auth && socket.handshake.auth.rooms) || [];
    socket.join(rooms);
    out({ type: "connection", id: socket.id });
  });
  io.on("hello", (arg, ack) => {
    if (typeof ack === "function") ack(["node", arg]);
  });

  const commands = {
    async emit(msg) {
      let target = io.to(msg.rooms || []);
      if (msg.except && msg.except.length) target = target.except(msg.except);
      target.emit(msg.event, ...(msg.args || []));
      return {};
    },
    async fetch(msg) {
      const sockets = await io.in(msg.rooms || []).fetchSockets();
      return { sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data })) };
    },
    async count() {
      return { count: await io.of("/").adapter.serverCount() };
    },
  };

  readline.createInterface({ input: process.stdin }).on("line", async (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
      const result = await commands[msg.cmd](msg);
      out({ type: "done", seq: msg.seq, ...result });
    } catch (err) {
      out({ type: "error", seq: msg && msg.seq, message: String(err) });
    }
  });
  process.stdin.on("end", () => process.exit(0));

  // the adapter subscribes without telling when it is done: wait until Redis counts it
  while ((await numSub()) <= before) await new Promise((resolve) => setTimeout(resolve, 5));
  httpServer.listen(0, "127.0.0.1", () => {
    out({ type: "listening", port: httpServer.address().port });
  });
}

main().catch((err) => {
  process.stderr.write(`redis_server failed: ${err && err.stack}\n`);
  process.exit(1);
});
