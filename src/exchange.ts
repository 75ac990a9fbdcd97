/**
 * One `fetch` call from arguments to finished body: a {@linkcode FetchTask} owns the promise, the
 * abort signal, redirects and the single retry; each use of a connection is an
 * {@linkcode Attempt}, which the pool queues and the connection serves.
 *
 * @module
 */

import { networkError, WirefetchError } from "./errors.ts";
import { encodeRequestHead } from "./h1/request_head.ts";
import type { ResponseHead } from "./h1/response_parser.ts";
import type { Connection, Exchange, FailureInfo } from "./pool/connection.ts";
import type { OriginPool, PoolWaiter } from "./pool/origin_pool.ts";
import { concat, findHeader, type RequestSpec } from "./request.ts";
import { type BodyOwner, BodySource, makeResponse } from "./response.ts";

/** What a fetch needs from its client. */
export interface ClientContext {
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** The User-Agent sent when the request has none, or null for none. */
  readonly userAgent: string | null;
  /** The pool for a URL's origin. */
  poolFor(url: URL): OriginPool;
  /** A streamed response was garbage-collected while its connection still waited on it. */
  onBodyLeak(url: string, connection: Connection): void;
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
  readonly url: string;
}

const leakRegistry = new FinalizationRegistry<LeakRecord>((record) => {
  const { connection, served } = record;
  if (connection.requestsServed !== served) return;
  if (connection.state === "closed" || connection.state === "idle") return;
  if (connection.exchange !== null) return;
  connection.abort("body-leak");
  record.context.onBodyLeak(record.url, connection);
});

function encodeHead(spec: RequestSpec, userAgent: string | null): Uint8Array {
  const url = spec.url;
  const user = spec.headers;
  const list: string[] = ["host", spec.host ?? url.host];
  for (let i = 0; i < user.length; i++) list.push(user[i]);
  if (findHeader(user, "accept") < 0) list.push("accept", "*/*");
  if (userAgent !== null && findHeader(user, "user-agent") < 0) {
    list.push("user-agent", userAgent);
  }
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
  return encodeRequestHead(spec.method, url.pathname + url.search, list);
}

/**
 * The life of one `fetch` call.
 *
 * @example
 * ```ts ignore
 * const response = await new FetchTask(client, spec).promise;
 * ```
 */
export class FetchTask implements EventListenerObject {
  /** Settles with the Response, or rejects as fetch does. */
  readonly promise: Promise<Response>;
  /** The request, updated as redirects are followed. */
  readonly spec: RequestSpec;
  /** The client that runs it. */
  readonly context: ClientContext;
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
  #resolve!: (response: Response) => void;
  #reject!: (reason: unknown) => void;

  /**
   * Starts a request. Throws TypeError for a request that cannot be encoded.
   *
   * @example
   * ```ts ignore
   * const task = new FetchTask(client, spec);
   * ```
   */
  constructor(context: ClientContext, spec: RequestSpec) {
    this.context = context;
    this.spec = spec;
    this.head = encodeHead(spec, context.userAgent);
    this.promise = new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const signal = spec.signal;
    if (signal !== null) {
      if (signal.aborted) {
        this.done = true;
        this.#reject(signal.reason);
        return;
      }
      signal.addEventListener("abort", this);
    }
    this.start(false);
  }

  /** Queues a new attempt with the pool of the current URL. */
  start(fresh: boolean): void {
    if (this.context.closed && !fresh && this.redirects === 0) {
      this.fail(new WirefetchError("ERR_CLIENT_CLOSED", "the client is closed"));
      return;
    }
    const pool = this.context.poolFor(this.spec.url);
    const attempt = new Attempt(this, pool);
    this.attempt = attempt;
    pool.acquire(attempt, fresh);
  }

  /** Hands the Response to the caller. */
  deliver(response: Response): void {
    this.delivered = true;
    this.#resolve(response);
  }

  /** Rejects the fetch with a network error (TypeError whose cause is the WirefetchError). */
  fail(error: WirefetchError): void {
    if (this.done) return;
    this.finish();
    this.#reject(networkError(error));
  }

  /** Marks the task finished and stops listening to its signal. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.spec.signal?.removeEventListener("abort", this);
  }

  /** The abort signal fired. */
  handleEvent(): void {
    if (this.done) return;
    const reason = this.spec.signal!.reason;
    const attempt = this.attempt;
    this.finish();
    attempt?.abort(reason);
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
    if (this.spec.redirect === "manual") return false;
    return findHeader(head.headers, "location") >= 0;
  }

  /** Follows the redirect in `head` (its body was already dropped). */
  followRedirect(head: ResponseHead): void {
    if (this.done) return;
    const spec = this.spec;
    const status = head.status;
    const location = head.headers[findHeader(head.headers, "location") + 1];
    if (spec.redirect === "error") {
      this.fail(
        new WirefetchError("ERR_REDIRECT", `redirect to ${location} with redirect mode "error"`),
      );
      return;
    }
    if (this.redirects >= 20) {
      this.fail(new WirefetchError("ERR_TOO_MANY_REDIRECTS", "more than 20 redirects"));
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
    spec.url = next;
    this.redirects++;
    try {
      this.head = encodeHead(spec, this.context.userAgent);
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
  queuedAt = -1;
  queueDeadline = Infinity;
  connection: Connection | null = null;
  reused = false;
  responseHead: ResponseHead | null = null;
  #pending: Uint8Array[] | null = null;
  #pendingBytes = 0;
  #source: BodySource | null = null;
  #discard = false;
  #discarded = 0;
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
  }

  /** Gives up: leaves the queue or closes the connection, and errors a streaming body. */
  abort(reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    const connection = this.connection;
    if (connection !== null) connection.abort("aborted");
    else this.pool.cancel(this);
    this.#endBody(reason);
  }

  // PoolWaiter

  onConnection(connection: Connection, reused: boolean): void {
    this.reused = reused;
    connection.dispatch(this);
  }

  onAcquireError(error: WirefetchError): void {
    if (this.#over) return;
    this.#over = true;
    this.task.fail(error);
  }

  onQueued(_position: number): void {}

  // Exchange

  onDispatch(connection: Connection): void {
    this.connection = connection;
  }

  onRequestWritten(): void {}

  onInformational(_status: number, _headers: string[]): void {}

  onHead(head: ResponseHead): void {
    this.responseHead = head;
    if (this.task.isRedirect(head)) this.#discard = true;
  }

  onBody(chunk: Uint8Array): void {
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
        task.followRedirect(head);
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
      url: task.spec.url.href,
    }, this);
    let response: Response;
    try {
      response = makeResponse(head, stream, task.spec.url.href, task.redirects > 0);
    } catch (error) {
      this.#protocolFailure(error);
      return;
    }
    task.deliver(response);
    if (controller.desiredSize! <= 0) connection.pauseBody();
  }

  onComplete(_trailers: string[]): void {
    if (this.#over) return;
    this.#over = true;
    const head = this.responseHead!;
    const task = this.task;
    if (this.#discard) {
      task.followRedirect(head);
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
        response = makeResponse(head, body, task.spec.url.href, task.redirects > 0);
      } catch (error) {
        task.fail(
          new WirefetchError("ERR_PROTOCOL", (error as Error).message, { cause: error }),
        );
        return;
      }
      task.finish();
      task.deliver(response);
      return;
    }
    leakRegistry.unregister(this);
    task.finish();
    source.controller!.close();
  }

  onError(error: WirefetchError, info: FailureInfo): void {
    if (this.#over) return;
    this.#over = true;
    const task = this.task;
    if (!task.delivered) {
      if (task.mayRetry(error, info)) {
        task.retried = true;
        task.start(true);
        return;
      }
      task.fail(error);
      return;
    }
    this.#endBody(networkError(error));
    task.finish();
  }

  // BodyOwner

  onBodyPull(): void {
    this.connection?.resumeBody();
  }

  onBodyCancel(_reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    leakRegistry.unregister(this);
    this.connection?.abort("body-cancelled");
    this.task.finish();
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
      new WirefetchError("ERR_PROTOCOL", (error as Error).message, { cause: error }),
    );
  }
}
