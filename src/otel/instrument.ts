/**
 * OpenTelemetry instrumentation of a {@linkcode Client}: one `CLIENT` span per fetch and the HTTP
 * client metrics, following the HTTP semantic conventions, built on trace hooks (no `Event`
 * objects) and on `@opentelemetry/api` alone.
 *
 * @module
 */

import {
  type Attributes,
  context,
  type Histogram,
  type Meter,
  metrics,
  type ObservableResult,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { type Client, defaultClient, VERSION } from "../client.ts";
import { WirefetchError } from "../errors.ts";
import type {
  ConnCloseEvent,
  ConnectDoneEvent,
  ConnectStartEvent,
  DequeuedEvent,
  DnsDoneEvent,
  DnsStartEvent,
  GotConnEvent,
  PhaseEvent,
  QueuedEvent,
  RedirectEvent,
  ResponseDoneEvent,
  RetryEvent,
  TlsHandshakeDoneEvent,
  WroteRequestEvent,
} from "../trace/events.ts";
import type { RequestObserver, TraceHooks, TraceInfo } from "../trace/hooks.ts";
import type { TcpInfo } from "../tcp_info/types.ts";

/**
 * Where {@linkcode instrument} sends spans and metrics. The providers are `TracerProvider` and
 * `MeterProvider` of `@opentelemetry/api`, typed here by the one method used, so that any copy
 * of the API (or an SDK's provider) fits.
 */
export interface InstrumentOptions {
  /** Default: the global tracer provider of the OpenTelemetry API (`trace.getTracerProvider()`). */
  tracerProvider?: { getTracer(name: string, version?: string): unknown };
  /** Default: the global meter provider of the OpenTelemetry API (`metrics.getMeterProvider()`). */
  meterProvider?: { getMeter(name: string, version?: string): unknown };
}

/** The instrumentation scope name spans and metrics carry. */
const SCOPE = "@wirefetch/fetch";

// RFC 9110 §9 methods and PATCH (RFC 5789): the semantic conventions' known methods. Any other
// method is reported as "_OTHER" (with the original in http.request.method_original), so a
// client sending arbitrary methods cannot blow up the cardinality of a backend's indexes.
const KNOWN_METHODS = new Set([
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "TRACE",
]);

// Query parameters whose values the semantic conventions say to redact in url.full (signed URLs
// carry credentials in them).
const SENSITIVE_QUERY = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

// Bucket boundaries the semantic conventions advise for the two duration histograms (seconds).
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const CONNECTION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** `url.full` without credentials, with the values of signed-URL parameters redacted. */
function fullUrl(url: URL): string {
  if (url.username === "" && url.password === "" && url.search === "") return url.href;
  const copy = new URL(url.href);
  if (copy.username !== "") copy.username = "REDACTED";
  if (copy.password !== "") copy.password = "REDACTED";
  if (copy.search !== "") {
    for (const name of SENSITIVE_QUERY) {
      if (copy.searchParams.has(name)) copy.searchParams.set(name, "REDACTED");
    }
  }
  return copy.href;
}

function defaultPort(url: URL): number {
  return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

/**
 * `error.type`: the WirefetchError code of a network failure, the name of an abort reason
 * (`AbortError`, `TimeoutError`), or `_OTHER`.
 */
function errorType(error: unknown): string {
  if (error instanceof WirefetchError) return error.code;
  if (error instanceof Error) {
    if (error.cause instanceof WirefetchError) return error.cause.code;
    if (error.name !== "Error" && error.name !== "") return error.name;
  }
  return "_OTHER";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// The propagator writes through the setter into the request's header list; the carrier itself is
// never written.
const CARRIER: Readonly<Record<string, string>> = Object.freeze({});

/** Epoch milliseconds of a `performance.now()` reading, which every SDK takes as it is. */
function epoch(time: number): number {
  return performance.timeOrigin + time;
}

const camel = /[A-Z]/g;

/** TCP_INFO as span event attributes: `wirefetch.tcp_info.<field>` in snake case, scalars only. */
function tcpAttributes(info: TcpInfo, into: Attributes): void {
  for (const key of Object.keys(info) as (keyof TcpInfo)[]) {
    const value = info[key];
    if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
      if (key === "length") continue;
      into[`wirefetch.tcp_info.${key.replace(camel, (c) => `_${c.toLowerCase()}`)}`] = value;
    }
  }
}

/** The instruments, created once per `instrument()` call. */
interface Instruments {
  readonly tracer: Tracer;
  readonly duration: Histogram;
  readonly queueTime: Histogram;
  readonly connectionDuration: Histogram;
}

/**
 * One fetch's span: the hooks of that request. Span events follow Go's otelhttptrace naming
 * (`http.dns.start`, ...), at the time the phase happened.
 */
class RequestSpan implements TraceHooks {
  readonly #span: Span;
  readonly #instruments: Instruments;
  // Attributes every metric point of this request shares.
  readonly #common: Attributes;
  #resends = 0;
  #ended = false;
  #peerAddress: string | undefined;
  #peerPort: number | undefined;

  // A span the sampler dropped records nothing: skip building its event attributes.
  readonly #recording: boolean;

  constructor(span: Span, instruments: Instruments, common: Attributes) {
    this.#span = span;
    this.#recording = span.isRecording();
    this.#instruments = instruments;
    this.#common = common;
  }

  queued(info: TraceInfo<QueuedEvent>): void {
    this.#span.addEvent(
      "http.queue.start",
      { "wirefetch.queue.position": info.position },
      epoch(info.time),
    );
  }

  dequeued(info: TraceInfo<DequeuedEvent>): void {
    this.#span.addEvent("http.queue.done", undefined, epoch(info.time));
    this.#instruments.queueTime.record(info.waited / 1000, this.#common);
  }

  dnsstart(info: TraceInfo<DnsStartEvent>): void {
    this.#span.addEvent("http.dns.start", { "server.address": info.host }, epoch(info.time));
  }

  dnsdone(info: TraceInfo<DnsDoneEvent>): void {
    const attributes: Attributes = {
      "wirefetch.dns.addresses": [...info.addresses],
      "wirefetch.dns.cached": info.cached,
      "wirefetch.dns.coalesced": info.coalesced,
    };
    if (info.error !== undefined) attributes["error.type"] = errorType(info.error);
    this.#span.addEvent("http.dns.done", attributes, epoch(info.time));
  }

  connectstart(info: TraceInfo<ConnectStartEvent>): void {
    this.#span.addEvent(
      "http.connect.start",
      { "network.peer.address": info.address, "network.type": networkType(info.network) },
      epoch(info.time),
    );
  }

  connectdone(info: TraceInfo<ConnectDoneEvent>): void {
    const attributes: Attributes = {
      "network.peer.address": info.address,
      "network.type": networkType(info.network),
    };
    if (info.error !== undefined) attributes["error.type"] = errorType(info.error);
    this.#span.addEvent("http.connect.done", attributes, epoch(info.time));
  }

  tlshandshakestart(info: TraceInfo): void {
    this.#span.addEvent("http.tls.start", undefined, epoch(info.time));
  }

  tlshandshakedone(info: TraceInfo<TlsHandshakeDoneEvent>): void {
    const attributes: Attributes = {};
    if (info.alpnProtocol !== null) attributes["tls.next_protocol"] = info.alpnProtocol;
    if (info.error !== undefined) attributes["error.type"] = errorType(info.error);
    this.#span.addEvent("http.tls.done", attributes, epoch(info.time));
  }

  gotconn(info: TraceInfo<GotConnEvent>): void {
    this.#peerAddress = info.remoteAddress.address;
    this.#peerPort = info.remoteAddress.port;
    if (!this.#recording) return;
    const attributes: Attributes = {
      "wirefetch.connection.id": info.connectionId,
      "wirefetch.connection.reused": info.reused,
      "wirefetch.connection.was_idle": info.wasIdle,
      "wirefetch.connection.idle_time_ms": info.idleTime,
    };
    if (info.tcpInfo !== undefined) tcpAttributes(info.tcpInfo, attributes);
    this.#span.addEvent("http.getconn.done", attributes, epoch(info.time));
  }

  wroterequest(info: TraceInfo<WroteRequestEvent>): void {
    const attributes: Attributes | undefined = info.error === undefined
      ? undefined
      : { "error.type": errorType(info.error) };
    this.#span.addEvent("http.send.done", attributes, epoch(info.time));
  }

  gotfirstresponsebyte(info: TraceInfo<PhaseEvent>): void {
    this.#span.addEvent("http.receive.start", undefined, epoch(info.time));
  }

  redirect(info: TraceInfo<RedirectEvent>): void {
    this.#resends++;
    this.#span.addEvent(
      "http.redirect",
      {
        "http.response.status_code": info.status,
        "wirefetch.redirect.location": fullUrl(new URL(info.to)),
      },
      epoch(info.time),
    );
  }

  retry(info: TraceInfo<RetryEvent>): void {
    this.#resends++;
    this.#span.addEvent("http.retry", { "error.type": info.reason }, epoch(info.time));
  }

  connclose(info: TraceInfo<ConnCloseEvent>): void {
    // A pooled connection remembers its last request; closing long after that one ended is not
    // part of its span.
    if (this.#ended || !this.#recording) return;
    // The request's own connection closed while its span is open (a response that could not be
    // reused, an error): its last TCP_INFO tells why a transfer was slow.
    const attributes: Attributes = {
      "wirefetch.connection.id": info.connectionId,
      "wirefetch.connection.close_reason": info.reason,
    };
    if (info.tcpInfo !== undefined) tcpAttributes(info.tcpInfo, attributes);
    if (info.warnings.length > 0) {
      attributes["wirefetch.tcp_info.warnings"] = info.warnings.map((w) => w.code);
    }
    this.#span.addEvent("http.connection.close", attributes, epoch(info.time));
  }

  responsedone(info: TraceInfo<ResponseDoneEvent>): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.#span;
    const metric: Attributes = { ...this.#common };
    const attributes: Attributes = {};
    if (info.status !== undefined) {
      attributes["http.response.status_code"] = metric["http.response.status_code"] = info.status;
    }
    if (info.httpVersion !== undefined) {
      attributes["network.protocol.version"] =
        metric["network.protocol.version"] =
          info.httpVersion;
    }
    if (this.#peerAddress !== undefined) {
      attributes["network.peer.address"] = this.#peerAddress;
      attributes["network.peer.port"] = this.#peerPort;
    }
    if (this.#resends > 0) attributes["http.request.resend_count"] = this.#resends;
    if (info.error !== undefined) {
      attributes["error.type"] = metric["error.type"] = errorType(info.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(info.error) });
    } else if (info.status !== undefined && info.status >= 400) {
      // HTTP semantic conventions: a client span with a 4xx or 5xx status is an error, and
      // error.type is the status code.
      attributes["error.type"] = metric["error.type"] = String(info.status);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.setAttributes(attributes);
    span.end(epoch(info.time));
    this.#instruments.duration.record(info.timings.total / 1000, metric);
  }
}

function networkType(network: string): string {
  return network === "tcp6" ? "ipv6" : "ipv4";
}

/**
 * Instruments `client` (default: `defaultClient`) with OpenTelemetry, and returns a function that
 * undoes it (requests already started finish their spans).
 *
 * Traces: one `CLIENT` span per `fetch`, named after the method, a child of the context active
 * when `fetch` was called, with the HTTP semantic conventions' attributes (`http.request.method`,
 * `url.full`, `server.address`, `server.port`, `network.peer.address`, `network.peer.port`,
 * `network.protocol.version`, `http.response.status_code`, `http.request.resend_count`,
 * `error.type` with the `WirefetchError` code), span events for the phases (`http.queue.*`,
 * `http.dns.*`, `http.connect.*`, `http.tls.*`, `http.getconn.done` with TCP_INFO when the
 * client's `tcpInfo` option is on, `http.send.done`, `http.receive.start`), ending when the body
 * ends. The trace context is injected into the request's headers through the global propagator
 * (W3C `traceparent` once an SDK registered one).
 *
 * Metrics: `http.client.request.duration` (s, the fetch call to the end of the body),
 * `http.client.open_connections` (`http.connection.state` = `idle` | `active`, read from
 * `client.stats()` when collected), `http.client.connection.duration` (s) and
 * `http.client.request.time_in_queue` (s, for requests that waited for a connection).
 *
 * Uses the global providers of `@opentelemetry/api` unless given others, reading them when
 * `instrument()` runs: register the SDK first. Registers no global itself.
 *
 * @example
 * ```ts
 * import { Client } from "@wirefetch/fetch";
 * import { instrument } from "@wirefetch/fetch/otel";
 *
 * const client = new Client();
 * const uninstrument = instrument(client); // the global OpenTelemetry providers
 * await (await client.fetch("http://127.0.0.1:8080/")).text();
 * uninstrument();
 * ```
 */
export function instrument(
  client: Client = defaultClient,
  options: InstrumentOptions = {},
): () => void {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    SCOPE,
    VERSION,
  ) as Tracer;
  // The metrics API has no proxy provider: a meter taken before the SDK registered stays a
  // no-op. That is why instruments are created here and not when the module is imported.
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(
    SCOPE,
    VERSION,
  ) as Meter;
  const instruments: Instruments = {
    tracer,
    duration: meter.createHistogram("http.client.request.duration", {
      description: "Duration of HTTP client requests, from the fetch call to the end of the body.",
      unit: "s",
      advice: { explicitBucketBoundaries: REQUEST_BUCKETS },
    }),
    queueTime: meter.createHistogram("http.client.request.time_in_queue", {
      description: "Time requests waited in the pool's queue for a connection.",
      unit: "s",
      advice: { explicitBucketBoundaries: REQUEST_BUCKETS },
    }),
    connectionDuration: meter.createHistogram("http.client.connection.duration", {
      description: "The duration of the successfully established outbound HTTP connections.",
      unit: "s",
      advice: { explicitBucketBoundaries: CONNECTION_BUCKETS },
    }),
  };
  const openConnections = meter.createObservableUpDownCounter("http.client.open_connections", {
    description: "Number of outbound HTTP connections that are currently active or idle.",
    unit: "{connection}",
  });
  const observe = (result: ObservableResult): void => {
    for (const [origin, stats] of Object.entries(client.stats().origins)) {
      const url = new URL(origin);
      const base = {
        "server.address": hostOf(url),
        "server.port": defaultPort(url),
        "url.scheme": url.protocol.slice(0, -1),
      };
      result.observe(stats.idle, { ...base, "http.connection.state": "idle" });
      result.observe(stats.active, { ...base, "http.connection.state": "active" });
    }
  };
  openConnections.addCallback(observe);

  const observer: RequestObserver = {
    onRequest(method, url, setHeader): TraceHooks {
      const known = KNOWN_METHODS.has(method);
      const port = defaultPort(url);
      const common: Attributes = {
        "http.request.method": known ? method : "_OTHER",
        "server.address": hostOf(url),
        "server.port": port,
        "url.scheme": url.protocol.slice(0, -1),
      };
      const attributes: Attributes = { ...common, "url.full": fullUrl(url) };
      if (!known) attributes["http.request.method_original"] = method;
      const parent = context.active();
      const span = tracer.startSpan(
        known ? method : "HTTP",
        { kind: SpanKind.CLIENT, attributes },
        parent,
      );
      propagation.inject(trace.setSpan(parent, span), CARRIER, {
        set(_carrier: unknown, key: string, value: string): void {
          setHeader(key, value);
        },
      });
      return new RequestSpan(span, instruments, common);
    },
  };
  const removeObserver = client.observe(observer);
  // Connection durations come from the client's hooks: a connection outlives the requests it
  // serves, and closes when none of them is looking.
  const removeHooks = client.addHooks({
    connclose(info: TraceInfo<ConnCloseEvent>): void {
      const { openedAt, closedAt } = info.stats;
      if (openedAt < 0 || closedAt < openedAt) return;
      const url = new URL(info.url);
      instruments.connectionDuration.record((closedAt - openedAt) / 1000, {
        "server.address": hostOf(url),
        "server.port": defaultPort(url),
        "url.scheme": url.protocol.slice(0, -1),
      });
    },
  });
  let active = true;
  return (): void => {
    if (!active) return;
    active = false;
    removeObserver();
    removeHooks();
    openConnections.removeCallback(observe);
  };
}
