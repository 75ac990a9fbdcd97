// OpenTelemetry instrumentation with the real SDK: span tree and parentage, trace context at the
// server, error spans, phase events, and metrics that agree with the client's own numbers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import {
  type Attributes,
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { Client, timingsOf } from "../../mod.ts";
import type { TcpInfo } from "../../tcp_info.ts";
import { instrument } from "../../otel.ts";
import { delay, startHttpServer } from "../support/servers.ts";

// What an application does once at startup: a context manager that survives `await`, and the
// W3C propagator. instrument() itself registers nothing.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

/** A metric reader the test collects from on demand. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(): {
  exporter: InMemorySpanExporter;
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  reader: TestReader;
} {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return { exporter, tracerProvider, meterProvider, reader };
}

/** The data points of one metric, from a fresh collection. */
async function points(reader: TestReader, name: string): Promise<DataPoint<unknown>[]> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name === name) return metric.dataPoints as DataPoint<unknown>[];
    }
  }
  return [];
}

function clientSpans(exporter: InMemorySpanExporter): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
}

const localhost = () => Promise.resolve([{ address: "127.0.0.1", family: 4 as const }]);

describe("OpenTelemetry instrumentation", () => {
  it("makes a CLIENT span, child of the active span after an await, with traceparent sent", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push(req.headers);
      res.end("hello");
    });
    const { exporter, tracerProvider, meterProvider } = setup();
    const client = new Client({ lookup: localhost });
    const undo = instrument(client, { tracerProvider, meterProvider });
    const tracer = tracerProvider.getTracer("test");
    try {
      const url = `http://localhost:${server.port}/path?q=1`;
      await tracer.startActiveSpan("parent", async (parent) => {
        await delay(1); // the active context must survive an await before the fetch
        assert.equal(await (await client.fetch(url)).text(), "hello");
        parent.end();
      });
      const parent = exporter.getFinishedSpans().find((s) => s.name === "parent")!;
      const [span] = clientSpans(exporter);
      assert.equal(span.name, "GET");
      assert.equal(span.parentSpanContext?.spanId, parent.spanContext().spanId);
      assert.equal(span.spanContext().traceId, parent.spanContext().traceId);
      assert.equal(
        seen[0].traceparent,
        `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`,
      );
      const a = span.attributes;
      assert.equal(a["http.request.method"], "GET");
      assert.equal(a["url.full"], url);
      assert.equal(a["server.address"], "localhost");
      assert.equal(a["server.port"], server.port);
      assert.equal(a["network.peer.address"], "127.0.0.1");
      assert.equal(a["network.peer.port"], server.port);
      assert.equal(a["network.protocol.version"], "1.1");
      assert.equal(a["http.response.status_code"], 200);
      assert.equal(a["http.request.resend_count"], undefined);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      assert.deepEqual(span.events.map((e) => e.name), [
        "http.dns.start",
        "http.dns.done",
        "http.connect.start",
        "http.connect.done",
        "http.getconn.done",
        "http.send.done",
        "http.receive.start",
      ]);
      // Events happen inside the span, in order.
      const t = (hr: [number, number]) => hr[0] * 1e9 + hr[1];
      let last = t(span.startTime);
      for (const event of span.events) {
        assert.ok(t(event.time) >= last, event.name);
        last = t(event.time);
      }
      assert.ok(t(span.endTime) >= last);
      assert.equal(span.instrumentationScope.name, "@wirefetch/fetch");
    } finally {
      undo();
      await client.close();
      await server.close();
    }
  });

  it("names a non-standard method HTTP with _OTHER, and redacts signed-URL parameters", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const { exporter, tracerProvider, meterProvider } = setup();
    const client = new Client();
    const undo = instrument(client, { tracerProvider, meterProvider });
    try {
      await (await client.fetch(`${server.url}/a?X-Goog-Signature=secret&page=2`, {
        method: "PURGE",
      })).text();
      const [span] = clientSpans(exporter);
      assert.equal(span.name, "HTTP");
      assert.equal(span.attributes["http.request.method"], "_OTHER");
      assert.equal(span.attributes["http.request.method_original"], "PURGE");
      assert.equal(span.attributes["url.full"], `${server.url}/a?X-Goog-Signature=REDACTED&page=2`);
    } finally {
      undo();
      await client.close();
      await server.close();
    }
  });

  it("makes an error span with error.type set to the WirefetchError code", async () => {
    const closed = await startHttpServer((_req, res) => res.end());
    const port = closed.port;
    await closed.close();
    const { exporter, tracerProvider, meterProvider, reader } = setup();
    const client = new Client();
    const undo = instrument(client, { tracerProvider, meterProvider });
    try {
      await assert.rejects(client.fetch(`http://127.0.0.1:${port}/`), TypeError);
      const [span] = clientSpans(exporter);
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.attributes["error.type"], "ERR_CONNECTION_REFUSED");
      assert.equal(span.attributes["http.response.status_code"], undefined);
      const [point] = await points(reader, "http.client.request.duration");
      assert.equal(point.attributes["error.type"], "ERR_CONNECTION_REFUSED");
    } finally {
      undo();
      await client.close();
    }
  });

  it("marks a 5xx response as an error with the status code as error.type", async () => {
    const server = await startHttpServer((_req, res) => {
      res.statusCode = 503;
      res.end("busy");
    });
    const { exporter, tracerProvider, meterProvider } = setup();
    const client = new Client();
    const undo = instrument(client, { tracerProvider, meterProvider });
    try {
      const response = await client.fetch(server.url);
      assert.equal(response.status, 503);
      await response.text();
      const [span] = clientSpans(exporter);
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.attributes["error.type"], "503");
      assert.equal(span.attributes["http.response.status_code"], 503);
    } finally {
      undo();
      await client.close();
      await server.close();
    }
  });

  it("keeps one span across a redirect, with http.request.resend_count", async () => {
    const server = await startHttpServer((req, res) => {
      if (req.url === "/from") {
        res.statusCode = 302;
        res.setHeader("location", "/to");
      }
      res.end("x");
    });
    const { exporter, tracerProvider, meterProvider } = setup();
    const client = new Client();
    const undo = instrument(client, { tracerProvider, meterProvider });
    try {
      await (await client.fetch(`${server.url}/from`)).text();
      const spans = clientSpans(exporter);
      assert.equal(spans.length, 1);
      assert.equal(spans[0].attributes["http.request.resend_count"], 1);
      assert.ok(spans[0].events.some((e) => e.name === "http.redirect"));
    } finally {
      undo();
      await client.close();
      await server.close();
    }
  });

  it("records metrics that agree with stats() and timingsOf()", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => release = resolve);
    const server = await startHttpServer((req, res) => {
      if (req.url === "/slow") held.then(() => res.end("slow"));
      else res.end("fast");
    });
    const { tracerProvider, meterProvider, reader } = setup();
    const client = new Client({ maxConnectionsPerHost: 2 });
    const undo = instrument(client, { tracerProvider, meterProvider });
    try {
      // Two connections; then one of them busy with /slow (active), the other idle.
      const totals: number[] = [];
      const [a, b] = await Promise.all([client.fetch(server.url), client.fetch(server.url)]);
      await Promise.all([a.text(), b.text()]);
      totals.push(timingsOf(a)!.total, timingsOf(b)!.total);
      const slow = client.fetch(`${server.url}/slow`);
      await delay(20);
      const stats = client.stats().total;
      assert.equal(stats.active, 1);
      assert.equal(stats.idle, 1);
      const open = await points(reader, "http.client.open_connections");
      const value = (state: string) =>
        open.filter((p) => p.attributes["http.connection.state"] === state)
          .reduce((sum, p) => sum + (p.value as number), 0);
      assert.equal(value("active"), stats.active);
      assert.equal(value("idle"), stats.idle);
      assert.equal(open[0].attributes["server.port"], server.port);
      release();
      const slowResponse = await slow;
      await slowResponse.text();
      totals.push(timingsOf(slowResponse)!.total);
      const after = await points(reader, "http.client.open_connections");
      assert.equal(
        after.filter((p) => p.attributes["http.connection.state"] === "idle")
          .reduce((sum, p) => sum + (p.value as number), 0),
        client.stats().total.idle,
      );
      const [duration] = await points(reader, "http.client.request.duration");
      const histogram = duration.value as Histogram;
      assert.equal(histogram.count, 3);
      const sum = totals.reduce((s, x) => s + x / 1000, 0);
      assert.ok(Math.abs(histogram.sum! - sum) < 1e-9, `${histogram.sum} vs ${sum}`);
      assert.equal(duration.attributes["http.request.method"], "GET");
      assert.equal(duration.attributes["http.response.status_code"], 200);
      assert.equal(duration.attributes["network.protocol.version"], "1.1");
      await client.close();
      const [connections] = await points(reader, "http.client.connection.duration");
      assert.equal((connections.value as Histogram).count, server.accepted);
    } finally {
      release();
      undo();
      await client.close();
      await server.close();
    }
  });

  it("records time in queue for requests that waited, and queue span events", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 20));
    const { exporter, tracerProvider, meterProvider, reader } = setup();
    const client = new Client({ maxConnectionsPerHost: 1 });
    const undo = instrument(client, { tracerProvider, meterProvider });
    try {
      const responses = await Promise.all([client.fetch(server.url), client.fetch(server.url)]);
      await Promise.all(responses.map((r) => r.text()));
      const [queue] = await points(reader, "http.client.request.time_in_queue");
      const histogram = queue.value as Histogram;
      assert.equal(histogram.count, 1);
      assert.ok(histogram.sum! > 0);
      const queued = clientSpans(exporter).filter((s) =>
        s.events.some((e) => e.name === "http.queue.start")
      );
      assert.equal(queued.length, 1);
      assert.ok(queued[0].events.some((e) => e.name === "http.queue.done"));
    } finally {
      undo();
      await client.close();
      await server.close();
    }
  });

  it("stops when undone: no span, no traceparent", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push(req.headers);
      res.end("x");
    });
    const { exporter, tracerProvider, meterProvider } = setup();
    const client = new Client();
    const undo = instrument(client, { tracerProvider, meterProvider });
    undo();
    try {
      await (await client.fetch(server.url)).text();
      assert.equal(clientSpans(exporter).length, 0);
      assert.equal(seen[0].traceparent, undefined);
      assert.equal(client.tracing, false);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("puts TCP_INFO on the connection's span event where the runtime has it", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const { exporter, tracerProvider, meterProvider } = setup();
    const client = new Client({ tcpInfo: true });
    let snapshot: TcpInfo | undefined;
    client.addHooks({ gotconn: (info) => void (snapshot = info.tcpInfo) });
    const undo = instrument(client, { tracerProvider, meterProvider });
    const warn = console.warn;
    console.warn = () => {};
    try {
      await (await client.fetch(server.url)).text();
      const [span] = clientSpans(exporter);
      const got = span.events.find((e) => e.name === "http.getconn.done")!;
      const attributes: Attributes = got.attributes ?? {};
      if (snapshot === undefined) {
        // Node without the optional FFI package has no TCP_INFO (README, "TCP_INFO").
        assert.ok(!("Deno" in globalThis) && !("Bun" in globalThis), "Deno and Bun have TCP_INFO");
        assert.equal(attributes["wirefetch.tcp_info.rtt"], undefined);
      } else {
        assert.equal(attributes["wirefetch.tcp_info.rtt"], snapshot.rtt);
        assert.equal(typeof attributes["wirefetch.tcp_info.rtt"], "number");
        assert.equal(attributes["wirefetch.tcp_info.state"], "ESTABLISHED");
        assert.equal(attributes["wirefetch.tcp_info.snd_cwnd"], snapshot.sndCwnd);
      }
    } finally {
      console.warn = warn;
      undo();
      await client.close();
      await server.close();
    }
  });

  it("uses the global providers by default, read when instrument() runs", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const { exporter, tracerProvider } = setup();
    const client = new Client();
    // As an application would: the SDK registered globally before instrument().
    const registered = trace.setGlobalTracerProvider(tracerProvider);
    const undo = instrument(client);
    try {
      await (await client.fetch(server.url)).text();
      if (registered) assert.equal(clientSpans(exporter).length, 1);
      else assert.fail("a global tracer provider was already registered in this process");
    } finally {
      undo();
      trace.disable();
      await client.close();
      await server.close();
    }
  });
});
