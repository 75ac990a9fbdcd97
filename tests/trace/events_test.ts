// Trace events: presence, fields and order, per client and per request.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  type ConnCloseEvent,
  type ConnectDoneEvent,
  type ConnectStartEvent,
  type DequeuedEvent,
  type DnsDoneEvent,
  type Got1xxResponseEvent,
  type GotConnEvent,
  type PutIdleConnEvent,
  type QueuedEvent,
  type RedirectEvent,
  type ResponseDoneEvent,
  type RetryEvent,
  timingsOf,
  type TlsHandshakeDoneEvent,
  TRACE_EVENT_TYPES,
  type TraceEvent,
  type WroteHeaderFieldEvent,
} from "../../mod.ts";
import {
  delay,
  fixtures,
  readRequest,
  startHttpServer,
  startRawServer,
} from "../support/servers.ts";
import { closeBounded } from "../support/deadline.ts";

/** Records every trace event a target receives. */
function record(target: EventTarget): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const type of TRACE_EVENT_TYPES) {
    target.addEventListener(type, (event) => events.push(event as TraceEvent));
  }
  return events;
}

function types(events: TraceEvent[], requestId?: number): string[] {
  return events
    .filter((e) => requestId === undefined || e.requestId === requestId)
    .map((e) => e.type)
    .filter((t) => t !== "wroteheaderfield");
}

function only<T extends TraceEvent>(events: TraceEvent[], type: string): T[] {
  return events.filter((e) => e.type === type) as T[];
}

const localhost = () => Promise.resolve([{ address: "127.0.0.1", family: 4 as const }]);

describe("trace events", () => {
  it("reports a new connection's phases in order", async () => {
    const server = await startHttpServer((_req, res) => res.end("hello"));
    const client = new Client({ lookup: localhost });
    const events = record(client);
    try {
      const url = `http://localhost:${server.port}/path`;
      const response = await client.fetch(url);
      await response.text();
      assert.deepEqual(types(events), [
        "getconn",
        "dnsstart",
        "dnsdone",
        "connectstart",
        "connectdone",
        "gotconn",
        "wroteheaders",
        "wroterequest",
        "gotfirstresponsebyte",
        "putidleconn",
        "responsedone",
      ]);
      for (let i = 1; i < events.length; i++) assert.ok(events[i].time >= events[i - 1].time);
      const first = events[0];
      assert.equal(first.method, "GET");
      assert.equal(first.url, url);
      assert.ok(events.every((e) => e.requestId === first.requestId));
      const dns = only<DnsDoneEvent>(events, "dnsdone")[0];
      assert.deepEqual(dns.addresses, ["127.0.0.1"]);
      assert.equal(dns.error, undefined);
      const connect = only<ConnectStartEvent>(events, "connectstart")[0];
      assert.equal(connect.network, "tcp4");
      assert.equal(connect.address, `127.0.0.1:${server.port}`);
      const got = only<GotConnEvent>(events, "gotconn")[0];
      assert.equal(got.reused, false);
      assert.equal(got.wasIdle, false);
      assert.equal(got.remoteAddress.port, server.port);
      assert.equal(got.remoteAddress.address, "127.0.0.1");
      assert.ok(got.localAddress.port > 0);
      assert.equal(typeof got.connectionId, "number");
      const fields = only<WroteHeaderFieldEvent>(events, "wroteheaderfield");
      assert.deepEqual(fields[0].name, "host");
      assert.deepEqual(fields[0].value, `localhost:${server.port}`);
      const put = only<PutIdleConnEvent>(events, "putidleconn")[0];
      assert.equal(put.error, undefined);
      const done = only<ResponseDoneEvent>(events, "responsedone")[0];
      assert.equal(done.bytes, 5);
      assert.equal(done.error, undefined);
      assert.equal(done.timings.reused, false);
      assert.equal(done.timings.complete, true);
      assert.ok(done.timings.total >= done.timings.ttfb);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("shows a reused connection: gotconn.reused and no dns or connect events", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client({ lookup: localhost });
    try {
      await (await client.fetch(`http://localhost:${server.port}/`)).text();
      const events = record(client);
      const response = await client.fetch(`http://localhost:${server.port}/`);
      await response.text();
      assert.deepEqual(types(events), [
        "getconn",
        "gotconn",
        "wroteheaders",
        "wroterequest",
        "gotfirstresponsebyte",
        "putidleconn",
        "responsedone",
      ]);
      const got = only<GotConnEvent>(events, "gotconn")[0];
      assert.equal(got.reused, true);
      assert.equal(got.wasIdle, true);
      assert.ok(got.idleTime >= 0);
      assert.equal(timingsOf(response)!.reused, true);
      assert.equal(timingsOf(response)!.dns, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("races IPv6 first and falls back to IPv4 when the first address fails", async () => {
    const server = await startHttpServer((_req, res) => res.end("v4"));
    const client = new Client({
      // ::1 has nothing listening on this port: the attempt fails and IPv4 starts at once.
      lookup: () =>
        Promise.resolve([
          { address: "127.0.0.1", family: 4 as const },
          { address: "::1", family: 6 as const },
        ]),
    });
    const events = record(client);
    try {
      const started = performance.now();
      const response = await client.fetch(`http://dual.test:${server.port}/`);
      assert.equal(await response.text(), "v4");
      assert.ok(performance.now() - started < 240, "fallback must not wait for the delay");
      const starts = only<ConnectStartEvent>(events, "connectstart");
      const dones = only<ConnectDoneEvent>(events, "connectdone");
      assert.deepEqual(starts.map((e) => e.address), [
        `[::1]:${server.port}`,
        `127.0.0.1:${server.port}`,
      ]);
      assert.equal(starts[0].network, "tcp6");
      assert.equal(dones.length, 2);
      assert.ok(dones[0].error instanceof Error);
      assert.equal(dones[1].error, undefined);
      assert.equal(dones[1].address, `127.0.0.1:${server.port}`);
      assert.deepEqual(only<DnsDoneEvent>(events, "dnsdone")[0].addresses, ["::1", "127.0.0.1"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("coalesces concurrent lookups of one name", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 20));
    let lookups = 0;
    const client = new Client({
      lookup: async () => {
        lookups++;
        await delay(30);
        return [{ address: "127.0.0.1", family: 4 as const }];
      },
    });
    const events = record(client);
    try {
      const url = `http://many.test:${server.port}/`;
      await Promise.all([client.fetch(url), client.fetch(url)].map(async (r) => (await r).text()));
      assert.equal(lookups, 1);
      const dns = only<DnsDoneEvent>(events, "dnsdone");
      assert.equal(dns.length, 2);
      assert.deepEqual(dns.map((e) => e.coalesced).sort(), [false, true]);
      // A later dial finds the answer cached.
      client.closeIdle();
      await (await client.fetch(url)).text();
      assert.equal(lookups, 1);
      assert.equal(only<DnsDoneEvent>(events, "dnsdone")[2].cached, true);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports a failed lookup in dnsdone and rejects with ERR_DNS", async () => {
    const client = new Client({ lookup: () => Promise.reject(new Error("NXDOMAIN")) });
    const events = record(client);
    try {
      const error = await client.fetch("http://nowhere.test/").then(() => assert.fail(), (e) => e);
      assert.equal(error.cause.code, "ERR_DNS");
      const dns = only<DnsDoneEvent>(events, "dnsdone")[0];
      assert.match(String(dns.error?.message), /NXDOMAIN/);
      const done = only<ResponseDoneEvent>(events, "responsedone")[0];
      assert.ok(done.error instanceof TypeError);
    } finally {
      await client.close();
    }
  });

  it("reports the TLS handshake with its ALPN protocol", async () => {
    const server = await startHttpServer((_req, res) => res.end("tls"), { tls: true });
    const client = new Client({ caCerts: [fixtures.ca] });
    const events = record(client);
    try {
      const response = await client.fetch(`https://localhost:${server.port}/`);
      assert.equal(await response.text(), "tls");
      const order = types(events);
      assert.ok(order.indexOf("connectdone") < order.indexOf("tlshandshakestart"));
      assert.ok(order.indexOf("tlshandshakestart") < order.indexOf("tlshandshakedone"));
      assert.ok(order.indexOf("tlshandshakedone") < order.indexOf("gotconn"));
      const tls = only<TlsHandshakeDoneEvent>(events, "tlshandshakedone")[0];
      assert.equal(tls.error, undefined);
      assert.ok(tls.alpnProtocol === null || tls.alpnProtocol === "http/1.1");
      assert.ok(timingsOf(response)!.tls > 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports a retry after a stale connection", async () => {
    const server = await startRawServer(async (socket, index) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      if (index === 0) {
        await readRequest(socket);
        socket.destroy();
      }
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      const events = record(client);
      await (await client.fetch(server.url)).text();
      const retry = only<RetryEvent>(events, "retry");
      assert.equal(retry.length, 1);
      assert.equal(retry[0].attempt, 2);
      assert.match(retry[0].reason, /^ERR_CONNECTION_(CLOSED|RESET)$/);
      const got = only<GotConnEvent>(events, "gotconn");
      assert.deepEqual(got.map((e) => e.reused), [true, false]);
      const closes = only<ConnCloseEvent>(events, "connclose");
      assert.equal(closes[0].requestsServed, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports each hop of a redirect chain", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        const request = await readRequest(socket);
        const next = { "/a": "/b", "/b": "/c" }[request.target];
        socket.write(
          next
            ? `HTTP/1.1 302 Found\r\nlocation: ${next}\r\ncontent-length: 0\r\n\r\n`
            : "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone",
        );
      }
    });
    const client = new Client();
    const events = record(client);
    try {
      await (await client.fetch(`${server.url}/a`)).text();
      const hops = only<RedirectEvent>(events, "redirect");
      assert.deepEqual(
        hops.map((e) => [e.status, e.from, e.to]),
        [[302, `${server.url}/a`, `${server.url}/b`], [302, `${server.url}/b`, `${server.url}/c`]],
      );
      assert.equal(only(events, "getconn").length, 3);
      assert.equal(only(events, "responsedone").length, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports queueing with position and waited time", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 40));
    const client = new Client({ maxConnectionsPerHost: 1 });
    const events = record(client);
    try {
      await Promise.all(
        [0, 1, 2].map(async () => await (await client.fetch(server.url)).text()),
      );
      const queued = only<QueuedEvent>(events, "queued");
      // The first request still waits in the FIFO for the connection being dialed for it.
      assert.deepEqual(queued.map((e) => e.position), [2, 3]);
      const dequeued = only<DequeuedEvent>(events, "dequeued");
      assert.equal(dequeued.length, 2);
      assert.ok(dequeued[0].waited >= 20, String(dequeued[0].waited));
      assert.ok(dequeued[1].waited > dequeued[0].waited);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports an idle timeout and the connection's close with its counters", async () => {
    const server = await startHttpServer((_req, res) => res.end("abc"));
    const client = new Client({ idleTimeout: 40 });
    const events = record(client);
    try {
      await (await client.fetch(server.url)).text();
      await delay(120);
      assert.equal(only(events, "idletimeout").length, 1);
      const close = only<ConnCloseEvent>(events, "connclose")[0];
      assert.equal(close.reason, "idle-timeout");
      assert.equal(close.requestsServed, 1);
      assert.ok(close.bytesRead > 3);
      assert.ok(close.bytesWritten > 20);
      assert.ok(types(events).indexOf("idletimeout") < types(events).indexOf("connclose"));
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports putidleconn with the reason a connection was not kept", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx");
    });
    const client = new Client();
    const events = record(client);
    try {
      await (await client.fetch(server.url)).text();
      assert.equal(only<PutIdleConnEvent>(events, "putidleconn")[0].error, "not-reusable");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports 1xx responses and Expect: 100-continue", async () => {
    let bodyBeforeContinue = -1;
    const server = await startRawServer((socket) => {
      let buffered = "";
      let continued = false;
      socket.on("data", (data: Uint8Array) => {
        buffered += new TextDecoder().decode(data);
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!continued) {
          continued = true;
          bodyBeforeContinue = buffered.length - end - 4;
          socket.write("HTTP/1.1 100 Continue\r\n\r\n");
        }
        if (buffered.endsWith("hello")) {
          socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
      });
    });
    const client = new Client();
    const events = record(client);
    try {
      const response = await client.fetch(server.url, {
        method: "POST",
        body: "hello",
        headers: { expect: "100-continue" },
      });
      assert.equal(await response.text(), "ok");
      assert.equal(bodyBeforeContinue, 0, "the body waits for 100 Continue");
      const order = types(events);
      for (
        const [a, b] of [
          ["wroteheaders", "wait100continue"],
          ["wait100continue", "got1xxresponse"],
          ["got1xxresponse", "got100continue"],
          ["got100continue", "wroterequest"],
        ]
      ) {
        assert.ok(order.indexOf(a) >= 0 && order.indexOf(a) < order.indexOf(b), `${a} < ${b}`);
      }
      assert.equal(only<Got1xxResponseEvent>(events, "got1xxresponse")[0].status, 100);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("delivers a request's events to its own trace target only", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 10));
    const client = new Client();
    const all = record(client);
    const a = new EventTarget();
    const b = new EventTarget();
    const eventsA = record(a);
    const eventsB = record(b);
    try {
      await Promise.all([
        client.fetch(`${server.url}/a`, { trace: a }).then((r) => r.text()),
        client.fetch(`${server.url}/b`, { trace: b }).then((r) => r.text()),
      ]);
      assert.ok(eventsA.length > 5 && eventsB.length > 5);
      assert.ok(eventsA.every((e) => e.url === `${server.url}/a`));
      assert.ok(eventsB.every((e) => e.url === `${server.url}/b`));
      assert.notEqual(eventsA[0].requestId, eventsB[0].requestId);
      assert.equal(all.length, eventsA.length + eventsB.length);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("emits to a per-request target with no client listeners at all", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client();
    const target = new EventTarget();
    const events = record(target);
    try {
      await (await client.fetch(server.url, { trace: target })).text();
      assert.equal(types(events)[0], "getconn");
      assert.equal(types(events).at(-1), "responsedone");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports a body leak under forced GC while every event is traced", async () => {
    const server = await startHttpServer((_req, res) => res.end("x".repeat(1 << 20)));
    const client = new Client();
    const events = record(client);
    const warn = console.warn;
    console.warn = () => {};
    try {
      await (async () => {
        const response = await client.fetch(server.url);
        assert.equal(response.status, 200);
      })();
      const gc = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
      for (let i = 0; i < 20 && only(events, "bodyleak").length === 0; i++) {
        if (gc.Bun) gc.Bun.gc(true);
        else gc.gc!();
        await delay(20);
      }
      const leak = only(events, "bodyleak");
      assert.equal(leak.length, 1);
      assert.equal(leak[0].url, `${server.url}/`);
      const close = only<ConnCloseEvent>(events, "connclose");
      assert.equal(close.at(-1)!.reason, "body-leak");
      assert.equal(client.stats().total.open, 0);
    } finally {
      console.warn = warn;
      // Bounded: if the connection was not reclaimed, close() would wait for it forever.
      await closeBounded(client, [server]);
    }
  });

  it("dispatches nothing without listeners and only the listened types with some", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const dispatch = EventTarget.prototype.dispatchEvent;
    const dispatched: string[] = [];
    EventTarget.prototype.dispatchEvent = function (event: Event): boolean {
      if (event instanceof Event && TRACE_EVENT_TYPES.includes(event.type)) {
        dispatched.push(event.type);
      }
      return dispatch.call(this, event);
    };
    const quiet = new Client();
    const partial = new Client();
    partial.addEventListener("gotconn", () => {});
    try {
      for (let i = 0; i < 3; i++) await (await quiet.fetch(server.url)).text();
      assert.deepEqual(dispatched, []);
      for (let i = 0; i < 3; i++) await (await partial.fetch(server.url)).text();
      assert.deepEqual(dispatched, ["gotconn", "gotconn", "gotconn"]);
    } finally {
      EventTarget.prototype.dispatchEvent = dispatch;
      await quiet.close();
      await partial.close();
      await server.close();
    }
  });

  it("timingsOf returns undefined for responses wirefetch did not make", () => {
    assert.equal(timingsOf(new Response("x")), undefined);
  });
});
