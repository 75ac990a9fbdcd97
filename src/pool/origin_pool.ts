/**
 * The connections of one origin (scheme, host, port): an idle stack reused most-recently-used
 * first, a cap on open connections with a FIFO queue behind it, and dials owned by the pool.
 *
 * The pool never looks at a header: it hands connections to waiters and takes them back.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import type { Dialer, DialObserver, DialTarget } from "../net/dial.ts";
import type { Socket } from "../runtime/socket.ts";
import { clearUnrefTimeout, setUnrefTimeout, type TimerHandle } from "../runtime/timers.ts";
import {
  type CloseReason,
  Connection,
  type ConnectionLimits,
  type ConnectionOwner,
} from "./connection.ts";
import type { DrainBudget } from "./drain.ts";
import { type Waiter, WaitQueue } from "./wait_queue.ts";

/**
 * A request waiting for a connection of this pool; the fetch layer implements it. A dial started
 * on its behalf reports its phases to it, even if the connection ends up serving another waiter
 * (as Go's transport reports dials to the request that caused them).
 */
export interface PoolWaiter extends Waiter {
  /**
   * The pool hands over a connection; the waiter must dispatch on it synchronously. `wasIdle`
   * tells whether it came from the idle list (rather than a finishing request or a new dial);
   * `now` is the clock reading of the synchronous step that freed or found it.
   */
  onConnection(connection: Connection, wasIdle: boolean, now: number): void;
  /** No connection could be had (dial failure, queue timeout, pool closed). */
  onAcquireError(error: WirefetchError): void;
  /** The request joined the queue at this 1-based position. */
  onQueued(position: number): void;
  /**
   * The observer of a dial started on this waiter's behalf. Asked only when a dial starts, so
   * a waiter served by an idle connection allocates none.
   */
  dialObserver(): DialObserver | null;
}

/** Pool-wide settings, shared by all origins of a client. */
export interface PoolSettings {
  /** Open plus connecting connections per origin. */
  readonly maxConnectionsPerHost: number;
  /** Idle connections kept per origin. */
  readonly maxIdlePerHost: number;
  /** Longest time a request waits in the queue (ms). */
  readonly queueTimeout: number;
  /** Longest time for DNS, TCP connect and TLS handshake together (ms). */
  readonly connectTimeout: number;
  /** Limits every connection enforces. */
  readonly limits: ConnectionLimits;
  /** Resolves, connects and handshakes. */
  readonly dialer: Dialer;
  /** The client's budget for draining forgotten bodies into memory (see drain.ts). */
  readonly drainBudget: DrainBudget;
  /**
   * How long (ms) a body must sit unread, paused, while requests queue at the cap, before its
   * connection is reclaimed (drained or detached).
   */
  readonly drainDelay: number;
}

/** What a pool reports to its client. */
export interface PoolHost {
  /** An origin pool's idle count changed by `delta`; the host may trim across origins. */
  onIdleChanged(pool: OriginPool, delta: number): void;
  /** A connection closed (for stats and events). */
  onConnectionClosed?(connection: Connection): void;
  /**
   * A connection paused on an unread body was reclaimed while requests queued: its body is
   * being drained into memory (`"drain"`), or it no longer counts against the cap (`"detach"`).
   */
  onBodyReclaimed?(connection: Connection, action: "drain" | "detach"): void;
}

/** Counts for one origin. */
export interface PoolStats {
  /** Connections established and not closed. */
  open: number;
  /** Open connections waiting in the pool. */
  idle: number;
  /** Open connections serving a request. */
  active: number;
  /** Dials in progress. */
  connecting: number;
  /** Requests waiting for a connection. */
  queued: number;
}

/**
 * The pool of one origin.
 *
 * @example
 * ```ts ignore
 * const pool = new OriginPool("http://127.0.0.1:8080", connectOptions, settings, host);
 * pool.acquire(waiter);
 * ```
 */
export class OriginPool implements ConnectionOwner {
  /** `scheme://host:port`. */
  readonly origin: string;
  /** Every open connection, idle or not. */
  readonly connections: Set<Connection> = new Set();
  // Most recently used at the end: reusing the warmest connection keeps the others idle long
  // enough to expire, so a burst's extra connections are shed once the burst ends.
  readonly #idle: Connection[] = [];
  readonly #queue: WaitQueue<PoolWaiter> = new WaitQueue();
  // Retries after a stale connection wait only for a dial of their own (never a reused
  // connection, which could be just as stale).
  readonly #fresh: WaitQueue<PoolWaiter> = new WaitQueue();
  #connecting = 0;
  /** Where and how this pool's connections are dialed (its route). */
  readonly target: DialTarget;
  #settings: PoolSettings;
  #host: PoolHost;
  #closing = false;
  #drained: (() => void) | null = null;
  #drainedPromise: Promise<void> | null = null;
  #queueTimer: TimerHandle | null = null;
  // Connections paused on unread bodies that no longer count against the cap (see reclaim).
  readonly #detached: Set<Connection> = new Set();
  #reclaimTimer: ReturnType<typeof setTimeout> | null = null;
  #destroyed: WirefetchError | null = null;
  readonly #dials: Set<AbortController> = new Set();

  /**
   * Creates the pool of one origin.
   *
   * @example
   * ```ts ignore
   * const pool = new OriginPool(origin, { hostname, port, tls: null }, settings, host);
   * ```
   */
  constructor(
    origin: string,
    target: DialTarget,
    settings: PoolSettings,
    host: PoolHost,
  ) {
    this.origin = origin;
    this.target = target;
    this.#settings = settings;
    this.#host = host;
  }

  /** The number of idle connections. */
  get idleCount(): number {
    return this.#idle.length;
  }

  /** When the oldest idle connection became idle, or Infinity. */
  get oldestIdleSince(): number {
    return this.#idle.length > 0 ? this.#idle[0].idleSince : Infinity;
  }

  /**
   * Gets a connection for `waiter`: an idle one at once, else a new dial, else a place in the
   * queue. With `fresh`, only a new connection will do (a retry after a stale one). `now` is
   * the caller's clock reading (the fetch call's), used for the idle expiry check and the
   * queueing time.
   */
  acquire(waiter: PoolWaiter, fresh = false, now: number = performance.now()): void {
    if (this.#destroyed !== null) {
      waiter.onAcquireError(this.#destroyed);
      return;
    }
    if (!fresh) {
      const idle = this.#idle;
      while (idle.length > 0) {
        const connection = idle.pop()!;
        this.#host.onIdleChanged(this, -1);
        if (connection.usableAt(now)) {
          waiter.queuedAt = -1;
          waiter.onConnection(connection, true, now);
          return;
        }
        connection.closeIdle("idle-timeout");
      }
    }
    const queue = fresh ? this.#fresh : this.#queue;
    waiter.queuedAt = now;
    waiter.queueDeadline = Infinity;
    const position = queue.push(waiter);
    const capacity =
      this.connections.size + this.#connecting < this.#settings.maxConnectionsPerHost;
    if (fresh || (capacity && this.#connecting < this.#waiting())) {
      // A dial of its own is on the way: connectTimeout bounds this wait, not queueTimeout.
      this.#dial(waiter.dialObserver());
    } else {
      // At the cap: the request waits for a connection to be freed, up to queueTimeout.
      waiter.queueDeadline = waiter.queuedAt + this.#settings.queueTimeout;
      waiter.onQueued(position);
      this.#armQueueTimer();
      this.#reclaimPass();
    }
  }

  /**
   * Dials a connection ahead of any request (`preconnect`): it lands idle, or serves a request
   * that arrived meanwhile. Nothing happens when an idle connection is already there or the
   * pool is at `maxConnectionsPerHost`. Rejects with the dial's error.
   */
  async preconnect(observer: DialObserver | null): Promise<void> {
    if (this.#closing) throw new WirefetchError("ERR_CLIENT_CLOSED", "the client is closed");
    if (
      this.#idle.length > 0 ||
      this.connections.size + this.#connecting >= this.#settings.maxConnectionsPerHost
    ) return;
    let socket: Socket;
    // Registered like any dial, so destroy() abandons it.
    const controller = new AbortController();
    try {
      socket = await this.#startDial(observer, controller);
    } catch (error) {
      this.#endDial(controller);
      this.#pump();
      this.#checkDrained();
      throw error;
    }
    this.#endDial(controller);
    if (this.#destroyed !== null) {
      socket.close();
      this.#checkDrained();
      throw this.#destroyed;
    }
    this.#adopt(socket);
  }

  /** Takes a waiter out of the queue (it was aborted); returns whether it was waiting. */
  cancel(waiter: PoolWaiter): boolean {
    return this.#queue.remove(waiter) || this.#fresh.remove(waiter);
  }

  /** Closes the idle connections. */
  closeIdle(reason: CloseReason = "client-closed"): void {
    for (const connection of this.#idle.splice(0)) {
      this.#host.onIdleChanged(this, -1);
      connection.closeIdle(reason);
    }
  }

  /** Closes the least recently used idle connection (the client trims across origins). */
  closeOldestIdle(reason: CloseReason): void {
    const connection = this.#idle.shift();
    if (connection === undefined) return;
    this.#host.onIdleChanged(this, -1);
    connection.closeIdle(reason);
  }

  /**
   * Closes gracefully: idle connections now, busy ones once their exchange ends; queued
   * requests are still served. Resolves when nothing is open or waiting.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.closeIdle("client-closed");
    // Nothing will queue for these connections any more: drain unread bodies now (within the
    // budget), so their connections can close while the responses stay readable.
    for (const connection of [...this.connections]) {
      if (connection.pausedSince >= 0) this.#reclaim(connection);
    }
    if (this.#isDrained()) return Promise.resolve();
    // Every caller (an explicit close and an `await using` exit, say) waits for the same drain.
    this.#drainedPromise ??= new Promise<void>((resolve) => (this.#drained = resolve));
    return this.#drainedPromise;
  }

  /**
   * Takes back a connection handed to a waiter that gave up before using it (it was aborted
   * from a trace listener); it goes to the next waiter or the idle list.
   */
  giveBack(connection: Connection): void {
    this.#handOff(connection, false, connection.keepAliveTimeoutMs, performance.now());
  }

  /**
   * Closes everything at once: queued requests and requests in flight fail with `error` (a
   * delivered response's body errors), dials are abandoned and every socket is closed.
   */
  destroy(error: WirefetchError): void {
    this.#closing = true;
    this.#destroyed ??= error;
    for (const waiter of [...this.#queue.drain(), ...this.#fresh.drain()]) {
      waiter.onAcquireError(error);
    }
    this.closeIdle("client-closed");
    if (this.#reclaimTimer !== null) {
      clearTimeout(this.#reclaimTimer);
      this.#reclaimTimer = null;
    }
    for (const dial of this.#dials) dial.abort();
    for (const connection of [...this.connections, ...this.#detached]) connection.destroy(error);
    this.#checkDrained();
  }

  /** Counts for {@linkcode Client.stats}. */
  stats(): PoolStats {
    const open = this.connections.size + this.#detached.size;
    const idle = this.#idle.length;
    return {
      open,
      idle,
      active: open - idle,
      connecting: this.#connecting,
      queued: this.#queue.length + this.#fresh.length,
    };
  }

  // ConnectionOwner

  /** @internal */
  onConnectionReusable(connection: Connection, now: number): void {
    if (connection.detached) {
      // Its forgotten body was read after all: back under the cap if there is room.
      if (
        this.#closing ||
        this.connections.size + this.#connecting >= this.#settings.maxConnectionsPerHost
      ) {
        connection.closeIdle("pool-full");
        return;
      }
      this.#detached.delete(connection);
      connection.detached = false;
      this.connections.add(connection);
    }
    this.#handOff(connection, false, connection.keepAliveTimeoutMs, now);
  }

  /** @internal */
  onConnectionParked(connection: Connection): void {
    // close() drained the bodies paused when it was called; one that fills its stream later
    // would otherwise hold close() until it is read or collected. Deferred: this runs inside the
    // connection's read handler.
    if (!this.#closing || this.#destroyed !== null) return;
    queueMicrotask(() => {
      if (connection.pausedSince >= 0 && this.#destroyed === null) this.#reclaim(connection);
    });
  }

  /** @internal */
  onConnectionDetached(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    this.#detached.add(connection);
    this.#host.onBodyReclaimed?.(connection, "detach");
    // Room under the cap: dial for the queue.
    this.#pump();
  }

  /** @internal */
  onConnectionClosed(connection: Connection): void {
    if (!this.connections.delete(connection) && !this.#detached.delete(connection)) return;
    const index = this.#idle.indexOf(connection);
    if (index >= 0) {
      this.#idle.splice(index, 1);
      this.#host.onIdleChanged(this, -1);
    }
    this.#host.onConnectionClosed?.(connection);
    this.#pump();
    this.#checkDrained();
  }

  #waiting(): number {
    return this.#queue.length + this.#fresh.length;
  }

  #handOff(
    connection: Connection,
    fromDial: boolean,
    keepAliveTimeoutMs: number,
    now: number,
  ): void {
    const waiter = (fromDial ? this.#fresh.shift() : undefined) ?? this.#queue.shift();
    if (waiter !== undefined) {
      connection.state = "idle";
      waiter.onConnection(connection, !fromDial, now);
      return;
    }
    if (this.#closing) {
      connection.closeIdle("client-closed");
      return;
    }
    connection.markIdle(now, keepAliveTimeoutMs);
    const idle = this.#idle;
    idle.push(connection);
    this.#host.onIdleChanged(this, 1);
    if (idle.length > this.#settings.maxIdlePerHost) {
      // Shed the coldest: it is the likeliest to have been closed by the server already.
      this.closeOldestIdle("pool-full");
    }
  }

  // Starts dials while requests wait and there is room for more connections.
  #pump(): void {
    const max = this.#settings.maxConnectionsPerHost;
    while (
      this.#connecting < this.#waiting() &&
      this.connections.size + this.#connecting < max
    ) {
      // The waiters before this one already have dials of their own.
      const waiter = this.#fresh.at(this.#connecting) ??
        this.#queue.at(this.#connecting - this.#fresh.length);
      this.#dial(waiter === undefined ? null : waiter.dialObserver());
    }
  }

  async #dial(observer: DialObserver | null): Promise<void> {
    let socket: Socket;
    const controller = new AbortController();
    try {
      socket = await this.#startDial(observer, controller);
    } catch (error) {
      this.#endDial(controller);
      // The dial served no one in particular; its failure goes to the longest waiter, which
      // is the request that has waited for a connection the longest.
      const waiter = this.#fresh.shift() ?? this.#queue.shift();
      waiter?.onAcquireError(error as WirefetchError);
      this.#pump();
      this.#checkDrained();
      return;
    }
    this.#endDial(controller);
    if (this.#destroyed !== null) {
      socket.close();
      this.#checkDrained();
      return;
    }
    this.#adopt(socket);
  }

  // The dial itself (the promise dialWithTimeout returns, no extra hop), counted in #connecting
  // and registered in #dials, so destroy() abandons it. Each call is paired with #endDial as
  // soon as it settles, in the same turn as what follows it, so #pump never sees a dial that
  // ended but whose connection is not counted yet.
  #startDial(observer: DialObserver | null, controller: AbortController): Promise<Socket> {
    this.#connecting++;
    this.#dials.add(controller);
    return dialWithTimeout(
      this.#settings.dialer,
      this.target,
      observer,
      this.#settings.connectTimeout,
      controller,
    );
  }

  #endDial(controller: AbortController): void {
    this.#dials.delete(controller);
    this.#connecting--;
  }

  // A dialed socket becomes a connection of this pool and goes to a waiter, or idle.
  #adopt(socket: Socket): void {
    const connection = new Connection(socket, this, this.#settings.limits, this.origin);
    this.connections.add(connection);
    this.#handOff(connection, true, -1, performance.now());
    this.#checkDrained();
  }

  #armQueueTimer(): void {
    if (this.#queueTimer !== null) return;
    // Only requests queued at the cap have deadlines, so they are not ordered along the queue:
    // find the earliest. Queues are short, and this runs once per expiry, not per request.
    let earliest = Infinity;
    for (let i = 0; i < this.#queue.length; i++) {
      const deadline = this.#queue.at(i)!.queueDeadline;
      if (deadline < earliest) earliest = deadline;
    }
    if (earliest === Infinity) return;
    this.#queueTimer = setUnrefTimeout(() => {
      this.#queueTimer = null;
      const now = performance.now();
      const expired: PoolWaiter[] = [];
      for (let i = 0; i < this.#queue.length; i++) {
        const waiter = this.#queue.at(i)!;
        if (waiter.queueDeadline <= now) expired.push(waiter);
      }
      for (const waiter of expired) {
        this.#queue.remove(waiter);
        waiter.onAcquireError(
          new WirefetchError(
            "ERR_QUEUE_TIMEOUT",
            `waited ${
              Math.round(now - waiter.queuedAt)
            } ms for a connection to ${this.origin} (queueTimeout ${this.#settings.queueTimeout} ms)`,
          ),
        );
      }
      this.#armQueueTimer();
    }, Math.max(0, earliest - performance.now()) + 1);
  }

  // While requests queue at the cap, reclaims connections paused on a body nobody has read for
  // `drainDelay` ms: at once when a request queues, then whenever the next paused body reaches
  // that age, or every `drainDelay` ms. A plain timer, not an unref'd one: queued requests are
  // work in progress, and they may wait on nothing else.
  #reclaimPass(): void {
    if (this.#queue.length === 0 || this.#destroyed !== null) return;
    const now = performance.now();
    const wait = this.#settings.drainDelay;
    let next = Infinity;
    // What queued requests lack: dials under way and drains in progress will serve some.
    let needed = this.#waiting() - this.#connecting;
    let eligible: Connection[] | null = null;
    for (const connection of this.connections) {
      if (connection.draining) needed--;
      const since = connection.pausedSince;
      if (since < 0) continue;
      if (now - since >= wait) (eligible ??= []).push(connection);
      else if (since + wait < next) next = since + wait;
    }
    if (eligible !== null) {
      // Longest paused first. Beyond what the queue lacks, bodies of known length that fit the
      // budget are drained too, so the next queued requests find a connection ready; nothing
      // more is detached than needed (a detached connection costs a socket and a dial).
      eligible.sort((a, b) => a.pausedSince - b.pausedSince);
      for (const connection of eligible) this.#reclaim(connection, needed-- <= 0);
    }
    if (this.#queue.length > 0 && this.#reclaimTimer === null) {
      this.#reclaimTimer = setTimeout(() => {
        this.#reclaimTimer = null;
        this.#reclaimPass();
      }, next === Infinity ? wait : Math.max(1, next - now));
    }
  }

  #reclaim(connection: Connection, drainOnly = false): void {
    // A detach is reported by onConnectionDetached, also when a drain outgrows the budget.
    if (connection.reclaim(this.#settings.drainBudget, drainOnly) === "drain") {
      this.#host.onBodyReclaimed?.(connection, "drain");
    }
  }

  #isDrained(): boolean {
    return this.connections.size === 0 && this.#detached.size === 0 && this.#connecting === 0 &&
      this.#waiting() === 0;
  }

  #checkDrained(): void {
    if (this.#drained !== null && this.#isDrained()) {
      const resolve = this.#drained;
      this.#drained = null;
      if (this.#queueTimer !== null) {
        clearUnrefTimeout(this.#queueTimer);
        this.#queueTimer = null;
      }
      if (this.#reclaimTimer !== null) {
        clearTimeout(this.#reclaimTimer);
        this.#reclaimTimer = null;
      }
      resolve();
    }
  }
}

async function dialWithTimeout(
  dialer: Dialer,
  target: DialTarget,
  observer: DialObserver | null,
  timeout: number,
  controller: AbortController,
): Promise<Socket> {
  const connecting = dialer.dial(target, observer, controller.signal);
  if (!(timeout > 0 && timeout < Infinity)) return await connecting;
  let timer: TimerHandle | null = null;
  const expired = new Promise<never>((_, reject) => {
    timer = setUnrefTimeout(() => {
      reject(
        new WirefetchError(
          "ERR_CONNECT_TIMEOUT",
          `connecting to ${target.host}:${target.port} took longer than ${timeout} ms`,
        ),
      );
      // Stop attempts still waiting for TCP; a socket that connects after we gave up anyway
      // must not leak.
      controller.abort();
      connecting.then((socket) => socket.close(), () => {});
    }, timeout);
  });
  try {
    return await Promise.race([connecting, expired]);
  } finally {
    clearUnrefTimeout(timer);
  }
}
