/**
 * The cost of full tracing, measured so that a shared, noisy machine still gives a stable answer:
 * many short rounds alternating an untraced client with a traced one (the same code), the ratio of
 * their requests/s taken per round, and the median of those ratios reported. Keep-alive GET of
 * /small from bench/server.mjs (a separate Node process) at concurrency 1 and 16.
 *
 *   deno run -A bench/trace_cost.ts [hooks|listeners|resource-timing]
 *   bun bench/trace_cost.ts [hooks|listeners|resource-timing]
 *
 * `hooks`: a hooks object implementing every hook; `listeners`: an EventTarget listener on every
 * event type; `resource-timing`: `resourceTiming` on against off (only Node records entries).
 * Env: ROUNDS (default 21), ROUND_MS (per client per round, default 250).
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Client, TRACE_EVENT_TYPES, type TraceHooks } from "../mod.ts";

const mode = process.argv[2] ?? "hooks";
const rounds = Number(process.env.ROUNDS ?? 21);
const roundMs = Number(process.env.ROUND_MS ?? 250);

const server = spawn("node", [fileURLToPath(new URL("./server.mjs", import.meta.url))], {
  stdio: ["pipe", "pipe", "inherit"],
});
const port = await new Promise<number>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("bench server did not start")), 10_000);
  server.stdout!.once("data", (data) => {
    clearTimeout(timer);
    resolve((JSON.parse(String(data).split("\n")[0]) as { port: number }).port);
  });
});
const url = `http://127.0.0.1:${port}/small`;

let seen = 0;
const count = (): void => {
  seen++;
};
let base: Client;
let traced: Client;
if (mode === "hooks") {
  const hooks: Record<string, () => void> = {};
  for (const type of TRACE_EVENT_TYPES) hooks[type] = count;
  base = new Client({ maxConnectionsPerHost: 16 });
  traced = new Client({ maxConnectionsPerHost: 16, hooks: hooks as TraceHooks });
} else if (mode === "listeners") {
  base = new Client({ maxConnectionsPerHost: 16 });
  traced = new Client({ maxConnectionsPerHost: 16 });
  for (const type of TRACE_EVENT_TYPES) traced.addEventListener(type, count);
} else if (mode === "resource-timing") {
  base = new Client({ maxConnectionsPerHost: 16, resourceTiming: false });
  traced = new Client({ maxConnectionsPerHost: 16 });
} else {
  throw new Error(`unknown mode ${mode}: hooks, listeners or resource-timing`);
}

/** Requests/s of `client` over `ms` at `concurrency`, each body read to the end. */
async function run(client: Client, concurrency: number, ms: number): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const response = await client.fetch(url);
      await response.arrayBuffer();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

try {
  for (const concurrency of [1, 16]) {
    await run(base, concurrency, 300);
    await run(traced, concurrency, 300);
    const ratios: number[] = [];
    const untraced: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so drift falls on both.
      const a = round % 2 === 0 ? await run(base, concurrency, roundMs) : 0;
      const b = await run(traced, concurrency, roundMs);
      const c = round % 2 === 1 ? await run(base, concurrency, roundMs) : a;
      ratios.push(b / c);
      untraced.push(c);
    }
    console.log(
      `${mode} c=${concurrency}: untraced ${median(untraced).toFixed(0)} req/s, ` +
        `traced/untraced ${median(ratios).toFixed(3)} (median of ${rounds} rounds)`,
    );
  }
  if (mode !== "resource-timing" && seen === 0) throw new Error("nothing was traced");
} finally {
  await base.close();
  await traced.close();
  server.stdin!.end();
  server.kill();
}
