/**
 * Small helpers shared by the Fetch-standard tests: bounded waits and the runtime's name.
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "../support/deadline.ts";

export { within };

/** The runtime running the test: the expected behaviour of its own fetch differs. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

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

/** The text of the response `fetching` resolves with, fetch and body within 5 s. */
export async function fetchText(fetching: Promise<Response>): Promise<string> {
  return await within(fetching.then((response) => response.text()), 5_000, "fetch and body");
}
