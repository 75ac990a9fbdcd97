/**
 * The {@linkcode Client}: options, one pool per origin, stats and shutdown.
 *
 * @module
 */

import { networkError, WirefetchError } from "./errors.ts";
import type { ConnectionSubject } from "./exchange/context.ts";
import { FetchTask } from "./exchange/task.ts";
import { Dialer } from "./net/dial.ts";
import { type LookupFunction, Resolver } from "./net/resolve.ts";
import type { Connection, ConnectionLimits } from "./pool/connection.ts";
import {
  type BodyLeakEvent,
  type BodyReclaimEvent,
  type ConnCloseEvent,
  type ConnectDoneEvent,
  type ConnectStartEvent,
  type DnsDoneEvent,
  type DnsStartEvent,
  type PhaseEvent,
  type ProxyConnectDoneEvent,
  type ProxyConnectStartEvent,
  type ResponseDoneEvent,
  type TlsHandshakeDoneEvent,
  type TlsHandshakeStartEvent,
  toEvent,
  type TraceSubject,
} from "./trace/events.ts";
import {
  HookSet,
  isolateListener,
  maskOf,
  type RequestObserver,
  TRACE_BIT,
  TraceErrorReporter,
  type TraceHooks,
  type TraceInfo,
} from "./trace/hooks.ts";
import { TimingMarks } from "./trace/timings.ts";
import type { DialObserver } from "./net/dial.ts";
import {
  type ProxyOption,
  type RouteOptions,
  Router,
  type TlsClientOptions,
} from "./route/route.ts";
import { readProxyEnvironment } from "./proxy/environment.ts";
import { warnings } from "./tcp_info/warnings.ts";
import { OriginPool, type PoolSettings, type PoolStats } from "./pool/origin_pool.ts";
import { checkMaxRedirects, findHeader, type RequestSpec, toRequestSpec } from "./request.ts";
import { schemeFetch } from "./fetch/schemes.ts";
import { defaultConnector } from "./runtime/connector.ts";

/** The version sent in the default User-Agent. */
export const VERSION = "0.1.0";

/** Options of a {@linkcode Client}. Every one is optional; the defaults are documented. */
export interface ClientOptions {
  /**
   * Most connections (open plus connecting) to one origin; more requests wait in a FIFO queue.
   * Default 64: HTTP/1.1 has one request per connection, so this is the per-host concurrency.
   * Unlimited (Go, undici, Deno) lets a burst open thousands of sockets and exhaust the
   * server or our ports; browsers' 6 starves a server-side client.
   */
  maxConnectionsPerHost?: number;
  /**
   * Most idle connections kept per origin. Default: `maxConnectionsPerHost`, so connections a
   * burst opened are reused by the next burst rather than closed and dialed again (Go's
   * default of 2 is the classic cause of connection churn). `idleTimeout` sheds them later.
   */
  maxIdlePerHost?: number;
  /** Most idle connections across all origins; the least recently used go first. Default 256. */
  maxIdle?: number;
  /**
   * Milliseconds an idle connection is kept. Default 4000: the shortest common server idle
   * timeout is 5 s (Node's http and Apache), and reusing a connection the server is about to
   * close is what produces "socket hang up" errors. A server's `Keep-Alive: timeout=N` lowers
   * it for that connection.
   */
  idleTimeout?: number;
  /** Requests after which a connection is closed; 0 for no limit. Default 0. */
  maxRequestsPerConnection?: number;
  /**
   * Milliseconds a request may wait for a connection when the origin is at
   * `maxConnectionsPerHost`. Default 30000: long enough to ride out a burst, short enough
   * that an overloaded origin fails fast instead of piling up work.
   */
  queueTimeout?: number;
  /** Milliseconds for TCP connect plus TLS handshake. Default 10000 (several SYN retries). */
  connectTimeout?: number;
  /**
   * Milliseconds to wait for the response head, counted from the last byte of the request.
   * Default 300000: long-polling and slow reports are legitimate; use `signal` for a
   * per-request deadline.
   */
  headersTimeout?: number;
  /**
   * Milliseconds without body data while the consumer is reading. Default 300000. A consumer
   * that stops reading is not timed out: backpressure is not a fault.
   */
  bodyTimeout?: number;
  /**
   * Largest response head in bytes. Default 65536: far above what real sites send (cookies
   * included), small enough to bound memory per connection against a hostile server.
   */
  maxHeaderSize?: number;
  /** Extra trusted root certificates (PEM) for https. */
  caCerts?: string[];
  /**
   * Skip TLS certificate verification. For tests against self-signed servers only. Supported
   * on Bun and Node; Deno has no per-connection switch (pass `caCerts` instead, or run Deno
   * with `--unsafely-ignore-certificate-errors`), so there it fails with `ERR_TLS`.
   */
  unsafelyIgnoreCertificateErrors?: boolean;
  /** The User-Agent for requests without one; null sends none. Default `wirefetch/VERSION`. */
  userAgent?: string | null;
  /**
   * Resolves host names. Default: the system resolver (getaddrinfo through `node:dns`, which
   * honours /etc/hosts). Inject one for tests, service discovery or a custom DNS.
   */
  lookup?: LookupFunction;
  /**
   * Read the kernel's TCP_INFO of every connection right after it opens and just before it
   * closes (`gotconn.tcpInfo`, `connclose.tcpInfo` with warnings), and keep per-connection read
   * and write timestamps (`connclose.stats`). Default false: it costs a few system calls per
   * connection (on Deno, plus a scan of the process's descriptors for the first connections)
   * and needs FFI (`--allow-ffi` on Deno; not available on Node).
   */
  tcpInfo?: boolean;
  /**
   * The proxy for every request: a URL (`http://`, `https://`, `socks5://`, `socks5h://`, with
   * optional `user:password@`), `{ url, headers }` to send the proxy extra headers, or
   * `false`/`null` for none. Default: the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
   * `NO_PROXY` and their lowercase forms), read once when the client is created. A proxy given
   * here ignores `NO_PROXY`. See the README's "Proxies" section.
   */
  proxy?: ProxyOption;
  /**
   * Send every request over this unix domain socket (the Docker Engine API case); the Host header
   * still comes from the URL. A leading NUL byte (`"\0name"`) names a Linux abstract socket.
   */
  unix?: string;
  /**
   * TLS options for https origins: `ca`, `cert` + `key` (mutual TLS), `servername`,
   * `rejectUnauthorized`, `checkServerIdentity`. A request's own `tls` option overrides them
   * field by field.
   */
  tls?: TlsClientOptions;
  /** Bind outgoing TCP sockets to this local IP address. */
  localAddress?: string;
  /**
   * TCP keepalive on every TCP socket: milliseconds of idleness before the first probe, or
   * `false` for none. Default 15000, as Go's dialer (Bun and undici turn it on too): a peer that
   * vanished (a NAT dropped the mapping, a host lost power) is detected instead of keeping an
   * idle pooled connection forever. On Deno the delay cannot be set on its own sockets: the
   * system's default applies (Linux: 7200 s). `TCP_NODELAY` is always on: requests are written
   * whole, so Nagle's algorithm would only delay them.
   */
  tcpKeepAlive?: number | false;
  /**
   * Milliseconds a lookup's answer is reused. Default 30000: getaddrinfo does not report TTLs,
   * and half a minute keeps failover reasonably quick while sparing a lookup per connection.
   * 0 disables the cache (concurrent lookups are still shared).
   */
  dnsTtl?: number;
  /**
   * Undo content codings (gzip, deflate, br, and zstd where the runtime has it) and send a
   * default `Accept-Encoding`, as the runtime's own fetch does. Default true; false hands out the
   * bytes as the server sent them and sends no Accept-Encoding unless the request sets one. A
   * request's own `decompress` overrides it.
   */
  decompress?: boolean;
  /**
   * Bytes the client may read into the memory of response bodies nobody reads, to free their
   * connections for requests queued at `maxConnectionsPerHost`. Default 64 MiB (0: never
   * drain). A body that does not fit is not drained: its connection stops counting against the
   * cap instead, and is closed when the body is collected. See "Forgotten bodies" in the README.
   */
  drainBudget?: number;
  /**
   * Milliseconds a body must sit unread (its stream full, the socket paused) while requests
   * queue at the cap before its connection is reclaimed. Default 50: a reader that is merely
   * slow loses nothing (its bytes wait in memory), and forgotten bodies stall the queue little.
   */
  drainDelay?: number;
  /**
   * Most redirects a request follows before it fails with `ERR_TOO_MANY_REDIRECTS`. Default 20,
   * the Fetch standard's limit. A request's own `maxRedirects` overrides it.
   */
  maxRedirects?: number;
  /**
   * Trace hooks for every request of this client: methods named like the trace event types,
   * called with each event's fields as a plain object (see {@linkcode TraceHooks}). Far cheaper
   * than EventTarget listeners; a hook that throws is reported and the request goes on.
   */
  hooks?: TraceHooks;
  /**
   * Record a `PerformanceResourceTiming` entry for every request, as the runtime's own fetch
   * does, so `performance.getEntriesByType("resource")` and `PerformanceObserver` see them.
   * Default true. Only Node keeps such entries (Deno has no resource timeline; Bun's
   * `markResourceTiming` records nothing): elsewhere this costs nothing and records nothing.
   */
  resourceTiming?: boolean;
}

/** Options of {@linkcode Client.close}. */
export interface CloseOptions {
  /**
   * Milliseconds to wait for requests in flight and unread bodies; then the client is destroyed
   * ({@linkcode Client.destroy}). Default: no bound.
   */
  timeout?: number;
}

// How long `await using` waits for requests in flight before it destroys the client.
const DISPOSE_TIMEOUT = 1000;

/** Counts of a client's connections and queued requests. */
export interface ClientStats {
  /** Sums over all origins. */
  total: PoolStats;
  /**
   * Counts per route: the origin (`scheme://host:port`), with `via proxy` for a proxy route,
   * `unix:path` before it for a unix socket, and ` tls#n` for a request's own TLS profile.
   */
  origins: Record<string, PoolStats>;
}

/** `RequestInit` plus wirefetch's own options. */
export interface FetchInit extends RequestInit {
  /** A proxy for this request (see {@linkcode ClientOptions.proxy}), or false/null for none. */
  proxy?: ProxyOption;
  /** Send this request over a unix domain socket. */
  unix?: string;
  /** TLS options for this request, over the client's (a different profile uses its own pool). */
  tls?: TlsClientOptions;
  /** The client whose pool runs the request; default {@linkcode defaultClient}. */
  client?: Client;
  /** Receives this request's trace events (in addition to the client's listeners). */
  trace?: EventTarget;
  /** Overrides the client's `decompress` option for this request. */
  decompress?: boolean;
  /** Most redirects to follow; default the client's `maxRedirects` (20). */
  maxRedirects?: number;
  /** Trace hooks for this request only, called after the client's (see {@linkcode TraceHooks}). */
  hooks?: TraceHooks;
}

/** The signature of {@linkcode Client.fetch} and of `fetch`. */
export type FetchFunction = (input: RequestInfo | URL, init?: FetchInit) => Promise<Response>;

/** A client's fetch: {@linkcode FetchFunction} plus `preconnect`, as Bun's `fetch` has it. */
export interface ClientFetch extends FetchFunction {
  /**
   * Opens a connection to `url`'s route ahead of time (DNS, TCP, proxy, TLS); it waits idle in
   * the pool. Returns nothing and never throws, as Bun's `fetch.preconnect`; use
   * {@linkcode Client.preconnect} to await it.
   */
  preconnect(url: string | URL, options?: RouteOptions): void;
}

let warnedInsecureEnv = false;

// NODE_TLS_REJECT_UNAUTHORIZED=0 turns verification off in Node's and Bun's own TLS (and fetch);
// we honour it there too, loudly. Deno has no such variable.
function insecureFromEnvironment(): boolean {
  const g = globalThis as {
    Deno?: unknown;
    Bun?: unknown;
    process?: { env?: Record<string, string | undefined> };
  };
  if (g.Deno !== undefined && g.Bun === undefined) return false;
  if (g.process?.env?.NODE_TLS_REJECT_UNAUTHORIZED !== "0") return false;
  if (!warnedInsecureEnv) {
    warnedInsecureEnv = true;
    console.warn(
      "wirefetch: NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate verification; " +
        "https connections are not secure.",
    );
  }
  return true;
}

function routeOptionsOf(init: FetchInit | RouteOptions | undefined): RouteOptions | undefined {
  if (
    init === undefined ||
    (init.proxy === undefined && init.unix === undefined && init.tls === undefined)
  ) return undefined;
  return { proxy: init.proxy, unix: init.unix, tls: init.tls };
}

// Reports a preconnect's dial phases to the client's hooks and listeners, as a request's dial
// would.
class PreconnectObserver implements DialObserver {
  readonly #client: Client;
  readonly #url: string;
  constructor(client: Client, url: string) {
    this.#client = client;
    this.#url = url;
  }
  // The fields every event of a preconnect shares: no request (id 0, no method).
  #base(type: string): TraceInfo & { type: string } {
    return {
      type,
      requestId: 0,
      connectionId: undefined,
      time: performance.now(),
      method: "",
      url: this.#url,
    };
  }
  onDnsStart(host: string): void {
    const bit = TRACE_BIT.dnsstart;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      { ...this.#base("dnsstart"), host } satisfies TraceInfo<DnsStartEvent>,
    );
  }
  onDnsDone(
    addresses: readonly string[],
    error: Error | undefined,
    coalesced: boolean,
    cached: boolean,
  ): void {
    const bit = TRACE_BIT.dnsdone;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      {
        ...this.#base("dnsdone"),
        addresses,
        error,
        coalesced,
        cached,
      } satisfies TraceInfo<DnsDoneEvent>,
    );
  }
  onConnectStart(network: string, address: string): void {
    const bit = TRACE_BIT.connectstart;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      { ...this.#base("connectstart"), network, address } satisfies TraceInfo<ConnectStartEvent>,
    );
  }
  onConnectDone(network: string, address: string, error: Error | undefined): void {
    const bit = TRACE_BIT.connectdone;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      {
        ...this.#base("connectdone"),
        network,
        address,
        error,
      } satisfies TraceInfo<ConnectDoneEvent>,
    );
  }
  onProxyConnectStart(proxy: string, target: string): void {
    const bit = TRACE_BIT.proxyconnectstart;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      {
        ...this.#base("proxyconnectstart"),
        proxy,
        hostPort: target,
      } satisfies TraceInfo<ProxyConnectStartEvent>,
    );
  }
  onProxyConnectDone(
    proxy: string,
    target: string,
    status: number | undefined,
    error: Error | undefined,
  ): void {
    const bit = TRACE_BIT.proxyconnectdone;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      {
        ...this.#base("proxyconnectdone"),
        proxy,
        hostPort: target,
        status,
        error,
      } satisfies TraceInfo<ProxyConnectDoneEvent>,
    );
  }
  onTlsStart(): void {
    const bit = TRACE_BIT.tlshandshakestart;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      this.#base("tlshandshakestart") satisfies TraceInfo<TlsHandshakeStartEvent>,
    );
  }
  onTlsDone(alpnProtocol: string | null, error: Error | undefined): void {
    const bit = TRACE_BIT.tlshandshakedone;
    if (!this.#client.wants(bit)) return;
    this.#client.emitTrace(
      bit,
      {
        ...this.#base("tlshandshakedone"),
        alpnProtocol,
        error,
      } satisfies TraceInfo<TlsHandshakeDoneEvent>,
    );
  }
}

function flag(value: boolean | undefined, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${name} must be a boolean, got ${value}`);
  return value;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0)) {
    throw new TypeError(`${name} must be a non-negative number, got ${value}`);
  }
  return value;
}

/**
 * An HTTP/1.1 client with its own connection pool per origin.
 *
 * @example Reuse connections and read the pool's state
 * ```ts
 * import { Client } from "@wirefetch/fetch";
 *
 * await using client = new Client({ maxConnectionsPerHost: 8 });
 * const response = await client.fetch("http://127.0.0.1:8080/");
 * console.log(response.status, await response.text());
 * console.log(client.stats().total); // { open: 1, idle: 1, active: 0, ... }
 * ```
 */
export class Client extends EventTarget {
  /**
   * Fetches with this client's pool; same signature as the global fetch, usable unbound
   * (`const { fetch } = client`).
   */
  readonly fetch: ClientFetch;
  /** The User-Agent sent by default. */
  readonly userAgent: string | null;
  /** Whether requests decode content codings by default (the `decompress` option). */
  readonly decompress: boolean;
  /** Requests record Resource Timing entries (the `resourceTiming` option). */
  readonly resourceTiming: boolean;
  #pools = new Map<string, OriginPool>();
  // The pool of each origin for requests without route options of their own: one lookup.
  #byOrigin = new Map<string, OriginPool>();
  #lastUrl: URL | null = null;
  #lastPool: OriginPool | null = null;
  #router: Router;
  #settings: PoolSettings;
  #maxIdle: number;
  #idle = 0;
  #closed = false;
  #warnedLeak = false;
  #maxRedirects: number;
  // Listeners registered for trace events (bodyleak excluded: it is rare and always emitted),
  // in total and per type. While zero, requests build no events at all; otherwise only the
  // types someone listens to are built.
  #listeners = 0;
  #byType = new Map<string, number>();
  // The wrappers that isolate listeners (see addEventListener), by type (+ capture) and listener.
  #wrappers = new Map<string, Map<EventListenerOrEventListenerObject, EventListener>>();
  // Hooks objects of the client (option and addHooks), compiled; null when there are none.
  #hookList: TraceHooks[] = [];
  #hooks: HookSet | null = null;
  #observers: RequestObserver[] = [];
  #reporter = new TraceErrorReporter();
  // The event types with a listener or a hook, as TRACE_BIT bits (what requests check).
  #mask = 0;

  /**
   * Creates a client; see {@linkcode ClientOptions} for the defaults.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client({ maxConnectionsPerHost: 16, idleTimeout: 10_000 });
   * await client.close();
   * ```
   */
  constructor(options: ClientOptions = {}) {
    super();
    const maxConnectionsPerHost = positive(
      options.maxConnectionsPerHost,
      64,
      "maxConnectionsPerHost",
    );
    if (maxConnectionsPerHost < 1) throw new TypeError("maxConnectionsPerHost must be at least 1");
    const limits: ConnectionLimits = {
      headersTimeout: positive(options.headersTimeout, 300_000, "headersTimeout"),
      bodyTimeout: positive(options.bodyTimeout, 300_000, "bodyTimeout"),
      idleTimeout: positive(options.idleTimeout, 4_000, "idleTimeout"),
      maxRequestsPerConnection: positive(
        options.maxRequestsPerConnection,
        0,
        "maxRequestsPerConnection",
      ),
      maxHeaderSize: positive(options.maxHeaderSize, 65_536, "maxHeaderSize"),
      tcpInfo: options.tcpInfo === true,
    };
    this.#settings = {
      maxConnectionsPerHost,
      maxIdlePerHost: positive(options.maxIdlePerHost, maxConnectionsPerHost, "maxIdlePerHost"),
      queueTimeout: positive(options.queueTimeout, 30_000, "queueTimeout"),
      connectTimeout: positive(options.connectTimeout, 10_000, "connectTimeout"),
      limits,
      drainBudget: {
        limit: positive(options.drainBudget, 64 * 1024 * 1024, "drainBudget"),
        used: 0,
      },
      drainDelay: positive(options.drainDelay, 50, "drainDelay"),
      dialer: new Dialer(
        defaultConnector(),
        new Resolver(options.lookup, positive(options.dnsTtl, 30_000, "dnsTtl")),
      ),
    };
    this.#maxIdle = positive(options.maxIdle, 256, "maxIdle");
    const tls: TlsClientOptions = { ...options.tls };
    if (options.caCerts !== undefined) {
      tls.ca = [...(typeof tls.ca === "string" ? [tls.ca] : tls.ca ?? []), ...options.caCerts];
    }
    if (options.unsafelyIgnoreCertificateErrors === true) tls.rejectUnauthorized = false;
    if (tls.rejectUnauthorized === undefined && insecureFromEnvironment()) {
      tls.rejectUnauthorized = false;
    }
    const keepAlive = options.tcpKeepAlive === false
      ? 0
      : positive(options.tcpKeepAlive, 15_000, "tcpKeepAlive");
    this.#router = new Router(
      {
        proxy: options.proxy,
        unix: options.unix,
        tls,
        localAddress: options.localAddress,
        keepAlive,
      },
      options.proxy === undefined && options.unix === undefined ? readProxyEnvironment() : null,
    );
    this.userAgent = options.userAgent === undefined ? `wirefetch/${VERSION}` : options.userAgent;
    this.decompress = flag(options.decompress, true, "decompress");
    this.resourceTiming = options.resourceTiming !== false;
    if (options.hooks !== undefined && options.hooks !== null) {
      this.#hookList = [options.hooks];
      this.#hooks = new HookSet(this.#hookList, this.#reporter, "hook");
      this.#updateMask();
    }
    this.#maxRedirects = options.maxRedirects === undefined
      ? 20
      : checkMaxRedirects(options.maxRedirects);
    // Web IDL: an operation's function has the operation's name and its count of required
    // arguments as length; code (and test suites) check fetch.name and fetch.length.
    // A default value keeps `init` out of `length`.
    const fetch = (
      input: RequestInfo | URL,
      init: FetchInit | undefined = undefined,
    ): Promise<Response> => this.#fetch(input, init);
    this.fetch = Object.assign(fetch, {
      preconnect: (url: string | URL, options?: RouteOptions): void => {
        this.preconnect(url, options).catch(() => {});
      },
    });
  }

  /**
   * Opens a connection to `url`'s route ahead of the first request: DNS, TCP, the proxy's
   * tunnel and TLS. The connection waits idle in the pool (for `idleTimeout`), and its trace
   * events are those of a dial. Resolves once it is there (at once when an idle connection
   * already is); rejects as `fetch` would if the dial fails.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client();
   * await client.preconnect("https://example.com/").catch(() => {});
   * ```
   */
  async preconnect(url: string | URL, options?: RouteOptions): Promise<void> {
    const target = new URL(String(url));
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      throw new TypeError(`cannot preconnect to a ${target.protocol} URL`);
    }
    if (this.#closed) {
      throw networkError(new WirefetchError("ERR_CLIENT_CLOSED", "the client is closed"));
    }
    const pool = this.poolFor(target, routeOptionsOf(options));
    const observer = this.#listeners > 0 ? new PreconnectObserver(this, target.href) : null;
    try {
      await pool.preconnect(observer);
    } catch (error) {
      throw error instanceof WirefetchError ? networkError(error) : error;
    }
  }

  /** True once {@linkcode Client.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while trace listeners or hooks are registered on this client. */
  get tracing(): boolean {
    return this.#listeners > 0 || this.#hooks !== null;
  }

  /** @internal The client's compiled hooks, or null. */
  get hooks(): HookSet | null {
    return this.#hooks;
  }

  /** @internal The event types with a listener or hook (`TRACE_BIT` bits). */
  get traceMask(): number {
    return this.#mask;
  }

  #updateMask(): void {
    this.#mask = maskOf(this.#byType.keys()) | (this.#hooks?.mask ?? 0);
  }

  /**
   * Adds a hooks object to every later request of this client, after those given so far (the
   * `hooks` option comes first). Which methods it has is read now. Returns a function that
   * removes it again.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client();
   * const remove = client.addHooks({ gotconn: (info) => console.log(info.reused) });
   * remove();
   * ```
   */
  addHooks(hooks: TraceHooks): () => void {
    const list = [...this.#hookList, hooks];
    const compiled = new HookSet(list, this.#reporter, "hook");
    this.#hookList = list;
    this.#hooks = compiled;
    this.#updateMask();
    return () => {
      const at = this.#hookList.indexOf(hooks);
      if (at < 0) return;
      this.#hookList = this.#hookList.filter((_, i) => i !== at);
      this.#hooks = this.#hookList.length === 0
        ? null
        : new HookSet(this.#hookList, this.#reporter, "hook");
      this.#updateMask();
    };
  }

  /**
   * @internal Lets an instrumentation (`./otel`) see each request before its head is encoded.
   * Returns a function that removes the observer.
   */
  observe(observer: RequestObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  /**
   * Registers a trace event listener (see the event classes for the types). The listener is
   * isolated: if it throws (or returns a promise that rejects), the error is reported once per
   * event type with `console.error` and the request goes on. A listener of a runtime's plain
   * `EventTarget` that throws is reported as uncaught instead, which ends a Deno or Bun process.
   *
   * @example
   * ```ts
   * import { Client, type GotConnEvent } from "@wirefetch/fetch";
   * const client = new Client();
   * client.addEventListener("gotconn", (e) => console.log((e as GotConnEvent).reused));
   * ```
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener === null) return;
    const capture = typeof options === "boolean" ? options : options?.capture === true;
    const key = capture ? `${type} capture` : type;
    let wrappers = this.#wrappers.get(key);
    if (wrappers === undefined) this.#wrappers.set(key, wrappers = new Map());
    // EventTarget ignores a listener added twice (same type and capture); so do the counts.
    if (wrappers.has(listener)) return;
    const signal = typeof options === "object" ? options.signal : undefined;
    if (signal?.aborted) return;
    const isolated = isolateListener(listener, this.#reporter);
    const forget = (): void => this.#forget(key, type, listener);
    const once = typeof options === "object" && options.once === true;
    // A `once` listener or one with a signal is removed by EventTarget itself; the counts must
    // follow, or the client would keep building events for nobody.
    const wrapper = once
      ? function (this: unknown, event: Event): void {
        forget();
        isolated.call(this, event);
      }
      : isolated;
    wrappers.set(listener, wrapper);
    super.addEventListener(type, wrapper, options);
    signal?.addEventListener("abort", forget, { once: true });
    if (type !== "bodyleak") {
      this.#listeners++;
      this.#byType.set(type, (this.#byType.get(type) ?? 0) + 1);
      this.#updateMask();
    }
  }

  #forget(key: string, type: string, listener: EventListenerOrEventListenerObject): void {
    if (this.#wrappers.get(key)?.delete(listener) !== true) return;
    if (type === "bodyleak") return;
    const count = this.#byType.get(type) ?? 0;
    if (count <= 0) return;
    this.#listeners--;
    if (count === 1) this.#byType.delete(type);
    else this.#byType.set(type, count - 1);
    this.#updateMask();
  }

  /**
   * Removes a listener added with {@linkcode Client.addEventListener}.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client();
   * const log = (e: Event) => console.log(e.type);
   * client.addEventListener("getconn", log);
   * client.removeEventListener("getconn", log);
   * ```
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (listener === null) return;
    const capture = typeof options === "boolean" ? options : options?.capture === true;
    const key = capture ? `${type} capture` : type;
    const wrapper = this.#wrappers.get(key)?.get(listener);
    if (wrapper === undefined) return;
    super.removeEventListener(type, wrapper, options);
    this.#forget(key, type, listener);
  }

  /** @internal A listener or a hook of `type` exists. */
  listens(type: string): boolean {
    return this.#byType.has(type) || (this.#hooks !== null && this.#hooks.has(type));
  }

  /** @internal A listener or hook exists for the event type `bit` (a `TRACE_BIT`). */
  wants(bit: number): boolean {
    return (this.#mask & bit) !== 0;
  }

  /** @internal Delivers an event of no request (a preconnect's) to the hooks and listeners. */
  emitTrace<I extends TraceInfo>(bit: number, info: I): void {
    this.#hooks?.call(bit, info);
    if (this.hasListener(info.type)) this.dispatchTrace(toEvent(info));
  }

  /** @internal An EventTarget listener of `type` exists (an Event must be built). */
  hasListener(type: string): boolean {
    return this.#listeners > 0 && this.#byType.has(type);
  }

  /** @internal */
  dispatchTrace(event: Event): void {
    if (this.#listeners > 0) this.dispatchEvent(event);
  }

  #fetch(input: RequestInfo | URL, init: FetchInit | undefined): Promise<Response> {
    if (this.#closed) {
      return Promise.reject(
        networkError(new WirefetchError("ERR_CLIENT_CLOSED", "the client is closed")),
      );
    }
    try {
      const spec = toRequestSpec(input, init, this.#maxRedirects);
      if (spec === null) {
        return schemeFetch(
          input instanceof Request ? new URL(input.url) : toURL(input),
          input,
          init,
        );
      }
      const decompress = flag(init?.decompress, this.decompress, "decompress");
      const routeOptions = routeOptionsOf(init);
      // Bun's `keepalive: false`: this request's connection is not reused.
      const close = init?.keepalive === false;
      if (spec instanceof Promise) {
        return spec.then((s) => {
          if (close) s.closeAfter = true;
          return this.#start(s, init, decompress, routeOptions);
        });
      }
      if (close) spec.closeAfter = true;
      return this.#start(spec, init, decompress, routeOptions);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #start(
    spec: RequestSpec,
    init: FetchInit | undefined,
    decompress: boolean,
    routeOptions: RouteOptions | undefined,
  ): Promise<Response> {
    const trace = init?.trace ?? null;
    const own = init?.hooks;
    if (own === undefined && this.#observers.length === 0) {
      return new FetchTask(this, spec, trace, decompress, routeOptions).promise;
    }
    const list: TraceHooks[] = own === undefined || own === null ? [] : [own];
    const setHeader = (name: string, value: string): void => {
      const lower = name.toLowerCase();
      const at = findHeader(spec.headers, lower);
      if (at >= 0) spec.headers[at + 1] = value;
      else spec.headers.push(lower, value);
    };
    // A copy: the request's URL may be shared with other requests (see request.ts).
    const url = this.#observers.length === 0 ? spec.url : new URL(spec.url.href);
    for (const observer of this.#observers) {
      try {
        const hooks = observer.onRequest(spec.method, url, setHeader);
        if (hooks !== null) list.push(hooks);
      } catch (error) {
        this.#reporter.report("instrumentation", "request", error);
      }
    }
    const hooks = list.length === 0 ? null : new HookSet(list, this.#reporter, "request hook");
    try {
      return new FetchTask(this, spec, trace, decompress, routeOptions, hooks).promise;
    } catch (error) {
      // The request could not be encoded (a TypeError): nothing was sent, but the hooks saw
      // it begin (an instrumentation may have started a span), so they see it end.
      hooks?.call(
        TRACE_BIT.responsedone,
        {
          type: "responsedone",
          requestId: 0,
          connectionId: undefined,
          time: performance.now(),
          method: spec.method,
          url: spec.url.href,
          bytes: 0,
          error,
          timings: new TimingMarks().toTimings(),
          httpVersion: undefined,
          status: undefined,
        } satisfies TraceInfo<ResponseDoneEvent>,
      );
      throw error;
    }
  }

  /** @internal The pool of the route to `url`, created on first use. */
  poolFor(url: URL, options?: RouteOptions): OriginPool {
    if (options === undefined) {
      // Repeated requests for one URL text share one URL object (request.ts), never written
      // into: its pool is found by identity, without building and hashing `url.origin`.
      if (url === this.#lastUrl) return this.#lastPool!;
      const pool = this.#byOrigin.get(url.origin);
      if (pool !== undefined) {
        this.#lastUrl = url;
        this.#lastPool = pool;
        return pool;
      }
    }
    const route = this.#router.route(url, options);
    let pool = this.#pools.get(route.key);
    if (pool === undefined) {
      pool = new OriginPool(route.key, route, this.#settings, this);
      this.#pools.set(route.key, pool);
    }
    if (options === undefined) {
      this.#byOrigin.set(url.origin, pool);
      this.#lastUrl = url;
      this.#lastPool = pool;
    }
    return pool;
  }

  /** @internal */
  onIdleChanged(_pool: OriginPool, delta: number): void {
    this.#idle += delta;
    if (delta > 0 && this.#idle > this.#maxIdle) {
      // Evict the least recently used idle connection across origins.
      let oldest: OriginPool | null = null;
      for (const pool of this.#pools.values()) {
        if (
          pool.idleCount > 0 && (oldest === null || pool.oldestIdleSince < oldest.oldestIdleSince)
        ) {
          oldest = pool;
        }
      }
      oldest?.closeOldestIdle("pool-full");
    }
  }

  /** @internal */
  onConnectionClosed(connection: Connection): void {
    const subject = connection.subject as ConnectionSubject | null;
    const trace = subject?.trace ?? null;
    const requestHooks = subject?.hooks ?? null;
    if (trace === null && requestHooks === null && !this.tracing) return;
    const about: TraceSubject = subject ?? { requestId: 0, method: "", url: connection.origin };
    const wants = (type: string): boolean =>
      trace !== null || this.listens(type) || (requestHooks !== null && requestHooks.has(type));
    const emit = <I extends TraceInfo>(bit: number, info: I): void => {
      this.#hooks?.call(bit, info);
      requestHooks?.call(bit, info);
      if (trace !== null || this.hasListener(info.type)) {
        const event = toEvent(info);
        this.dispatchTrace(event);
        trace?.dispatchEvent(event);
      }
    };
    const now = performance.now();
    if (connection.closeReason === "idle-timeout" && wants("idletimeout")) {
      emit(
        TRACE_BIT.idletimeout,
        {
          type: "idletimeout",
          requestId: about.requestId,
          connectionId: connection.id,
          time: now,
          method: about.method,
          url: about.url,
        } satisfies TraceInfo<PhaseEvent>,
      );
    }
    if (!wants("connclose")) return;
    const closeInfo = connection.closeInfo;
    const stats = connection.stats();
    emit(
      TRACE_BIT.connclose,
      {
        type: "connclose",
        requestId: about.requestId,
        connectionId: connection.id,
        time: now,
        method: about.method,
        url: about.url,
        reason: connection.closeReason ?? "closed",
        requestsServed: stats.requestsServed,
        bytesRead: stats.bytesRead,
        bytesWritten: stats.bytesWritten,
        stats,
        tcpInfo: closeInfo,
        warnings: closeInfo === undefined ? [] : warnings(closeInfo),
      } satisfies TraceInfo<ConnCloseEvent>,
    );
  }

  /** @internal */
  onBodyReclaimed(connection: Connection, action: "drain" | "detach"): void {
    const subject = connection.subject as ConnectionSubject | null;
    const trace = subject?.trace ?? null;
    const requestHooks = subject?.hooks ?? null;
    const bit = TRACE_BIT.bodyreclaim;
    if (
      trace === null && (this.#mask & bit) === 0 &&
      (requestHooks === null || (requestHooks.mask & bit) === 0)
    ) return;
    const about: TraceSubject = subject ?? { requestId: 0, method: "", url: connection.origin };
    const budget = this.#settings.drainBudget;
    const info = {
      type: "bodyreclaim",
      requestId: about.requestId,
      connectionId: connection.id,
      time: performance.now(),
      method: about.method,
      url: about.url,
      action,
      budgetUsed: budget.used,
      budget: budget.limit,
    } satisfies TraceInfo<BodyReclaimEvent>;
    this.#hooks?.call(bit, info);
    requestHooks?.call(bit, info);
    if (trace !== null || this.hasListener("bodyreclaim")) {
      const event = toEvent(info);
      this.dispatchTrace(event);
      trace?.dispatchEvent(event);
    }
  }

  /** @internal */
  onBodyLeak(subject: TraceSubject & { hooks?: HookSet | null }, connection: Connection): void {
    const url = subject.url;
    const info = {
      type: "bodyleak",
      requestId: subject.requestId,
      connectionId: connection.id,
      time: performance.now(),
      method: subject.method,
      url,
    } satisfies TraceInfo<BodyLeakEvent>;
    this.#hooks?.call(TRACE_BIT.bodyleak, info);
    subject.hooks?.call(TRACE_BIT.bodyleak, info);
    // Always dispatched (bodyleak listeners are not counted): it is rare.
    this.dispatchEvent(toEvent(info));
    if (!this.#warnedLeak) {
      this.#warnedLeak = true;
      console.warn(
        `wirefetch: the response body of ${url} was garbage-collected before it was read or ` +
          `cancelled; its connection ${connection.id} was closed. Read the body to the end or ` +
          `call response.body.cancel() so connections can be reused.`,
      );
    }
  }

  /**
   * Counts of open, idle, active and connecting connections and queued requests, per origin
   * and in total.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client();
   * console.log(client.stats()); // { total: { open: 0, ... }, origins: {} }
   * ```
   */
  stats(): ClientStats {
    const total: PoolStats = { open: 0, idle: 0, active: 0, connecting: 0, queued: 0 };
    const origins: Record<string, PoolStats> = {};
    for (const [origin, pool] of this.#pools) {
      const s = pool.stats();
      origins[origin] = s;
      total.open += s.open;
      total.idle += s.idle;
      total.active += s.active;
      total.connecting += s.connecting;
      total.queued += s.queued;
    }
    return { total, origins };
  }

  /**
   * Closes every idle connection now; busy ones are untouched.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * new Client().closeIdle();
   * ```
   */
  closeIdle(): void {
    for (const pool of this.#pools.values()) pool.closeIdle("client-closed");
  }

  /**
   * Closes gracefully: new requests reject with `ERR_CLIENT_CLOSED`, requests already made
   * (queued or running) finish, then every connection is closed. Bodies nobody reads are
   * drained into memory within `drainBudget` so their connections can close while the responses
   * stay readable; a larger unread body keeps its connection until it is read, cancelled or
   * collected. Resolves when nothing is open. With `timeout`, whatever is still open after
   * that many milliseconds is destroyed ({@linkcode Client.destroy}), so the promise always
   * settles.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client();
   * await client.close({ timeout: 5000 });
   * ```
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const timeout = positive(options.timeout, Infinity, "timeout");
    this.#closed = true;
    const graceful = Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    if (timeout === Infinity) {
      await graceful;
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeout);
    });
    try {
      if (await Promise.race([graceful.then(() => false), expired])) {
        this.destroy(
          new WirefetchError("ERR_CLIENT_DESTROYED", `close() timed out after ${timeout} ms`),
        );
        await graceful;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends everything now: queued requests and requests in flight reject, the bodies of
   * responses already delivered but not read to the end error, dials are abandoned and every
   * socket is closed; later requests reject with `ERR_CLIENT_CLOSED`. Each failure is a
   * `TypeError` whose cause is a `WirefetchError` with code `ERR_CLIENT_DESTROYED` (and
   * `reason` as its cause).
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * const client = new Client();
   * client.destroy(new Error("shutting down"));
   * ```
   */
  destroy(reason?: unknown): void {
    this.#closed = true;
    const error = reason instanceof WirefetchError && reason.code === "ERR_CLIENT_DESTROYED"
      ? reason
      : new WirefetchError(
        "ERR_CLIENT_DESTROYED",
        reason === undefined
          ? "the client was destroyed"
          : `the client was destroyed: ${(reason as Error)?.message ?? String(reason)}`,
        reason === undefined ? undefined : { cause: reason },
      );
    for (const pool of this.#pools.values()) pool.destroy(error);
  }

  /**
   * Closes the client at the end of an `await using` block: as `close({ timeout: 1000 })`.
   * Requests still running a second later are destroyed, so leaving the block never hangs;
   * unread bodies are first drained into memory within `drainBudget` (they stay readable), and
   * those that do not fit error with `ERR_CLIENT_DESTROYED` once the second is up.
   *
   * @example
   * ```ts
   * import { Client } from "@wirefetch/fetch";
   * {
   *   await using client = new Client();
   * }
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close({ timeout: DISPOSE_TIMEOUT });
  }
}

function toURL(input: string | URL): URL {
  if (input instanceof URL) return input;
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(String(input), base);
}

/**
 * The client `fetch` uses when no `client` is given.
 *
 * @example
 * ```ts
 * import { defaultClient } from "@wirefetch/fetch";
 * console.log(defaultClient.stats().total);
 * ```
 */
export const defaultClient: Client = new Client();
