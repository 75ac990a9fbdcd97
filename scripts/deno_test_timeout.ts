/**
 * A per-test time limit for `deno test`, loaded with `--preload` by scripts/test.mjs and the
 * `test` task: Bun has `bun test --timeout` and Node `node --test --test-timeout`, but `deno test`
 * has no such flag, so a test that awaits something that never comes would hang the whole run.
 *
 * Deno runs node:test's `describe` as a `Deno.test` and each `it` as a step. This module wraps
 * `Deno.test` and every context's `step` so each function races a timer; a test that outlives it
 * fails with "timed out after N ms" under its own name, and the run goes on. A suite's timer is
 * paused while one of its steps runs (each step has its own), so the limit is per test, not per
 * file. The limit is `WIREFETCH_TEST_TIMEOUT` milliseconds (default 15000).
 *
 * @module
 */

// deno-lint-ignore-file no-explicit-any
type TestFn = (t: any) => unknown;

const DEFAULT_LIMIT = 15_000;

function limitFromEnv(): number {
  try {
    const value = Number(Deno.env.get("WIREFETCH_TEST_TIMEOUT"));
    return Number.isFinite(value) && value > 0 ? value : DEFAULT_LIMIT;
  } catch {
    return DEFAULT_LIMIT; // no --allow-env
  }
}

const limit = limitFromEnv();

/** A restartable deadline that can be paused while child steps run. */
class Deadline {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #paused = 0;
  #reject: (error: Error) => void = () => {};
  readonly promise: Promise<never>;
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
    this.promise = new Promise<never>((_, reject) => (this.#reject = reject));
    // Never an unhandled rejection: the race below is what reports it.
    this.promise.catch(() => {});
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#reject(
        new Error(`test "${this.#name}" timed out after ${limit} ms (WIREFETCH_TEST_TIMEOUT)`),
      );
    }, limit);
  }

  pause(): void {
    if (this.#paused++ === 0) clearTimeout(this.#timer);
  }

  resume(): void {
    if (--this.#paused === 0) this.#arm();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#paused = Infinity;
  }
}

function nameOf(args: any[]): string {
  const first = args[0];
  if (typeof first === "string") return first;
  if (typeof first === "function") return first.name || "(anonymous)";
  return typeof first?.name === "string" ? first.name : "(anonymous)";
}

function bound(fn: TestFn, name: string): TestFn {
  return async function (this: unknown, t: any): Promise<unknown> {
    const deadline = new Deadline(name);
    if (t !== null && typeof t === "object" && typeof t.step === "function") {
      const step = t.step.bind(t);
      t.step = (...args: any[]): Promise<boolean> => {
        deadline.pause();
        return Promise.resolve(step(...wrapArgs(args))).finally(() => deadline.resume());
      };
    }
    try {
      return await Promise.race([fn.call(this, t), deadline.promise]);
    } finally {
      deadline.clear();
    }
  };
}

// Deno.test and t.step take (fn), (name, fn), (name, options, fn), (options, fn) or (options).
function wrapArgs(args: any[]): any[] {
  const name = nameOf(args);
  return args.map((arg) => {
    if (typeof arg === "function") return bound(arg, name);
    if (arg !== null && typeof arg === "object" && typeof arg.fn === "function") {
      return { ...arg, fn: bound(arg.fn, name) };
    }
    return arg;
  });
}

const original = Deno.test;
const patched = function (this: unknown, ...args: any[]): void {
  return (original as any).apply(this, wrapArgs(args));
};
Object.assign(patched, original);
// Deno.test is typed read-only but is a writable property of the namespace object.
(Deno as { test: unknown }).test = patched;
