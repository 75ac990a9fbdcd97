/**
 * The trace events of an exchange that need more than a line to build: called by
 * {@linkcode FetchTask} only when something listens (`task.tracing` or `task.wants(bit)`), so
 * the hot path pays one mask test for each.
 *
 * @module
 */

import type { WirefetchError } from "../errors.ts";
import type { Connection } from "../pool/connection.ts";
import type {
  DequeuedEvent,
  GetConnEvent,
  Got1xxResponseEvent,
  GotConnEvent,
  PhaseEvent,
  PutIdleConnEvent,
  RetryEvent,
  WroteHeaderFieldEvent,
  WroteRequestEvent,
} from "../trace/events.ts";
import { type HookSet, TRACE_BIT, type TraceInfo } from "../trace/hooks.ts";
import type { ConnectionSubject, EventSource } from "./context.ts";

/** `getconn`: the request asks its pool for a connection (at `time`). */
export function emitGetConn(task: EventSource, time: number, hostPort: string): void {
  task.emit(
    TRACE_BIT.getconn,
    {
      type: "getconn",
      requestId: task.requestId,
      connectionId: undefined,
      time,
      method: task.method,
      url: task.url,
      hostPort,
    } satisfies TraceInfo<GetConnEvent>,
  );
}

/**
 * What a traced request does when it gets a connection: the connection remembers it for its
 * close events, and `dequeued` (after a wait in the queue since `queuedAt`) and `gotconn` are
 * emitted.
 */
export function emitGotConn(
  task: EventSource & { readonly trace: EventTarget | null; readonly hooks: HookSet | null },
  connection: Connection,
  now: number,
  wasIdle: boolean,
  queuedAt: number,
): void {
  // A small record, not the task: a pooled connection must not keep a request (and its body
  // stream) reachable, or a forgotten response could never be collected.
  connection.subject = {
    requestId: task.requestId,
    method: task.method,
    url: task.url,
    trace: task.trace,
    hooks: task.hooks,
  } satisfies ConnectionSubject;
  if (queuedAt >= 0 && task.wants(TRACE_BIT.dequeued)) {
    task.emit(
      TRACE_BIT.dequeued,
      {
        type: "dequeued",
        requestId: task.requestId,
        connectionId: connection.id,
        time: now,
        method: task.method,
        url: task.url,
        waited: now - queuedAt,
      } satisfies TraceInfo<DequeuedEvent>,
    );
  }
  if (task.wants(TRACE_BIT.gotconn)) {
    const handle = connection.handle;
    const reused = task.marks.reused;
    task.emit(
      TRACE_BIT.gotconn,
      {
        type: "gotconn",
        requestId: task.requestId,
        connectionId: connection.id,
        time: now,
        method: task.method,
        url: task.url,
        reused,
        wasIdle,
        idleTime: wasIdle ? now - connection.idleSince : 0,
        localAddress: handle.localAddress,
        remoteAddress: handle.remoteAddress,
        connection: handle,
        tcpInfo: reused ? undefined : connection.openInfo,
      } satisfies TraceInfo<GotConnEvent>,
    );
  }
}

/** `wroteheaderfield` per field of `list`, `wroteheaders`, and `wait100continue` if expected. */
export function emitHeadersWritten(
  task: EventSource,
  connectionId: number,
  list: readonly string[],
  expectContinue: boolean,
): void {
  // The head is handed to the socket in the synchronous step that gave the request its
  // connection: that step's clock reading serves the whole burst.
  const now = task.marks.gotConn;
  const url = task.url;
  if (task.wants(TRACE_BIT.wroteheaderfield)) {
    for (let i = 0; i < list.length; i += 2) {
      task.emit(
        TRACE_BIT.wroteheaderfield,
        {
          type: "wroteheaderfield",
          requestId: task.requestId,
          connectionId,
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
    emitPhase(task, TRACE_BIT.wroteheaders, "wroteheaders", connectionId, now);
  }
  if (expectContinue && task.wants(TRACE_BIT.wait100continue)) {
    emitPhase(task, TRACE_BIT.wait100continue, "wait100continue", connectionId, now);
  }
}

// One event with no fields of its own (`PhaseEvent`). One literal for all of them: they have
// the same fields in the same order, so every call site gets objects of one shape either way;
// `bit` is passed rather than looked up from `type` (a keyed load on every event).
function emitPhase(
  task: EventSource,
  bit: number,
  type: "wroteheaders" | "wait100continue" | "gotfirstresponsebyte" | "got100continue",
  connectionId: number,
  time: number,
): void {
  task.emit(
    bit,
    {
      type,
      requestId: task.requestId,
      connectionId,
      time,
      method: task.method,
      url: task.url,
    } satisfies TraceInfo<PhaseEvent>,
  );
}

/** `wroterequest` at `time`, with the error that stopped the writing, if any. */
export function emitWroteRequest(
  task: EventSource,
  connectionId: number,
  time: number,
  error: WirefetchError | undefined,
): void {
  task.emit(
    TRACE_BIT.wroterequest,
    {
      type: "wroterequest",
      requestId: task.requestId,
      connectionId,
      time,
      method: task.method,
      url: task.url,
      error,
    } satisfies TraceInfo<WroteRequestEvent>,
  );
}

/** `gotfirstresponsebyte` at `time`. */
export function emitFirstByte(task: EventSource, connectionId: number, time: number): void {
  emitPhase(task, TRACE_BIT.gotfirstresponsebyte, "gotfirstresponsebyte", connectionId, time);
}

/** `got1xxresponse` and, for a 100, `got100continue`. */
export function emitInformational(
  task: EventSource,
  connectionId: number,
  status: number,
  headers: string[],
): void {
  const now = performance.now();
  if (task.wants(TRACE_BIT.got1xxresponse)) {
    const h = new Headers();
    for (let i = 0; i < headers.length; i += 2) h.append(headers[i], headers[i + 1]);
    task.emit(
      TRACE_BIT.got1xxresponse,
      {
        type: "got1xxresponse",
        requestId: task.requestId,
        connectionId,
        time: now,
        method: task.method,
        url: task.url,
        status,
        headers: h,
      } satisfies TraceInfo<Got1xxResponseEvent>,
    );
  }
  if (status === 100 && task.wants(TRACE_BIT.got100continue)) {
    emitPhase(task, TRACE_BIT.got100continue, "got100continue", connectionId, now);
  }
}

/** `putidleconn`: the connection was already pooled, handed on, or closed; says which. */
export function emitPutIdleConn(task: EventSource, connection: Connection, time: number): void {
  const closed = connection.state === "closed";
  task.emit(
    TRACE_BIT.putidleconn,
    {
      type: "putidleconn",
      requestId: task.requestId,
      connectionId: connection.id,
      time,
      method: task.method,
      url: task.url,
      error: closed ? connection.closeReason! : undefined,
    } satisfies TraceInfo<PutIdleConnEvent>,
  );
}

/** `retry`: the request is sent again on a new connection (the second attempt). */
export function emitRetry(task: EventSource, connectionId: number, reason: string): void {
  task.emit(
    TRACE_BIT.retry,
    {
      type: "retry",
      requestId: task.requestId,
      connectionId,
      time: performance.now(),
      method: task.method,
      url: task.url,
      reason,
      attempt: 2,
    } satisfies TraceInfo<RetryEvent>,
  );
}
