/**
 * One `fetch` call from arguments to finished body: a {@linkcode FetchTask} owns the promise, the
 * abort signal, redirects and the single retry; each use of a connection is an
 * {@linkcode Attempt}, which the pool queues and the connection serves.
 *
 * @module
 */

import { bodyError, networkError, WirefetchError } from "./errors.ts";
import {
  determineReferrer,
  environmentOrigin,
  originHeader,
  type OriginState,
  policyFromHeader,
  updateTainting,
} from "./fetch/referrer.ts";
import { matchesIntegrity } from "./fetch/integrity.ts";
import { encodeRequestHead, RequestHeadCache } from "./h1/request_head.ts";
import type { ResponseHead } from "./h1/response_parser.ts";
import type { Connection, Exchange, FailureInfo } from "./pool/connection.ts";
import type { OriginPool, PoolWaiter } from "./pool/origin_pool.ts";
import { releaseDrained } from "./pool/drain.ts";
import { concat, findHeader, type RequestSpec } from "./request.ts";
import { defaultAcceptEncoding } from "./body/content_coding.ts";
import {
  ABORT,
  type BodyOwner,
  BodySource,
  FetchResponse,
  hrefWithoutFragment,
  makeResponse,
} from "./response.ts";
import {
  type ConnectDoneEvent,
  type ConnectStartEvent,
  type DequeuedEvent,
  type DnsDoneEvent,
  type DnsStartEvent,
  type GetConnEvent,
  type Got1xxResponseEvent,
  type GotConnEvent,
  type PhaseEvent,
  type ProxyConnectDoneEvent,
  type ProxyConnectStartEvent,
  type PutIdleConnEvent,
  type QueuedEvent,
  type RedirectEvent,
  type ResponseDoneEvent,
  type RetryEvent,
  type TlsHandshakeDoneEvent,
  type TlsHandshakeStartEvent,
  toEvent,
  type TraceEvent,
  type TraceSubject,
  type WroteHeaderFieldEvent,
  type WroteRequestEvent,
} from "./trace/events.ts";
import { ALL_TRACE_BITS, type HookSet, TRACE_BIT, type TraceInfo } from "./trace/hooks.ts";
import { recordResourceTiming } from "./trace/resource_timing.ts";
import { TimingMarks } from "./trace/timings.ts";
import type { Route, RouteOptions } from "./route/route.ts";

/** What a fetch needs from its client. */
export interface ClientContext {
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** The event types the client has listeners or hooks for (`TRACE_BIT` bits), 0 for none. */
  readonly traceMask: number;
  /** True while the client has an EventTarget listener for `type` (an Event must be built). */
  hasListener(type: string): boolean;
  /** The client's hooks, or null. */
  readonly hooks: HookSet | null;
  /** Requests record Resource Timing entries (where the runtime keeps them). */
  readonly resourceTiming: boolean;
  /** Delivers a trace event to the client's listeners. */
  dispatchTrace(event: Event): void;
  /** The User-Agent sent when the request has none, or null for none. */
  readonly userAgent: string | null;
  /** Whether requests decode content codings (and send Accept-Encoding) unless told otherwise. */
  readonly decompress: boolean;
  /**
   * The pool of the route to `url` with the request's route options (proxy, unix socket, TLS).
   * Throws TypeError for invalid options.
   */
  poolFor(url: URL, options?: RouteOptions): OriginPool;
  /** A streamed response was garbage-collected while its connection still waited on it. */
  onBodyLeak(subject: TraceSubject, connection: Connection): void;
}

let nextRequestId = 1;

/** The abort listener of a request, holding it weakly (see FetchTask's constructor). */
class AbortLink implements EventListenerObject {
  #task: WeakRef<FetchTask>;
  constructor(task: FetchTask) {
    this.#task = new WeakRef(task);
  }
  handleEvent(): void {
    this.#task.deref()?.handleEvent();
  }
}

/**
 * Keeps listening to the signal after the response is complete but perhaps unread: the Fetch
 * standard's "abort the fetch" errors a body that is still readable, so `text()` and friends
 * reject with the abort reason even when every byte had arrived. Holds the Response (and a
 * streamed body's controller) weakly, and is removed from the signal when the Response is
 * collected (`bodyLinks`), so a long-lived signal does not accumulate listeners.
 */
class BodyAbortLink implements EventListenerObject {
  #controller: WeakRef<ReadableStreamDefaultController<Uint8Array>> | null;
  #response: WeakRef<Response>;
  constructor(
    controller: ReadableStreamDefaultController<Uint8Array> | null,
    response: Response,
  ) {
    this.#controller = controller === null ? null : new WeakRef(controller);
    this.#response = new WeakRef(response);
  }
  handleEvent(event: Event): void {
    const reason = abortReason(event.target as AbortSignal);
    const response = this.#response.deref();
    if (response instanceof FetchResponse) response[ABORT](reason);
    try {
      this.#controller?.deref()?.error(reason);
    } catch {
      // Already read to the end or cancelled: nothing to abort.
    }
  }
}

const bodyLinks = new FinalizationRegistry<{ signal: AbortSignal; link: BodyAbortLink }>(
  ({ signal, link }) => signal.removeEventListener("abort", link),
);

/**
 * The reason an aborted signal rejects with: its `reason`, or an `AbortError` for the signals
 * of AbortController polyfills, which have none (never `undefined`).
 */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Cancels a stream request body that nobody reads yet (a reader's cancel goes through it). */
function cancelBody(spec: RequestSpec, reason: unknown): void {
  const body = spec.body;
  if (body !== null && body.kind === "stream" && !body.stream.locked) {
    body.stream.cancel(reason).catch(() => {});
  }
}

// Location bytes are UTF-8 (as browsers and undici read them), but the parser hands header
// values over as latin1, one char per byte.
const utf8 = new TextDecoder();
function decodeLocation(value: string): string {
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return value;
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i);
  return utf8.decode(bytes);
}

/** What a connection remembers of the last traced request it served, for its close events. */
export interface ConnectionSubject extends TraceSubject {
  /** That request's own trace target. */
  readonly trace: EventTarget | null;
  /** That request's own hooks. */
  readonly hooks: HookSet | null;
}

const EMPTY = new Uint8Array(0);

// Go's transport replays these after a stale keep-alive connection fails, as do we: they are
// idempotent by definition (RFC 9110 §9.2.2) and carry no body worth worrying about. PUT and
// DELETE are idempotent too, but replaying a large upload unasked is a surprise; callers opt in
// with an Idempotency-Key header.
const REPLAYABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

// A redirect's body is read and dropped when this little remains, to keep the connection;
// beyond it, closing and dialing again is cheaper (Go's transport uses 2 KiB).
const DISCARD_LIMIT = 64 * 1024;

/**
 * Finds what a leaked response held. The held value is the connection and the number of
 * requests it had served when the body started streaming, so a late callback cannot close a
 * connection that has moved on to another request.
 */
interface LeakRecord {
  readonly connection: Connection;
  readonly served: number;
  readonly context: ClientContext;
  readonly subject: TraceSubject & { readonly hooks: HookSet | null };
}

const leakRegistry = new FinalizationRegistry<LeakRecord>((record) => {
  const { connection, served } = record;
  if (connection.requestsServed !== served) return;
  if (connection.state === "closed" || connection.state === "idle") return;
  if (connection.exchange !== null) return;
  connection.abort("body-leak");
  record.context.onBodyLeak(record.subject, connection);
});

// Heads of plain GETs (nothing of the caller's but the URL), whose bytes depend only on the URL,
// the User-Agent (a NUL, which no header value can hold, stands for none) and whether
// Accept-Encoding is sent (one cache each): repeated requests for a URL reuse them.
const headCache = new RequestHeadCache();
// The same for requests that send no Accept-Encoding (the `decompress: false` option).
const headCacheNoCoding = new RequestHeadCache();

function encodeHead(spec: RequestSpec, userAgent: string | null, task: FetchTask): Uint8Array {
  const url = spec.url;
  const user = spec.headers;
  const route = task.pool.target as Route;
  // Everything else that goes into the head must be absent: the caller's fields and their
  // casing, a Host override, a body, Connection: close, the Referer and Origin of the hop, and a
  // proxy route's fields and absolute-form target.
  const cacheable = user.length === 0 && spec.method === "GET" && spec.body === null &&
    spec.host === null && !spec.closeAfter && spec.casing === null && task.referer === null &&
    task.origin === null && route.requestHeaders.length === 0 && !route.absoluteForm;
  const cache = task.decompress ? headCache : headCacheNoCoding;
  if (cacheable) {
    const hit = cache.get(userAgent ?? "\0", url.href);
    if (hit !== undefined) {
      task.headerList = hit.headers;
      return hit.head;
    }
  }
  const list: string[] = ["host", spec.host ?? url.host];
  const casing = spec.casing;
  if (casing === null) {
    for (let i = 0; i < user.length; i++) list.push(user[i]);
  } else {
    // The caller's spelling of each name goes on the wire; lookups stay on lowercase names.
    if (casing.has("host")) list[0] = casing.get("host")!;
    for (let i = 0; i < user.length; i += 2) {
      list.push(casing.get(user[i]) ?? user[i], user[i + 1]);
    }
  }
  // The route's own fields: Proxy-Authorization and the proxy's headers on absolute-form
  // requests to an HTTP proxy (a caller's own Proxy-Authorization wins). They belong to this
  // route only: a redirect recomputes the route, so they never follow a request elsewhere.
  const extra = route.requestHeaders;
  for (let i = 0; i < extra.length; i += 2) {
    if (findHeader(user, extra[i]) < 0) list.push(extra[i], extra[i + 1]);
  }
  if (findHeader(user, "accept") < 0) list.push("accept", "*/*");
  if (userAgent !== null && findHeader(user, "user-agent") < 0) {
    list.push("user-agent", userAgent);
  }
  if (task.decompress && findHeader(user, "accept-encoding") < 0) {
    // Fetch §4.5 step 8.16-17: a Range request asks for identity (byte ranges of a coded body
    // would not decode); otherwise the codings we can undo.
    list.push(
      "accept-encoding",
      findHeader(user, "range") >= 0 ? "identity" : defaultAcceptEncoding,
    );
  }
  // HTTP-network-or-cache fetch: Referer when the request's referrer is a URL, Origin as §3.1
  // says. A value the caller set is kept.
  if (task.referer !== null && findHeader(user, "referer") < 0) {
    list.push("referer", task.referer);
  }
  if (task.origin !== null && findHeader(user, "origin") < 0) list.push("origin", task.origin);
  const body = spec.body;
  if (body === null) {
    // RFC 9110 §8.6: send a length for methods whose content has a meaning, even when empty,
    // or some servers wait for a body that will not come.
    const m = spec.method;
    if (m === "POST" || m === "PUT" || m === "PATCH") list.push("content-length", "0");
  } else if (body.kind === "bytes") {
    list.push("content-length", String(body.bytes.length));
  } else if (body.length >= 0) {
    list.push("content-length", String(body.length));
  } else {
    list.push("transfer-encoding", "chunked");
  }
  if (spec.closeAfter) list.push("connection", "close");
  task.headerList = list;
  // URL.search is "" for both "/a" and "/a?": keep the bare "?" the caller wrote.
  const search = url.search !== ""
    ? url.search
    : url.href.slice(0, url.href.length - url.hash.length).endsWith("?")
    ? "?"
    : "";
  const path = url.pathname + search;
  // RFC 9112 §3.2.2: a request to a proxy names the whole target (absolute-form).
  const head = encodeRequestHead(
    spec.method,
    route.absoluteForm ? `${url.protocol}//${url.host}${path}` : path,
    list,
  );
  if (cacheable) cache.set(userAgent ?? "\0", url.href, head, list);
  return head;
}

/**
 * The life of one `fetch` call.
 *
 * @example
 * ```ts ignore
 * const response = await new FetchTask(client, spec).promise;
 * ```
 */
export class FetchTask implements EventListenerObject, TraceSubject {
  /** A process-unique id, kept across retries and redirects. */
  readonly requestId: number = nextRequestId++;
  /** Settles with the Response, or rejects as fetch does. */
  readonly promise: Promise<Response>;
  /** This request's own trace target, or null. */
  readonly trace: EventTarget | null;
  /** This request's own hooks (`fetch(url, { hooks })`, instrumentations), or null. */
  readonly hooks: HookSet | null;
  /** Timestamps of the phases. */
  readonly marks: TimingMarks = new TimingMarks();
  /** The header fields of the current head, as sent (shared with the head cache: read only). */
  headerList: readonly string[] = [];
  /** The request, updated as redirects are followed. */
  readonly spec: RequestSpec;
  /** The client that runs it. */
  readonly context: ClientContext;
  /** The request's own route options (proxy, unix, tls), kept for its redirects. */
  readonly routeOptions: RouteOptions | undefined;
  /** The pool of the current URL's route. */
  pool: OriginPool;
  /** The encoded head for the current URL. */
  head: Uint8Array;
  /** The attempt in progress. */
  attempt: Attempt | null = null;
  /** A Response was handed to the caller. */
  delivered = false;
  /** Nothing more will happen: body finished, failed or aborted. */
  done = false;
  /** The one retry after a stale connection was used. */
  retried = false;
  /** Redirects followed so far. */
  redirects = 0;
  /**
   * True while the constructor asks the pool for the first connection: one handed over now (an
   * idle one) comes in the same synchronous step as the fetch call, so the clock reading of
   * `marks.start` serves as the time it was got (no queueing happened).
   */
  starting = false;
  /** Content codings are decoded and Accept-Encoding sent (the `decompress` option). */
  readonly decompress: boolean;
  /** The Referer of the current hop, or null. */
  referer: string | null = null;
  /** The Origin of the current hop, or null. */
  origin: string | null = null;
  /** Response tainting and origin of a request made where there is an origin, or null. */
  originState: OriginState | null = null;
  /** The Response handed to the caller, for "abort the fetch" (see handleEvent). */
  response: Response | null = null;
  #resolve!: (response: Response) => void;
  #reject!: (reason: unknown) => void;
  #abortLink: AbortLink | null = null;
  #href: string | null = null;
  // The event types this request itself wants (its hooks; everything for a trace target).
  #ownMask: number;

  /**
   * Starts a request. Throws TypeError for a request that cannot be encoded.
   *
   * @example
   * ```ts ignore
   * const task = new FetchTask(client, spec);
   * ```
   */
  constructor(
    context: ClientContext,
    spec: RequestSpec,
    trace: EventTarget | null,
    decompress: boolean = context.decompress,
    routeOptions?: RouteOptions,
    hooks: HookSet | null = null,
  ) {
    this.context = context;
    this.spec = spec;
    this.trace = trace;
    this.decompress = decompress;
    this.routeOptions = routeOptions;
    this.pool = context.poolFor(spec.url, routeOptions);
    this.hooks = hooks;
    this.#ownMask = trace !== null ? ALL_TRACE_BITS : hooks !== null ? hooks.mask : 0;
    const origin = environmentOrigin();
    if (origin !== null) {
      this.originState = { origin, mode: spec.mode, tainting: "basic", taintedOrigin: false };
    }
    const refused = this.#prepareHop();
    // Encoding validates: an invalid request rejects with its TypeError even when the signal
    // was already aborted (the Request constructor runs before fetch looks at the signal).
    this.head = encodeHead(spec, context.userAgent, this);
    this.promise = new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const signal = spec.signal;
    if (signal !== null) {
      if (signal.aborted) {
        this.done = true;
        const reason = abortReason(signal);
        cancelBody(spec, reason);
        // Hooks and listeners see every fetch end, even one that never started.
        if (this.tracing) this.end(null, 0, reason);
        this.#reject(reason);
        return;
      }
      // Held weakly: a long-lived signal must not keep a forgotten response's request (and so
      // its connection) reachable, or the connection could never be reclaimed.
      this.#abortLink = new AbortLink(this);
      signal.addEventListener("abort", this.#abortLink);
    }
    if (refused !== null) {
      this.fail(new WirefetchError("ERR_MODE", refused));
      return;
    }
    this.starting = true;
    this.start(false);
    this.starting = false;
  }

  /**
   * Main fetch's per-URL steps for the current URL: the request's referrer is determined (and
   * kept as what was sent, Referrer Policy §8.3), the response tainting updated, and the Referer
   * and Origin values of this hop computed. Returns a network error message, or null.
   */
  #prepareHop(): string | null {
    const spec = this.spec;
    if (spec.referrer !== "no-referrer") {
      spec.referrer = determineReferrer(spec.referrer, spec.referrerPolicy, spec.url);
    }
    this.referer = spec.referrer === "no-referrer" ? null : spec.referrer.href;
    const state = this.originState;
    if (state === null) return null;
    const refused = updateTainting(state, spec.url);
    this.origin = originHeader(state, spec.method, spec.referrerPolicy, spec.url);
    return refused;
  }

  /** The URL a response of the current hop reports: no fragment (Fetch §4.1 step 15). */
  get responseUrl(): string {
    return hrefWithoutFragment(this.spec.url);
  }

  /** The current method (TraceSubject). */
  get method(): string {
    return this.spec.method;
  }

  /** The current URL (TraceSubject). */
  get url(): string {
    // Read once per URL: every traced event carries it, and URL.href builds a new string on
    // some runtimes (Bun) each time it is read.
    return this.#href ??= this.spec.url.href;
  }

  /** True when events may be wanted: a per-request target or hooks, or the client's. */
  get tracing(): boolean {
    return (this.context.traceMask | this.#ownMask) !== 0;
  }

  /**
   * True when an event of type `bit` (a `TRACE_BIT`) must be built. The client's mask is read
   * each time: a listener may come or go during the request.
   */
  wants(bit: number): boolean {
    return ((this.context.traceMask | this.#ownMask) & bit) !== 0;
  }

  /**
   * Delivers an event's fields to the hooks (client's, then this request's) as they are, and,
   * only when an EventTarget listens, as an `Event` to the client's listeners and this
   * request's target.
   */
  emit<I extends TraceInfo>(bit: number, info: I): void {
    const context = this.context;
    const clientHooks = context.hooks;
    if (clientHooks !== null) clientHooks.call(bit, info);
    const hooks = this.hooks;
    if (hooks !== null) hooks.call(bit, info);
    const trace = this.trace;
    if (trace !== null || context.hasListener(info.type)) {
      const event: TraceEvent = toEvent(info);
      context.dispatchTrace(event);
      trace?.dispatchEvent(event);
    }
  }

  /** Queues a new attempt with the pool of the current URL. */
  start(fresh: boolean): void {
    if (this.context.closed && !fresh && this.redirects === 0) {
      this.fail(new WirefetchError("ERR_CLIENT_CLOSED", "the client is closed"));
      return;
    }
    const pool = this.pool;
    const first = this.attempt === null;
    const attempt = new Attempt(this, pool);
    this.attempt = attempt;
    if (this.wants(TRACE_BIT.getconn)) {
      this.emit(
        TRACE_BIT.getconn,
        {
          type: "getconn",
          requestId: this.requestId,
          connectionId: undefined,
          // The first attempt starts in the fetch call's synchronous step: its clock reading.
          time: first ? this.marks.start : performance.now(),
          method: this.method,
          url: this.url,
          hostPort: this.spec.url.host,
        } satisfies TraceInfo<GetConnEvent>,
      );
    }
    pool.acquire(attempt, fresh);
  }

  /** Records the end of the request (at `now`, read here if not given) and emits `responsedone`. */
  end(
    connection: Connection | null,
    bytes: number,
    error: unknown,
    now: number = performance.now(),
  ): void {
    const marks = this.marks;
    marks.end = now;
    marks.complete = error === undefined;
    if (this.context.resourceTiming) recordResourceTiming(marks, this.url, bytes);
    if (this.wants(TRACE_BIT.responsedone)) {
      const head = this.attempt?.responseHead;
      this.emit(
        TRACE_BIT.responsedone,
        {
          type: "responsedone",
          requestId: this.requestId,
          connectionId: connection?.id,
          time: marks.end,
          method: this.method,
          url: this.url,
          bytes,
          error,
          timings: marks.toTimings(),
          httpVersion: head ? (head.minorVersion === 0 ? "1.0" : "1.1") : undefined,
          status: head?.status,
        } satisfies TraceInfo<ResponseDoneEvent>,
      );
    }
  }

  /** Hands the Response to the caller (after checking its integrity, if asked). */
  deliver(response: Response): void {
    this.delivered = true;
    if (this.spec.signal !== null) this.response = response;
    if (this.spec.integrity !== "") {
      this.#verify(response);
      return;
    }
    this.#resolve(response);
  }

  /**
   * Keeps the abort signal wired to a complete body that may still be unread (see
   * {@linkcode BodyAbortLink}). Only requests with a signal pay for it.
   */
  watchBody(controller: ReadableStreamDefaultController<Uint8Array> | null): void {
    const signal = this.spec.signal;
    const response = this.response;
    if (signal === null || signal.aborted || response === null) return;
    const link = new BodyAbortLink(controller, response);
    signal.addEventListener("abort", link);
    bodyLinks.register(response, { signal, link });
  }

  // Fetch §4.1 main fetch step 22: with integrity metadata, the whole body is read and hashed
  // before the response is returned; a mismatch is a network error.
  #verify(response: Response): void {
    const spec = this.spec;
    response.arrayBuffer().then(async (buffer) => {
      const bytes = new Uint8Array(buffer);
      if (!(await matchesIntegrity(bytes, spec.integrity))) {
        this.#reject(
          networkError(
            new WirefetchError("ERR_INTEGRITY", `the body of ${response.url} fails its integrity`),
          ),
        );
        return;
      }
      const status = response.status;
      const body = status === 204 || status === 205 || status === 304 ? null : bytes;
      this.#resolve(
        new FetchResponse(
          spec.method === "HEAD" ? null : body,
          { status, statusText: response.statusText },
          response.url,
          response.redirected,
          this.marks,
          response.headers,
        ),
      );
    }, (error) => {
      // A body that failed mid-read makes the fetch itself fail: fetch has not resolved yet.
      if (error instanceof TypeError && error.cause instanceof WirefetchError) {
        this.#reject(networkError(error.cause));
      } else {
        this.#reject(error);
      }
    });
  }

  /** Rejects the fetch with a network error (TypeError whose cause is the WirefetchError). */
  fail(error: WirefetchError): void {
    if (this.done) return;
    this.finish();
    const rejection = networkError(error);
    this.end(this.attempt?.connection ?? null, 0, rejection);
    this.#reject(rejection);
  }

  /** Marks the task finished and stops listening to its signal. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.#abortLink !== null) {
      this.spec.signal?.removeEventListener("abort", this.#abortLink);
      this.#abortLink = null;
    }
  }

  /** The abort signal fired. */
  handleEvent(): void {
    if (this.done) return;
    const reason = abortReason(this.spec.signal!);
    const attempt = this.attempt;
    this.finish();
    // Fetch "abort fetch": a request body stream is cancelled with the reason, synchronously.
    cancelBody(this.spec, reason);
    const response = this.response;
    if (response instanceof FetchResponse) response[ABORT](reason);
    attempt?.abort(reason);
    this.end(attempt?.connection ?? null, attempt?.bytes ?? 0, reason);
    if (!this.delivered) this.#reject(reason);
  }

  /** Whether a failed attempt may be sent again on a new connection. */
  mayRetry(error: WirefetchError, info: FailureInfo): boolean {
    if (this.retried || this.delivered || !info.reused || info.responseStarted) return false;
    // Only the failures a stale keep-alive connection produces: the server closed or reset it
    // while it sat idle, and we wrote into the void.
    if (error.code !== "ERR_CONNECTION_CLOSED" && error.code !== "ERR_CONNECTION_RESET") {
      return false;
    }
    const spec = this.spec;
    const body = spec.body;
    if (info.nothingWritten) return body === null || body.kind === "bytes";
    if (body !== null && body.kind === "stream") return false;
    return REPLAYABLE_METHODS.has(spec.method) ||
      findHeader(spec.headers, "idempotency-key") >= 0 ||
      findHeader(spec.headers, "x-idempotency-key") >= 0;
  }

  /** Whether a response head is a redirect this task follows (or refuses). */
  isRedirect(head: ResponseHead): boolean {
    const status = head.status;
    if (status !== 301 && status !== 302 && status !== 303 && status !== 307 && status !== 308) {
      return false;
    }
    const mode = this.spec.redirect;
    if (mode === "manual") return false;
    // Fetch §4.3 step 6: "error" refuses any redirect status, Location or not; "follow"
    // returns a redirect without Location as the response (HTTP-redirect fetch step 4).
    return mode === "error" || findHeader(head.headers, "location") >= 0;
  }

  /** Follows the redirect in `head` (its body was already dropped). */
  followRedirect(head: ResponseHead): void {
    if (this.done) return;
    const spec = this.spec;
    const status = head.status;
    if (spec.redirect === "error") {
      this.fail(
        new WirefetchError("ERR_REDIRECT", `${status} response with redirect mode "error"`),
      );
      return;
    }
    const location = decodeLocation(head.headers[findHeader(head.headers, "location") + 1]);
    if (this.redirects >= spec.maxRedirects) {
      this.fail(
        new WirefetchError("ERR_TOO_MANY_REDIRECTS", `more than ${spec.maxRedirects} redirects`),
      );
      return;
    }
    let next: URL;
    try {
      next = new URL(location, spec.url);
    } catch {
      this.fail(new WirefetchError("ERR_REDIRECT", `invalid Location: ${location}`));
      return;
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      this.fail(new WirefetchError("ERR_REDIRECT", `redirect to unsupported URL ${next.href}`));
      return;
    }
    // Fetch §4.4 step 11: a Location without a fragment inherits the request's.
    if (next.hash === "" && spec.url.hash !== "") next.hash = spec.url.hash;
    const headers = spec.headers;
    if (
      ((status === 301 || status === 302) && spec.method === "POST") ||
      (status === 303 && spec.method !== "GET" && spec.method !== "HEAD")
    ) {
      // Fetch §4.4 step 12: the browser-compatible method change, dropping the body and the
      // headers that described it.
      spec.method = "GET";
      spec.body = null;
      for (let i = headers.length - 2; i >= 0; i -= 2) {
        const name = headers[i];
        if (
          name === "content-type" || name === "content-encoding" ||
          name === "content-language" || name === "content-location" ||
          name === "content-length"
        ) headers.splice(i, 2);
      }
    } else if (spec.body !== null && spec.body.kind === "stream") {
      this.fail(
        new WirefetchError(
          "ERR_REDIRECT",
          `cannot follow a ${status} redirect with a stream body: it cannot be sent twice`,
        ),
      );
      return;
    }
    if (next.origin !== spec.url.origin) {
      // Fetch §4.4 step 13 and RFC 9110 §15.4: credentials are for the origin they were given
      // to, never for wherever it redirects.
      for (let i = headers.length - 2; i >= 0; i -= 2) {
        const name = headers[i];
        if (name === "authorization" || name === "cookie" || name === "proxy-authorization") {
          headers.splice(i, 2);
        }
      }
      spec.host = null;
    }
    const state = this.originState;
    if (state !== null && next.origin !== spec.url.origin && state.origin !== spec.url.origin) {
      // Fetch §4.4 step 12: the chain went through another origin; Origin becomes "null".
      state.taintedOrigin = true;
    }
    // Fetch §4.4 step 16: the redirect's Referrer-Policy header applies to the next hop.
    const policyAt = findHeader(head.headers, "referrer-policy");
    if (policyAt >= 0) {
      const policy = policyFromHeader(head.headers[policyAt + 1]);
      if (policy !== "") spec.referrerPolicy = policy;
    }
    if (this.wants(TRACE_BIT.redirect)) {
      this.emit(
        TRACE_BIT.redirect,
        {
          type: "redirect",
          requestId: this.requestId,
          connectionId: undefined,
          time: performance.now(),
          method: this.method,
          url: this.url,
          status,
          from: spec.url.href,
          to: next.href,
        } satisfies TraceInfo<RedirectEvent>,
      );
    }
    this.marks.requestedUrl ??= spec.url.href;
    spec.url = next;
    this.#href = null;
    this.redirects++;
    const refused = this.#prepareHop();
    if (refused !== null) {
      this.fail(new WirefetchError("ERR_MODE", refused));
      return;
    }
    try {
      this.pool = this.context.poolFor(next, this.routeOptions);
      this.head = encodeHead(spec, this.context.userAgent, this);
    } catch (error) {
      this.fail(new WirefetchError("ERR_REDIRECT", (error as Error).message));
      return;
    }
    this.start(false);
  }
}

/**
 * One use of one connection for a task: waits in the pool, is served by a connection, and
 * delivers the response (or the redirect, or the failure) to its task.
 */
export class Attempt implements Exchange, PoolWaiter, BodyOwner {
  readonly task: FetchTask;
  readonly pool: OriginPool;
  readonly head: Uint8Array;
  readonly body: Uint8Array | ReadableStream<Uint8Array> | null;
  readonly bodyLength: number;
  readonly headOnly: boolean;
  readonly closeAfter: boolean;
  readonly expectContinue: boolean;
  queuedAt = -1;
  queueDeadline = Infinity;
  connection: Connection | null = null;
  responseHead: ResponseHead | null = null;
  /** Body bytes received. */
  bytes = 0;
  #queued = false;
  #wrote = false;
  #pending: Uint8Array[] | null = null;
  #pendingBytes = 0;
  #source: BodySource | null = null;
  #discard = false;
  #discarded = 0;
  #misdirected = false;
  #over = false;

  /** Creates an attempt for the task's current request. */
  constructor(task: FetchTask, pool: OriginPool) {
    this.task = task;
    this.pool = pool;
    this.head = task.head;
    const body = task.spec.body;
    if (body === null) {
      this.body = null;
      this.bodyLength = 0;
    } else if (body.kind === "bytes") {
      this.body = body.bytes;
      this.bodyLength = body.bytes.length;
    } else {
      this.body = body.stream;
      this.bodyLength = body.length;
    }
    this.headOnly = task.spec.method === "HEAD";
    this.closeAfter = task.spec.closeAfter;
    const expect = findHeader(task.spec.headers, "expect");
    this.expectContinue = expect >= 0 &&
      task.spec.headers[expect + 1].toLowerCase() === "100-continue";
  }

  /** Gives up: leaves the queue or closes the connection, and errors a streaming body. */
  abort(reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    const connection = this.connection;
    if (connection !== null) connection.abort("aborted", reason);
    else this.pool.cancel(this);
    this.#endBody(reason);
  }

  // PoolWaiter

  onConnection(connection: Connection, wasIdle: boolean): void {
    const task = this.task;
    const marks = task.marks;
    const now = task.starting && !task.tracing ? marks.start : performance.now();
    marks.gotConn = now;
    marks.reused = connection.requestsServed > 0;
    if (task.tracing) {
      // A small record, not the task: a pooled connection must not keep a request (and its
      // body stream) reachable, or a forgotten response could never be collected.
      connection.subject = {
        requestId: task.requestId,
        method: task.method,
        url: task.url,
        trace: task.trace,
        hooks: task.hooks,
      } satisfies ConnectionSubject;
      if (this.#queued && task.wants(TRACE_BIT.dequeued)) {
        task.emit(
          TRACE_BIT.dequeued,
          {
            type: "dequeued",
            requestId: task.requestId,
            connectionId: connection.id,
            time: now,
            method: task.method,
            url: task.url,
            waited: now - this.queuedAt,
          } satisfies TraceInfo<DequeuedEvent>,
        );
      }
    }
    if (task.wants(TRACE_BIT.gotconn)) {
      const handle = connection.handle;
      task.emit(
        TRACE_BIT.gotconn,
        {
          type: "gotconn",
          requestId: task.requestId,
          connectionId: connection.id,
          time: now,
          method: task.method,
          url: task.url,
          reused: marks.reused,
          wasIdle,
          idleTime: wasIdle ? now - connection.idleSince : 0,
          localAddress: handle.localAddress,
          remoteAddress: handle.remoteAddress,
          connection: handle,
          tcpInfo: marks.reused ? undefined : connection.openInfo,
        } satisfies TraceInfo<GotConnEvent>,
      );
    }
    if (this.#over) {
      // A trace listener aborted the request: nothing was sent, so the connection is as good
      // as it was; pass it on rather than writing a request nobody waits for.
      connection.subject = null;
      this.pool.giveBack(connection);
      return;
    }
    connection.dispatch(this, now);
  }

  onAcquireError(error: WirefetchError): void {
    if (this.#over) return;
    this.#over = true;
    this.task.fail(error);
  }

  onQueued(position: number): void {
    this.#queued = true;
    const task = this.task;
    if (task.wants(TRACE_BIT.queued)) {
      task.emit(
        TRACE_BIT.queued,
        {
          type: "queued",
          requestId: task.requestId,
          connectionId: undefined,
          time: performance.now(),
          method: task.method,
          url: task.url,
          position,
        } satisfies TraceInfo<QueuedEvent>,
      );
    }
  }

  // DialObserver: the phases of a dial this attempt caused.

  onDnsStart(host: string): void {
    const task = this.task;
    const now = task.marks.dnsStart = performance.now();
    if (task.wants(TRACE_BIT.dnsstart)) {
      task.emit(
        TRACE_BIT.dnsstart,
        {
          type: "dnsstart",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          host,
        } satisfies TraceInfo<DnsStartEvent>,
      );
    }
  }

  onDnsDone(
    addresses: readonly string[],
    error: Error | undefined,
    coalesced: boolean,
    cached: boolean,
  ): void {
    const task = this.task;
    const now = task.marks.dnsDone = performance.now();
    if (task.wants(TRACE_BIT.dnsdone)) {
      task.emit(
        TRACE_BIT.dnsdone,
        {
          type: "dnsdone",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          addresses,
          error,
          coalesced,
          cached,
        } satisfies TraceInfo<DnsDoneEvent>,
      );
    }
  }

  onConnectStart(network: string, address: string): void {
    const task = this.task;
    const now = performance.now();
    if (task.marks.connectStart < 0) task.marks.connectStart = now;
    if (task.wants(TRACE_BIT.connectstart)) {
      task.emit(
        TRACE_BIT.connectstart,
        {
          type: "connectstart",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          network,
          address,
        } satisfies TraceInfo<ConnectStartEvent>,
      );
    }
  }

  onConnectDone(network: string, address: string, error: Error | undefined): void {
    const task = this.task;
    const now = performance.now();
    if (error === undefined) task.marks.connectDone = now;
    if (task.wants(TRACE_BIT.connectdone)) {
      task.emit(
        TRACE_BIT.connectdone,
        {
          type: "connectdone",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          network,
          address,
          error,
        } satisfies TraceInfo<ConnectDoneEvent>,
      );
    }
  }

  onProxyConnectStart(proxy: string, target: string): void {
    const task = this.task;
    const now = task.marks.proxyStart = performance.now();
    if (task.wants(TRACE_BIT.proxyconnectstart)) {
      task.emit(
        TRACE_BIT.proxyconnectstart,
        {
          type: "proxyconnectstart",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          proxy,
          hostPort: target,
        } satisfies TraceInfo<ProxyConnectStartEvent>,
      );
    }
  }

  onProxyConnectDone(
    proxy: string,
    target: string,
    status: number | undefined,
    error: Error | undefined,
  ): void {
    const task = this.task;
    const now = task.marks.proxyDone = performance.now();
    if (task.wants(TRACE_BIT.proxyconnectdone)) {
      task.emit(
        TRACE_BIT.proxyconnectdone,
        {
          type: "proxyconnectdone",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          proxy,
          hostPort: target,
          status,
          error,
        } satisfies TraceInfo<ProxyConnectDoneEvent>,
      );
    }
  }

  onTlsStart(): void {
    const task = this.task;
    const now = task.marks.tlsStart = performance.now();
    if (task.wants(TRACE_BIT.tlshandshakestart)) {
      task.emit(
        TRACE_BIT.tlshandshakestart,
        {
          type: "tlshandshakestart",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
        } satisfies TraceInfo<TlsHandshakeStartEvent>,
      );
    }
  }

  onTlsDone(alpnProtocol: string | null, error: Error | undefined): void {
    const task = this.task;
    const now = task.marks.tlsDone = performance.now();
    if (task.wants(TRACE_BIT.tlshandshakedone)) {
      task.emit(
        TRACE_BIT.tlshandshakedone,
        {
          type: "tlshandshakedone",
          requestId: task.requestId,
          connectionId: undefined,
          time: now,
          method: task.method,
          url: task.url,
          alpnProtocol,
          error,
        } satisfies TraceInfo<TlsHandshakeDoneEvent>,
      );
    }
  }

  // Exchange

  onDispatch(connection: Connection): void {
    this.connection = connection;
  }

  onHeadersWritten(): void {
    const task = this.task;
    if (!task.tracing) return;
    const id = this.connection!.id;
    // The head is handed to the socket in the synchronous step that gave the request its
    // connection: that step's clock reading serves the whole burst.
    const now = task.marks.gotConn;
    const url = task.url;
    if (task.wants(TRACE_BIT.wroteheaderfield)) {
      const list = task.headerList;
      for (let i = 0; i < list.length; i += 2) {
        task.emit(
          TRACE_BIT.wroteheaderfield,
          {
            type: "wroteheaderfield",
            requestId: task.requestId,
            connectionId: id,
            time: now,
            method: task.method,
            url,
            name: list[i],
            value: list[i + 1],
          } satisfies TraceInfo<WroteHeaderFieldEvent>,
        );
      }
    }
    if (task.wants(TRACE_BIT.wroteheaders)) {
      task.emit(
        TRACE_BIT.wroteheaders,
        {
          type: "wroteheaders",
          requestId: task.requestId,
          connectionId: id,
          time: now,
          method: task.method,
          url,
        } satisfies TraceInfo<PhaseEvent>,
      );
    }
    if (this.expectContinue && task.wants(TRACE_BIT.wait100continue)) {
      task.emit(
        TRACE_BIT.wait100continue,
        {
          type: "wait100continue",
          requestId: task.requestId,
          connectionId: id,
          time: now,
          method: task.method,
          url,
        } satisfies TraceInfo<PhaseEvent>,
      );
    }
  }

  onRequestWritten(now: number): void {
    this.#wrote = true;
    const task = this.task;
    // `now` was read before the connection was handed over; with listeners, the events emitted
    // since (gotconn, wroteheaders) are later, and event times must not go backwards.
    if (task.tracing) now = performance.now();
    task.marks.wrote = now;
    if (task.wants(TRACE_BIT.wroterequest)) {
      task.emit(
        TRACE_BIT.wroterequest,
        {
          type: "wroterequest",
          requestId: task.requestId,
          connectionId: this.connection!.id,
          time: now,
          method: task.method,
          url: task.url,
          error: undefined,
        } satisfies TraceInfo<WroteRequestEvent>,
      );
    }
  }

  onFirstByte(now: number): void {
    const task = this.task;
    task.marks.firstByte = now;
    if (task.wants(TRACE_BIT.gotfirstresponsebyte)) {
      task.emit(
        TRACE_BIT.gotfirstresponsebyte,
        {
          type: "gotfirstresponsebyte",
          requestId: task.requestId,
          connectionId: this.connection!.id,
          time: now,
          method: task.method,
          url: task.url,
        } satisfies TraceInfo<PhaseEvent>,
      );
    }
  }

  onInformational(status: number, headers: string[]): void {
    const task = this.task;
    if (!task.tracing) return;
    const id = this.connection!.id;
    const now = performance.now();
    if (task.wants(TRACE_BIT.got1xxresponse)) {
      const h = new Headers();
      for (let i = 0; i < headers.length; i += 2) h.append(headers[i], headers[i + 1]);
      task.emit(
        TRACE_BIT.got1xxresponse,
        {
          type: "got1xxresponse",
          requestId: task.requestId,
          connectionId: id,
          time: now,
          method: task.method,
          url: task.url,
          status,
          headers: h,
        } satisfies TraceInfo<Got1xxResponseEvent>,
      );
    }
    if (status === 100 && task.wants(TRACE_BIT.got100continue)) {
      task.emit(
        TRACE_BIT.got100continue,
        {
          type: "got100continue",
          requestId: task.requestId,
          connectionId: id,
          time: now,
          method: task.method,
          url: task.url,
        } satisfies TraceInfo<PhaseEvent>,
      );
    }
  }

  onHead(head: ResponseHead): void {
    this.responseHead = head;
    const task = this.task;
    if (task.isRedirect(head)) this.#discard = true;
    else if (head.status === 421 && this.#mayRetryMisdirected()) {
      // Fetch §4.5 step 10: a 421 on a reused connection is sent once more on a new one (the
      // server may serve only some hosts on a connection, RFC 9110 §15.5.20).
      this.#discard = true;
      this.#misdirected = true;
    }
  }

  #mayRetryMisdirected(): boolean {
    const task = this.task;
    const body = task.spec.body;
    return !task.retried && task.marks.reused && (body === null || body.kind === "bytes");
  }

  /** After the 421's body was dropped (or its connection closed): send again, fresh. */
  #retryMisdirected(): void {
    const task = this.task;
    if (task.done) return;
    task.retried = true;
    if (task.wants(TRACE_BIT.retry)) {
      task.emit(
        TRACE_BIT.retry,
        {
          type: "retry",
          requestId: task.requestId,
          connectionId: this.connection?.id ?? 0,
          time: performance.now(),
          method: task.method,
          url: task.url,
          reason: "421",
          attempt: 2,
        } satisfies TraceInfo<RetryEvent>,
      );
    }
    task.start(true);
  }

  onBody(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.#discard) {
      this.#discarded += chunk.length;
      return;
    }
    const source = this.#source;
    if (source !== null) {
      const controller = source.controller!;
      controller.enqueue(chunk);
      if (controller.desiredSize! <= 0) this.connection!.pauseBody();
      return;
    }
    (this.#pending ??= []).push(chunk);
    this.#pendingBytes += chunk.length;
  }

  onResponseStart(): void {
    const head = this.responseHead!;
    const task = this.task;
    if (this.#discard) {
      const left = head.framing === "length" ? head.contentLength - this.#discarded : Infinity;
      if (left > DISCARD_LIMIT) {
        this.#over = true;
        this.connection!.abort("not-reusable");
        if (this.#misdirected) this.#retryMisdirected();
        else task.followRedirect(head);
      }
      return;
    }
    if (task.done) return;
    const source = new BodySource(this);
    const stream = source.stream();
    const controller = source.controller!;
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null) { for (const chunk of pending) controller.enqueue(chunk); }
    this.#source = source;
    const connection = this.connection!;
    leakRegistry.register(this, {
      connection,
      served: connection.requestsServed,
      context: task.context,
      subject: {
        requestId: task.requestId,
        method: task.method,
        url: task.url,
        hooks: task.hooks,
      },
    }, this);
    let response: Response;
    try {
      response = makeResponse(
        head,
        stream,
        task.responseUrl,
        task.redirects > 0,
        task.marks,
        task.decompress,
      );
    } catch (error) {
      this.#protocolFailure(error);
      return;
    }
    task.deliver(response);
    if (controller.desiredSize! <= 0) connection.pauseBody();
  }

  onComplete(_trailers: string[], now: number): void {
    if (this.#over) return;
    this.#over = true;
    const head = this.responseHead!;
    const task = this.task;
    const connection = this.connection!;
    // One clock reading for putidleconn and the end of the request (same synchronous step): the
    // socket read's, or with listeners a fresh one, as events since that read (a 1xx) are later.
    if (task.tracing) now = performance.now();
    if (task.wants(TRACE_BIT.putidleconn)) {
      // The connection was already pooled, handed on, or closed; say which.
      const closed = connection.state === "closed";
      task.emit(
        TRACE_BIT.putidleconn,
        {
          type: "putidleconn",
          requestId: task.requestId,
          connectionId: connection.id,
          time: now,
          method: task.method,
          url: task.url,
          error: closed ? connection.closeReason! : undefined,
        } satisfies TraceInfo<PutIdleConnEvent>,
      );
    }
    if (this.#discard) {
      if (this.#misdirected) this.#retryMisdirected();
      else task.followRedirect(head);
      return;
    }
    const source = this.#source;
    if (source === null) {
      // The whole response came with the head: give the Response its bytes directly, which is
      // far cheaper to read than a stream and leaves nothing to release.
      const pending = this.#pending;
      const body = head.framing === "none"
        ? (this.headOnly ? null : EMPTY)
        : pending === null
        ? EMPTY
        : concat(pending, this.#pendingBytes);
      this.#pending = null;
      let response: Response;
      try {
        response = makeResponse(
          head,
          body,
          task.responseUrl,
          task.redirects > 0,
          task.marks,
          task.decompress,
        );
      } catch (error) {
        task.fail(
          error instanceof WirefetchError
            ? error
            : new WirefetchError("ERR_PROTOCOL", (error as Error).message, { cause: error }),
        );
        return;
      }
      task.finish();
      task.end(connection, this.bytes, undefined, now);
      task.deliver(response);
      // The bytes stay bytes (far cheaper to read than a stream); the signal still reaches
      // the Response, whose body methods and body stream then fail with the reason.
      task.watchBody(null);
      return;
    }
    leakRegistry.unregister(this);
    task.finish();
    task.watchBody(source.controller!);
    task.end(connection, this.bytes, undefined, now);
    source.controller!.close();
  }

  onError(error: WirefetchError, info: FailureInfo): void {
    if (this.#over) return;
    this.#over = true;
    const task = this.task;
    const connection = this.connection;
    if (!this.#wrote && connection !== null && task.wants(TRACE_BIT.wroterequest)) {
      task.emit(
        TRACE_BIT.wroterequest,
        {
          type: "wroterequest",
          requestId: task.requestId,
          connectionId: connection.id,
          time: performance.now(),
          method: task.method,
          url: task.url,
          error,
        } satisfies TraceInfo<WroteRequestEvent>,
      );
    }
    if (!task.delivered) {
      if (task.mayRetry(error, info)) {
        task.retried = true;
        if (task.wants(TRACE_BIT.retry)) {
          task.emit(
            TRACE_BIT.retry,
            {
              type: "retry",
              requestId: task.requestId,
              connectionId: connection?.id ?? 0,
              time: performance.now(),
              method: task.method,
              url: task.url,
              reason: error.code,
              attempt: 2,
            } satisfies TraceInfo<RetryEvent>,
          );
        }
        task.start(true);
        return;
      }
      task.fail(error);
      return;
    }
    // Fetch "fetch termination": the body stream errors with undici's "terminated" TypeError.
    const failure = bodyError(error);
    this.#endBody(failure);
    task.finish();
    task.end(connection, this.bytes, failure);
  }

  // BodyOwner

  onBodyPull(): void {
    // Reading again: bytes drained into this body while it was forgotten are being consumed.
    releaseDrained(this);
    this.connection?.resumeBody(this);
  }

  onBodyCancel(reason: unknown): void {
    releaseDrained(this);
    if (this.#over) return;
    this.#over = true;
    leakRegistry.unregister(this);
    this.connection?.abort("body-cancelled");
    this.task.finish();
    this.task.end(this.connection, this.bytes, reason ?? new Error("body cancelled"));
  }

  #endBody(reason: unknown): void {
    const source = this.#source;
    if (source === null) return;
    leakRegistry.unregister(this);
    try {
      source.controller!.error(reason);
    } catch {
      // Already closed or errored.
    }
  }

  #protocolFailure(error: unknown): void {
    this.#over = true;
    leakRegistry.unregister(this);
    this.connection?.abort("not-reusable");
    this.task.fail(
      error instanceof WirefetchError
        ? error
        : new WirefetchError("ERR_PROTOCOL", (error as Error).message, { cause: error }),
    );
  }
}
