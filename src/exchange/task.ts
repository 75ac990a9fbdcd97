/**
 * One `fetch` call from arguments to finished body. A {@linkcode FetchTask} owns the promise,
 * the abort signal, redirects and the single retry, and is also each use of a connection: the
 * waiter the pool queues and serves, the exchange the connection runs, and the owner of the
 * streamed body. A request that is neither retried nor redirected is one object from the fetch
 * call to the Response; a retry or a redirect resets the per-attempt state and goes again.
 *
 * @module
 */

import { bodyError, networkError, WirefetchError } from "../errors.ts";
import {
  determineReferrer,
  environmentOrigin,
  originHeader,
  type OriginState,
  policyFromHeader,
  updateTainting,
} from "../fetch/referrer.ts";
import { matchesIntegrity } from "../fetch/integrity.ts";
import type { ResponseHead } from "../h1/response_parser.ts";
import type { DialObserver } from "../net/dial.ts";
import type { Connection, Exchange, FailureInfo } from "../pool/connection.ts";
import type { OriginPool, PoolWaiter } from "../pool/origin_pool.ts";
import { releaseDrained } from "../pool/drain.ts";
import { concat, findHeader, type RequestSpec } from "../request.ts";
import {
  ABORT,
  type BodyOwner,
  BodySource,
  FetchResponse,
  hrefWithoutFragment,
  makeResponse,
} from "../response.ts";
import {
  type QueuedEvent,
  type RedirectEvent,
  type ResponseDoneEvent,
  toEvent,
  type TraceEvent,
  type TraceSubject,
} from "../trace/events.ts";
import { ALL_TRACE_BITS, type HookSet, TRACE_BIT, type TraceInfo } from "../trace/hooks.ts";
import { recordResourceTiming } from "../trace/resource_timing.ts";
import { TimingMarks } from "../trace/timings.ts";
import type { Route, RouteOptions } from "../route/route.ts";
import { AbortLink, abortReason, cancelBody, watchBody } from "./abort.ts";
import type { ClientContext, EventSource } from "./context.ts";
import { DialEvents } from "./dial_events.ts";
import {
  emitFirstByte,
  emitGetConn,
  emitGotConn,
  emitHeadersWritten,
  emitInformational,
  emitPutIdleConn,
  emitRetry,
  emitWroteRequest,
} from "./events.ts";
import { encodeHead, type HeadTarget } from "./head.ts";

let nextRequestId = 1;

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

const EMPTY = new Uint8Array(0);

// The last response URL computed, and the URL object it was computed from.
let lastResponseUrlOf: URL | null = null;
let lastResponseUrl = "";

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

// The promise executor, shared by every task: a closure per task would be one more allocation
// on every fetch. It runs synchronously inside `new Promise`, so the slots are taken at once.
let resolveSlot: ((response: Response) => void) | null = null;
let rejectSlot: ((reason: unknown) => void) | null = null;
function captureResolvers(
  resolve: (response: Response) => void,
  reject: (reason: unknown) => void,
): void {
  resolveSlot = resolve;
  rejectSlot = reject;
}

/**
 * The life of one `fetch` call, and each of its uses of a connection.
 *
 * @example
 * ```ts ignore
 * const response = await new FetchTask(client, spec, null).promise;
 * ```
 */
export class FetchTask
  implements EventListenerObject, EventSource, Exchange, PoolWaiter, BodyOwner, HeadTarget {
  /** A process-unique id, kept across retries and redirects. */
  readonly requestId: number = nextRequestId++;
  /** Settles with the Response, or rejects as fetch does. */
  readonly promise: Promise<Response>;
  /** This request's own trace target, or null. */
  readonly trace: EventTarget | null;
  /** This request's own hooks (`fetch(url, { hooks })`, instrumentations), or null. */
  readonly hooks: HookSet | null;
  /** Timestamps of the phases. */
  readonly marks: TimingMarks;
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
  /** A Response was handed to the caller. */
  delivered = false;
  /** Nothing more will happen: body finished, failed or aborted. */
  done = false;
  /** The one retry after a stale connection was used. */
  retried = false;
  /** Redirects followed so far. */
  redirects = 0;
  /** Attempts started so far (a retry or a redirect starts another). */
  attempts = 0;
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

  // Exchange: the current hop's request as the connection sends it.

  /** The encoded head for the current URL. */
  head: Uint8Array;
  /** The body: bytes or a small string sent with Content-Length, or a stream. */
  body: Uint8Array | string | ReadableStream<Uint8Array> | null = null;
  /** A stream body's exact length, or -1 (chunked). */
  bodyLength = 0;
  /** A HEAD request: its response has no body. */
  headOnly = false;
  /** The request asked for `Connection: close`. */
  closeAfter = false;
  /** The request sent `Expect: 100-continue`. */
  expectContinue = false;

  // The current attempt (reset when a retry or redirect starts another).

  /** PoolWaiter: when it joined the queue, or -1. */
  queuedAt = -1;
  /** PoolWaiter: when it gives up waiting. */
  queueDeadline = Infinity;
  /** The connection serving the current attempt, or null. */
  connection: Connection | null = null;
  /** The current attempt's response head, or null. */
  responseHead: ResponseHead | null = null;
  /** Body bytes received in the current attempt. */
  bytes = 0;
  #queued = false;
  #wrote = false;
  // The body received with the head: the first chunk, then any others (usually none).
  #first: Uint8Array | null = null;
  #more: Uint8Array[] | null = null;
  #pendingBytes = 0;
  #source: BodySource | null = null;
  #discard = false;
  #discarded = 0;
  #misdirected = false;
  // The attempt is over: completed, failed, or given up.
  #over = false;

  #resolve: (response: Response) => void;
  #reject: (reason: unknown) => void;
  #abortLink: AbortLink | null = null;
  #href: string | null = null;
  // The event types this request itself wants (its hooks; everything for a trace target).
  #ownMask: number;

  /**
   * Starts a request. Throws TypeError for a request that cannot be encoded.
   *
   * @example
   * ```ts ignore
   * const task = new FetchTask(client, spec, null);
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
    // The fetch call's clock reading: the start mark, and (when an idle connection is handed
    // over in this same synchronous step) the time the connection was got and the request
    // written, the idle connection's expiry check and the headers deadline's base.
    const now = performance.now();
    this.marks = new TimingMarks(now);
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
    this.#exchangeFields();
    this.promise = new Promise<Response>(captureResolvers);
    this.#resolve = resolveSlot!;
    this.#reject = rejectSlot!;
    resolveSlot = rejectSlot = null;
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
    this.start(false, now);
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

  /** The Exchange fields of the current hop's request (a redirect may drop the body). */
  #exchangeFields(): void {
    const spec = this.spec;
    const body = spec.body;
    if (body === null) {
      this.body = null;
      this.bodyLength = 0;
    } else if (body.kind === "bytes") {
      this.body = body.bytes;
      this.bodyLength = body.bytes.length;
    } else if (body.kind === "text") {
      this.body = body.text;
      this.bodyLength = body.length;
    } else {
      this.body = body.stream;
      this.bodyLength = body.length;
    }
    this.headOnly = spec.method === "HEAD";
    this.closeAfter = spec.closeAfter;
    const headers = spec.headers;
    const expect = headers.length === 0 ? -1 : findHeader(headers, "expect");
    this.expectContinue = expect >= 0 && headers[expect + 1].toLowerCase() === "100-continue";
  }

  /** The route of the current hop (HeadTarget). */
  get route(): Route {
    return this.pool.target as Route;
  }

  /** The URL a response of the current hop reports: no fragment (Fetch §4.1 step 15). */
  get responseUrl(): string {
    const url = this.spec.url;
    // Requests for one URL text share its URL object (request.ts), never written into: the
    // last answer serves them without reading `href` again (a new string each time on Bun).
    if (url !== lastResponseUrlOf) {
      lastResponseUrl = hrefWithoutFragment(url);
      lastResponseUrlOf = url;
    }
    return lastResponseUrl;
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

  /**
   * Starts an attempt with the pool of the current URL (`fresh`: on a new connection only).
   * `now` is the caller's clock reading, if it has one.
   */
  start(fresh: boolean, now: number = performance.now()): void {
    // A listener of the retry or redirect event may have aborted the request.
    if (this.done) return;
    if (this.context.closed && !fresh && this.redirects === 0) {
      this.fail(new WirefetchError("ERR_CLIENT_CLOSED", "the client is closed"));
      return;
    }
    if (this.attempts++ > 0) this.#resetAttempt();
    if (this.wants(TRACE_BIT.getconn)) emitGetConn(this, now, this.spec.url.host);
    this.pool.acquire(this, fresh, now);
  }

  #resetAttempt(): void {
    this.queuedAt = -1;
    this.queueDeadline = Infinity;
    this.connection = null;
    this.responseHead = null;
    this.bytes = 0;
    this.#queued = false;
    this.#wrote = false;
    this.#first = null;
    this.#more = null;
    this.#pendingBytes = 0;
    this.#source = null;
    this.#discard = false;
    this.#discarded = 0;
    this.#misdirected = false;
    this.#over = false;
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
      const head = this.responseHead;
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
   * `watchBody` in abort.ts). Only requests with a signal pay for it.
   */
  #watchBody(controller: ReadableStreamDefaultController<Uint8Array> | null): void {
    const signal = this.spec.signal;
    const response = this.response;
    if (signal === null || signal.aborted || response === null) return;
    watchBody(signal, response, controller);
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
    this.end(this.connection, 0, rejection);
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
    this.finish();
    // Fetch "abort fetch": a request body stream is cancelled with the reason, synchronously.
    cancelBody(this.spec, reason);
    const response = this.response;
    if (response instanceof FetchResponse) response[ABORT](reason);
    this.#abortAttempt(reason);
    this.end(this.connection, this.bytes, reason);
    if (!this.delivered) this.#reject(reason);
  }

  /** Gives the attempt up: leaves the queue or closes the connection, errors a streaming body. */
  #abortAttempt(reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    const connection = this.connection;
    if (connection !== null) connection.abort("aborted", reason);
    else this.pool.cancel(this);
    this.#endBody(reason);
  }

  /** Whether a failed attempt may be sent again on a new connection. */
  #mayRetry(error: WirefetchError, info: FailureInfo): boolean {
    if (this.retried || this.delivered || !info.reused || info.responseStarted) return false;
    // Only the failures a stale keep-alive connection produces: the server closed or reset it
    // while it sat idle, and we wrote into the void.
    if (error.code !== "ERR_CONNECTION_CLOSED" && error.code !== "ERR_CONNECTION_RESET") {
      return false;
    }
    const spec = this.spec;
    const body = spec.body;
    if (info.nothingWritten) return body === null || body.kind !== "stream";
    if (body !== null && body.kind === "stream") return false;
    return REPLAYABLE_METHODS.has(spec.method) ||
      findHeader(spec.headers, "idempotency-key") >= 0 ||
      findHeader(spec.headers, "x-idempotency-key") >= 0;
  }

  /** Whether a response head is a redirect this task follows (or refuses). */
  #isRedirect(head: ResponseHead): boolean {
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
  #followRedirect(head: ResponseHead): void {
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
    this.#exchangeFields();
    this.start(false);
  }

  // PoolWaiter

  /** @internal */
  onConnection(connection: Connection, wasIdle: boolean, now: number): void {
    const marks = this.marks;
    // With listeners, events emitted since `now` was read are later, and event times must not
    // go backwards: read the clock again.
    if (this.tracing) now = performance.now();
    marks.gotConn = now;
    marks.reused = connection.requestsServed > 0;
    if (this.tracing) {
      emitGotConn(this, connection, now, wasIdle, this.#queued ? this.queuedAt : -1);
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

  /** @internal */
  onAcquireError(error: WirefetchError): void {
    if (this.#over) return;
    this.#over = true;
    this.fail(error);
  }

  /** @internal */
  onQueued(position: number): void {
    this.#queued = true;
    if (this.wants(TRACE_BIT.queued)) {
      this.emit(
        TRACE_BIT.queued,
        {
          type: "queued",
          requestId: this.requestId,
          connectionId: undefined,
          time: performance.now(),
          method: this.method,
          url: this.url,
          position,
        } satisfies TraceInfo<QueuedEvent>,
      );
    }
  }

  /** @internal A dial started on this request's behalf reports its phases to it. */
  dialObserver(): DialObserver {
    return new DialEvents(this);
  }

  // Exchange

  /** @internal */
  onDispatch(connection: Connection): void {
    this.connection = connection;
  }

  /** @internal */
  onHeadersWritten(): void {
    if (!this.tracing) return;
    emitHeadersWritten(this, this.connection!.id, this.headerList, this.expectContinue);
  }

  /** @internal */
  onRequestWritten(now: number): void {
    this.#wrote = true;
    // `now` was read before the connection was handed over; with listeners, the events emitted
    // since (gotconn, wroteheaders) are later, and event times must not go backwards.
    if (this.tracing) now = performance.now();
    this.marks.wrote = now;
    if (this.wants(TRACE_BIT.wroterequest)) {
      emitWroteRequest(this, this.connection!.id, now, undefined);
    }
  }

  /** @internal */
  onFirstByte(now: number): void {
    this.marks.firstByte = now;
    if (this.wants(TRACE_BIT.gotfirstresponsebyte)) {
      emitFirstByte(this, this.connection!.id, now);
    }
  }

  /** @internal */
  onInformational(status: number, headers: string[]): void {
    if (!this.tracing) return;
    emitInformational(this, this.connection!.id, status, headers);
  }

  /** @internal */
  onHead(head: ResponseHead): void {
    this.responseHead = head;
    if (this.#isRedirect(head)) this.#discard = true;
    else if (head.status === 421 && this.#mayRetryMisdirected()) {
      // Fetch §4.5 step 10: a 421 on a reused connection is sent once more on a new one (the
      // server may serve only some hosts on a connection, RFC 9110 §15.5.20).
      this.#discard = true;
      this.#misdirected = true;
    }
  }

  #mayRetryMisdirected(): boolean {
    const body = this.spec.body;
    return !this.retried && this.marks.reused && (body === null || body.kind !== "stream");
  }

  /** After the 421's body was dropped (or its connection closed): send again, fresh. */
  #retryMisdirected(): void {
    if (this.done) return;
    this.retried = true;
    if (this.wants(TRACE_BIT.retry)) emitRetry(this, this.connection?.id ?? 0, "421");
    this.start(true);
  }

  /** @internal */
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
    // Held until the response completes or starts streaming; a body that came with its head is
    // usually one chunk, kept without an array.
    if (this.#first === null) this.#first = chunk;
    else (this.#more ??= []).push(chunk);
    this.#pendingBytes += chunk.length;
  }

  /** @internal */
  onResponseStart(): void {
    const head = this.responseHead!;
    if (this.#discard) {
      const left = head.framing === "length" ? head.contentLength - this.#discarded : Infinity;
      if (left > DISCARD_LIMIT) {
        this.#over = true;
        this.connection!.abort("not-reusable");
        if (this.#misdirected) this.#retryMisdirected();
        else this.#followRedirect(head);
      }
      return;
    }
    if (this.done) return;
    const source = new BodySource(this);
    const stream = source.stream();
    const controller = source.controller!;
    const first = this.#first;
    if (first !== null) {
      controller.enqueue(first);
      const more = this.#more;
      if (more !== null) { for (const chunk of more) controller.enqueue(chunk); }
      this.#first = null;
      this.#more = null;
    }
    this.#source = source;
    const connection = this.connection!;
    leakRegistry.register(this, {
      connection,
      served: connection.requestsServed,
      context: this.context,
      subject: {
        requestId: this.requestId,
        method: this.method,
        url: this.url,
        hooks: this.hooks,
      },
    }, this);
    let response: Response;
    try {
      response = makeResponse(
        head,
        stream,
        this.responseUrl,
        this.redirects > 0,
        this.marks,
        this.decompress,
      );
    } catch (error) {
      this.#protocolFailure(error);
      return;
    }
    this.deliver(response);
    if (controller.desiredSize! <= 0) connection.pauseBody();
  }

  /** @internal */
  onComplete(_trailers: string[], now: number): void {
    if (this.#over) return;
    this.#over = true;
    const head = this.responseHead!;
    const connection = this.connection!;
    // One clock reading for putidleconn and the end of the request (same synchronous step): the
    // socket read's, or with listeners a fresh one, as events since that read (a 1xx) are later.
    if (this.tracing) {
      now = performance.now();
      if (this.wants(TRACE_BIT.putidleconn)) emitPutIdleConn(this, connection, now);
    }
    if (this.#discard) {
      if (this.#misdirected) this.#retryMisdirected();
      else this.#followRedirect(head);
      return;
    }
    const source = this.#source;
    if (source === null) {
      // The whole response came with the head: give the Response its bytes directly, which is
      // far cheaper to read than a stream and leaves nothing to release.
      const first = this.#first;
      const more = this.#more;
      const body = head.framing === "none"
        ? (this.headOnly ? null : EMPTY)
        : first === null
        ? EMPTY
        : more === null
        ? first
        : concat([first, ...more], this.#pendingBytes);
      this.#first = null;
      this.#more = null;
      let response: Response;
      try {
        response = makeResponse(
          head,
          body,
          this.responseUrl,
          this.redirects > 0,
          this.marks,
          this.decompress,
        );
      } catch (error) {
        this.fail(
          error instanceof WirefetchError
            ? error
            : new WirefetchError("ERR_PROTOCOL", (error as Error).message, { cause: error }),
        );
        return;
      }
      this.finish();
      this.end(connection, this.bytes, undefined, now);
      this.deliver(response);
      // The bytes stay bytes (far cheaper to read than a stream); the signal still reaches
      // the Response, whose body methods and body stream then fail with the reason.
      this.#watchBody(null);
      return;
    }
    leakRegistry.unregister(this);
    this.finish();
    this.#watchBody(source.controller!);
    this.end(connection, this.bytes, undefined, now);
    source.controller!.close();
  }

  /** @internal */
  onError(error: WirefetchError, info: FailureInfo): void {
    if (this.#over) return;
    this.#over = true;
    const connection = this.connection;
    if (!this.#wrote && connection !== null && this.wants(TRACE_BIT.wroterequest)) {
      emitWroteRequest(this, connection.id, performance.now(), error);
    }
    if (!this.delivered) {
      if (this.#mayRetry(error, info)) {
        this.retried = true;
        if (this.wants(TRACE_BIT.retry)) emitRetry(this, connection?.id ?? 0, error.code);
        this.start(true);
        return;
      }
      this.fail(error);
      return;
    }
    // Fetch "fetch termination": the body stream errors with undici's "terminated" TypeError.
    const failure = bodyError(error);
    this.#endBody(failure);
    this.finish();
    this.end(connection, this.bytes, failure);
  }

  // BodyOwner

  /** @internal */
  onBodyPull(): void {
    // Reading again: bytes drained into this body while it was forgotten are being consumed.
    releaseDrained(this);
    this.connection?.resumeBody(this);
  }

  /** @internal */
  onBodyCancel(reason: unknown): void {
    releaseDrained(this);
    if (this.#over) return;
    this.#over = true;
    leakRegistry.unregister(this);
    this.connection?.abort("body-cancelled");
    this.finish();
    this.end(this.connection, this.bytes, reason ?? new Error("body cancelled"));
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
    this.fail(
      error instanceof WirefetchError
        ? error
        : new WirefetchError("ERR_PROTOCOL", (error as Error).message, { cause: error }),
    );
  }
}
