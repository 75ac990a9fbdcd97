/**
 * Installs wirefetch as `globalThis.fetch`, so code that calls the global fetch (third-party
 * SDKs included) goes through wirefetch's pool.
 *
 * @example
 * ```ts
 * import { install, uninstall } from "@wirefetch/fetch/global";
 *
 * install();
 * const response = await fetch("http://127.0.0.1:8080/"); // wirefetch's pool
 * await response.body?.cancel();
 * uninstall(); // the runtime's own fetch again
 * ```
 *
 * @module
 */

import { Client, type ClientOptions, defaultClient } from "./src/client.ts";

let original: typeof globalThis.fetch | null = null;

/**
 * Replaces `globalThis.fetch` with wirefetch's. With options, a new {@linkcode Client} serves
 * it; without, the default client. Returns a function that restores the previous fetch.
 *
 * @example
 * ```ts
 * import { install } from "@wirefetch/fetch/global";
 * const restore = install({ maxConnectionsPerHost: 16 });
 * restore();
 * ```
 */
export function install(options?: ClientOptions): () => void {
  const client = options === undefined ? defaultClient : new Client(options);
  if (original === null) original = globalThis.fetch;
  const replacement = client.fetch as typeof globalThis.fetch;
  globalThis.fetch = replacement;
  return uninstall;
}

/**
 * Restores the fetch that was global before {@linkcode install}.
 *
 * @example
 * ```ts
 * import { install, uninstall } from "@wirefetch/fetch/global";
 * install();
 * uninstall();
 * ```
 */
export function uninstall(): void {
  if (original === null) return;
  globalThis.fetch = original;
  original = null;
}
