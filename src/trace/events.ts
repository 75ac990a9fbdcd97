/**
 * Trace events: one typed `Event` subclass per phase of a request, modelled on Go's
 * `net/http/httptrace` hooks plus the pool's life, which Go does not show.
 *
 * Listen on a client (`client.addEventListener("gotconn", ...)`) for all its requests, or pass
 * any `EventTarget` as `fetch(url, { trace })` for one request. Nothing is built when nobody
 * listens.
 *
 * @module
 */

import type { ConnectionHandle, ConnectionStats } from "../pool/connection_info.ts";
import type { NetAddress } from "../runtime/socket.ts";
import type { TcpInfo } from "../tcp_info/types.ts";
import type { TcpWarning } from "../tcp_info/warnings.ts";
import type { Timings } from "./timings.ts";

/** The request an event belongs to. */
export interface TraceSubject {
  /** A process-unique id of the `fetch` call (kept across its retries and redirects). */
  readonly requestId: number;
  /** The request's method at the time of the event. */
  readonly method: string;
  /** The request's URL at the time of the event. */
  readonly url: string;
}

/**
 * Every trace event type, in the order they occur for one request (connection-level events
 * last). Handy to listen to everything.
 *
 * @example
 * ```ts
 * import { Client, TRACE_EVENT_TYPES } from "@wirefetch/fetch";
 * const client = new Client();
 * for (const type of TRACE_EVENT_TYPES) client.addEventListener(type, (e) => console.log(e.type));
 * ```
 */
export const TRACE_EVENT_TYPES: readonly string[] = Object.freeze([
  "getconn",
  "queued",
  "dnsstart",
  "dnsdone",
  "connectstart",
  "connectdone",
  "proxyconnectstart",
  "proxyconnectdone",
  "tlshandshakestart",
  "tlshandshakedone",
  "dequeued",
  "gotconn",
  "wroteheaderfield",
  "wroteheaders",
  "wait100continue",
  "wroterequest",
  "gotfirstresponsebyte",
  "got1xxresponse",
  "got100continue",
  "redirect",
  "retry",
  "putidleconn",
  "responsedone",
  "idletimeout",
  "connclose",
  "bodyleak",
  "bodyreclaim",
]);

// A timestamp the next event takes instead of reading the clock: the request already read it
// for its timings, and performance.now() costs as much as building the event on some runtimes.
let stamp = -1;

/**
 * Makes the next trace event constructed use `time` as its `time` (internal).
 *
 * @example
 * ```ts
 * import { stampNext } from "./events.ts";
 * stampNext(performance.now());
 * ```
 */
export function stampNext(time: number): void {
  stamp = time;
}

/**
 * The fields every trace event carries.
 *
 * @example
 * ```ts
 * import { Client, TraceEvent } from "@wirefetch/fetch";
 * const client = new Client();
 * client.addEventListener("gotconn", (e) => {
 *   const event = e as TraceEvent;
 *   console.log(event.requestId, event.connectionId, event.time, event.method, event.url);
 * });
 * ```
 */
export class TraceEvent extends Event {
  /** The `fetch` call this event belongs to. */
  readonly requestId: number;
  /** The connection involved, when one is known. */
  readonly connectionId: number | undefined;
  /** When it happened (`performance.now()`). */
  readonly time: number;
  /** The request's method. */
  readonly method: string;
  /** The request's URL. */
  readonly url: string;

  /**
   * Creates an event of `type` about `subject`.
   *
   * @example
   * ```ts
   * import { TraceEvent } from "@wirefetch/fetch";
   * const event = new TraceEvent("custom", { requestId: 1, method: "GET", url: "http://x/" });
   * ```
   */
  constructor(type: string, subject: TraceSubject, connectionId?: number) {
    super(type);
    this.requestId = subject.requestId;
    this.connectionId = connectionId;
    if (stamp >= 0) {
      this.time = stamp;
      stamp = -1;
    } else {
      this.time = performance.now();
    }
    this.method = subject.method;
    this.url = subject.url;
  }
}

/**
 * `getconn`: the request asks the pool for a connection (before an idle one is taken or a new
 * one dialed).
 *
 * @example
 * ```ts
 * import { GetConnEvent } from "@wirefetch/fetch";
 * addEventListener("getconn", (e) => console.log((e as GetConnEvent).hostPort));
 * ```
 */
export class GetConnEvent extends TraceEvent {
  /** `host:port` of the origin. */
  readonly hostPort: string;
  /** Creates the event. */
  constructor(subject: TraceSubject, hostPort: string) {
    super("getconn", subject);
    this.hostPort = hostPort;
  }
}

/**
 * `gotconn`: the request has a connection.
 *
 * @example
 * ```ts
 * import { GotConnEvent } from "@wirefetch/fetch";
 * addEventListener("gotconn", (e) => console.log((e as GotConnEvent).reused));
 * ```
 */
export class GotConnEvent extends TraceEvent {
  /** The connection served a request before. */
  readonly reused: boolean;
  /** It came from the idle pool (not handed over by a finishing request, not new). */
  readonly wasIdle: boolean;
  /** How long it was idle (ms), 0 unless `wasIdle`. */
  readonly idleTime: number;
  /** Our end of the connection. */
  readonly localAddress: NetAddress;
  /** The server's end of the connection. */
  readonly remoteAddress: NetAddress;
  /** The connection itself, for `tcpInfo()`. */
  readonly connection: ConnectionHandle;
  /** TCP_INFO taken right after a new connection opened (client option `tcpInfo`). */
  readonly tcpInfo: TcpInfo | undefined;
  /** Creates the event. */
  constructor(
    subject: TraceSubject,
    connection: ConnectionHandle,
    reused: boolean,
    wasIdle: boolean,
    idleTime: number,
    tcpInfo?: TcpInfo,
  ) {
    super("gotconn", subject, connection.id);
    this.reused = reused;
    this.wasIdle = wasIdle;
    this.idleTime = idleTime;
    this.localAddress = connection.localAddress;
    this.remoteAddress = connection.remoteAddress;
    this.connection = connection;
    this.tcpInfo = tcpInfo;
  }
}

/**
 * `putidleconn`: the request is done with its connection; `error` says why it was not kept.
 *
 * @example
 * ```ts
 * import { PutIdleConnEvent } from "@wirefetch/fetch";
 * addEventListener("putidleconn", (e) => console.log((e as PutIdleConnEvent).error));
 * ```
 */
export class PutIdleConnEvent extends TraceEvent {
  /** Why the connection was closed instead of pooled, or undefined when it was pooled. */
  readonly error: string | undefined;
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number, error: string | undefined) {
    super("putidleconn", subject, connectionId);
    this.error = error;
  }
}

/**
 * `dnsstart`: a name lookup begins.
 *
 * @example
 * ```ts
 * import { DnsStartEvent } from "@wirefetch/fetch";
 * addEventListener("dnsstart", (e) => console.log((e as DnsStartEvent).host));
 * ```
 */
export class DnsStartEvent extends TraceEvent {
  /** The name being resolved. */
  readonly host: string;
  /** Creates the event. */
  constructor(subject: TraceSubject, host: string) {
    super("dnsstart", subject);
    this.host = host;
  }
}

/**
 * `dnsdone`: a name lookup ended.
 *
 * @example
 * ```ts
 * import { DnsDoneEvent } from "@wirefetch/fetch";
 * addEventListener("dnsdone", (e) => console.log((e as DnsDoneEvent).addresses));
 * ```
 */
export class DnsDoneEvent extends TraceEvent {
  /** The addresses found, in the order they will be tried. */
  readonly addresses: readonly string[];
  /** Why the lookup failed, if it did. */
  readonly error: Error | undefined;
  /** The lookup was shared with a concurrent one for the same name. */
  readonly coalesced: boolean;
  /** The answer came from the client's DNS cache. */
  readonly cached: boolean;
  /** Creates the event. */
  constructor(
    subject: TraceSubject,
    addresses: readonly string[],
    error: Error | undefined,
    coalesced: boolean,
    cached: boolean,
  ) {
    super("dnsdone", subject);
    this.addresses = addresses;
    this.error = error;
    this.coalesced = coalesced;
    this.cached = cached;
  }
}

/**
 * `connectstart`: a TCP connection attempt begins (several when Happy Eyeballs races).
 *
 * @example
 * ```ts
 * import { ConnectStartEvent } from "@wirefetch/fetch";
 * addEventListener("connectstart", (e) => console.log((e as ConnectStartEvent).address));
 * ```
 */
export class ConnectStartEvent extends TraceEvent {
  /** `"tcp4"`, `"tcp6"`, or `"unix"` for a unix domain socket. */
  readonly network: string;
  /** `ip:port` (IPv6 in brackets), or the unix socket's path. */
  readonly address: string;
  /** Creates the event. */
  constructor(subject: TraceSubject, network: string, address: string) {
    super("connectstart", subject);
    this.network = network;
    this.address = address;
  }
}

/**
 * `connectdone`: a TCP connection attempt ended, connected or not.
 *
 * @example
 * ```ts
 * import { ConnectDoneEvent } from "@wirefetch/fetch";
 * addEventListener("connectdone", (e) => console.log((e as ConnectDoneEvent).error));
 * ```
 */
export class ConnectDoneEvent extends TraceEvent {
  /** `"tcp4"`, `"tcp6"`, or `"unix"` for a unix domain socket. */
  readonly network: string;
  /** `ip:port` (IPv6 in brackets), or the unix socket's path. */
  readonly address: string;
  /** Why the attempt failed, if it did (a Happy Eyeballs loser says "abandoned"). */
  readonly error: Error | undefined;
  /** Creates the event. */
  constructor(subject: TraceSubject, network: string, address: string, error?: Error) {
    super("connectdone", subject);
    this.network = network;
    this.address = address;
    this.error = error;
  }
}

/**
 * `proxyconnectstart`: connected to the proxy, the tunnel handshake (`CONNECT`, or SOCKS5's
 * greeting, authentication and CONNECT) begins. Plain http through an HTTP proxy has no
 * tunnel, so no such event.
 *
 * @example
 * ```ts
 * import { ProxyConnectStartEvent } from "@wirefetch/fetch";
 * addEventListener("proxyconnectstart", (e) => console.log((e as ProxyConnectStartEvent).proxy));
 * ```
 */
export class ProxyConnectStartEvent extends TraceEvent {
  /** The proxy's URL, without credentials. */
  readonly proxy: string;
  /** The tunnel's destination, `host:port`. */
  readonly hostPort: string;
  /** Creates the event. */
  constructor(subject: TraceSubject, proxy: string, target: string) {
    super("proxyconnectstart", subject);
    this.proxy = proxy;
    this.hostPort = target;
  }
}

/**
 * `proxyconnectdone`: the tunnel handshake ended; `status` is the proxy's answer (the CONNECT
 * status, or the SOCKS5 reply code, 0 meaning success), `error` why it failed.
 *
 * @example
 * ```ts
 * import { ProxyConnectDoneEvent } from "@wirefetch/fetch";
 * addEventListener("proxyconnectdone", (e) => console.log((e as ProxyConnectDoneEvent).status));
 * ```
 */
export class ProxyConnectDoneEvent extends TraceEvent {
  /** The proxy's URL, without credentials. */
  readonly proxy: string;
  /** The tunnel's destination, `host:port`. */
  readonly hostPort: string;
  /** The CONNECT status or SOCKS5 reply code, when the proxy answered. */
  readonly status: number | undefined;
  /** Why the handshake failed, if it did. */
  readonly error: Error | undefined;
  /** Creates the event. */
  constructor(
    subject: TraceSubject,
    proxy: string,
    target: string,
    status: number | undefined,
    error?: Error,
  ) {
    super("proxyconnectdone", subject);
    this.proxy = proxy;
    this.hostPort = target;
    this.status = status;
    this.error = error;
  }
}

/**
 * `tlshandshakestart`: the TLS handshake begins.
 *
 * @example
 * ```ts
 * addEventListener("tlshandshakestart", (e) => console.log(e.type));
 * ```
 */
export class TlsHandshakeStartEvent extends TraceEvent {
  /** Creates the event. */
  constructor(subject: TraceSubject) {
    super("tlshandshakestart", subject);
  }
}

/**
 * `tlshandshakedone`: the TLS handshake ended.
 *
 * @example
 * ```ts
 * import { TlsHandshakeDoneEvent } from "@wirefetch/fetch";
 * addEventListener("tlshandshakedone", (e) => console.log((e as TlsHandshakeDoneEvent).alpnProtocol));
 * ```
 */
export class TlsHandshakeDoneEvent extends TraceEvent {
  /** The negotiated ALPN protocol, or null. */
  readonly alpnProtocol: string | null;
  /** Why the handshake failed, if it did. */
  readonly error: Error | undefined;
  /** Creates the event. */
  constructor(subject: TraceSubject, alpnProtocol: string | null, error?: Error) {
    super("tlshandshakedone", subject);
    this.alpnProtocol = alpnProtocol;
    this.error = error;
  }
}

/**
 * `wroteheaderfield`: one request header was written (once per field, in order).
 *
 * @example
 * ```ts
 * import { WroteHeaderFieldEvent } from "@wirefetch/fetch";
 * addEventListener("wroteheaderfield", (e) => console.log((e as WroteHeaderFieldEvent).name));
 * ```
 */
export class WroteHeaderFieldEvent extends TraceEvent {
  /** The field name as sent. */
  readonly name: string;
  /** The field value as sent. */
  readonly value: string;
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number, name: string, value: string) {
    super("wroteheaderfield", subject, connectionId);
    this.name = name;
    this.value = value;
  }
}

/**
 * A trace event with no fields of its own: `wroteheaders`, `wait100continue`,
 * `gotfirstresponsebyte`, `got100continue`, `idletimeout`.
 *
 * @example
 * ```ts
 * addEventListener("gotfirstresponsebyte", (e) => console.log(e.type));
 * ```
 */
export class PhaseEvent extends TraceEvent {
  /** Creates the event. */
  constructor(
    type:
      | "wroteheaders"
      | "wait100continue"
      | "gotfirstresponsebyte"
      | "got100continue"
      | "idletimeout",
    subject: TraceSubject,
    connectionId?: number,
  ) {
    super(type, subject, connectionId);
  }
}

/**
 * `wroterequest`: the whole request (head and body) was written, or writing it failed.
 *
 * @example
 * ```ts
 * import { WroteRequestEvent } from "@wirefetch/fetch";
 * addEventListener("wroterequest", (e) => console.log((e as WroteRequestEvent).error));
 * ```
 */
export class WroteRequestEvent extends TraceEvent {
  /** Why writing failed, if it did. */
  readonly error: Error | undefined;
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number, error?: Error) {
    super("wroterequest", subject, connectionId);
    this.error = error;
  }
}

/**
 * `got1xxresponse`: an informational response (100, 103, ...) arrived before the final one.
 *
 * @example
 * ```ts
 * import { Got1xxResponseEvent } from "@wirefetch/fetch";
 * addEventListener("got1xxresponse", (e) => console.log((e as Got1xxResponseEvent).status));
 * ```
 */
export class Got1xxResponseEvent extends TraceEvent {
  /** The informational status. */
  readonly status: number;
  /** Its headers. */
  readonly headers: Headers;
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number, status: number, headers: Headers) {
    super("got1xxresponse", subject, connectionId);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * `queued`: the origin is at `maxConnectionsPerHost`, so the request waits in the FIFO queue.
 *
 * @example
 * ```ts
 * import { QueuedEvent } from "@wirefetch/fetch";
 * addEventListener("queued", (e) => console.log((e as QueuedEvent).position));
 * ```
 */
export class QueuedEvent extends TraceEvent {
  /**
   * 1-based place in the origin's FIFO on arrival; requests ahead include those waiting for a
   * connection being dialed for them.
   */
  readonly position: number;
  /** Creates the event. */
  constructor(subject: TraceSubject, position: number) {
    super("queued", subject);
    this.position = position;
  }
}

/**
 * `dequeued`: a queued request got its connection.
 *
 * @example
 * ```ts
 * import { DequeuedEvent } from "@wirefetch/fetch";
 * addEventListener("dequeued", (e) => console.log((e as DequeuedEvent).waited));
 * ```
 */
export class DequeuedEvent extends TraceEvent {
  /** Milliseconds spent in the queue. */
  readonly waited: number;
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number, waited: number) {
    super("dequeued", subject, connectionId);
    this.waited = waited;
  }
}

/**
 * `connclose`: a connection closed. Carries the last request it served.
 *
 * @example
 * ```ts
 * import { ConnCloseEvent } from "@wirefetch/fetch";
 * addEventListener("connclose", (e) => console.log((e as ConnCloseEvent).reason));
 * ```
 */
export class ConnCloseEvent extends TraceEvent {
  /** Why it closed (`idle-timeout`, `peer-closed`, `not-reusable`, `aborted`, ...). */
  readonly reason: string;
  /** Requests it completed. */
  readonly requestsServed: number;
  /** Bytes received on it. */
  readonly bytesRead: number;
  /** Bytes sent on it. */
  readonly bytesWritten: number;
  /** Its counters and timestamps (read/write times are kept with the `tcpInfo` option). */
  readonly stats: ConnectionStats;
  /** TCP_INFO taken just before it closed (client option `tcpInfo`). */
  readonly tcpInfo: TcpInfo | undefined;
  /** What that snapshot shows worth attention (retransmits, loss, limited time, ...). */
  readonly warnings: readonly TcpWarning[];
  /** Creates the event. */
  constructor(
    subject: TraceSubject,
    connectionId: number,
    reason: string,
    stats: ConnectionStats,
    tcpInfo?: TcpInfo,
    warnings: readonly TcpWarning[] = [],
  ) {
    super("connclose", subject, connectionId);
    this.reason = reason;
    this.requestsServed = stats.requestsServed;
    this.bytesRead = stats.bytesRead;
    this.bytesWritten = stats.bytesWritten;
    this.stats = stats;
    this.tcpInfo = tcpInfo;
    this.warnings = warnings;
  }
}

/**
 * `retry`: a request is sent again on a new connection after a stale one failed.
 *
 * @example
 * ```ts
 * import { RetryEvent } from "@wirefetch/fetch";
 * addEventListener("retry", (e) => console.log((e as RetryEvent).reason));
 * ```
 */
export class RetryEvent extends TraceEvent {
  /** The error code that made the first attempt fail. */
  readonly reason: string;
  /** The attempt about to start (2 for the one retry). */
  readonly attempt: number;
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number, reason: string, attempt: number) {
    super("retry", subject, connectionId);
    this.reason = reason;
    this.attempt = attempt;
  }
}

/**
 * `redirect`: a redirect is being followed.
 *
 * @example
 * ```ts
 * import { RedirectEvent } from "@wirefetch/fetch";
 * addEventListener("redirect", (e) => console.log((e as RedirectEvent).to));
 * ```
 */
export class RedirectEvent extends TraceEvent {
  /** The redirect status. */
  readonly status: number;
  /** The URL that answered with the redirect. */
  readonly from: string;
  /** Where it leads. */
  readonly to: string;
  /** Creates the event. */
  constructor(subject: TraceSubject, status: number, from: string, to: string) {
    super("redirect", subject);
    this.status = status;
    this.from = from;
    this.to = to;
  }
}

/**
 * `responsedone`: the request ended: body read to the end, or failed, cancelled or aborted.
 *
 * @example
 * ```ts
 * import { ResponseDoneEvent } from "@wirefetch/fetch";
 * addEventListener("responsedone", (e) => console.log((e as ResponseDoneEvent).timings.total));
 * ```
 */
export class ResponseDoneEvent extends TraceEvent {
  /** Body bytes received. */
  readonly bytes: number;
  /** Why it failed, if it did. */
  readonly error: unknown;
  /** Where the time went. */
  readonly timings: Timings;
  /** The response's HTTP version ("1.1" or "1.0"), or undefined when none arrived. */
  readonly httpVersion: string | undefined;
  /** The final response's status, or undefined when none arrived. */
  readonly status: number | undefined;
  /** Creates the event. */
  constructor(
    subject: TraceSubject,
    connectionId: number | undefined,
    bytes: number,
    error: unknown,
    timings: Timings,
    httpVersion?: string,
    status?: number,
  ) {
    super("responsedone", subject, connectionId);
    this.bytes = bytes;
    this.error = error;
    this.timings = timings;
    this.httpVersion = httpVersion;
    this.status = status;
  }
}

/**
 * `bodyleak`: a Response was garbage-collected before its body was read or cancelled; its
 * connection was closed.
 *
 * @example
 * ```ts
 * addEventListener("bodyleak", (e) => console.warn("leaked", (e as Event & { url: string }).url));
 * ```
 */
export class BodyLeakEvent extends TraceEvent {
  /** Creates the event. */
  constructor(subject: TraceSubject, connectionId: number) {
    super("bodyleak", subject, connectionId);
  }
}

/**
 * `bodyreclaim`: requests queued at `maxConnectionsPerHost` while a connection sat paused on a
 * body nobody read, so the pool reclaimed it. `action` `"drain"`: the rest of the body is being
 * read into the response's memory (counted against the client's `drainBudget`), after which the
 * connection serves the queue. `"detach"`: the body did not fit the budget; the connection stays
 * with its body but no longer counts against the cap, so a new one can be dialed.
 *
 * @example
 * ```ts
 * import { type BodyReclaimEvent, Client } from "@wirefetch/fetch";
 * const client = new Client();
 * client.addEventListener("bodyreclaim", (e) => {
 *   const { action, budgetUsed } = e as BodyReclaimEvent;
 *   console.log(action, budgetUsed);
 * });
 * ```
 */
export class BodyReclaimEvent extends TraceEvent {
  /** What was done with the connection. */
  readonly action: "drain" | "detach";
  /** Bytes of the client's drain budget in use when it happened. */
  readonly budgetUsed: number;
  /** The client's drain budget in bytes. */
  readonly budget: number;
  /** Creates the event. */
  constructor(
    subject: TraceSubject,
    connectionId: number,
    action: "drain" | "detach",
    budgetUsed: number,
    budget: number,
  ) {
    super("bodyreclaim", subject, connectionId);
    this.action = action;
    this.budgetUsed = budgetUsed;
    this.budget = budget;
  }
}

// The fields of an event as the request path builds them (a plain object, see hooks.ts); kept
// loose here so this module does not depend on the hooks module's types.
// deno-lint-ignore no-explicit-any
type Info = { readonly type: string; readonly time: number } & Record<string, any>;

/**
 * Builds the `Event` for the fields of a trace event (internal): the request path builds plain
 * objects, which hooks receive as they are; an `Event` is made only for EventTarget listeners.
 *
 * @example
 * ```ts
 * import { toEvent } from "./events.ts";
 * const info = { type: "getconn", requestId: 1, connectionId: undefined, time: 0, method: "GET", url: "http://x/", hostPort: "x:80" };
 * console.log(toEvent(info).type); // "getconn"
 * ```
 */
export function toEvent(info: Info): TraceEvent {
  const i = info;
  stamp = i.time;
  switch (i.type) {
    case "getconn":
      return new GetConnEvent(i as unknown as TraceSubject, i.hostPort);
    case "queued":
      return new QueuedEvent(i as unknown as TraceSubject, i.position);
    case "dnsstart":
      return new DnsStartEvent(i as unknown as TraceSubject, i.host);
    case "dnsdone":
      return new DnsDoneEvent(
        i as unknown as TraceSubject,
        i.addresses,
        i.error,
        i.coalesced,
        i.cached,
      );
    case "connectstart":
      return new ConnectStartEvent(i as unknown as TraceSubject, i.network, i.address);
    case "connectdone":
      return new ConnectDoneEvent(i as unknown as TraceSubject, i.network, i.address, i.error);
    case "proxyconnectstart":
      return new ProxyConnectStartEvent(i as unknown as TraceSubject, i.proxy, i.hostPort);
    case "proxyconnectdone":
      return new ProxyConnectDoneEvent(
        i as unknown as TraceSubject,
        i.proxy,
        i.hostPort,
        i.status,
        i.error,
      );
    case "tlshandshakestart":
      return new TlsHandshakeStartEvent(i as unknown as TraceSubject);
    case "tlshandshakedone":
      return new TlsHandshakeDoneEvent(i as unknown as TraceSubject, i.alpnProtocol, i.error);
    case "dequeued":
      return new DequeuedEvent(i as unknown as TraceSubject, i.connectionId, i.waited);
    case "gotconn":
      return new GotConnEvent(
        i as unknown as TraceSubject,
        i.connection,
        i.reused,
        i.wasIdle,
        i.idleTime,
        i.tcpInfo,
      );
    case "wroteheaderfield":
      return new WroteHeaderFieldEvent(
        i as unknown as TraceSubject,
        i.connectionId,
        i.name,
        i.value,
      );
    case "wroterequest":
      return new WroteRequestEvent(i as unknown as TraceSubject, i.connectionId, i.error);
    case "got1xxresponse":
      return new Got1xxResponseEvent(
        i as unknown as TraceSubject,
        i.connectionId,
        i.status,
        i.headers,
      );
    case "redirect":
      return new RedirectEvent(i as unknown as TraceSubject, i.status, i.from, i.to);
    case "retry":
      return new RetryEvent(i as unknown as TraceSubject, i.connectionId, i.reason, i.attempt);
    case "putidleconn":
      return new PutIdleConnEvent(i as unknown as TraceSubject, i.connectionId, i.error);
    case "responsedone":
      return new ResponseDoneEvent(
        i as unknown as TraceSubject,
        i.connectionId,
        i.bytes,
        i.error,
        i.timings,
        i.httpVersion,
        i.status,
      );
    case "connclose":
      return new ConnCloseEvent(
        i as unknown as TraceSubject,
        i.connectionId,
        i.reason,
        i.stats,
        i.tcpInfo,
        i.warnings,
      );
    case "bodyleak":
      return new BodyLeakEvent(i as unknown as TraceSubject, i.connectionId);
    case "bodyreclaim":
      return new BodyReclaimEvent(
        i as unknown as TraceSubject,
        i.connectionId,
        i.action,
        i.budgetUsed,
        i.budget,
      );
    default:
      return new PhaseEvent(
        i.type as "wroteheaders",
        i as unknown as TraceSubject,
        i.connectionId,
      );
  }
}
