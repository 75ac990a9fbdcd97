/**
 * The phases of a dial, reported to the request that caused it: its timing marks, and its
 * trace events when they are wanted (as Go's transport reports a dial to the request that
 * started it, even if the connection ends up serving another).
 *
 * @module
 */

import type { DialObserver } from "../net/dial.ts";
import type {
  ConnectDoneEvent,
  ConnectStartEvent,
  DnsDoneEvent,
  DnsStartEvent,
  ProxyConnectDoneEvent,
  ProxyConnectStartEvent,
  TlsHandshakeDoneEvent,
  TlsHandshakeStartEvent,
} from "../trace/events.ts";
import { TRACE_BIT, type TraceInfo } from "../trace/hooks.ts";
import type { EventSource } from "./context.ts";

/**
 * The observer of one dial on behalf of one request. Made only when a dial starts, so a
 * request served by an idle connection never allocates one.
 *
 * @example
 * ```ts ignore
 * pool.dial(new DialEvents(task));
 * ```
 */
export class DialEvents implements DialObserver {
  /** The request the dial reports to. */
  readonly task: EventSource;

  /** Reports to `task`. */
  constructor(task: EventSource) {
    this.task = task;
  }

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
}
