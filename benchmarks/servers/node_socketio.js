#!/usr/bin/env node
// Reference server: the official Node `socket.io` 4.x (benchmarks/package.json),
// both transports, default options except the ping timings shared by all servers.
//
// Handlers for every scenario: "echo" acks its arguments (text or binary),
// "bcast" emits its argument to every connected client.
//
// Usage: node node_socketio.js --port 5000   (prints "READY <port>")
"use strict";

const http = require("http");
const path = require("path");
const { Server } = require(path.join(__dirname, "..", "node_modules", "socket.io"));

const i = process.argv.indexOf("--port");
const port = i >= 0 ? parseInt(process.argv[i + 1], 10) : 0;

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false, pingInterval: 25000, pingTimeout: 20000 });

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("bcast", (data) => io.emit("bcast", data)); // the sender included
});

httpServer.listen(port, "127.0.0.1", () => console.log(`READY ${httpServer.address().port}`));
process.on("SIGTERM", () => process.exit(0));
