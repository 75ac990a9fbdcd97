/**
 * What the fetch glue needs from its client ({@linkcode ClientContext}), and what the pieces of
 * a request's life share to emit trace events ({@linkcode EventSource}).
 *
 * @module
 */

import type { Connection } from "../pool/connection.ts";
import type { OriginPool } from "../pool/origin_pool.ts";
import type { TraceSubject } from "../trace/events.ts";
import type { HookSet, TraceInfo } from "../trace/hooks.ts";
import type { TimingMarks } from "../trace/timings.ts";
import type { RouteOptions } from "../route/route.ts";

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

/** What a connection remembers of the last traced request it served, for its close events. */
export interface ConnectionSubject extends TraceSubject {
  /** That request's own trace target. */
  readonly trace: EventTarget | null;
  /** That request's own hooks. */
  readonly hooks: HookSet | null;
}

/** A request as the code that emits its trace events sees it (a `FetchTask`). */
export interface EventSource extends TraceSubject {
  /** The request's phase timestamps. */
  readonly marks: TimingMarks;
  /** True when events may be wanted at all. */
  readonly tracing: boolean;
  /** True when an event of type `bit` (a `TRACE_BIT`) must be built. */
  wants(bit: number): boolean;
  /** Delivers an event's fields to hooks and listeners. */
  emit<I extends TraceInfo>(bit: number, info: I): void;
}
