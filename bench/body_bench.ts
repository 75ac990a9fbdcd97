/**
 * Body benchmarks, wirefetch against the runtime's native fetch in the same run, against
 * bench/body_server.mjs in its own Node process. Run through bench.ts:
 *
 *   deno run -A bench/bench.ts --coding       # 64 MiB gzip and br bodies, decoded (MB/s)
 *   deno run -A bench/bench.ts --tiny-chunks  # a body of 570,000 one-byte chunks (ms)
 *   deno run -A bench/bench.ts --forgotten    # unread bodies: 5,000 × 512 KiB, 5 × 50 × 4 MB
 *
 * (or `bun bench/bench.ts ...`; several flags may be combined). Env: BENCH_BODY_ITERATIONS
 * (runs per candidate of --coding and --tiny-chunks, default 3), BENCH_FORGOTTEN_COUNT (default
 * 5000).
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Client } from "../mod.ts";

type FetchLike = (url: string) => Promise<Response>;

interface Candidate {
  name: string;
  fetch: FetchLike;
  close(): Promise<void>;
}

const iterations = Math.max(1, Math.round(Number(process.env.BENCH_BODY_ITERATIONS ?? 3)));
const forgottenCount = Math.max(1, Math.round(Number(process.env.BENCH_FORGOTTEN_COUNT ?? 5000)));
const CODED_BYTES = 64 * 1024 * 1024;
const TINY_BYTES = 570_000;

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function startServer(): Promise<{ port: number; stop(): void }> {
  const script = fileURLToPath(new URL("./body_server.mjs", import.meta.url));
  const child = spawn("node", [script], { stdio: ["pipe", "pipe", "inherit"] });
  const stop = (): void => {
    child.stdin!.end();
    child.kill("SIGTERM");
  };
  return withTimeout(
    new Promise((resolve, reject) => {
      let text = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (chunk: string) => {
        text += chunk;
        const nl = text.indexOf("\n");
        if (nl >= 0) {
          resolve({ port: (JSON.parse(text.slice(0, nl)) as { port: number }).port, stop });
        }
      });
      child.on("exit", (code) => reject(new Error(`body server exited with ${code}`)));
    }),
    60_000,
    "body server start",
  );
}

/** Reads a body to the end; returns its byte count. */
async function drain(response: Response): Promise<number> {
  const reader = response.body!.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Times `once` for each candidate, alternating who goes first; medians in ms. */
async function alternate(
  candidates: Candidate[],
  once: (c: Candidate) => Promise<void>,
): Promise<number[]> {
  const runs = candidates.map((): number[] => []);
  for (const c of candidates) await once(c); // warm-up: connections, JIT
  for (let it = 0; it < iterations; it++) {
    const order = [...candidates.keys()];
    if (it % 2 === 1) order.reverse();
    for (const i of order) {
      const t0 = performance.now();
      await withTimeout(once(candidates[i]), 120_000, candidates[i].name);
      runs[i].push(performance.now() - t0);
    }
  }
  return runs.map(median);
}

/** Peak RSS growth over `body`, sampled every 20 ms. */
async function peakRss<T>(body: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const result = await body();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakMiB: (peak - base) / (1024 * 1024) };
  } finally {
    clearInterval(timer);
  }
}

type Row = [string, string, string, string];

async function codingCase(port: number, candidates: Candidate[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const path of ["/gzip", "/br"]) {
    const ms = await alternate(candidates, async (c) => {
      const bytes = await drain(await c.fetch(`http://127.0.0.1:${port}${path}`));
      if (bytes !== CODED_BYTES) throw new Error(`${c.name} ${path}: ${bytes} bytes decoded`);
    });
    const mbps = ms.map((t) => CODED_BYTES / 1e6 / (t / 1000));
    rows.push([
      `GET ${path} 64 MiB decoded, MB/s, median of ${iterations} (higher is better)`,
      fmt(mbps[0]),
      fmt(mbps[1]),
      fmt(mbps[0] / mbps[1], 2),
    ]);
  }
  return rows;
}

async function tinyCase(port: number, candidates: Candidate[]): Promise<Row[]> {
  const ms = await alternate(candidates, async (c) => {
    const bytes = await drain(await c.fetch(`http://127.0.0.1:${port}/tiny`));
    if (bytes !== TINY_BYTES) throw new Error(`${c.name} /tiny: ${bytes} bytes`);
  });
  return [[
    `GET /tiny 570k one-byte chunks, ms, median of ${iterations} (lower is better)`,
    fmt(ms[0]),
    fmt(ms[1]),
    fmt(ms[0] / ms[1], 2),
  ]];
}

async function forgottenCase(
  port: number,
  make: () => Candidate[],
): Promise<Row[]> {
  const rows: Row[] = [];
  // Scenario 1: sequential requests whose bodies nobody reads (the Responses are dropped).
  const sequential: { ms: number; peakMiB: number; error: string }[] = [];
  for (const c of make()) {
    const { result, peakMiB } = await peakRss(async () => {
      const t0 = performance.now();
      try {
        await withTimeout(
          (async () => {
            for (let i = 0; i < forgottenCount; i++) {
              await c.fetch(`http://127.0.0.1:${port}/unread/${512 * 1024}`);
            }
          })(),
          120_000,
          `${c.name} forgotten`,
        );
        return { ms: performance.now() - t0, error: "" };
      } catch (error) {
        return { ms: performance.now() - t0, error: (error as Error).message };
      }
    });
    await withTimeout(c.close(), 10_000, `${c.name} close`).catch(() => {});
    sequential.push({ ...result, peakMiB });
  }
  const cell = (x: { ms: number; peakMiB: number; error: string }): string =>
    x.error !== ""
      ? `failed after ${fmt(x.ms)} ms (${x.error.slice(0, 60)})`
      : `${fmt(x.ms)} ms, +${fmt(x.peakMiB)} MiB RSS`;
  rows.push([
    `${forgottenCount} × 512 KiB unread, sequential (lower is better)`,
    cell(sequential[0]),
    cell(sequential[1]),
    sequential[0].error || sequential[1].error ? "-" : fmt(sequential[0].ms / sequential[1].ms, 2),
  ]);
  // Scenario 2: batches of 50 concurrent requests for 4 MB bodies nobody reads.
  const batches: { perBatch: number[]; peakMiB: number; error: string }[] = [];
  for (const c of make()) {
    const perBatch: number[] = [];
    const { result, peakMiB } = await peakRss(async () => {
      try {
        for (let b = 0; b < 5; b++) {
          const t0 = performance.now();
          await withTimeout(
            Promise.all(
              Array.from({ length: 50 }, () => c.fetch(`http://127.0.0.1:${port}/unread/4000000`)),
            ),
            60_000,
            `${c.name} batch ${b + 1}`,
          );
          perBatch.push(performance.now() - t0);
        }
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    });
    await withTimeout(c.close(), 10_000, `${c.name} close`).catch(() => {});
    batches.push({ perBatch, peakMiB, error: result });
  }
  const batchCell = (x: { perBatch: number[]; peakMiB: number; error: string }): string =>
    `${x.perBatch.map((t) => fmt(t)).join(" / ")} ms` +
    (x.error !== "" ? ` then failed (${x.error.slice(0, 40)})` : "") +
    `, +${fmt(x.peakMiB)} MiB RSS`;
  const total = (x: { perBatch: number[] }): number => x.perBatch.reduce((a, b) => a + b, 0);
  rows.push([
    "5 batches × 50 × 4 MB unread, per batch (lower is better)",
    batchCell(batches[0]),
    batchCell(batches[1]),
    batches[0].error || batches[1].error ? "-" : fmt(total(batches[0]) / total(batches[1]), 2),
  ]);
  return rows;
}

/**
 * Runs the body benchmark modes named in `modes`; returns the process exit code.
 *
 * @example
 * ```ts ignore
 * const code = await runBodyBench(new Set(["--coding"]), fetch);
 * ```
 */
export async function runBodyBench(
  modes: Set<string>,
  nativeFetch: typeof globalThis.fetch,
): Promise<number> {
  const server = await startServer();
  try {
    const native = (): Candidate => ({
      name: "native",
      fetch: (url) => nativeFetch(url),
      close: () => Promise.resolve(),
    });
    const wirefetch = (options = {}): Candidate => {
      const client = new Client(options);
      return {
        name: "wirefetch",
        fetch: (url) => client.fetch(url),
        close: () => client.close({ timeout: 1000 }),
      };
    };
    const rows: Row[] = [];
    if (modes.has("--coding") || modes.has("--tiny-chunks")) {
      const candidates = [wirefetch({ maxConnectionsPerHost: 16 }), native()];
      if (modes.has("--coding")) rows.push(...await codingCase(server.port, candidates));
      if (modes.has("--tiny-chunks")) rows.push(...await tinyCase(server.port, candidates));
      for (const c of candidates) await c.close();
    }
    if (modes.has("--forgotten")) {
      // The default client's settings, a fresh client per scenario.
      rows.push(...await forgottenCase(server.port, () => [wirefetch(), native()]));
    }
    console.log(`wirefetch body bench on ${runtimeName()}`);
    console.log();
    console.log("| case | wirefetch | native | ratio wirefetch/native |");
    console.log("| --- | --- | --- | --- |");
    for (const row of rows) console.log(`| ${row.join(" | ")} |`);
    return 0;
  } catch (error) {
    console.error(`body bench failed: ${error instanceof Error ? error.stack : error}`);
    return 1;
  } finally {
    server.stop();
  }
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}
