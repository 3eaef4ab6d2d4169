#!/usr/bin/env node
// A tiny reference server (the official `socket.io` package) that proves the Node harness
// itself works, independently of sockio_wsgi. Prints {"type":"listening","port":N} once bound.
//
// Events: "echo" acks its own args; "ping_me" emits "pong" with a Buffer and the args it got;
// "ask_me" asks the client "ask" (with ack, 5 s) and emits "answer" with the reply.
// Run with the argument "msgpack" to use socket.io-msgpack-parser instead of the default parser.
// Exits when stdin closes so a test that dies cannot leak it.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const options = { pingInterval: 2000, pingTimeout: 2000 };
if (process.argv.includes("msgpack")) options.parser = require("socket.io-msgpack-parser");
const io = new Server(httpServer, options);

function popAck(args) {
  return args.length && typeof args[args.length - 1] === "function" ? args.pop() : null;
}

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = popAck(args);
    if (ack) ack(...args);
  });
  socket.on("ping_me", (...args) => {
    popAck(args);
    socket.emit("pong", { bin: Buffer.from([0, 1, 2, 253, 254, 255]), got: args });
  });
  socket.on("ask_me", (...args) => {
    popAck(args);
    socket.timeout(5000).emit("ask", ...args, (err, ...reply) => {
      socket.emit("answer", err ? { error: err.message } : { reply });
    });
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ type: "listening", port: httpServer.address().port }) + "\n");
});

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
