/**
 * Small helpers shared by the Fetch-standard tests: bounded waits and the runtime's name.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The runtime running the test: the expected behaviour of its own fetch differs. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** Resolves or rejects as `promise` does, or rejects after `ms` naming what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The rejection of `promise` (fails the test if it resolves), within 10 s. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  return await within(
    promise.then(
      () => assert.fail("expected a rejection"),
      (error) => error as Error,
    ),
    10_000,
    "a rejection",
  );
}
