/**
 * One socket's life: an HTTP/1.1 connection that serves one exchange (request and response) at a
 * time, as an explicit state machine after hackney_conn:
 *
 * ```
 *            dispatch              request written           response complete, reusable
 *   idle ───────────────▶ sending ─────────────────▶ receiving ───────────────────────▶ idle
 *    │                       │                          │
 *    └── EOF, error, unsolicited bytes, expiry, abort, protocol error, not reusable ──▶ closed
 * ```
 *
 * The response may begin while the request body is still being written (a server that answers
 * early); the connection then stops writing and is never reused, since the server cannot have
 * read the request to its end.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import { encodeChunk, LAST_CHUNK } from "../h1/chunked.ts";
import {
  type ResponseHead,
  ResponseParser,
  type ResponseParserHandler,
} from "../h1/response_parser.ts";
import type { Socket, SocketListener } from "../runtime/socket.ts";
import { clearUnrefTimeout, setUnrefTimeout, type TimerHandle } from "../runtime/timers.ts";
import type { ConnectionHandle, ConnectionStats } from "./connection_info.ts";
import { tcpInfo } from "../tcp_info/tcp_info.ts";
import type { TcpInfo } from "../tcp_info/types.ts";
import { type DrainBudget, type DrainRecord, trackDrain } from "./drain.ts";

/** The states of a connection; `connecting` is counted by the pool while a dial runs. */
export type ConnectionState = "connecting" | "idle" | "sending" | "receiving" | "closed";

/** Why a connection closed; shown in stats and trace events. */
export type CloseReason =
  | "not-reusable"
  | "peer-closed"
  | "error"
  | "protocol-error"
  | "unsolicited-data"
  | "idle-timeout"
  | "aborted"
  | "body-cancelled"
  | "body-leak"
  | "timeout"
  | "pool-full"
  | "client-closed";

/** What went wrong with an exchange, for the retry decision in the fetch layer. */
export interface FailureInfo {
  /** The connection had served an earlier request (it came from the idle pool). */
  readonly reused: boolean;
  /** Some byte of the response had arrived. */
  readonly responseStarted: boolean;
  /** No byte of the request was handed to the socket. */
  readonly nothingWritten: boolean;
}

/** A request and its response, as the connection sees them. The fetch layer implements it. */
export interface Exchange {
  /** The encoded request head. */
  readonly head: Uint8Array;
  /**
   * The request body: bytes, or a string sent as UTF-8, with Content-Length; or a stream.
   */
  readonly body: Uint8Array | string | ReadableStream<Uint8Array> | null;
  /**
   * A string body's length in UTF-8 bytes; a stream body's exact length (Content-Length), or -1
   * to send it chunked.
   */
  readonly bodyLength: number;
  /** True for HEAD: the response has no body whatever its headers say. */
  readonly headOnly: boolean;
  /** True when the request itself asked for `Connection: close`. */
  readonly closeAfter: boolean;
  /** The request sent `Expect: 100-continue`: hold the body until 100 or a timeout. */
  readonly expectContinue: boolean;
  /** The connection begins serving this exchange. */
  onDispatch(connection: Connection): void;
  /** The request head was handed to the socket. */
  onHeadersWritten(): void;
  /** The request head and body were fully handed to the socket, at `now` (performance.now()). */
  onRequestWritten(now: number): void;
  /** The first byte of the response arrived, read at `now`. */
  onFirstByte(now: number): void;
  /** A 1xx response was skipped. */
  onInformational(status: number, headers: string[]): void;
  /** The final response head arrived. */
  onHead(head: ResponseHead): void;
  /** A piece of the body arrived (owned by the receiver). */
  onBody(chunk: Uint8Array): void;
  /** Called once per read when the head arrived and the body is still incomplete. */
  onResponseStart(): void;
  /**
   * The response is complete (its last byte was read at `now`); the connection was already
   * released or closed.
   */
  onComplete(trailers: string[], now: number): void;
  /** The exchange failed; the connection is closed. */
  onError(error: WirefetchError, info: FailureInfo): void;
}

/** What a connection needs from the pool that owns it. */
export interface ConnectionOwner {
  /**
   * The exchange completed and the connection may serve another request; `now` is the clock
   * reading of the read that completed it.
   */
  onConnectionReusable(connection: Connection, now: number): void;
  /** The connection closed for good. */
  onConnectionClosed(connection: Connection): void;
  /**
   * The connection is held by a body nobody reads and could not be drained within the budget:
   * it should stop counting against the connection cap (see {@linkcode Connection.reclaim}).
   */
  onConnectionDetached?(connection: Connection): void;
  /**
   * The connection paused on a body its consumer does not read (the stream is full). A closing
   * pool drains it then, as `close()` does for bodies already paused when it was called.
   */
  onConnectionParked?(connection: Connection): void;
}

/** The timeouts and limits a connection enforces, shared by all connections of a client. */
export interface ConnectionLimits {
  /** Longest wait for a response head, counted from the last progress in sending the request. */
  readonly headersTimeout: number;
  /** Longest wait between two body reads while the consumer is reading. */
  readonly bodyTimeout: number;
  /** Longest idle period in the pool. */
  readonly idleTimeout: number;
  /** Requests after which the connection closes (0: unlimited). */
  readonly maxRequestsPerConnection: number;
  /** Largest response head. */
  readonly maxHeaderSize: number;
  /** Take TCP_INFO snapshots at open and before close, and keep read/write timestamps. */
  readonly tcpInfo: boolean;
}

let nextId = 1;

const encoder = new TextEncoder();

// A request head and its small body go out as one write, copied into a view of a shared slab,
// front to back, rather than into a buffer of their own: on Deno every typed array is an
// allocation outside the heap, which costs more than the copy. No byte of a slab is written
// twice: a view handed to a socket keeps its slab alive until the runtime is done with it, and a
// full slab is replaced by a new one, never reused.
const SLAB_SIZE = 16 * 1024;
const SLAB_MAX_TAKE = 4 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/** A buffer of `length` bytes for one write: a slab view when small, else its own. */
function writeBuffer(length: number): Uint8Array {
  if (length > SLAB_MAX_TAKE) return new Uint8Array(length);
  if (slabUsed + length > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  // The view constructor, not `subarray` (which looks up the species constructor).
  const view = new Uint8Array(slab.buffer, slabUsed, length);
  slabUsed += length;
  return view;
}

// Go's Transport.ExpectContinueTimeout default: how long to wait for "100 Continue" before
// sending the body anyway (RFC 9110 §10.1.1 lets a client proceed without it).
const EXPECT_CONTINUE_TIMEOUT = 1000;

// Requests whose head and body together stay below this size go out in one write (one packet
// on loopback and usually on the wire); bigger bodies are written separately to avoid a copy.
const COALESCE_LIMIT = 65536;

// Request body chunks below a quarter of this are batched into writes of up to this size.
const WRITE_BATCH = 64 * 1024;

const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;
const setImmediate = (globalThis as { setImmediate?: (callback: () => void) => unknown })
  .setImmediate ?? ((callback: () => void) => setTimeout(callback, 0));
let lastYield = 0;

/**
 * Lets the event loop poll I/O before the next request body batch. Node's and Bun's
 * `setImmediate` does that; Deno's runs before I/O is polled, so there only a timer does, and a
 * timer costs a millisecond or more: Deno yields at most every 5 ms of sending.
 */
function yieldToEventLoop(): Promise<void> | null {
  if (!isDeno) return new Promise((resolve) => setImmediate(resolve));
  const now = performance.now();
  if (now - lastYield < 5) return null;
  lastYield = now;
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Whether `promise` is already settled, known after one microtask: a chunk already queued in a
 * stream settles its read at once, so its reaction runs before ours.
 */
async function settlesNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await null;
  return settled;
}

/**
 * An HTTP/1.1 connection over one socket.
 *
 * @example Serve one exchange (the fetch layer does this for you)
 * ```ts ignore
 * const connection = new Connection(socket, owner, limits, "http://127.0.0.1:8080");
 * connection.dispatch(exchange);
 * ```
 */
export class Connection implements SocketListener, ResponseParserHandler {
  /** A process-unique id, shown in stats and trace events. */
  readonly id: number = nextId++;
  /** The origin this connection talks to. */
  readonly origin: string;
  /** The socket. */
  readonly socket: Socket;
  /** The current state. */
  state: ConnectionState = "idle";
  /** Requests completed on this connection. */
  requestsServed = 0;
  /** Bytes received, head and body. */
  bytesRead = 0;
  /** Bytes handed to the socket. */
  bytesWritten = 0;
  /** When the connection was established (performance.now()). */
  readonly createdAt: number = performance.now();
  /** When the connection last became idle. */
  idleSince: number = this.createdAt;
  /** When an idle connection must no longer be used (keep-alive limits). */
  expiresAt = Infinity;
  /** Why the connection closed, once it has. */
  closeReason: CloseReason | null = null;
  /** The last request served, for attributing connection events (set when tracing). */
  subject: unknown = null;
  /** TCP_INFO right after the connection opened (with the `tcpInfo` option). */
  openInfo: TcpInfo | undefined = undefined;
  /** TCP_INFO just before the connection closed (with the `tcpInfo` option). */
  closeInfo: TcpInfo | undefined = undefined;
  /** When it closed (performance.now()), or -1. */
  closedAt = -1;
  /** Since when the body has been paused because its consumer does not read, or -1. */
  pausedSince = -1;
  /** The connection stopped counting against its pool's cap (its body was not drained). */
  detached = false;
  /** Read and write timestamps, kept with the `tcpInfo` option (-1 until it happens). */
  firstReadAt = -1;
  lastReadAt = -1;
  firstWriteAt = -1;
  lastWriteAt = -1;

  #owner: ConnectionOwner;
  #limits: ConnectionLimits;
  #parser: ResponseParser;
  // The exchange being served. While the consumer does not read (backpressure), the strong
  // reference is dropped and only `#parked` remains, so a Response the user forgot can be
  // garbage-collected and its connection reclaimed (see response_body.ts).
  #exchange: Exchange | null = null;
  #parked: WeakRef<Exchange> | null = null;
  #head: ResponseHead | null = null;
  #requestDone = false;
  #responseStartSignalled = false;
  #paused = false;
  #nothingWritten = true;
  #firstByte = false;
  #awaitingContinue: TimerHandle | null = null;
  #bodyReader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #handle: ConnectionHandle | null = null;
  #deadline = Infinity;
  #timer: TimerHandle | null = null;
  #timerAt = Infinity;
  #onTimerBound: () => void;
  // Set while a paused body is drained into memory (reclaim): counts the bytes read meanwhile.
  #drain: DrainRecord | null = null;

  /**
   * Wraps a connected socket.
   *
   * @example
   * ```ts ignore
   * const connection = new Connection(socket, pool, limits, "http://127.0.0.1:8080");
   * ```
   */
  constructor(socket: Socket, owner: ConnectionOwner, limits: ConnectionLimits, origin: string) {
    this.socket = socket;
    this.origin = origin;
    this.#owner = owner;
    this.#limits = limits;
    this.#parser = new ResponseParser(this, limits.maxHeaderSize);
    this.#onTimerBound = this.#onTimer.bind(this);
    if (limits.tcpInfo) {
      // Right after connect: the handshake's RTT sample and the initial window, before any
      // request traffic (conniver's "open" snapshot).
      this.openInfo = tcpInfo(socket).info;
    }
    socket.listen(this);
  }

  /** Counters and timestamps of this connection. */
  stats(): ConnectionStats {
    return {
      openedAt: this.createdAt,
      closedAt: this.closedAt,
      firstReadAt: this.firstReadAt,
      lastReadAt: this.lastReadAt,
      firstWriteAt: this.firstWriteAt,
      lastWriteAt: this.lastWriteAt,
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
      requestsServed: this.requestsServed,
    };
  }

  #noteWrite(): void {
    const now = performance.now();
    if (this.firstWriteAt < 0) this.firstWriteAt = now;
    this.lastWriteAt = now;
  }

  /** This connection as trace events hand it out (built on first use). */
  get handle(): ConnectionHandle {
    if (this.#handle === null) {
      const socket = this.socket;
      this.#handle = {
        id: this.id,
        localAddress: socket.localAddress,
        remoteAddress: socket.remoteAddress,
        fd: socket.fd,
        alpnProtocol: socket.alpnProtocol,
        tlsVersion: socket.tlsVersion ?? null,
      };
    }
    return this.#handle;
  }

  /** The exchange in progress, whether it is flowing or parked. */
  get exchange(): Exchange | null {
    return this.#exchange ?? this.#parked?.deref() ?? null;
  }

  /** True while an unread body is being drained into memory ({@linkcode Connection.reclaim}). */
  get draining(): boolean {
    return this.#drain !== null;
  }

  /** True once the connection closed (a getter, so checks after an await are not narrowed). */
  get isClosed(): boolean {
    return this.state === "closed";
  }

  /** True when the connection can take a new request now. */
  get usable(): boolean {
    return this.usableAt(performance.now());
  }

  /** True when the connection can take a new request at `now` (a clock reading in hand). */
  usableAt(now: number): boolean {
    return this.state === "idle" && now < this.expiresAt;
  }

  /**
   * Starts serving an exchange: writes the request and parses the response.
   *
   * @example
   * ```ts ignore
   * connection.dispatch(exchange);
   * ```
   *
   * `now` is the caller's clock reading (performance.now()) when it has one: the request's
   * deadline and its "written" mark reuse it instead of reading the clock again.
   */
  dispatch(exchange: Exchange, now: number = performance.now()): void {
    if (this.state !== "idle") {
      throw new Error(`connection ${this.id} dispatched while ${this.state}`);
    }
    this.state = "sending";
    this.#exchange = exchange;
    this.#parked = null;
    this.#head = null;
    this.#requestDone = false;
    this.#responseStartSignalled = false;
    this.#paused = false;
    this.#nothingWritten = true;
    this.#firstByte = false;
    this.#parser.start(exchange.headOnly);
    if (this.#limits.tcpInfo) this.#noteWrite();
    this.socket.ref();
    this.#setDeadline(now + this.#limits.headersTimeout);
    exchange.onDispatch(this);

    const body = exchange.body;
    const head = exchange.head;
    this.#nothingWritten = false;
    if (body !== null && exchange.expectContinue) {
      this.bytesWritten += head.length;
      this.socket.write(head);
      exchange.onHeadersWritten();
      this.#awaitingContinue = setUnrefTimeout(
        () => this.#sendBody(exchange),
        EXPECT_CONTINUE_TIMEOUT,
      );
      return;
    }
    if (body === null || body instanceof Uint8Array || typeof body === "string") {
      if (body === null || body.length === 0) {
        this.bytesWritten += head.length;
        this.socket.write(head);
      } else if (typeof body === "string") {
        const length = exchange.bodyLength;
        if (head.length + length <= COALESCE_LIMIT) {
          // Encoded straight behind the head: one buffer, one write.
          const data = writeBuffer(head.length + length);
          data.set(head);
          encoder.encodeInto(body, data.subarray(head.length));
          this.bytesWritten += data.length;
          this.socket.write(data);
        } else {
          this.bytesWritten += head.length + length;
          this.socket.write(head);
          this.socket.write(encoder.encode(body));
        }
      } else if (head.length + body.length <= COALESCE_LIMIT) {
        const data = writeBuffer(head.length + body.length);
        data.set(head);
        data.set(body, head.length);
        this.bytesWritten += data.length;
        this.socket.write(data);
      } else {
        this.bytesWritten += head.length + body.length;
        this.socket.write(head);
        this.socket.write(body);
      }
      exchange.onHeadersWritten();
      // Every byte is with the socket, which writes in order and reports failures to
      // onSocketError: the request is complete as far as framing goes. Waiting for the write
      // promise instead would race the response on runtimes whose writes resolve late.
      this.#requestWritten(now);
    } else {
      this.#writeStream(exchange, body, true);
    }
  }

  // Sends the body held back for "Expect: 100-continue" (on 100, or when the wait times out).
  #sendBody(exchange: Exchange): void {
    if (this.#awaitingContinue === null) return;
    clearUnrefTimeout(this.#awaitingContinue);
    this.#awaitingContinue = null;
    if (this.exchange !== exchange || this.state === "closed") return;
    const body = exchange.body;
    if (body instanceof Uint8Array || typeof body === "string") {
      const bytes = typeof body === "string" ? encoder.encode(body) : body;
      this.bytesWritten += bytes.length;
      this.socket.write(bytes);
      this.#requestWritten();
    } else if (body !== null) {
      this.#writeStream(exchange, body, false);
    }
  }

  async #writeStream(
    exchange: Exchange,
    stream: ReadableStream<Uint8Array>,
    withHead: boolean,
  ): Promise<void> {
    const chunked = exchange.bodyLength < 0;
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      reader = stream.getReader();
    } catch (error) {
      this.#failWrite(exchange, error);
      return;
    }
    this.#bodyReader = reader;
    try {
      if (withHead) {
        this.bytesWritten += exchange.head.length;
        const first = this.socket.write(exchange.head);
        exchange.onHeadersWritten();
        if (first !== null) await first;
      }
      let sent = 0;
      // Small chunks are copied into one batch and sent together: one write (and, chunked, one
      // HTTP chunk) per batch instead of per chunk. Larger chunks go out as they are.
      let batch: Uint8Array | null = null;
      let batched = 0;
      const flush = async (): Promise<void> => {
        const data = chunked ? encodeChunk(batch!.subarray(0, batched)) : batch!.slice(0, batched);
        batched = 0;
        this.bytesWritten += data.length;
        if (this.#limits.tcpInfo) this.#noteWrite();
        const pending = this.socket.write(data);
        if (pending !== null) await pending;
        // A socket that takes every write at once (Bun's on loopback; Deno's write ops complete
        // without a turn of the event loop) never makes us wait, and a stream that always has a
        // chunk ready would then keep the event loop to itself: let other work, an in-process
        // server included, run between batches.
        const turn = yieldToEventLoop();
        if (turn !== null) await turn;
        // Sending is progress: the head timeout counts from the last byte we sent.
        if (this.exchange === exchange && !this.#parser.started) {
          this.#setDeadline(performance.now() + this.#limits.headersTimeout);
        }
      };
      while (true) {
        if (this.exchange !== exchange || this.isClosed || this.#requestDone) {
          // The response finished early or the exchange died: stop reading the user's stream.
          reader.cancel().catch(() => {});
          return;
        }
        const read = reader.read();
        if (batched > 0 && !(await settlesNow(read))) {
          // The producer is not keeping up: send what we have rather than wait with it.
          await flush();
          if (this.exchange !== exchange || this.isClosed) {
            read.catch(() => {});
            reader.cancel().catch(() => {});
            return;
          }
        }
        const { done, value } = await read;
        if (this.exchange !== exchange || this.isClosed) {
          reader.cancel().catch(() => {});
          return;
        }
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw new TypeError("request body stream chunks must be Uint8Array");
        }
        if (value.length === 0) continue;
        sent += value.length;
        if (!chunked && sent > exchange.bodyLength) {
          throw new TypeError(
            `request body is longer than its Content-Length of ${exchange.bodyLength}`,
          );
        }
        if (value.length < WRITE_BATCH / 4) {
          batch ??= new Uint8Array(WRITE_BATCH);
          if (batched + value.length > WRITE_BATCH) await flush();
          batch.set(value, batched);
          batched += value.length;
          if (batched === WRITE_BATCH) await flush();
          continue;
        }
        if (batched > 0) await flush();
        const data = chunked ? encodeChunk(value) : value;
        this.bytesWritten += data.length;
        if (this.#limits.tcpInfo) this.#noteWrite();
        const pending = this.socket.write(data);
        if (pending !== null) await pending;
        const turn = yieldToEventLoop();
        if (turn !== null) await turn;
        // Sending is progress: the head timeout counts from the last byte we sent.
        if (this.exchange === exchange && !this.#parser.started) {
          this.#setDeadline(performance.now() + this.#limits.headersTimeout);
        }
      }
      if (batched > 0) {
        if (this.exchange !== exchange || this.isClosed) return;
        await flush();
      }
      if (!chunked && sent !== exchange.bodyLength) {
        throw new TypeError(
          `request body ended after ${sent} of its Content-Length of ${exchange.bodyLength} bytes`,
        );
      }
      if (chunked) {
        this.bytesWritten += LAST_CHUNK.length;
        const last = this.socket.write(LAST_CHUNK);
        if (last !== null) await last;
      }
      if (this.exchange !== exchange || this.isClosed) return;
      this.#requestWritten();
    } catch (error) {
      reader.cancel(error).catch(() => {});
      this.#failWrite(exchange, error);
    } finally {
      if (this.#bodyReader === reader) this.#bodyReader = null;
    }
  }

  #failWrite(exchange: Exchange, error: unknown): void {
    if (this.exchange !== exchange || this.isClosed) return;
    // The server saw a partial request: this connection can never be used again.
    this.#close("error");
    this.#exchange = null;
    this.#parked = null;
    const wrapped = error instanceof WirefetchError ? error : new WirefetchError(
      "ERR_SOCKET",
      `request body failed: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
    exchange.onError(wrapped, this.#failureInfo());
  }

  #requestWritten(now: number = performance.now()): void {
    this.#requestDone = true;
    if (this.state === "sending") this.state = "receiving";
    const exchange = this.exchange;
    if (exchange === null) return;
    exchange.onRequestWritten(now);
    if (this.#parser.complete) this.#finishExchange(exchange, now);
  }

  /** Stops reading the response body until {@linkcode resumeBody} (consumer backpressure). */
  pauseBody(): void {
    if (this.#paused || this.state === "closed") return;
    const exchange = this.#exchange;
    if (exchange === null) return;
    // Being drained: keep reading; the stream holds the bytes beyond its high-water mark.
    if (this.#drain !== null) return;
    this.#park(exchange);
    this.#owner.onConnectionParked?.(this);
  }

  #park(exchange: Exchange): void {
    this.pausedSince = performance.now();
    this.#paused = true;
    this.socket.pause();
    this.#parked = new WeakRef(exchange);
    this.#exchange = null;
    // Nobody waits for bytes while the consumer does not read, so no body timeout applies and
    // the process may exit if the consumer has forgotten the response.
    this.#setDeadline(Infinity);
    this.socket.unref();
  }

  /**
   * Reads the response body again after {@linkcode pauseBody}. With `of`, only if that exchange
   * is the one paused: a body drained earlier may pull after its connection moved on.
   */
  resumeBody(of?: Exchange): void {
    if (!this.#paused || this.state === "closed") return;
    const exchange = this.#parked?.deref() ?? null;
    if (of !== undefined && of !== exchange) return;
    this.pausedSince = -1;
    this.#paused = false;
    this.#parked = null;
    if (exchange === null) return;
    this.#exchange = exchange;
    this.socket.ref();
    this.#setDeadline(performance.now() + this.#limits.bodyTimeout);
    this.socket.resume();
  }

  /**
   * Frees a connection paused on a body nobody reads (the pool calls it when requests queue at
   * the cap): the rest of the body is drained into the body stream's memory, counted against
   * `budget`, after which the connection is reused as usual. A body whose remaining length
   * (known from Content-Length) does not fit the budget is not drained; neither is the rest of
   * one that outgrows it while draining: the connection is detached instead (the owner's
   * `onConnectionDetached`), and stays paused until the body is read, cancelled or collected.
   * With `drainOnly`, a body is drained only if its remaining length is known and fits, and
   * nothing is detached. Returns what was done, or null.
   *
   * @example
   * ```ts ignore
   * connection.reclaim({ limit: 64 * 1024 * 1024, used: 0 }, false);
   * ```
   */
  reclaim(budget: DrainBudget, drainOnly: boolean): "drain" | "detach" | null {
    if (!this.#paused || this.state === "closed" || this.detached) return null;
    const exchange = this.#parked?.deref() ?? null;
    if (exchange === null) return null;
    const head = this.#head;
    const known = head !== null && head.framing === "length";
    const left = known ? head.contentLength - this.#parser.bodyBytes : 0;
    if (budget.used >= budget.limit || left > budget.limit - budget.used) {
      if (drainOnly) return null;
      this.#detach();
      return "detach";
    }
    if (drainOnly && !known) return null;
    this.#drain = trackDrain(exchange, budget);
    this.pausedSince = -1;
    this.#paused = false;
    this.#parked = null;
    this.#exchange = exchange;
    // A queued request now waits on this connection: it must keep the process alive.
    this.socket.ref();
    this.#setDeadline(performance.now() + this.#limits.bodyTimeout);
    this.socket.resume();
    return "drain";
  }

  #detach(): void {
    this.#drain = null;
    const exchange = this.#exchange;
    if (exchange !== null) this.#park(exchange);
    if (this.detached) return;
    this.detached = true;
    this.#owner.onConnectionDetached?.(this);
  }

  /**
   * Ends the connection now: its exchange (in flight, or paused on an unread body) fails with
   * `error`, and the socket is closed (`client.destroy()`).
   *
   * @example
   * ```ts ignore
   * connection.destroy(new WirefetchError("ERR_CLIENT_DESTROYED", "destroyed"));
   * ```
   */
  destroy(error: WirefetchError): void {
    if (this.state === "closed") return;
    const exchange = this.state === "idle" ? null : this.exchange;
    if (exchange === null) this.#close("client-closed");
    else this.#fail(exchange, error, "client-closed");
  }

  /**
   * Closes the connection because its exchange was aborted or its body cancelled or leaked. The
   * exchange is not notified: its owner initiated this.
   *
   * @example
   * ```ts ignore
   * connection.abort("aborted");
   * ```
   */
  abort(reason: CloseReason, bodyCancelReason?: unknown): void {
    if (this.state === "closed") return;
    const reader = this.#bodyReader;
    if (reader !== null && bodyCancelReason !== undefined) {
      // Fetch "abort fetch": the request body stream is cancelled with the abort reason.
      this.#bodyReader = null;
      reader.cancel(bodyCancelReason).catch(() => {});
    }
    this.#exchange = null;
    this.#parked = null;
    this.#close(reason);
  }

  /**
   * Closes an idle connection (idle expiry, pool shrinking, client close).
   *
   * @example
   * ```ts ignore
   * connection.closeIdle("client-closed");
   * ```
   */
  closeIdle(reason: CloseReason): void {
    if (this.state !== "idle") return;
    this.#close(reason);
  }

  /** Called by the pool when the connection enters the idle list. */
  markIdle(now: number, keepAliveTimeoutMs: number): void {
    this.state = "idle";
    this.idleSince = now;
    let expiry = this.#limits.idleTimeout;
    if (keepAliveTimeoutMs >= 0) {
      // The server announced when it will drop idle connections. Stop using the connection a
      // little before that, so a request never races the server's close (the classic "socket
      // hang up" on a stale connection). The margin is a quarter, at most one second.
      const margin = Math.min(1000, keepAliveTimeoutMs / 4);
      expiry = Math.min(expiry, keepAliveTimeoutMs - margin);
    }
    this.expiresAt = now + expiry;
    this.#setDeadline(this.expiresAt);
    this.socket.unref();
  }

  /** The keep-alive timeout the last response announced, or -1. */
  get keepAliveTimeoutMs(): number {
    return this.#head?.keepAliveTimeoutMs ?? -1;
  }

  // SocketListener

  /** @internal */
  onSocketData(chunk: Uint8Array): void {
    this.bytesRead += chunk.length;
    // One clock reading per read serves the first-byte and end marks and the body deadline.
    const now = performance.now();
    if (this.#limits.tcpInfo) {
      if (this.firstReadAt < 0) this.firstReadAt = now;
      this.lastReadAt = now;
    }
    const exchange = this.exchange;
    if (exchange === null) {
      // RFC 9112 §9.3.1: a client must not pipeline here, so bytes on an idle connection are not
      // a response to anything; the framing of whatever follows cannot be trusted.
      this.#close(this.state === "idle" ? "unsolicited-data" : "protocol-error");
      return;
    }
    if (!this.#firstByte) {
      this.#firstByte = true;
      exchange.onFirstByte(now);
    }
    let consumed: number;
    try {
      consumed = this.#parser.execute(chunk);
    } catch (error) {
      this.#fail(exchange, error as WirefetchError, "protocol-error");
      return;
    }
    if (this.state === "closed") return;
    if (this.#parser.complete) {
      if (consumed < chunk.length) {
        // Bytes after a complete response: the server's framing disagrees with ours, so the
        // next response could not be found reliably. Deliver this one, then close.
        this.#head = this.#head === null ? null : { ...this.#head, keepAlive: false };
      }
      this.#finishExchange(exchange, now);
      return;
    }
    if (this.#parser.headDone) {
      if (!this.#responseStartSignalled) {
        this.#responseStartSignalled = true;
        exchange.onResponseStart();
      }
      if (!this.#paused) this.#setDeadline(now + this.#limits.bodyTimeout);
    }
  }

  /** @internal */
  onSocketEnd(): void {
    const exchange = this.exchange;
    if (exchange === null || this.state === "idle") {
      this.#close("peer-closed");
      return;
    }
    try {
      this.#parser.finish();
    } catch (error) {
      this.#fail(exchange, error as WirefetchError, "peer-closed");
      return;
    }
    // A close-delimited body ended normally; the connection cannot be reused.
    this.#finishExchange(exchange);
  }

  /** @internal */
  onSocketError(error: WirefetchError): void {
    const exchange = this.exchange;
    if (exchange === null || this.state === "idle") {
      this.#close("error");
      return;
    }
    this.#fail(exchange, error, "error");
  }

  // ResponseParserHandler

  /** @internal */
  onInformational(status: number, headers: string[]): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    exchange.onInformational(status, headers);
    if (status === 100 && this.#awaitingContinue !== null) this.#sendBody(exchange);
  }

  /** @internal */
  onHead(head: ResponseHead): void {
    this.#head = head;
    if (this.#awaitingContinue !== null) {
      // A final answer before "100 Continue": the server does not want the body (RFC 9110
      // §10.1.1). The request stays incomplete, so the connection is closed afterwards.
      clearUnrefTimeout(this.#awaitingContinue);
      this.#awaitingContinue = null;
    }
    this.exchange?.onHead(head);
  }

  /** @internal */
  onBody(chunk: Uint8Array): void {
    this.exchange?.onBody(chunk);
    const drain = this.#drain;
    if (drain !== null && !drain.add(chunk.length)) this.#detach();
  }

  #finishExchange(exchange: Exchange, now: number = performance.now()): void {
    if (!this.#requestDone) {
      // The response is complete but our request is not: the server will not read the rest,
      // so the connection is unusable. The body writer sees the state change and stops.
      this.#head = this.#head === null ? null : { ...this.#head, keepAlive: false };
      if (this.#parser.complete && this.state === "sending") this.state = "receiving";
    }
    this.#exchange = null;
    this.#parked = null;
    this.#drain = null;
    this.pausedSince = -1;
    this.requestsServed++;
    const head = this.#head;
    const max = this.#limits.maxRequestsPerConnection;
    const reusable = head !== null && head.keepAlive && this.#requestDone &&
      !exchange.closeAfter && (max === 0 || this.requestsServed < max) &&
      head.keepAliveMax !== 0;
    const trailers = this.#parser.trailers;
    if (reusable) {
      if (this.#paused) {
        // The chunk that filled the consumer's queue was also the body's last: reading was
        // paused for backpressure. An idle connection must read again, or it would never see
        // the next response (nor the server's FIN while it waits in the pool).
        this.socket.resume();
        this.socket.ref();
      }
      this.#paused = false;
      this.#setDeadline(Infinity);
      // Go's transport returns the connection before the final read returns EOF; so do we, so a
      // caller that reads to the end and then sends the next request finds it idle.
      this.state = "idle";
      this.#owner.onConnectionReusable(this, now);
    } else {
      this.#close("not-reusable");
    }
    exchange.onComplete(trailers, now);
  }

  #fail(exchange: Exchange, error: WirefetchError, reason: CloseReason): void {
    const info = this.#failureInfo();
    this.#exchange = null;
    this.#parked = null;
    this.#close(reason);
    exchange.onError(error, info);
  }

  #failureInfo(): FailureInfo {
    return {
      reused: this.requestsServed > 0,
      responseStarted: this.#parser.started,
      nothingWritten: this.#nothingWritten,
    };
  }

  #close(reason: CloseReason): void {
    if (this.state === "closed") return;
    if (this.#limits.tcpInfo) {
      // The last look at the kernel's view while the socket still exists.
      this.closeInfo = tcpInfo(this.socket).info;
    }
    this.closedAt = performance.now();
    this.state = "closed";
    this.closeReason = reason;
    this.#drain = null;
    this.pausedSince = -1;
    if (this.#awaitingContinue !== null) {
      clearUnrefTimeout(this.#awaitingContinue);
      this.#awaitingContinue = null;
    }
    if (this.#timer !== null) {
      clearUnrefTimeout(this.#timer);
      this.#timer = null;
    }
    this.socket.close();
    const reader = this.#bodyReader;
    if (reader !== null) {
      // Fetch §"abort fetch": the request body is cancelled too, so its producer stops.
      this.#bodyReader = null;
      reader.cancel(new WirefetchError("ERR_SOCKET", `connection closed (${reason})`)).catch(
        () => {},
      );
    }
    this.#owner.onConnectionClosed(this);
  }

  // One lazily re-armed timer per connection serves every deadline (headers, body, idle), so a
  // keep-alive request costs an assignment instead of a setTimeout/clearTimeout pair.
  #setDeadline(at: number): void {
    this.#deadline = at;
    if (at === Infinity) return;
    if (this.#timer !== null && this.#timerAt <= at) return;
    if (this.#timer !== null) clearUnrefTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setUnrefTimeout(this.#onTimerBound, Math.max(0, at - performance.now()) + 1);
  }

  #onTimer(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.state === "closed" || this.#deadline === Infinity) return;
    const now = performance.now();
    if (now < this.#deadline) {
      const at = this.#deadline;
      this.#deadline = Infinity;
      this.#setDeadline(at);
      return;
    }
    if (this.state === "idle") {
      this.#close("idle-timeout");
      return;
    }
    const exchange = this.exchange;
    if (exchange === null) {
      this.#close("timeout");
      return;
    }
    const headDone = this.#parser.headDone;
    const error = headDone
      ? new WirefetchError(
        "ERR_BODY_TIMEOUT",
        `no response body data for ${this.#limits.bodyTimeout} ms`,
      )
      : new WirefetchError(
        "ERR_HEADERS_TIMEOUT",
        `no response headers within ${this.#limits.headersTimeout} ms`,
      );
    this.#fail(exchange, error, "timeout");
  }
}
