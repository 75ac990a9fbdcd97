/**
 * Trace hooks: Go's `httptrace.ClientTrace` in TypeScript. A plain object whose methods are named
 * like the trace event types receives each event's fields as one plain object, with none of the
 * runtimes' `Event` machinery (constructing and dispatching an `Event` costs 0.5–0.8 µs; calling
 * a method costs nanoseconds).
 *
 * Hooks are isolated: one that throws, or returns a promise that rejects, is reported once per
 * hook and client with `console.error` and the request goes on. The same isolation is given to
 * EventTarget listeners added on a client (see {@linkcode isolateListener}).
 *
 * @module
 */

import {
  type BodyLeakEvent,
  type BodyReclaimEvent,
  type ConnCloseEvent,
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
  TRACE_EVENT_TYPES,
  type TraceEvent,
  type WroteHeaderFieldEvent,
  type WroteRequestEvent,
} from "./events.ts";

/**
 * The fields of a trace event as a plain object: what a hook receives. `TraceInfo<GotConnEvent>`
 * has `type`, `requestId`, `connectionId`, `time`, `method`, `url` and `GotConnEvent`'s own
 * fields, and nothing of `Event` (no `target`, no `preventDefault`).
 *
 * @example
 * ```ts
 * import type { GotConnEvent, TraceInfo } from "@wirefetch/fetch";
 * const log = (info: TraceInfo<GotConnEvent>) => console.log(info.connectionId, info.reused);
 * ```
 */
export type TraceInfo<E extends TraceEvent = TraceEvent> = Omit<E, Exclude<keyof Event, "type">>;

/**
 * Hooks called during a request, one optional method per trace event type (the names of
 * `TRACE_EVENT_TYPES`). Pass them as `new Client({ hooks })` for every request of a client, or
 * as `fetch(url, { hooks })` for one request.
 *
 * - Which methods exist is read once, when the client (or the request) is created; methods
 *   added to the object later are not called. Own enumerable function properties that are not
 *   event types (`gotConn` for `gotconn`) are refused with a TypeError.
 * - Each method is called as a method of the object you passed (`this` is that object, so a
 *   class instance works), synchronously, at the moment of the event.
 * - The return value is ignored and never awaited (a hook cannot slow a request down). A hook
 *   that throws, or returns a promise that rejects, is reported with `console.error` (once per
 *   hook type and client) and the request goes on as if the hook had returned.
 * - The info object is fresh for each call; keep it if you like.
 *
 * @example
 * ```ts
 * import { Client, type TraceHooks } from "@wirefetch/fetch";
 *
 * const hooks: TraceHooks = {
 *   gotconn: (info) => console.log("conn", info.connectionId, info.reused ? "reused" : "new"),
 *   responsedone: (info) => console.log(info.url, info.timings.total, "ms"),
 * };
 * await using client = new Client({ hooks });
 * ```
 */
export interface TraceHooks {
  /** See `GetConnEvent`. */
  getconn?(info: TraceInfo<GetConnEvent>): void;
  /** See `QueuedEvent`. */
  queued?(info: TraceInfo<QueuedEvent>): void;
  /** See `DnsStartEvent`. */
  dnsstart?(info: TraceInfo<DnsStartEvent>): void;
  /** See `DnsDoneEvent`. */
  dnsdone?(info: TraceInfo<DnsDoneEvent>): void;
  /** See `ConnectStartEvent`. */
  connectstart?(info: TraceInfo<ConnectStartEvent>): void;
  /** See `ConnectDoneEvent`. */
  connectdone?(info: TraceInfo<ConnectDoneEvent>): void;
  /** See `ProxyConnectStartEvent`. */
  proxyconnectstart?(info: TraceInfo<ProxyConnectStartEvent>): void;
  /** See `ProxyConnectDoneEvent`. */
  proxyconnectdone?(info: TraceInfo<ProxyConnectDoneEvent>): void;
  /** See `TlsHandshakeStartEvent`. */
  tlshandshakestart?(info: TraceInfo<TlsHandshakeStartEvent>): void;
  /** See `TlsHandshakeDoneEvent`. */
  tlshandshakedone?(info: TraceInfo<TlsHandshakeDoneEvent>): void;
  /** See `DequeuedEvent`. */
  dequeued?(info: TraceInfo<DequeuedEvent>): void;
  /** See `GotConnEvent`. */
  gotconn?(info: TraceInfo<GotConnEvent>): void;
  /** See `WroteHeaderFieldEvent`. */
  wroteheaderfield?(info: TraceInfo<WroteHeaderFieldEvent>): void;
  /** See `PhaseEvent`. */
  wroteheaders?(info: TraceInfo<PhaseEvent>): void;
  /** See `PhaseEvent`. */
  wait100continue?(info: TraceInfo<PhaseEvent>): void;
  /** See `WroteRequestEvent`. */
  wroterequest?(info: TraceInfo<WroteRequestEvent>): void;
  /** See `PhaseEvent`. */
  gotfirstresponsebyte?(info: TraceInfo<PhaseEvent>): void;
  /** See `Got1xxResponseEvent`. */
  got1xxresponse?(info: TraceInfo<Got1xxResponseEvent>): void;
  /** See `PhaseEvent`. */
  got100continue?(info: TraceInfo<PhaseEvent>): void;
  /** See `RedirectEvent`. */
  redirect?(info: TraceInfo<RedirectEvent>): void;
  /** See `RetryEvent`. */
  retry?(info: TraceInfo<RetryEvent>): void;
  /** See `PutIdleConnEvent`. */
  putidleconn?(info: TraceInfo<PutIdleConnEvent>): void;
  /** See `ResponseDoneEvent`. */
  responsedone?(info: TraceInfo<ResponseDoneEvent>): void;
  /** See `PhaseEvent`. */
  idletimeout?(info: TraceInfo<PhaseEvent>): void;
  /** See `ConnCloseEvent`. */
  connclose?(info: TraceInfo<ConnCloseEvent>): void;
  /** See `BodyLeakEvent`. */
  bodyleak?(info: TraceInfo<BodyLeakEvent>): void;
  /** See `BodyReclaimEvent`. */
  bodyreclaim?(info: TraceInfo<BodyReclaimEvent>): void;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(TRACE_EVENT_TYPES);

/**
 * The bit of each trace event type in a trace mask (internal): the request path asks
 * `mask & TRACE_BIT.gotconn` instead of looking a type name up in maps, which is one load and an
 * AND per event. Same order as `TRACE_EVENT_TYPES`.
 */
export const TRACE_BIT = {
  getconn: 1 << 0,
  queued: 1 << 1,
  dnsstart: 1 << 2,
  dnsdone: 1 << 3,
  connectstart: 1 << 4,
  connectdone: 1 << 5,
  proxyconnectstart: 1 << 6,
  proxyconnectdone: 1 << 7,
  tlshandshakestart: 1 << 8,
  tlshandshakedone: 1 << 9,
  dequeued: 1 << 10,
  gotconn: 1 << 11,
  wroteheaderfield: 1 << 12,
  wroteheaders: 1 << 13,
  wait100continue: 1 << 14,
  wroterequest: 1 << 15,
  gotfirstresponsebyte: 1 << 16,
  got1xxresponse: 1 << 17,
  got100continue: 1 << 18,
  redirect: 1 << 19,
  retry: 1 << 20,
  putidleconn: 1 << 21,
  responsedone: 1 << 22,
  idletimeout: 1 << 23,
  connclose: 1 << 24,
  bodyleak: 1 << 25,
  bodyreclaim: 1 << 26,
} as const;

/** Every bit of {@linkcode TRACE_BIT}: what a per-request `trace` target receives. */
export const ALL_TRACE_BITS: number = 2 ** TRACE_EVENT_TYPES.length - 1;

/**
 * The mask of trace event `types` (names that are not event types are ignored).
 *
 * @example
 * ```ts
 * import { maskOf, TRACE_BIT } from "./hooks.ts";
 * console.log(maskOf(["gotconn"]) === TRACE_BIT.gotconn); // true
 * ```
 */
export function maskOf(types: Iterable<string>): number {
  let mask = 0;
  for (const type of types) {
    const at = TRACE_EVENT_TYPES.indexOf(type);
    if (at >= 0) mask |= 1 << at;
  }
  return mask;
}

/**
 * Where a client reports what its hooks and listeners threw: `console.error`, once per
 * (kind, event type), so a hook failing on every request cannot flood the log. Never
 * `reportError` nor a rethrow: on Deno an error reported as uncaught ends the process.
 */
export class TraceErrorReporter {
  #seen = new Set<string>();

  /**
   * Reports `error`, thrown by a `kind` ("hook", "request hook", "listener") for `type`.
   *
   * @example
   * ```ts
   * import { TraceErrorReporter } from "./hooks.ts";
   * new TraceErrorReporter().report("hook", "gotconn", new Error("oops"));
   * ```
   */
  report(kind: string, type: string, error: unknown): void {
    const key = `${kind} ${type}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    console.error(
      `wirefetch: a "${type}" trace ${kind} failed; the request went on (reported once per ` +
        `${kind} type and client):`,
      error,
    );
  }
}

// One hook to call: the method, and the object it was read from (its `this`).
interface Bound {
  readonly fn: (info: unknown) => unknown;
  readonly self: object;
}

/**
 * Hooks objects compiled into a table: for each event type, the methods to call (or null), read
 * once so that a request only looks at one slot per event.
 */
export class HookSet {
  // One slot per event type, in TRACE_EVENT_TYPES order (the bit's index): the hooks to call.
  readonly #slots: (Bound[] | null)[];
  readonly #reporter: TraceErrorReporter;
  readonly #kind: string;
  /** The types some hook exists for, as {@linkcode TRACE_BIT} bits. */
  readonly mask: number;

  /**
   * Compiles `list` (later entries are called after earlier ones). Throws TypeError for an own
   * function property that is not an event type.
   *
   * @example
   * ```ts
   * import { HookSet, TraceErrorReporter } from "./hooks.ts";
   * const set = new HookSet([{ gotconn() {} }], new TraceErrorReporter(), "hook");
   * console.log(set.has("gotconn"), set.has("getconn")); // true false
   * ```
   */
  constructor(list: readonly TraceHooks[], reporter: TraceErrorReporter, kind: string) {
    const slots: (Bound[] | null)[] = TRACE_EVENT_TYPES.map(() => null);
    for (const hooks of list) {
      if (typeof hooks !== "object" || hooks === null) {
        throw new TypeError(`hooks must be an object with methods named like trace event types`);
      }
      for (const key of Object.keys(hooks)) {
        const value = (hooks as Record<string, unknown>)[key];
        if (typeof value === "function" && !EVENT_TYPES.has(key)) {
          throw new TypeError(
            `hooks.${key} is not a trace event type` +
              (EVENT_TYPES.has(key.toLowerCase()) ? ` (did you mean ${key.toLowerCase()}?)` : ""),
          );
        }
      }
      for (let i = 0; i < TRACE_EVENT_TYPES.length; i++) {
        const fn = (hooks as Record<string, unknown>)[TRACE_EVENT_TYPES[i]];
        if (typeof fn === "function") {
          (slots[i] ??= []).push({ fn: fn as Bound["fn"], self: hooks });
        }
      }
    }
    this.#slots = slots;
    this.#reporter = reporter;
    this.#kind = kind;
    this.mask = maskOf(TRACE_EVENT_TYPES.filter((_, i) => slots[i] !== null));
  }

  /**
   * True when some hook of `type` exists.
   *
   * @example
   * ```ts
   * import { HookSet, TraceErrorReporter } from "./hooks.ts";
   * console.log(new HookSet([{}], new TraceErrorReporter(), "hook").has("gotconn")); // false
   * ```
   */
  has(type: string): boolean {
    const at = TRACE_EVENT_TYPES.indexOf(type);
    return at >= 0 && this.#slots[at] !== null;
  }

  /**
   * Calls the hooks of the event type `bit` (its {@linkcode TRACE_BIT}) with `info`, isolating
   * each: a throw or a rejected promise is reported, and the next hook still runs.
   *
   * @example
   * ```ts
   * import { HookSet, TRACE_BIT, TraceErrorReporter } from "./hooks.ts";
   * const set = new HookSet([{ getconn: (i) => console.log(i.hostPort) }], new TraceErrorReporter(), "hook");
   * set.call(TRACE_BIT.getconn, { type: "getconn", hostPort: "example.com:80" });
   * ```
   */
  call<I extends { readonly type: string }>(bit: number, info: I): void {
    // The bit's index: a slot read instead of a lookup by name.
    const bound = this.#slots[31 - Math.clz32(bit)];
    if (bound === null || bound === undefined) return;
    for (let i = 0; i < bound.length; i++) {
      const hook = bound[i];
      try {
        const result = hook.fn.call(hook.self, info);
        // An async hook's promise is not awaited, but its rejection must not become an
        // unhandled rejection: Deno and Node end the process on one.
        if (result !== undefined && result !== null && typeof result === "object") {
          const then = (result as { then?: unknown }).then;
          if (typeof then === "function") {
            then.call(result, undefined, (error: unknown) => this.#fail(info.type, error));
          }
        }
      } catch (error) {
        this.#fail(info.type, error);
      }
    }
  }

  #fail(type: string, error: unknown): void {
    try {
      this.#reporter.report(this.#kind, type, error);
    } catch {
      // console.error itself failed (a closed stdout, a replaced console): nothing left to do.
    }
  }
}

/**
 * Wraps an EventTarget listener so that what it throws (or a promise it returns that rejects) is
 * reported like a hook's error instead of reaching the runtime, which would report it as
 * uncaught (Deno and Bun end the process; Node emits `uncaughtException`).
 *
 * @example
 * ```ts
 * import { isolateListener, TraceErrorReporter } from "./hooks.ts";
 * const target = new EventTarget();
 * target.addEventListener("x", isolateListener(() => { throw new Error("bug"); }, new TraceErrorReporter()));
 * target.dispatchEvent(new Event("x")); // logged once, not thrown
 * ```
 */
export function isolateListener(
  listener: EventListenerOrEventListenerObject,
  reporter: TraceErrorReporter,
): (this: unknown, event: Event) => void {
  return function (this: unknown, event: Event): void {
    try {
      const result: unknown = typeof listener === "function"
        ? listener.call(this, event)
        : listener.handleEvent(event);
      if (result !== undefined && result !== null && typeof result === "object") {
        const then = (result as { then?: unknown }).then;
        if (typeof then === "function") {
          then.call(result, undefined, (error: unknown) => {
            try {
              reporter.report("listener", event.type, error);
            } catch { /* see HookSet */ }
          });
        }
      }
    } catch (error) {
      try {
        reporter.report("listener", event.type, error);
      } catch { /* see HookSet */ }
    }
  };
}

/**
 * What an instrumentation (the `./otel` entry) plugs into a client: it sees each request before
 * its head is encoded, may add header fields (trace context), and may return hooks for that
 * request alone.
 */
export interface RequestObserver {
  /**
   * Called synchronously by `fetch`, in the caller's async context. `setHeader` replaces or
   * adds a field (names are lowercased). Returns hooks for this request, or null.
   */
  onRequest(
    method: string,
    url: URL,
    setHeader: (name: string, value: string) => void,
  ): TraceHooks | null;
}
