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
 * Replaces `globalThis.fetch` with wirefetch's. Pass a {@linkcode Client} (to listen to its
 * trace events), or options for a new one; without either, the default client serves it.
 * Returns a function that restores the previous fetch.
 *
 * @example
 * ```ts
 * import { Client } from "@wirefetch/fetch";
 * import { install } from "@wirefetch/fetch/global";
 *
 * const client = new Client({ maxConnectionsPerHost: 16 });
 * client.addEventListener("gotconn", (e) => console.log(e.type));
 * const restore = install(client);
 * restore();
 * ```
 */
export function install(clientOrOptions?: Client | ClientOptions): () => void {
  const client = clientOrOptions === undefined
    ? defaultClient
    : clientOrOptions instanceof Client
    ? clientOrOptions
    : new Client(clientOrOptions);
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
