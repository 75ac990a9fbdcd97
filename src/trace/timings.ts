/**
 * Per-request timings in the spirit of curl's `-w` variables and httpstat: where the time of one
 * `fetch` went, phase by phase and cumulatively.
 *
 * @module
 */

/** Where a request's time went, in milliseconds. */
export interface Timings {
  /** Waiting for a connection: queue, or a dial in progress for someone else. */
  readonly queued: number;
  /** Name lookup (0 when no dial, an IP literal, or a cached answer was instant). */
  readonly dns: number;
  /** TCP connect, Happy Eyeballs included (0 on a reused connection). */
  readonly connect: number;
  /** The proxy's tunnel handshake, CONNECT or SOCKS5 (0 without one or when reused). */
  readonly proxy: number;
  /** TLS handshake (0 for http: or a reused connection). */
  readonly tls: number;
  /** From having a connection to the request being written. */
  readonly written: number;
  /** From the request written to the first response byte (server processing). */
  readonly ttfb: number;
  /** From the first response byte to the end of the body (content transfer). */
  readonly transfer: number;
  /** From the fetch call to the end of the body. */
  readonly total: number;
  /** The connection had served an earlier request. */
  readonly reused: boolean;
  /** The body was read to its end; otherwise the numbers stop where the request did. */
  readonly complete: boolean;
  /** curl's cumulative points: time from the start to each milestone. */
  readonly cumulative: {
    readonly namelookup: number;
    readonly connect: number;
    readonly pretransfer: number;
    readonly starttransfer: number;
    readonly total: number;
  };
}

/**
 * Raw timestamps (performance.now()) collected during a request; -1 when a phase did not occur.
 */
export class TimingMarks {
  /** The fetch call. */
  start: number;
  /** A connection was handed over. */
  gotConn = -1;
  /** DNS lookup began / ended. */
  dnsStart = -1;
  dnsDone = -1;
  /** TCP connect began (first attempt) / ended (winner). */
  connectStart = -1;
  connectDone = -1;
  /** The proxy's tunnel handshake began / ended. */
  proxyStart = -1;
  proxyDone = -1;
  /** TLS handshake began / ended. */
  tlsStart = -1;
  tlsDone = -1;
  /** The request was written. */
  wrote = -1;
  /** The first response byte arrived. */
  firstByte = -1;
  /** The body ended (or the request failed). */
  end = -1;
  /** The connection was reused. */
  reused = false;
  /** The body was read to its end. */
  complete = false;
  /** The URL first requested, once a redirect changed it (for Resource Timing). */
  requestedUrl: string | null = null;

  /**
   * Marks starting at `start`: the caller's clock reading, when it has one (the fetch call
   * reads the clock once for several purposes), else now.
   *
   * @example
   * ```ts
   * import { TimingMarks } from "./timings.ts";
   * const marks = new TimingMarks(performance.now());
   * ```
   */
  constructor(start: number = performance.now()) {
    this.start = start;
  }

  /**
   * Turns the marks into durations.
   *
   * @example
   * ```ts
   * import { TimingMarks } from "./timings.ts";
   * console.log(new TimingMarks().toTimings().total >= 0);
   * ```
   */
  toTimings(): Timings {
    const now = this.end >= 0 ? this.end : performance.now();
    const span = (from: number, to: number): number => (from >= 0 && to >= from ? to - from : 0);
    const dns = span(this.dnsStart, this.dnsDone);
    const connect = span(this.connectStart, this.connectDone);
    const tls = span(this.tlsStart, this.tlsDone);
    const proxy = span(this.proxyStart, this.proxyDone);
    const gotConn = this.gotConn >= 0 ? this.gotConn : now;
    const dialTime = dns + connect + proxy + tls;
    const wrote = this.wrote >= 0 ? this.wrote : gotConn;
    const firstByte = this.firstByte >= 0 ? this.firstByte : now;
    const total = now - this.start;
    const queued = Math.max(0, gotConn - this.start - dialTime);
    const namelookup = queued + dns;
    const connectPoint = namelookup + connect;
    // curl counts a proxy's CONNECT in its appconnect (pretransfer) point, as we do.
    const pretransfer = connectPoint + proxy + tls;
    return {
      queued,
      dns,
      connect,
      proxy,
      tls,
      written: span(gotConn, wrote),
      ttfb: this.firstByte >= 0 ? span(wrote, firstByte) : 0,
      transfer: this.firstByte >= 0 ? span(firstByte, now) : 0,
      total,
      reused: this.reused,
      complete: this.complete,
      cumulative: {
        namelookup,
        connect: connectPoint,
        pretransfer,
        starttransfer: this.firstByte >= 0 ? firstByte - this.start : total,
        total,
      },
    };
  }
}

/**
 * The key under which a wirefetch Response carries its request's marks. A field set in the
 * Response's constructor costs nothing per request; a WeakMap entry per response costs a hash
 * insert and GC work.
 */
export const TIMING_MARKS: unique symbol = Symbol("wirefetch.timingMarks");

/**
 * The timings of the request that produced `response`, or undefined for a Response wirefetch
 * did not produce. Until the body has been read, `transfer` and `total` run up to now and
 * `complete` is false.
 *
 * @example
 * ```ts
 * import { fetch, timingsOf } from "@wirefetch/fetch";
 * const response = await fetch("http://127.0.0.1:8080/");
 * await response.text();
 * console.log(timingsOf(response)); // { queued, dns, connect, proxy, tls, written, ttfb, ... }
 * ```
 */
export function timingsOf(response: Response): Timings | undefined {
  const marks = (response as { [TIMING_MARKS]?: TimingMarks })[TIMING_MARKS];
  return marks instanceof TimingMarks ? marks.toTimings() : undefined;
}
