/**
 * Picks the socket adapter for the runtime we run on. This is the only place that asks.
 *
 * @module
 */

import type { SocketConnector } from "./socket.ts";
import { bunConnector } from "./bun.ts";
import { denoConnector } from "./deno.ts";
import { nodeConnector } from "./node.ts";

/**
 * The adapter for the current runtime: Bun, then Deno, then Node (Deno and Bun both provide
 * Node's modules too, so the native globals are checked first).
 *
 * @example
 * ```ts
 * import { defaultConnector } from "./connector.ts";
 * console.log(defaultConnector().runtime);
 * ```
 */
export function defaultConnector(): SocketConnector {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return bunConnector;
  if (g.Deno !== undefined) return denoConnector;
  return nodeConnector;
}
