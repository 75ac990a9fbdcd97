/**
 * `fetch` with the WHATWG signature, run on a wirefetch {@linkcode Client}.
 *
 * @module
 */

import { type Client, defaultClient, type FetchInit } from "./client.ts";

/**
 * Fetches a resource over wirefetch's HTTP/1.1 pool and resolves with a global `Response`.
 * The body releases its connection by itself: read to the end, the connection is back in the
 * pool before the last read resolves; cancelled, the connection is closed; garbage-collected
 * unread, the connection is reclaimed and a warning is emitted.
 *
 * @example
 * ```ts
 * import { fetch } from "@wirefetch/fetch";
 *
 * const response = await fetch("http://127.0.0.1:8080/data.json", {
 *   headers: { accept: "application/json" },
 *   signal: AbortSignal.timeout(5_000),
 * });
 * console.log(response.status, await response.json());
 * ```
 */
export function fetch(
  input: RequestInfo | URL,
  // A default value rather than `?`: Web IDL gives fetch a length of 1 (required arguments).
  init: FetchInit | undefined = undefined,
): Promise<Response> {
  const client: Client = init?.client ?? defaultClient;
  return client.fetch(input, init);
}
