/**
 * Memory per idle pooled connection: heap plus external memory (ArrayBuffers, native objects)
 * after N connections were opened, used once and returned to the pool, divided by N; beside it
 * the same for N bare sockets of the runtime (connected, nothing read), the floor.
 *
 * Needs a forced GC: `deno run -A --v8-flags=--expose-gc`, `node --expose-gc` (bench/node.mjs
 * passes it), or Bun (`Bun.gc`).
 *
 * @module
 */

import process from "node:process";
import net from "node:net";
import { fmt, table } from "../harness.ts";
import type { Mode, ModeContext, WirefetchBuild } from "./types.ts";

const CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 200);

function collector(): () => void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(sync: boolean): void } };
  if (g.Bun !== undefined) return () => g.Bun!.gc(true);
  if (typeof g.gc === "function") return g.gc;
  throw new Error(
    "--idle-memory needs a forced GC: run deno with --v8-flags=--expose-gc, node with --expose-gc",
  );
}

/** Heap plus external bytes after collecting everything collectable. */
async function settled(): Promise<number> {
  const gc = collector();
  for (let i = 0; i < 4; i++) {
    gc();
    // Finalizers and weak callbacks run between turns of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

interface Sample {
  name: string;
  connections: number;
  bytesPerConnection: number;
}

async function wirefetchIdle(build: WirefetchBuild, url: string): Promise<Sample> {
  const options = {
    maxConnectionsPerHost: CONNECTIONS,
    maxIdlePerHost: CONNECTIONS,
    maxIdle: CONNECTIONS,
    idleTimeout: 600_000,
  };
  const fill = async (client: InstanceType<WirefetchBuild["mod"]["Client"]>): Promise<void> => {
    // All requests start in the same turn, so each finds no idle connection and dials its own.
    const responses = await Promise.all(
      Array.from({ length: CONNECTIONS }, () => client.fetch(url)),
    );
    for (const response of responses) await response.arrayBuffer();
  };
  // A throwaway round first: code, pools and caches warmed up are not per-connection costs.
  const warm = new build.mod.Client(options);
  await fill(warm);
  await warm.close();
  const before = await settled();
  const client = new build.mod.Client(options);
  await fill(client);
  const idle = client.stats().total.idle;
  const after = await settled();
  await client.close();
  return {
    name: `wirefetch${build.suffix}`,
    connections: idle,
    bytesPerConnection: (after - before) / idle,
  };
}

/** The runtime's own sockets, connected and idle: what any client pays at least. */
async function bareIdle(url: URL): Promise<Sample> {
  const port = Number(url.port || 80);
  const g = globalThis as {
    Deno?: { connect(o: { hostname: string; port: number }): Promise<{ close(): void }> };
    Bun?: { connect(o: unknown): Promise<{ end(): void }> };
  };
  const open = async (): Promise<() => void> => {
    if (g.Deno !== undefined) {
      const conn = await g.Deno.connect({ hostname: url.hostname, port });
      return () => conn.close();
    }
    if (g.Bun !== undefined) {
      const socket = await g.Bun.connect({
        hostname: url.hostname,
        port,
        socket: { data() {}, close() {}, error() {} },
      });
      return () => socket.end();
    }
    const socket = net.connect({ host: url.hostname, port });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return () => socket.destroy();
  };
  const warm = await Promise.all(Array.from({ length: CONNECTIONS }, open));
  for (const close of warm) close();
  const before = await settled();
  const closers = await Promise.all(Array.from({ length: CONNECTIONS }, open));
  const after = await settled();
  for (const close of closers) close();
  return {
    name: "bare runtime socket",
    connections: closers.length,
    bytesPerConnection: (after - before) / closers.length,
  };
}

/** The idle-memory mode. */
export const idleMemoryMode: Mode = {
  flag: "--idle-memory",
  summary: "heap + external bytes per idle pooled connection (needs a forced GC, see the module)",
  ratios: [],
  big: false,
  async run(context: ModeContext, builds: WirefetchBuild[]): Promise<Record<string, unknown>> {
    collector();
    const samples: Sample[] = [];
    for (const build of builds) samples.push(await wirefetchIdle(build, context.target.smallUrl));
    samples.push(await bareIdle(new URL(context.target.smallUrl)));
    console.log(
      table(
        ["what", "idle connections", "heap + external KiB per connection"],
        samples.map((s) => [s.name, String(s.connections), fmt(s.bytesPerConnection / 1024, 1)]),
      ),
    );
    return { idleMemory: samples };
  },
};
