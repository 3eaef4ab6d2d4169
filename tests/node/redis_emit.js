#!/usr/bin/env node
// The official @socket.io/redis-emitter, once. Usage:
//   node redis_emit.js PREFIX REDIS_URL '[{"nsp":"/","rooms":[],"except":[],"event":"e","args":[]}]'
// An operation with "join" (a list of rooms) calls socketsJoin instead of emit.
// Prints {"type":"done"} after every publish went out, then exits.
"use strict";

const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

async function main() {
  const [prefix, url, ops] = process.argv.slice(2);
  const client = createClient({ url });
  await client.connect();
  const emitter = new Emitter(client, { key: prefix });
  for (const op of JSON.parse(ops)) {
    let target = emitter.of(op.nsp || "/");
    if (op.rooms && op.rooms.length) target = target.to(op.rooms);
    if (op.except && op.except.length) target = target.except(op.except);
    if (op.join) target.socketsJoin(op.join);
    else target.emit(op.event, ...(op.args || []).map(decode));
  }
  await client.ping(); // every publish before it has been sent and answered
  process.stdout.write(JSON.stringify({ type: "done" }) + "\n");
  await client.quit();
}

// {"$bin": "<base64>"} stands for a Buffer, so the tests can send binary
function decode(value) {
  if (value && typeof value === "object" && typeof value.$bin === "string") {
    return Buffer.from(value.$bin, "base64");
  }
  return value;
}

main().catch((err) => {
  process.stderr.write(`redis_emit failed: ${err && err.stack}\n`);
  process.exit(1);
});
