/**
 * The demo behind `npm start`: starts a local HTTP server, then shows wirefetch's main job —
 * requests over a pool you can see into — against it, offline.
 *
 * @module
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "../mod.ts";

let accepted = 0;
const server = createServer((req, res) => {
  if (req.url === "/big") {
    res.end("x".repeat(4 * 1024 * 1024));
    return;
  }
  if (req.url === "/slow") {
    setTimeout(() => res.end("slow\n"), 50);
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ path: req.url, time: Date.now() }));
});
server.on("connection", () => accepted++);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const runtime = "Bun" in globalThis ? "Bun" : "Deno" in globalThis ? "Deno" : "Node";
console.log(`wirefetch demo on ${runtime}, local server at ${base}\n`);

const client = new Client({ maxConnectionsPerHost: 4 });

let start = performance.now();
for (let i = 0; i < 100; i++) {
  const response = await client.fetch(`${base}/item/${i}`);
  await response.json();
}
let ms = performance.now() - start;
console.log(`100 sequential GETs in ${ms.toFixed(1)} ms over ${accepted} TCP connection(s)`);
console.log("  pool:", JSON.stringify(client.stats().total));

accepted = 0;
start = performance.now();
const pending = Array.from({ length: 16 }, () => client.fetch(`${base}/slow`));
await new Promise((resolve) => setTimeout(resolve, 10));
console.log(`\n16 concurrent slow GETs with maxConnectionsPerHost 4:`);
console.log("  while running:", JSON.stringify(client.stats().total));
await Promise.all((await Promise.all(pending)).map((r) => r.text()));
ms = performance.now() - start;
console.log(
  `  done in ${ms.toFixed(0)} ms; ${accepted} new connection(s) joined the one already open`,
);

const forgotten = await client.fetch(`${base}/big`);
console.log(`\nA 4 MiB body left unread holds its connection until read, cancelled or collected:`);
console.log("  before cancel:", JSON.stringify(client.stats().total));
await forgotten.body?.cancel();
console.log("  after cancel: ", JSON.stringify(client.stats().total));

try {
  await client.fetch("http://127.0.0.1:1/");
} catch (error) {
  const cause = (error as Error).cause as { code?: string };
  console.log(`\nA refused connection rejects with TypeError, cause.code = ${cause?.code}`);
}

await client.close();
server.close();
console.log("\nclient closed:", JSON.stringify(client.stats().total));
