/**
 * wirefetch: an HTTP/1.1 `fetch` for Deno and Bun (and Node through the npm build) with a
 * connection pool you can tune and see into.
 *
 * - {@linkcode fetch}: the WHATWG signature, returning global `Response` objects whose bodies
 *   hand their connection back by themselves.
 * - {@linkcode Client}: per-host limits, a FIFO queue, idle and keep-alive control, timeouts,
 *   `stats()`, graceful `close()`.
 * - {@linkcode WirefetchError}: the `cause` of every network failure, with a stable `code`.
 *
 * @example Fetch with the default client
 * ```ts
 * import { fetch } from "@wirefetch/fetch";
 *
 * const response = await fetch("http://127.0.0.1:8080/");
 * console.log(response.status, await response.text());
 * ```
 *
 * @example A client of your own
 * ```ts
 * import { Client } from "@wirefetch/fetch";
 *
 * await using client = new Client({ maxConnectionsPerHost: 8, queueTimeout: 5_000 });
 * const responses = await Promise.all(
 *   Array.from({ length: 32 }, () => client.fetch("http://127.0.0.1:8080/")),
 * );
 * await Promise.all(responses.map((r) => r.arrayBuffer()));
 * console.log(client.stats().total.open); // 8
 * ```
 *
 * @module
 */

export { fetch } from "./src/fetch.ts";
export {
  Client,
  type ClientFetch,
  type ClientOptions,
  type ClientStats,
  type CloseOptions,
  defaultClient,
  type FetchFunction,
  type FetchInit,
  VERSION,
} from "./src/client.ts";
export type { PoolStats } from "./src/pool/origin_pool.ts";
export { WirefetchError, type WirefetchErrorCode } from "./src/errors.ts";
export {
  BodyLeakEvent,
  BodyReclaimEvent,
  ConnCloseEvent,
  ConnectDoneEvent,
  ConnectStartEvent,
  DequeuedEvent,
  DnsDoneEvent,
  DnsStartEvent,
  GetConnEvent,
  Got1xxResponseEvent,
  GotConnEvent,
  PhaseEvent,
  ProxyConnectDoneEvent,
  ProxyConnectStartEvent,
  PutIdleConnEvent,
  QueuedEvent,
  RedirectEvent,
  ResponseDoneEvent,
  RetryEvent,
  TlsHandshakeDoneEvent,
  TlsHandshakeStartEvent,
  TRACE_EVENT_TYPES,
  TraceEvent,
  type TraceSubject,
  WroteHeaderFieldEvent,
  WroteRequestEvent,
} from "./src/trace/events.ts";
export type { TraceHooks, TraceInfo } from "./src/trace/hooks.ts";
export { type Timings, timingsOf } from "./src/trace/timings.ts";
export type { LookupAddress, LookupFunction } from "./src/net/resolve.ts";
export type { CheckServerIdentity, NetAddress, PeerCertificate } from "./src/runtime/socket.ts";
export type { ProxyInit, ProxyOption, RouteOptions, TlsClientOptions } from "./src/route/route.ts";
export type { ConnectionHandle, ConnectionStats } from "./src/pool/connection_info.ts";
