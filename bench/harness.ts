/**
 * The measuring machinery shared by every benchmark mode: candidates, alternating rounds, the
 * allocation and GC meter, and tables.
 *
 * A candidate is anything that can make requests: wirefetch, native fetch, the raw socket loop.
 * Every case runs all candidates in the same process, in rounds whose order rotates, so slow
 * drift of a shared machine (other processes, thermal, the server's heap) falls on all of them;
 * ratios are taken per round (between measurements seconds apart) and the median is reported.
 *
 * @module
 */

import v8 from "node:v8";
import process from "node:process";

/** One request loop's unit of work: make one request, read its body, return the body length. */
export type Requester = () => Promise<number>;

/** What is benchmarked. */
export interface Candidate {
  /** The column name, also used in ratio names ("wirefetch/raw"). */
  readonly name: string;
  /** What one worker of a latency case uses; called once per worker per case. */
  worker(url: string): Requester | Promise<Requester>;
  /** Streams a big body to its end and returns the byte count; absent when not supported. */
  stream?(url: string): Promise<number>;
  /** Releases connections; called once at the end (or on failure). */
  close(): Promise<void>;
}

/** The server side's counters, when the target can report them (bench/server.mjs can). */
export interface ServerStats {
  accepted: number;
  requests: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

/** The server a run talks to. */
export interface Target {
  /** Describes the server for the header line. */
  readonly label: string;
  /** The keep-alive small-body URL. */
  readonly smallUrl: string;
  /** The 64 MiB URL, or null when the server has none. */
  readonly bigUrl: string | null;
  /** Counters, or null when the server cannot report them (nginx, a URL). */
  stats(): Promise<ServerStats | null>;
  /** Stops a server the benchmark started. */
  stop(): void;
}

/** Knobs of one run. */
export interface RunSettings {
  /** Measured seconds per candidate per case (split into rounds). */
  readonly seconds: number;
  /** Warm-up seconds per candidate per case (opens the connections). */
  readonly warmupSeconds: number;
  /** Rounds per case; each round runs every candidate once. */
  readonly rounds: number;
  /** Iterations of the big-body case per candidate. */
  readonly bigIterations: number;
}

/** Per-candidate result of a latency case. */
export interface LatencyResult {
  name: string;
  requests: number;
  seconds: number;
  rps: number;
  /** Requests/s of each round, in round order (the per-round ratios use these). */
  roundRps: number[];
  /** CPU µs per request of each round, in round order (the per-round CPU ratios use these). */
  roundCpuUs: number[];
  p50Us: number;
  p99Us: number;
  /** Bytes allocated on the JS heap per 10k requests (see {@linkcode AllocationMeter}). */
  allocPer10k: number;
  /** Garbage collections per 10k requests. */
  gcPer10k: number;
  /**
   * CPU time (user + system) of this whole process per request, in µs: less sensitive than
   * requests/s to other processes competing for the cores (Bun's native fetch does its I/O on
   * another thread of this process, which is counted too).
   */
  cpuUsPerRequest: number;
  /** Connections the server accepted during measured rounds (0 means pure keep-alive). */
  newConnections: number | null;
  /** Server CPU over wall time during measured rounds; 100 = one core. */
  serverCpuPercent: number | null;
}

/** Per-candidate result of a big-body case. */
export interface ThroughputResult {
  name: string;
  /** MB/s (10^6 bytes) of each iteration, in run order. */
  runsMBps: number[];
  medianMBps: number;
  bestMBps: number;
  /** CPU time (user + system) of this process per MB, in ms: steadier than MB/s under load. */
  cpuMsPerMB: number;
}

// Loopback HTTP/1.1 on two cores stays far below this; latencies go into a buffer of this many
// samples per second so the loops allocate nothing for their bookkeeping.
const MAX_RPS = 400_000;
const WATCHDOG_SLACK_MS = 30_000;

/** Rejects if `promise` has not settled after `ms`, so a hung request cannot hang the run. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
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

/** The runtime running the benchmark. */
export function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

/** A fetch-shaped candidate: fetch, read the body with `arrayBuffer()`, check the status. */
export function fetchCandidate(
  name: string,
  fetchFn: (url: string) => Promise<Response>,
  close: () => Promise<void> = () => Promise.resolve(),
): Candidate {
  return {
    name,
    worker(url: string): Requester {
      return async () => {
        const res = await fetchFn(url);
        const body = await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${name}: GET ${url}: status ${res.status}`);
        return body.byteLength;
      };
    },
    async stream(url: string): Promise<number> {
      const res = await fetchFn(url);
      if (res.status !== 200 || res.body === null) {
        throw new Error(`${name}: GET ${url}: status ${res.status}`);
      }
      const reader = res.body.getReader();
      let bytes = 0;
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
      return bytes;
    },
    close,
  };
}

/**
 * Bytes allocated and collections run between `start` and `stop`. Deno's V8 reports a running
 * `total_allocated_bytes`; on Node 20 and Bun it is estimated from the GC profiler's heap sizes
 * before and after each collection (what was collected plus what is still there), which
 * undercounts objects that die young between two samples less than it sounds: every collection
 * is a sample.
 */
export class AllocationMeter {
  // deno-lint-ignore no-explicit-any
  #profiler: any = null;
  #allocated0 = 0;
  #used0 = 0;

  start(): void {
    // deno-lint-ignore no-explicit-any
    const Profiler = (v8 as any).GCProfiler;
    this.#profiler = Profiler === undefined ? null : new Profiler();
    this.#profiler?.start();
    const stats = v8.getHeapStatistics() as { total_allocated_bytes?: number };
    this.#allocated0 = stats.total_allocated_bytes ?? -1;
    this.#used0 = v8.getHeapStatistics().used_heap_size;
  }

  stop(): { bytes: number; gcs: number } {
    const stats = v8.getHeapStatistics() as {
      total_allocated_bytes?: number;
      used_heap_size: number;
    };
    const profile = this.#profiler?.stop() as
      | {
        statistics: {
          beforeGC: { heapStatistics: { usedHeapSize: number } };
          afterGC: { heapStatistics: { usedHeapSize: number } };
        }[];
      }
      | undefined;
    const gcs = profile?.statistics.length ?? 0;
    // Bun reports the field, but as a size that can shrink, not a running total.
    const cumulative = !("Bun" in globalThis);
    if (cumulative && this.#allocated0 >= 0 && stats.total_allocated_bytes !== undefined) {
      return { bytes: stats.total_allocated_bytes - this.#allocated0, gcs };
    }
    let bytes = 0;
    let used = this.#used0;
    for (const gc of profile?.statistics ?? []) {
      bytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - used);
      used = gc.afterGC.heapStatistics.usedHeapSize;
    }
    bytes += Math.max(0, stats.used_heap_size - used);
    return { bytes, gcs };
  }
}

/** Per-request latencies of one candidate in one case, in a buffer allocated up front. */
class Samples {
  readonly latencies: Float64Array;
  count = 0;

  constructor(capacity: number) {
    this.latencies = new Float64Array(capacity);
  }

  percentile(p: number): number {
    const sorted = this.latencies.subarray(0, this.count).sort();
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  }
}

// Every this many requests a worker times one: reading the clock twice per request would cost
// the raw loop, the ceiling, a noticeable share of its own time.
const SAMPLE_EVERY = 16;

/** Runs `workers` in loops until `durationMs` has passed; returns requests made and wall ms. */
async function loop(
  workers: Requester[],
  durationMs: number,
  samples: Samples | null,
  expectBytes: number,
  what: string,
): Promise<{ count: number; ms: number }> {
  const start = performance.now();
  const deadline = start + durationMs;
  let count = 0;
  // The clock is read on every SAMPLE_EVERY-th request of a worker only, which both times that
  // request and checks the deadline; the timer ends workers whose requests are slower than that
  // (it alone would not do: with in-memory sockets requests complete in microtasks, and timers
  // would never run).
  let stop = false;
  const timer = setTimeout(() => (stop = true), durationMs);
  const run = async (request: Requester): Promise<void> => {
    let k = 0;
    while (!stop) {
      let bytes: number;
      if (++k === SAMPLE_EVERY) {
        k = 0;
        const t0 = performance.now();
        if (t0 >= deadline) break;
        bytes = await request();
        if (samples !== null && samples.count < samples.latencies.length) {
          samples.latencies[samples.count++] = performance.now() - t0;
        }
      } else {
        bytes = await request();
      }
      if (expectBytes >= 0 && bytes !== expectBytes) {
        stop = true;
        throw new Error(`${what}: body of ${bytes} bytes, expected ${expectBytes}`);
      }
      count++;
    }
  };
  try {
    await withTimeout(
      Promise.all(workers.map(run)),
      durationMs + WATCHDOG_SLACK_MS,
      what,
    );
  } finally {
    stop = true;
    clearTimeout(timer);
  }
  return { count, ms: performance.now() - start };
}

/** The order of candidates in round `r`: rotated each round and reversed every other round. */
function roundOrder(n: number, r: number): number[] {
  // A balanced (Williams) Latin square: over n rounds (2n for odd n) every candidate runs right
  // after every other one equally often. A candidate's round pays for what the one before left
  // (native fetch's garbage, its threads winding down): with the plain rotation, `wirefetch`
  // followed native fetch in most rounds and `wirefetch@REF` never did, and two identical builds
  // measured 0.89–0.93 against each other on Deno (c=16, nginx).
  const first = [0];
  for (let i = 1, lo = 1, hi = n - 1; i < n; i++) first.push(i % 2 === 1 ? lo++ : hi--);
  const order = first.map((c) => (c + r) % n);
  return n % 2 === 1 && Math.floor(r / n) % 2 === 1 ? order.reverse() : order;
}

/** The median of some numbers (NaN for none). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One keep-alive latency case: every candidate warms up (opening its connections), then
 * `rounds` rounds each run every candidate for an equal slice of the measured time.
 */
export async function latencyCase(
  target: Target,
  candidates: Candidate[],
  concurrency: number,
  settings: RunSettings,
): Promise<LatencyResult[]> {
  const url = target.smallUrl;
  const roundMs = (settings.seconds * 1000) / settings.rounds;
  const workers: Requester[][] = [];
  // The body length every candidate must see: learned from the first candidate's first
  // request, so a server with another body (nginx) needs no configuration.
  let expect = -1;
  for (const c of candidates) {
    const list: Requester[] = [];
    for (let i = 0; i < concurrency; i++) list.push(await c.worker(url));
    workers.push(list);
    if (expect < 0) expect = await list[0]();
    await loop(list, settings.warmupSeconds * 1000, null, expect, `${c.name} warm-up`);
  }
  const samples = candidates.map(() =>
    new Samples(Math.ceil(settings.seconds * MAX_RPS / SAMPLE_EVERY))
  );
  const results = candidates.map((c): LatencyResult => ({
    name: c.name,
    requests: 0,
    seconds: 0,
    rps: 0,
    roundRps: [],
    roundCpuUs: [],
    p50Us: 0,
    p99Us: 0,
    allocPer10k: 0,
    gcPer10k: 0,
    cpuUsPerRequest: 0,
    newConnections: null,
    serverCpuPercent: null,
  }));
  const alloc = candidates.map(() => ({ bytes: 0, gcs: 0, cpuUs: 0 }));
  const server = candidates.map(() => ({ conns: 0, cpuUs: 0, known: false }));
  for (let r = 0; r < settings.rounds; r++) {
    const roundRps = new Array<number>(candidates.length);
    const roundCpu = new Array<number>(candidates.length);
    for (const i of roundOrder(candidates.length, r)) {
      const before = await target.stats();
      const meter = new AllocationMeter();
      meter.start();
      const cpu0 = process.cpuUsage();
      const { count, ms } = await loop(
        workers[i],
        roundMs,
        samples[i],
        expect,
        `${candidates[i].name} c=${concurrency}`,
      );
      const cpu = process.cpuUsage(cpu0);
      const used = meter.stop();
      alloc[i].cpuUs += cpu.user + cpu.system;
      const after = await target.stats();
      alloc[i].bytes += used.bytes;
      alloc[i].gcs += used.gcs;
      if (before !== null && after !== null) {
        server[i].known = true;
        server[i].conns += after.accepted - before.accepted;
        server[i].cpuUs += after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs -
          before.cpuSystemUs;
      }
      results[i].requests += count;
      results[i].seconds += ms / 1000;
      roundRps[i] = count / (ms / 1000);
      roundCpu[i] = (cpu.user + cpu.system) / count;
    }
    for (let i = 0; i < candidates.length; i++) {
      results[i].roundRps.push(roundRps[i]);
      results[i].roundCpuUs.push(roundCpu[i]);
    }
  }
  for (let i = 0; i < candidates.length; i++) {
    const res = results[i];
    res.rps = res.requests / res.seconds;
    res.p50Us = samples[i].percentile(0.5) * 1000;
    res.p99Us = samples[i].percentile(0.99) * 1000;
    res.allocPer10k = (alloc[i].bytes / res.requests) * 10_000;
    res.gcPer10k = (alloc[i].gcs / res.requests) * 10_000;
    res.cpuUsPerRequest = alloc[i].cpuUs / res.requests;
    if (server[i].known) {
      res.newConnections = server[i].conns;
      res.serverCpuPercent = server[i].cpuUs / 1000 / (res.seconds * 1000) * 100;
    }
  }
  return results;
}

/** The big-body case: one warm-up each, then iterations in rotating order. */
export async function throughputCase(
  target: Target,
  candidates: Candidate[],
  settings: RunSettings,
  expectBytes: number,
): Promise<ThroughputResult[]> {
  const url = target.bigUrl!;
  const streaming = candidates.filter((c) => c.stream !== undefined);
  const cpuUs = streaming.map(() => 0);
  const once = async (c: Candidate, i = -1): Promise<number> => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const bytes = await withTimeout(c.stream!(url), 60_000, `${c.name} GET big`);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (i >= 0) cpuUs[i] += cpu.user + cpu.system;
    if (bytes !== expectBytes) {
      throw new Error(`${c.name}: big body of ${bytes} bytes, expected ${expectBytes}`);
    }
    return expectBytes / 1e6 / (ms / 1000);
  };
  for (const c of streaming) await once(c);
  const runs = streaming.map((): number[] => []);
  for (let it = 0; it < settings.bigIterations; it++) {
    for (const i of roundOrder(streaming.length, it)) runs[i].push(await once(streaming[i], i));
  }
  return streaming.map((c, i) => ({
    name: c.name,
    runsMBps: runs[i],
    medianMBps: median(runs[i]),
    bestMBps: Math.max(...runs[i]),
    cpuMsPerMB: cpuUs[i] / 1000 / (expectBytes / 1e6 * settings.bigIterations),
  }));
}

/** The median over rounds of `a`'s requests/s divided by `b`'s in the same round. */
export function roundRatio(results: LatencyResult[], a: string, b: string): number {
  const x = results.find((r) => r.name === a);
  const y = results.find((r) => r.name === b);
  if (x === undefined || y === undefined) return NaN;
  return median(x.roundRps.map((v, i) => v / y.roundRps[i]));
}

/**
 * The median over rounds of `b`'s CPU µs per request divided by `a`'s in the same round: like
 * {@linkcode roundRatio}, above 1 when `a` is the cheaper. CPU per request moves less than
 * requests/s when other processes take the cores (it does not count the time spent waiting for
 * them), so on a shared machine it shows a small difference that requests/s hides.
 */
export function roundCpuRatio(results: LatencyResult[], a: string, b: string): number {
  const x = results.find((r) => r.name === a);
  const y = results.find((r) => r.name === b);
  if (x === undefined || y === undefined) return NaN;
  return median(x.roundCpuUs.map((v, i) => y.roundCpuUs[i] / v));
}

/** A number with fixed digits and thousands separators. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const lines = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`);
  return lines.join("\n");
}

/** The table of one latency case. */
export function latencyTable(results: LatencyResult[]): string {
  return table(
    [
      "candidate",
      "req/s",
      "p50 µs",
      "p99 µs",
      "CPU µs / req",
      "heap KB / 10k req",
      "GCs / 10k req",
      "server: new conns / CPU",
    ],
    results.map((r) => [
      r.name,
      fmt(r.rps),
      fmt(r.p50Us),
      fmt(r.p99Us),
      fmt(r.cpuUsPerRequest, 1),
      fmt(r.allocPer10k / 1000),
      fmt(r.gcPer10k, 1),
      r.newConnections === null ? "–" : `${r.newConnections} / ${fmt(r.serverCpuPercent!)}%`,
    ]),
  );
}
