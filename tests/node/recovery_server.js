#!/usr/bin/env node
// The official socket.io server with connection state recovery, for the Python client's
// interop tests. Prints {"type":"listening","port":N} once bound and one line per
// connection ({"type":"connection","id","recovered","auth"}). Exits when stdin closes.
//
// Events: "echo" acks its args; "tick" (n) emits "tock" n back (stored for recovery);
// "drop" closes the Engine.IO connection (recoverable), and while the socket is away the
// server emits "missed" 1 and 2 to everyone; "kick" disconnects the socket for good.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 1000,
  pingTimeout: 1000,
  connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
});

function out(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function popAck(args) {
  return args.length && typeof args[args.length - 1] === "function" ? args.pop() : null;
}

io.on("connection", (socket) => {
  out({ type: "connection", id: socket.id, recovered: socket.recovered, auth: socket.handshake.auth });
  socket.on("echo", (...args) => {
    const ack = popAck(args);
    if (ack) ack(...args);
  });
  socket.on("tick", (n) => socket.emit("tock", n));
  socket.on("drop", () => {
    socket.once("disconnect", (reason) => {
      out({ type: "disconnect", id: socket.id, reason });
      io.emit("missed", 1);
      io.emit("missed", 2);
    });
    socket.conn.close();
  });
  socket.on("kick", () => socket.disconnect());
});

httpServer.listen(0, "127.0.0.1", () => {
  out({ type: "listening", port: httpServer.address().port });
});

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
