/**
 * What a benchmark mode is. A mode names its candidates and the ratios it reports; the runner
 * (bench/bench.ts) measures them in the same process with alternating rounds, and with
 * `--baseline REF` builds the wirefetch candidates a second time from the other checkout.
 *
 * To add a mode: write `bench/modes/NAME.ts` exporting a {@linkcode Mode} and add it to the
 * list in bench/modes/mod.ts.
 *
 * @module
 */

import type { Candidate, RunSettings, Target } from "../harness.ts";

/** The wirefetch module as mod.ts exports it (this checkout's or the baseline's). */
export type Wirefetch = typeof import("../../mod.ts");

/** One loaded wirefetch and the suffix its candidates' names get ("" or "@REF"). */
export interface WirefetchBuild {
  readonly mod: Wirefetch;
  readonly suffix: string;
  /** The URL of the entry point loaded (mod.ts, or npm/esm/mod.js on Node). */
  readonly entry: string;
}

/** What a mode gets to work with. */
export interface ModeContext {
  /** The runtime's fetch, captured before wirefetch was imported. */
  readonly nativeFetch: (url: string, init?: RequestInit) => Promise<Response>;
  readonly target: Target;
  readonly settings: RunSettings;
  /** Concurrencies of the latency cases (`--concurrency=1,16`). */
  readonly concurrencies: readonly number[];
}

/** A benchmark mode. */
export interface Mode {
  /** The command-line flag that selects it; "" for the default mode. */
  readonly flag: string;
  /** One line for `--help`. */
  readonly summary: string;
  /** Candidates that do not depend on wirefetch (raw loop, native fetch), made once. */
  fixed?(context: ModeContext): Candidate[];
  /** The wirefetch candidates for one build; each name must end with `build.suffix`. */
  wirefetch?(build: WirefetchBuild): Candidate[];
  /** Ratios to report, by candidate name ("wirefetch", "raw"), before baseline suffixes. */
  readonly ratios: readonly (readonly [string, string])[];
  /**
   * What `--in-memory` does for this mode (once, before its candidates are made); by default
   * each build's socket connector is replaced by in-memory sockets (bench/memory.ts).
   */
  inMemory?(builds: WirefetchBuild[]): Promise<void>;
  /** Whether the 64 MiB streaming case runs (for candidates that can stream). */
  readonly big: boolean;
  /**
   * A mode with its own procedure instead of the latency and streaming cases; it prints its
   * own tables and returns what goes into the JSON line.
   */
  run?(context: ModeContext, builds: WirefetchBuild[]): Promise<Record<string, unknown>>;
}
