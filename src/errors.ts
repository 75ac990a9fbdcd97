/**
 * The error class wirefetch attaches as `cause` to every network failure.
 *
 * `fetch` rejects with a `TypeError` (as the Fetch standard requires for network errors), and a
 * body stream errors with a `TypeError`; both carry a {@linkcode WirefetchError} as `cause`, whose
 * `code` is stable across releases so callers can branch on it.
 *
 * @module
 */

/**
 * Stable codes for the ways a request can fail below the HTTP semantics.
 *
 * - `ERR_CONNECTION_REFUSED`: nothing listens at the address.
 * - `ERR_CONNECTION_RESET`: the peer reset the connection.
 * - `ERR_CONNECTION_CLOSED`: the server closed the connection before a response began.
 * - `ERR_BODY_TRUNCATED`: the connection ended before the framing said the body was complete.
 * - `ERR_PROTOCOL`: the server sent bytes that are not valid HTTP/1.1 (RFC 9112).
 * - `ERR_HEADERS_TOO_LARGE`: the response head exceeded `maxHeaderSize`.
 * - `ERR_CONNECT_TIMEOUT`, `ERR_HEADERS_TIMEOUT`, `ERR_BODY_TIMEOUT`, `ERR_QUEUE_TIMEOUT`: a
 *   client timeout expired in that phase.
 * - `ERR_TLS`: the TLS handshake failed (certificate rejected, protocol mismatch).
 * - `ERR_DNS`: the host name could not be resolved.
 * - `ERR_CLIENT_CLOSED`: the client was closed while the request waited or ran.
 * - `ERR_TOO_MANY_REDIRECTS`: more redirects than `maxRedirects` (default 20) were followed.
 * - `ERR_REDIRECT`: a redirect could not be followed (`redirect: "error"`, a bad `Location`, a
 *   stream body that cannot be sent again, a `Location` that is not http: or https:).
 * - `ERR_PROXY`: the proxy could not be reached or refused the request (a non-2xx answer to
 *   `CONNECT`, a SOCKS reply other than "succeeded", an answer that is not the protocol).
 * - `ERR_SCHEME`: the URL's scheme is one fetch answers with a network error (`about:`, or a
 *   scheme neither fetch nor the runtime knows).
 * - `ERR_MODE`: a `mode: "same-origin"` request reached another origin than the environment's
 *   (only where there is one: `globalThis.location`).
 * - `ERR_INTEGRITY`: the body does not match the request's `integrity` metadata (Subresource
 *   Integrity).
 * - `ERR_SOCKET`: any other socket failure; `cause` holds the runtime's error.
 * - `ERR_CONTENT_DECODING`: the body's content coding could not be undone (corrupt or truncated
 *   compressed data, or more than 5 stacked codings).
 * - `ERR_CLIENT_DESTROYED`: `client.destroy()` ended the request.
 */
export type WirefetchErrorCode =
  | "ERR_CONNECTION_REFUSED"
  | "ERR_CONNECTION_RESET"
  | "ERR_CONNECTION_CLOSED"
  | "ERR_BODY_TRUNCATED"
  | "ERR_PROTOCOL"
  | "ERR_HEADERS_TOO_LARGE"
  | "ERR_CONNECT_TIMEOUT"
  | "ERR_HEADERS_TIMEOUT"
  | "ERR_BODY_TIMEOUT"
  | "ERR_QUEUE_TIMEOUT"
  | "ERR_TLS"
  | "ERR_DNS"
  | "ERR_CLIENT_CLOSED"
  | "ERR_TOO_MANY_REDIRECTS"
  | "ERR_REDIRECT"
  | "ERR_SCHEME"
  | "ERR_MODE"
  | "ERR_INTEGRITY"
  | "ERR_PROXY"
  | "ERR_SOCKET"
  | "ERR_CONTENT_DECODING"
  | "ERR_CLIENT_DESTROYED";

/**
 * A failure with a stable {@linkcode WirefetchErrorCode}.
 *
 * @example Branch on the code of a failed fetch
 * ```ts
 * import { fetch, WirefetchError } from "@wirefetch/fetch";
 *
 * try {
 *   await fetch("http://127.0.0.1:9/");
 * } catch (error) {
 *   if (error instanceof TypeError && error.cause instanceof WirefetchError) {
 *     console.log(error.cause.code); // "ERR_CONNECTION_REFUSED"
 *   }
 * }
 * ```
 */
export class WirefetchError extends Error {
  /** What went wrong, stable across releases. */
  readonly code: WirefetchErrorCode;

  /**
   * Creates an error with a code and a message.
   *
   * @example
   * ```ts
   * import { WirefetchError } from "@wirefetch/fetch";
   * const error = new WirefetchError("ERR_PROTOCOL", "invalid status line");
   * console.log(error.code);
   * ```
   */
  constructor(code: WirefetchErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WirefetchError";
    this.code = code;
  }
}

/**
 * Wraps a {@linkcode WirefetchError} in the `TypeError` the Fetch standard prescribes for
 * network errors, keeping the detailed error as `cause`. The message is exactly
 * `"fetch failed"`, as undici's: retry libraries (p-retry and ky through `is-network-error`)
 * recognise network failures by that exact message, so the detail lives in `cause` only.
 *
 * @example
 * ```ts
 * import { networkError, WirefetchError } from "./errors.ts";
 * const error = networkError(new WirefetchError("ERR_CONNECTION_RESET", "reset by peer"));
 * console.log(error.message, error.cause); // "fetch failed", the WirefetchError
 * ```
 */
export function networkError(cause: WirefetchError): TypeError {
  return new TypeError("fetch failed", { cause });
}

/**
 * The `TypeError` a response body stream errors with when the connection fails mid-body. Its
 * message is `"terminated"`, undici's word for the Fetch standard's "fetch termination", and
 * the {@linkcode WirefetchError} is its `cause`.
 *
 * @example
 * ```ts
 * import { bodyError, WirefetchError } from "./errors.ts";
 * const error = bodyError(new WirefetchError("ERR_BODY_TRUNCATED", "connection closed"));
 * console.log(error.message); // "terminated"
 * ```
 */
export function bodyError(cause: WirefetchError): TypeError {
  return new TypeError("terminated", { cause });
}
