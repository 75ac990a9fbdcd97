/**
 * The wirefetch benchmark: candidates (the raw socket loop, native fetch, wirefetch, or what a
 * mode names) measured in one process against one server, in alternating rounds, reported as
 * requests/s, latency, heap bytes and GCs per 10k requests, and ratios taken round by round.
 *
 *   deno run -A bench/bench.ts [MODE] [OPTIONS]
 *   bun bench/bench.ts [MODE] [OPTIONS]
 *   node bench/node.mjs [MODE] [OPTIONS]        # Node, against the npm build (npm/)
 *
 * Run with `--help` for the modes and options; bench/README.md explains what is measured.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

// Captured before wirefetch is imported, so a module that replaces globalThis.fetch (as
// wirefetch's global.ts does) cannot make "native" measure something else.
const nativeFetch: typeof globalThis.fetch = globalThis.fetch.bind(globalThis);

import {
  type Candidate,
  fmt,
  latencyCase,
  type LatencyResult,
  latencyTable,
  median,
  roundCpuRatio,
  roundRatio,
  type RunSettings,
  runtimeName,
  table,
  type Target,
  throughputCase,
  type ThroughputResult,
  withTimeout,
} from "./harness.ts";
import { MODES } from "./modes/mod.ts";
import type { Mode, ModeContext, Wirefetch, WirefetchBuild } from "./modes/types.ts";
import { BIG_BYTES, nginxServer, ownServer, urlTarget } from "./targets.ts";
import { memoryTarget, useMemoryRuntimeSockets, useMemorySockets } from "./memory.ts";

const HELP =
  `usage: deno run -A bench/bench.ts [MODE] [OPTIONS]   (bun bench/bench.ts, node bench/node.mjs)

modes:
${MODES.map((m) => `  ${(m.flag || "(default)").padEnd(18)} ${m.summary}`).join("\n")}
  --coding, --tiny-chunks, --forgotten   body modes (bench/body_bench.ts; they combine)

options:
  --nginx              start nginx (bench/nginx.conf) on a free loopback port and use it
  --url=URL            use a running server: URL answers small bodies (keep-alive)
  --in-memory          no server: wirefetch's sockets answer from memory (its own CPU per
                       request); the raw loop and native fetch are left out
  --in-memory=runtime  the same, but the runtime's own socket API (Deno.connect, Bun.connect)
                       answers from memory, under each build's real socket adapter
  --big-url=URL        with --url: a URL answering a 64 MiB body
  --concurrency=1,16   concurrencies of the small-body cases (default 1,16)
  --rounds=N           alternating rounds per case (default 6)
  --no-big             skip the 64 MiB streaming case
  --baseline=REF       also run wirefetch from REF (a git ref, checked out into a temporary
                       worktree, or a directory holding a checkout) in the same run
  --json               print one JSON line with every number at the end

env: BENCH_SECONDS (measured seconds per candidate per case, default 3), BENCH_WARMUP_SECONDS
(default 0.5), BENCH_BIG_ITERATIONS (default 5), BENCH_IDLE_CONNECTIONS (default 200)`;

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** `--name=value` or `--name value`. */
function option(argv: string[], name: string): string | null {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
    if (argv[i] === name && i + 1 < argv.length) return argv[i + 1];
  }
  return null;
}

const argv = process.argv.slice(2);
const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
// bench/node.mjs runs a compiled copy of this file elsewhere; it says where the repository is.
const repo = process.env.BENCH_REPO ?? fileURLToPath(new URL("..", import.meta.url));

/** Where a checkout's wirefetch entry point is, for the running runtime. */
function entryOf(dir: string): string {
  return isNode ? join(dir, "npm", "esm", "mod.js") : join(dir, "mod.ts");
}

/** The baseline checkout: a directory, or a git ref checked out into a temporary worktree. */
function prepareBaseline(ref: string): { dir: string; label: string; cleanup: () => void } {
  if (existsSync(join(ref, "mod.ts"))) return { dir: ref, label: ref, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "wirefetch-baseline-"));
  const git = (...args: string[]): void => {
    const result = spawnSync("git", ["-C", repo, ...args], { stdio: "inherit" });
    if (result.status !== 0) throw new Error(`git ${args.join(" ")} failed`);
  };
  git("worktree", "add", "--detach", "--force", dir, ref);
  const cleanup = (): void => {
    spawnSync("git", ["-C", repo, "worktree", "remove", "--force", dir], { stdio: "ignore" });
  };
  if (isNode) {
    // The npm build of that commit, with this checkout's tools.
    symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
    const built = spawnSync(
      join(repo, "node_modules", ".bin", "deno"),
      ["run", "-A", "scripts/build_npm.ts"],
      { cwd: dir, stdio: "inherit", env: { ...process.env, DENO_NO_PACKAGE_JSON: "1" } },
    );
    if (built.status !== 0) {
      cleanup();
      throw new Error(`building the npm package of ${ref} failed`);
    }
  }
  return { dir, label: ref, cleanup };
}

async function load(dir: string, suffix: string): Promise<WirefetchBuild> {
  const entry = dir === repo && process.env.BENCH_WIREFETCH_MODULE
    ? process.env.BENCH_WIREFETCH_MODULE
    : pathToFileURL(entryOf(dir)).href;
  return { mod: await import(entry) as Wirefetch, suffix, entry };
}

function pickMode(): Mode {
  const chosen = MODES.filter((m) => m.flag !== "" && argv.includes(m.flag));
  if (chosen.length > 1) throw new Error(`pick one mode, not ${chosen.map((m) => m.flag)}`);
  return chosen[0] ?? MODES[0];
}

/** The ratios to report: the mode's, the baseline's versions of them, and new/old. */
function ratioPairs(mode: Mode, builds: WirefetchBuild[], wirefetchNames: Set<string>) {
  const pairs: [string, string][] = mode.ratios.map(([a, b]) => [a, b]);
  for (const build of builds.slice(1)) {
    for (const name of wirefetchNames) pairs.push([name, name + build.suffix]);
  }
  return pairs;
}

async function runCases(
  mode: Mode,
  context: ModeContext,
  builds: WirefetchBuild[],
  candidates: Candidate[],
  wirefetchNames: Set<string>,
  big: boolean,
): Promise<Record<string, unknown>> {
  const present = new Set(candidates.map((c) => c.name));
  const pairs = ratioPairs(mode, builds, wirefetchNames).filter(([a, b]) =>
    present.has(a) && present.has(b)
  );
  const small: Record<string, LatencyResult[]> = {};
  for (const concurrency of context.concurrencies) {
    const results = await latencyCase(context.target, candidates, concurrency, context.settings);
    small[`c${concurrency}`] = results;
    console.log(`\nGET small, keep-alive, c=${concurrency}\n`);
    console.log(latencyTable(results));
  }
  let stream: ThroughputResult[] | null = null;
  if (big && context.target.bigUrl !== null && candidates.some((c) => c.stream !== undefined)) {
    stream = await throughputCase(context.target, candidates, context.settings, BIG_BYTES);
    console.log(`\nGET 64 MiB, streamed with a reader\n`);
    console.log(
      table(
        ["candidate", "MB/s (median)", "best", "CPU ms / MB", "runs"],
        stream.map((r) => [
          r.name,
          fmt(r.medianMBps),
          fmt(r.bestMBps),
          fmt(r.cpuMsPerMB, 2),
          r.runsMBps.map((x) => fmt(x)).join(" "),
        ]),
      ),
    );
  }
  const ratios: Record<string, Record<string, number>> = {};
  // Each concurrency twice: by requests/s, and by CPU per request (steadier on a shared machine).
  const header = [
    "ratio (median of per-round ratios)",
    ...Object.keys(small).flatMap((c) => [`${c}`, `${c} by CPU`]),
  ];
  if (stream !== null) header.push("64 MiB stream");
  const rows: string[][] = [];
  for (const [a, b] of pairs) {
    const name = `${a}/${b}`;
    const values: Record<string, number> = {};
    for (const [key, results] of Object.entries(small)) {
      values[key] = roundRatio(results, a, b);
      values[`${key}Cpu`] = roundCpuRatio(results, a, b);
    }
    if (stream !== null) {
      const x = stream.find((r) => r.name === a);
      const y = stream.find((r) => r.name === b);
      values.stream = x && y ? median(x.runsMBps.map((v, i) => v / y.runsMBps[i])) : NaN;
    }
    ratios[name] = values;
    rows.push([name, ...Object.values(values).map((v) => fmt(v, 2))]);
  }
  if (rows.length > 0) {
    console.log();
    console.log(table(header, rows));
  }
  return { small, stream, ratios };
}

async function main(): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  // Body modes (bench/body_bench.ts) have their own server and candidates, and flags combine.
  const bodyModes = ["--coding", "--tiny-chunks", "--forgotten"];
  if (bodyModes.some((flag) => argv.includes(flag))) {
    const { runBodyBench } = await import("./body_bench.ts");
    return await runBodyBench(new Set(argv), nativeFetch);
  }
  const mode = pickMode();
  const settings: RunSettings = {
    seconds: positiveNumber("BENCH_SECONDS", 3),
    warmupSeconds: positiveNumber("BENCH_WARMUP_SECONDS", 0.5),
    rounds: Math.round(Number(option(argv, "--rounds") ?? 6)),
    bigIterations: Math.round(positiveNumber("BENCH_BIG_ITERATIONS", 5)),
  };
  const concurrencies = (option(argv, "--concurrency") ?? "1,16").split(",").filter((c) => c !== "")
    .map(Number);
  const baselineRef = option(argv, "--baseline");
  const cleanups: (() => void)[] = [];
  let candidates: Candidate[] = [];
  let exitCode = 0;
  try {
    const url = option(argv, "--url");
    // `--in-memory` replaces each build's connector; `--in-memory=runtime` the runtime's own
    // socket API under the real adapters (bench/memory.ts).
    const runtimeMemory = argv.includes("--in-memory=runtime");
    const inMemory = runtimeMemory || argv.includes("--in-memory");
    const target: Target = inMemory
      ? memoryTarget
      : url !== null
      ? urlTarget(url, option(argv, "--big-url"))
      : argv.includes("--nginx")
      ? await nginxServer()
      : await ownServer();
    cleanups.push(() => target.stop());
    const builds: WirefetchBuild[] = [];
    if (mode.wirefetch !== undefined || mode.run !== undefined) {
      builds.push(await load(repo, ""));
      if (baselineRef !== null) {
        const baseline = prepareBaseline(baselineRef);
        cleanups.push(baseline.cleanup);
        builds.push(await load(baseline.dir, `@${baseline.label}`));
      }
      if (runtimeMemory) await useMemoryRuntimeSockets();
      else if (inMemory && mode.inMemory !== undefined) await mode.inMemory(builds);
      else if (inMemory) { for (const build of builds) await useMemorySockets(build); }
    }
    const context: ModeContext = {
      nativeFetch: (u, init) => nativeFetch(u, init),
      target,
      settings,
      concurrencies,
    };
    console.log(
      `wirefetch bench on ${runtimeName()}, mode ${mode.flag || "default"}, ` +
        `${target.label}; ${settings.seconds} s per candidate per case in ${settings.rounds} ` +
        `alternating rounds (warm-up ${settings.warmupSeconds} s)`,
    );
    let report: Record<string, unknown>;
    if (mode.run !== undefined) {
      report = await mode.run(context, builds);
    } else {
      const own = builds.length > 0 ? mode.wirefetch?.(builds[0]) ?? [] : [];
      candidates = [
        ...(inMemory ? [] : mode.fixed?.(context) ?? []),
        ...own,
        ...builds.slice(1).flatMap((b) => mode.wirefetch?.(b) ?? []),
      ];
      const big = mode.big && !argv.includes("--no-big");
      const names = new Set(own.map((c) => c.name));
      report = await runCases(mode, context, builds, candidates, names, big);
    }
    if (argv.includes("--json")) {
      console.log(JSON.stringify({ runtime: runtimeName(), mode: mode.flag, settings, ...report }));
    }
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
    for (const cleanup of cleanups.reverse()) cleanup();
  }
  return exitCode;
}

// Exit explicitly: after a failure, workers of an abandoned case may still hold sockets or
// timers, and the run must end by itself.
process.exit(await main());
