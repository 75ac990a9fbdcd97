/**
 * Resource Timing entries for wirefetch requests, as Node's own fetch records them: each request
 * becomes a `PerformanceResourceTiming` (`initiatorType` "fetch") that
 * `performance.getEntriesByType("resource")` and `PerformanceObserver({ type: "resource" })` see.
 *
 * Node offers `performance.markResourceTiming` (perf_hooks) for this. Deno has no resource
 * timeline at all; Bun has the function but it records nothing (its own fetch records nothing
 * either). The first call tells: Node returns the entry, a stub returns undefined, and from then
 * on nothing more is built.
 *
 * @module
 */

import type { TimingMarks } from "./timings.ts";

/** Node's `performance.markResourceTiming(timingInfo, requestedUrl, initiatorType, global, cacheMode)`. */
type MarkResourceTiming = (
  timingInfo: FetchTimingInfo,
  requestedUrl: string,
  initiatorType: string,
  global: unknown,
  cacheMode: string,
) => unknown;

/** The Fetch standard's "connection timing info" (times are `performance.now()` readings). */
interface ConnectionTimingInfo {
  domainLookupStartTime: number;
  domainLookupEndTime: number;
  connectionStartTime: number;
  connectionEndTime: number;
  secureConnectionStartTime: number;
  ALPNNegotiatedProtocol: string;
}

/** The Fetch standard's "fetch timing info", which Node's PerformanceResourceTiming reads. */
interface FetchTimingInfo {
  startTime: number;
  redirectStartTime: number;
  redirectEndTime: number;
  postRedirectStartTime: number;
  finalServiceWorkerStartTime: number;
  finalNetworkRequestStartTime: number;
  finalNetworkResponseStartTime: number;
  endTime: number;
  encodedBodySize: number;
  decodedBodySize: number;
  finalConnectionTimingInfo: ConnectionTimingInfo;
}

let mark: MarkResourceTiming | null = (() => {
  const fn = (globalThis.performance as { markResourceTiming?: unknown } | undefined)
    ?.markResourceTiming;
  return typeof fn === "function" ? fn.bind(globalThis.performance) as MarkResourceTiming : null;
})();

/**
 * Records a Resource Timing entry for a finished request where the runtime keeps them (Node);
 * does nothing elsewhere.
 *
 * @example
 * ```ts
 * import { recordResourceTiming } from "./resource_timing.ts";
 * import { TimingMarks } from "./timings.ts";
 * const marks = new TimingMarks();
 * marks.end = performance.now();
 * recordResourceTiming(marks, "http://127.0.0.1:8080/", 0);
 * ```
 */
export function recordResourceTiming(marks: TimingMarks, url: string, bytes: number): void {
  if (mark === null) return;
  const start = marks.start;
  let connection: ConnectionTimingInfo;
  if (marks.reused || marks.connectStart < 0) {
    // Fetch §"clamp and coarsen connection timing info": a connection opened before this fetch
    // (reused, or dialed for another request) shows all its phases at the fetch's start.
    connection = {
      domainLookupStartTime: start,
      domainLookupEndTime: start,
      connectionStartTime: start,
      connectionEndTime: start,
      secureConnectionStartTime: url.startsWith("https:") ? start : 0,
      ALPNNegotiatedProtocol: "http/1.1",
    };
  } else {
    // No lookup (an IP literal, a cached answer): the lookup "happened" when the connect began.
    const dnsStart = marks.dnsStart >= 0 ? marks.dnsStart : marks.connectStart;
    const dnsEnd = marks.dnsDone >= 0 ? marks.dnsDone : dnsStart;
    connection = {
      domainLookupStartTime: dnsStart,
      domainLookupEndTime: dnsEnd,
      connectionStartTime: marks.connectStart,
      // Resource Timing: connectEnd includes the TLS handshake.
      connectionEndTime: marks.tlsDone >= 0
        ? marks.tlsDone
        : marks.connectDone >= 0
        ? marks.connectDone
        : marks.connectStart,
      secureConnectionStartTime: marks.tlsStart >= 0 ? marks.tlsStart : 0,
      ALPNNegotiatedProtocol: "http/1.1",
    };
  }
  const end = marks.end >= 0 ? marks.end : performance.now();
  const info: FetchTimingInfo = {
    startTime: start,
    redirectStartTime: 0,
    redirectEndTime: 0,
    postRedirectStartTime: start,
    finalServiceWorkerStartTime: 0,
    finalNetworkRequestStartTime: marks.gotConn >= 0 ? marks.gotConn : 0,
    finalNetworkResponseStartTime: marks.firstByte >= 0 ? marks.firstByte : 0,
    endTime: end,
    encodedBodySize: bytes,
    decodedBodySize: bytes,
    finalConnectionTimingInfo: connection,
  };
  try {
    // Node's fetch reports the URL it was asked for, before redirects.
    if (mark(info, marks.requestedUrl ?? url, "fetch", globalThis, "") === undefined) {
      // A stub (Bun): it keeps nothing, so stop building entries for it.
      mark = null;
    }
  } catch {
    // A perf_hooks that refuses our timing info must not fail requests: stop recording.
    mark = null;
  }
}
