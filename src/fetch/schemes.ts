/**
 * URLs that are not `http:` or `https:`. The Fetch standard's "scheme fetch" serves `data:`,
 * `blob:` and `file:` without any network; the runtime already implements them, so they go to
 * the runtime's own fetch, captured when this module loads (never the global fetch at call
 * time: once wirefetch is installed as `globalThis.fetch`, that would call us back forever).
 * They never touch a pool and emit no trace events. `about:` and every other scheme are a
 * network error, as the standard says.
 *
 * @module
 */

import { networkError, WirefetchError } from "../errors.ts";
import { FetchResponse, hrefWithoutFragment } from "../response.ts";

/** The runtime's fetch as it was when wirefetch loaded. */
const runtimeFetch: typeof globalThis.fetch | undefined = globalThis.fetch;

/** Schemes the runtime's own fetch serves (scheme fetch, Fetch §4.2). */
const RUNTIME_SCHEMES = new Set(["data:", "blob:", "file:"]);

/**
 * Whether a URL's scheme is served by the HTTP pool.
 *
 * @example
 * ```ts
 * import { isHttpScheme } from "./schemes.ts";
 * console.log(isHttpScheme("https:"), isHttpScheme("data:")); // true false
 * ```
 */
export function isHttpScheme(protocol: string): boolean {
  return protocol === "http:" || protocol === "https:";
}

/**
 * Fetches a non-HTTP URL: `data:`, `blob:` and `file:` through the runtime's own fetch (whose
 * response is re-wrapped so that, as on the HTTP path, `type` is `"basic"`, `url` has no
 * fragment and the headers are immutable); anything else rejects with a network error.
 * wirefetch's own options (`client`, `trace`, `maxRedirects`) are not passed on: Deno's fetch
 * would read `client` as a `Deno.HttpClient`.
 *
 * @example
 * ```ts
 * import { schemeFetch } from "./schemes.ts";
 * const response = await schemeFetch(new URL("data:text/plain,hi"), "data:text/plain,hi", {});
 * console.log(await response.text()); // "hi"
 * ```
 */
export async function schemeFetch(
  url: URL,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): Promise<Response> {
  if (!RUNTIME_SCHEMES.has(url.protocol) || runtimeFetch === undefined) {
    throw networkError(
      new WirefetchError("ERR_SCHEME", `fetch of ${url.protocol} URLs is a network error`),
    );
  }
  // Fetch §4.1 step 1 checks the signal before any scheme is looked at; Bun's fetch resolves a
  // data: URL despite an aborted signal.
  const signal = init?.signal ?? (input instanceof Request ? input.signal : null);
  if (signal?.aborted) {
    throw signal.reason ?? new DOMException("This operation was aborted", "AbortError");
  }
  let options: RequestInit | undefined = init;
  if (init !== undefined && init !== null) {
    const { client: _client, trace: _trace, maxRedirects: _max, ...rest } = init as
      & RequestInit
      & { client?: unknown; trace?: unknown; maxRedirects?: unknown };
    options = rest;
  }
  // Fetch §4.1 main fetch serializes the URL without its fragment; Bun passes it to the data:
  // URL parser, which would make the fragment part of the body.
  const target = input instanceof Request ? input : hrefWithoutFragment(url);
  const response = await runtimeFetch(target, options);
  const href = hrefWithoutFragment(response.url === "" ? url : new URL(response.url));
  // Headers before body: Bun forgets a blob: or data: response's headers once its body is read.
  const headers = response.headers;
  return new FetchResponse(
    response.body,
    { status: response.status, statusText: response.statusText },
    href,
    response.redirected,
    null,
    headers,
  );
}
