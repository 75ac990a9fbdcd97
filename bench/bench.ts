/**
 * Benchmarks wirefetch's `Client.fetch` against the runtime's native `fetch`, in one process and
 * one run, against a server in a separate Node process (bench/server.mjs).
 *
 *   deno run -A bench/bench.ts [--json] [--self-test] [--trace-cost] [--baseline=DIR]
 *   bun bench/bench.ts [--json] [--self-test] [--trace-cost] [--baseline=DIR]
 *
 * `--tcp-info-cost` compares new-connection-per-request clients with and without `tcpInfo`;
 * `--trace-cost` compares a client with a listener on every trace event against one without;
 * `--hooks-cost` compares a client with a hooks object implementing every hook against one without;
 * `--baseline=DIR` compares this checkout against another one (a git worktree) in the same run.
 *
 * Env: BENCH_SECONDS (measured seconds per candidate per latency case, default 2),
 * BENCH_WARMUP_SECONDS (default 0.5), BENCH_BIG_ITERATIONS (GET /big runs per candidate, default 3).
 *
 * `--self-test` benchmarks native fetch against native fetch: it needs no wirefetch, so the
 * harness can be checked on its own, and its ratios show the harness's noise (ideally 1.00).
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** What is benchmarked: fetch a URL and resolve with a standard Response. */
type FetchLike = (url: string) => Promise<Response>;

interface Candidate {
  name: string;
  fetch: FetchLike;
  close: () => Promise<void>;
}

/** Counters the server reports on request (see server.mjs). */
interface ServerStats {
  accepted: number;
  open: number;
  requests: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

/** What the server saw while one candidate was measured: the check that keep-alive was used. */
interface ServerUsage {
  /** Connections the server accepted during the warm-up: the pool the candidate built. */
  warmupConnections: number;
  /** Connections the server accepted during the measured time; 0 means pure keep-alive. */
  connectionsOpened: number;
  /** Requests the server parsed during the measured time. */
  requests: number;
  /** Server CPU time over wall time; 100 means the server saturated one core. */
  cpuPercent: number;
}

interface LatencyResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  server: ServerUsage;
}

interface ThroughputResult {
  /** Megabytes (10^6 bytes) per second of each iteration, in run order. */
  runsMBps: number[];
  medianMBps: number;
  bestMBps: number;
  server: ServerUsage;
}

const SMALL_BODY_BYTES = 13;
const BIG_BYTES = 64 * 1024 * 1024;
const CONCURRENCIES = [1, 16] as const;
// Upper bound on requests per candidate per case, so every loop is bounded in count as well as
// in time. Loopback HTTP/1.1 on two cores stays far below 250k requests/s.
const MAX_RPS = 250_000;
// Extra time a case may take past its planned duration before the run is declared hung.
const WATCHDOG_SLACK_MS = 30_000;

const args = new Set(process.argv.slice(2));
const selfTest = args.has("--self-test");
const traceCost = args.has("--trace-cost");
const hooksCost = args.has("--hooks-cost");
const tcpInfoCost = args.has("--tcp-info-cost");
const baseline = [...args].find((a) => a.startsWith("--baseline="))?.slice(11) ?? null;
const emitJson = args.has("--json");
const seconds = positiveNumber("BENCH_SECONDS", 2);
const warmupSeconds = positiveNumber("BENCH_WARMUP_SECONDS", 0.5);
// One 64 MiB transfer takes tens of milliseconds on loopback, so single iterations are noisy;
// more iterations are cheap when a steadier /big number is wanted.
const bigIterations = Math.round(positiveNumber("BENCH_BIG_ITERATIONS", 3));

// Captured before anything else is imported, so a module that replaces globalThis.fetch (as
// wirefetch's global.ts does) cannot make "native" measure something else.
const nativeFetch: typeof globalThis.fetch = globalThis.fetch.bind(globalThis);

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

/** Rejects if `promise` has not settled after `ms`, so a hung request cannot hang the run. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The Node server child: its port, plus a line channel for `stats` requests. */
class Server {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  #buffered = "";
  #exited: Error | null = null;
  port = 0;

  constructor() {
    const script = fileURLToPath(new URL("./server.mjs", import.meta.url));
    // "node" from PATH, not process.execPath: the server must run on Node whichever runtime
    // runs this file, so both runtimes are measured against the same server.
    this.#child = spawn("node", [script], { stdio: ["pipe", "pipe", "inherit"] });
    this.#child.stdout!.setEncoding("utf8");
    this.#child.stdout!.on("data", (text: string) => {
      this.#buffered += text;
      let nl;
      while ((nl = this.#buffered.indexOf("\n")) !== -1) {
        const line = this.#buffered.slice(0, nl);
        this.#buffered = this.#buffered.slice(nl + 1);
        const waiter = this.#waiters.shift();
        if (waiter !== undefined) waiter.resolve(line);
        else this.#lines.push(line);
      }
    });
    const fail = (error: Error): void => {
      this.#exited ??= error;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    };
    this.#child.on("error", (error) => fail(new Error(`bench server: ${error.message}`)));
    this.#child.on("exit", (code, signal) => {
      fail(new Error(`bench server exited (code ${code}, signal ${signal})`));
    });
  }

  #nextLine(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#exited !== null) return Promise.reject(this.#exited);
    return withTimeout(
      new Promise((resolve, reject) => this.#waiters.push({ resolve, reject })),
      10_000,
      "bench server reply",
    );
  }

  async start(): Promise<void> {
    const { port } = JSON.parse(await this.#nextLine()) as { port: number };
    this.port = port;
  }

  async stats(): Promise<ServerStats> {
    this.#child.stdin!.write("stats\n");
    return JSON.parse(await this.#nextLine()) as ServerStats;
  }

  /** Closes the server's stdin (its exit signal) and also sends SIGTERM, in case it is stuck. */
  stop(): void {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin!.end();
    this.#child.kill("SIGTERM");
  }
}

/** Accumulates server counters over the measured segments of one candidate in one case. */
class UsageMeter {
  #warmupConnections = 0;
  #connections = 0;
  #requests = 0;
  #cpuUs = 0;
  #wallMs = 0;

  async warmUp<T>(server: Server, body: () => Promise<T>): Promise<T> {
    const before = await server.stats();
    const result = await body();
    this.#warmupConnections += (await server.stats()).accepted - before.accepted;
    return result;
  }

  async measure<T>(server: Server, body: () => Promise<T>): Promise<T> {
    const before = await server.stats();
    const t0 = performance.now();
    const result = await body();
    const wall = performance.now() - t0;
    const after = await server.stats();
    this.#connections += after.accepted - before.accepted;
    this.#requests += after.requests - before.requests;
    this.#cpuUs += after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;
    this.#wallMs += wall;
    return result;
  }

  usage(): ServerUsage {
    return {
      warmupConnections: this.#warmupConnections,
      connectionsOpened: this.#connections,
      requests: this.#requests,
      cpuPercent: this.#wallMs === 0 ? 0 : (this.#cpuUs / 1000 / this.#wallMs) * 100,
    };
  }
}

/** Per-request latencies of one candidate in one case, in a buffer allocated up front. */
class Samples {
  readonly latencies: Float64Array;
  count = 0;
  busyMs = 0;

  constructor(capacity: number) {
    this.latencies = new Float64Array(capacity);
  }

  get full(): boolean {
    return this.count >= this.latencies.length;
  }

  percentile(p: number): number {
    const sorted = this.latencies.subarray(0, this.count).sort();
    if (sorted.length === 0) return NaN;
    // Nearest rank: the smallest sample with at least p of the samples at or below it.
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  }
}

/**
 * Runs `concurrency` workers, each fetching /small and reading the body in a loop, until
 * `durationMs` has passed or `samples` is full. Returns the wall time from start until the last
 * worker's last request completed, so requests/s counts every request that finished.
 */
async function smallLoop(
  fetchFn: FetchLike,
  url: string,
  concurrency: number,
  durationMs: number,
  samples: Samples | null,
): Promise<number> {
  const start = performance.now();
  const deadline = start + durationMs;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && performance.now() < deadline && !(samples?.full ?? false)) {
      const t0 = performance.now();
      const res = await fetchFn(url);
      const body = await res.arrayBuffer();
      const t1 = performance.now();
      if (res.status !== 200 || body.byteLength !== SMALL_BODY_BYTES) {
        stop = true;
        throw new Error(`GET /small: status ${res.status}, ${body.byteLength} bytes`);
      }
      if (samples !== null && !samples.full) samples.latencies[samples.count++] = t1 - t0;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    stop = true;
  }
  return performance.now() - start;
}

/** Fetches /big once, reading the body to the end with a reader; returns MB/s. */
async function bigOnce(fetchFn: FetchLike, url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetchFn(url);
  if (res.status !== 200 || res.body === null) throw new Error(`GET /big: status ${res.status}`);
  const reader = res.body.getReader();
  let bytes = 0;
  // Bounded by the byte count as well as by the stream's end: a server sending more than it
  // announced must not keep the loop going.
  while (bytes <= BIG_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
  }
  const ms = performance.now() - t0;
  if (bytes !== BIG_BYTES) {
    await reader.cancel().catch(() => {});
    throw new Error(`GET /big: read ${bytes} bytes, expected ${BIG_BYTES}`);
  }
  return BIG_BYTES / 1e6 / (ms / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One latency case for all candidates. Each candidate warms up once (opening its connections),
 * then the measured time is split into two halves run in ABBA order, so slow drift of the
 * machine (thermal, background load, the server's heap) falls evenly on both candidates.
 */
async function latencyCase(
  server: Server,
  candidates: Candidate[],
  concurrency: number,
): Promise<LatencyResult[]> {
  const url = `http://127.0.0.1:${server.port}/small`;
  const halfMs = (seconds * 1000) / 2;
  const capacity = Math.ceil(seconds * MAX_RPS);
  const samples = candidates.map(() => new Samples(capacity));
  const meters = candidates.map(() => new UsageMeter());
  const budget = (ms: number): number => ms + WATCHDOG_SLACK_MS;

  for (const [i, c] of candidates.entries()) {
    await meters[i].warmUp(
      server,
      () =>
        withTimeout(
          smallLoop(c.fetch, url, concurrency, warmupSeconds * 1000, null),
          budget(warmupSeconds * 1000),
          `${c.name} warm-up c=${concurrency}`,
        ),
    );
  }
  const order = [...candidates.keys(), ...[...candidates.keys()].reverse()];
  for (const i of order) {
    const c = candidates[i];
    const ms = await meters[i].measure(
      server,
      () =>
        withTimeout(
          smallLoop(c.fetch, url, concurrency, halfMs, samples[i]),
          budget(halfMs),
          `${c.name} GET /small c=${concurrency}`,
        ),
    );
    samples[i].busyMs += ms;
  }
  return samples.map((s, i) => ({
    requests: s.count,
    seconds: s.busyMs / 1000,
    rps: s.count / (s.busyMs / 1000),
    p50Us: s.percentile(0.5) * 1000,
    p99Us: s.percentile(0.99) * 1000,
    server: meters[i].usage(),
  }));
}

/** The /big case: one warm-up each, then iterations alternating which candidate goes first. */
async function throughputCase(
  server: Server,
  candidates: Candidate[],
): Promise<ThroughputResult[]> {
  const url = `http://127.0.0.1:${server.port}/big`;
  const runs = candidates.map((): number[] => []);
  const meters = candidates.map(() => new UsageMeter());
  const once = (c: Candidate): Promise<number> =>
    withTimeout(bigOnce(c.fetch, url), 60_000, `${c.name} GET /big`);
  for (const [i, c] of candidates.entries()) await meters[i].warmUp(server, () => once(c));
  for (let it = 0; it < bigIterations; it++) {
    const order = [...candidates.keys()];
    if (it % 2 === 1) order.reverse();
    for (const i of order) runs[i].push(await meters[i].measure(server, () => once(candidates[i])));
  }
  return runs.map((r, i) => ({
    runsMBps: r,
    medianMBps: median(r),
    bestMBps: Math.max(...r),
    server: meters[i].usage(),
  }));
}

async function loadCandidates(): Promise<Candidate[]> {
  const native: Candidate = {
    name: "native",
    fetch: (url) => nativeFetch(url),
    close: () => Promise.resolve(),
  };
  if (selfTest) {
    // Both columns are the same native fetch (sharing its connection pool): a harness check.
    return [{ ...native, name: "native (self-test)" }, native];
  }
  let mod: typeof import("../mod.ts");
  try {
    mod = await import("../mod.ts");
  } catch (error) {
    throw new Error(
      `could not load wirefetch from ../mod.ts (${(error as Error).message}); ` +
        "run with --self-test to benchmark native fetch against itself",
    );
  }
  const client = new mod.Client({ maxConnectionsPerHost: 16 });
  const plain: Candidate = {
    name: "wirefetch",
    fetch: (url) => client.fetch(url),
    close: () => client.close(),
  };
  if (tcpInfoCost) {
    // Every request on a new connection, so the difference is the per-connection cost of the
    // two TCP_INFO snapshots (open and close) and the timestamps.
    const on = new mod.Client({
      maxConnectionsPerHost: 16,
      maxRequestsPerConnection: 1,
      tcpInfo: true,
    });
    const off = new mod.Client({ maxConnectionsPerHost: 16, maxRequestsPerConnection: 1 });
    return [
      { name: "new conns, tcpInfo on", fetch: (url) => on.fetch(url), close: () => on.close() },
      { name: "new conns, tcpInfo off", fetch: (url) => off.fetch(url), close: () => off.close() },
    ];
  }
  if (traceCost) {
    // The cost of tracing: the same client code with a no-op listener on every trace event.
    const traced = new mod.Client({ maxConnectionsPerHost: 16 });
    let seen = 0;
    const listener = (): void => {
      seen++;
    };
    for (const type of mod.TRACE_EVENT_TYPES) traced.addEventListener(type, listener);
    return [
      {
        name: "wirefetch traced",
        fetch: (url) => traced.fetch(url),
        close: () => {
          if (seen === 0) throw new Error("no trace event was delivered");
          return traced.close();
        },
      },
      { ...plain, name: "wirefetch untraced" },
    ];
  }
  if (hooksCost) {
    // The cost of hooks: the same client code with a no-op hook for every trace event type.
    let seen = 0;
    const hooks: Record<string, () => void> = {};
    for (const type of mod.TRACE_EVENT_TYPES) {
      hooks[type] = () => {
        seen++;
      };
    }
    const hooked = new mod.Client({ maxConnectionsPerHost: 16, hooks });
    return [
      {
        name: "wirefetch hooks",
        fetch: (url) => hooked.fetch(url),
        close: () => {
          if (seen === 0) throw new Error("no hook was called");
          return hooked.close();
        },
      },
      { ...plain, name: "wirefetch no hooks" },
    ];
  }
  if (baseline !== null) {
    // Another checkout of wirefetch (e.g. a git worktree of an earlier commit) in the same run.
    const before: typeof import("../mod.ts") = await import(
      new URL(`${baseline.replace(/\/$/, "")}/mod.ts`, `file://${processCwd()}/`).href
    );
    const old = new before.Client({ maxConnectionsPerHost: 16 });
    return [plain, {
      name: "wirefetch baseline",
      fetch: (url) => old.fetch(url),
      close: () => old.close(),
    }];
  }
  return [plain, native];
}

function processCwd(): string {
  return (globalThis as { process?: { cwd(): string } }).process?.cwd() ?? ".";
}

interface Row {
  label: string;
  values: [number, number];
  digits: number;
}

function fmt(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(header: string[], rows: string[][]): string {
  const lines = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`);
  return lines.join("\n");
}

async function main(server: Server, candidates: Candidate[]): Promise<void> {
  await server.start();
  const runtime = runtimeName();
  console.log(
    `wirefetch bench on ${runtime}: ${seconds} s per case per candidate ` +
      `(warm-up ${warmupSeconds} s), server node on 127.0.0.1:${server.port}` +
      (selfTest ? " [SELF-TEST: native vs native]" : ""),
  );

  const latency: Record<string, LatencyResult[]> = {};
  for (const concurrency of CONCURRENCIES) {
    latency[`c${concurrency}`] = await latencyCase(server, candidates, concurrency);
  }
  const big = await throughputCase(server, candidates);

  const rows: Row[] = [];
  for (const concurrency of CONCURRENCIES) {
    const r = latency[`c${concurrency}`];
    const pair = (f: (x: LatencyResult) => number): [number, number] => [f(r[0]), f(r[1])];
    const name = `GET /small c=${concurrency}`;
    rows.push({ label: `${name} req/s (higher is better)`, values: pair((x) => x.rps), digits: 0 });
    rows.push({
      label: `${name} p50 µs (lower is better)`,
      values: pair((x) => x.p50Us),
      digits: 0,
    });
    rows.push({
      label: `${name} p99 µs (lower is better)`,
      values: pair((x) => x.p99Us),
      digits: 0,
    });
  }
  rows.push({
    label: `GET /big 64 MiB MB/s, median of ${bigIterations} (higher is better)`,
    values: [big[0].medianMBps, big[1].medianMBps],
    digits: 0,
  });

  const [a, b] = candidates.map((c) => c.name);
  console.log();
  console.log(
    table(
      ["case", a, b, `ratio ${a}/${b}`],
      rows.map((r) => [
        r.label,
        fmt(r.values[0], r.digits),
        fmt(r.values[1], r.digits),
        fmt(r.values[0] / r.values[1], 2),
      ]),
    ),
  );

  // The server's view: connections opened shows whether keep-alive was used, and its CPU share
  // shows whether it (rather than the client) could have been the limit.
  const usage: [string, ServerUsage[]][] = [
    ...CONCURRENCIES.map((c): [string, ServerUsage[]] => [
      `GET /small c=${c}`,
      latency[`c${c}`].map((x) => x.server),
    ]),
    ["GET /big", big.map((x) => x.server)],
  ];
  console.log();
  console.log(
    table(
      [
        "server side",
        `${a}: new conns in warm-up / in measured / requests / server CPU`,
        `${b}: same`,
      ],
      usage.map(([label, u]) => [
        label,
        ...u.map((x) =>
          `${x.warmupConnections} / ${x.connectionsOpened} / ${fmt(x.requests, 0)} / ` +
          `${fmt(x.cpuPercent, 0)}%`
        ),
      ]),
    ),
  );

  if (emitJson) {
    console.log(JSON.stringify({
      runtime,
      selfTest,
      seconds,
      warmupSeconds,
      candidates: candidates.map((c) => c.name),
      small: latency,
      big,
    }));
  }
}

// Body modes (bench/body_bench.ts) run on their own and exit.
const BODY_MODES = ["--coding", "--tiny-chunks", "--forgotten"];
if (BODY_MODES.some((mode) => args.has(mode))) {
  const { runBodyBench } = await import("./body_bench.ts");
  process.exit(await runBodyBench(args, nativeFetch));
}

const server = new Server();
let candidates: Candidate[] = [];
let exitCode = 0;
try {
  candidates = await loadCandidates();
  await main(server, candidates);
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.stack : error}`);
  exitCode = 1;
} finally {
  for (const c of candidates) {
    await withTimeout(c.close(), 5_000, `${c.name} close`).catch((error: Error) => {
      console.error(error.message);
      exitCode = 1;
    });
  }
  server.stop();
}
// Exit explicitly: after a failure, workers of the abandoned case may still hold sockets or
// timers open, and the run must end by itself.
process.exit(exitCode);
